import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spec } from '../../../core/spec.ts';
import { deriveId } from '../common/ids.ts';
import { moveDecider } from './decider.ts';
import type { MoveEvent } from './events.ts';

const SIZE = { cpuCores: 4, cpuMHz: 0, ramMiB: 8_192, diskGiB: 80, diskIops: 0 };
const source = { hostId: 'h_src', xnodeId: 'xn_app', kind: 'VNode' as const, state: 'running' as const, size: SIZE, contractId: 'rc_app' };
const request = { moveId: 'mv_1', mode: 'move' as const, source, target: { hostId: 'h_dst' }, contract: { contractId: 'rc_app', index: 0 } };
const requested: MoveEvent = { type: 'MoveRequested', data: { ...request, target: { hostId: 'h_dst', xnodeId: deriveId('xnode', 'mv_1', 'target') } } };
const move = spec(moveDecider);

test('a move request records the source as it was and names the target slice', () => {
  move.given([]).when({ type: 'RequestMove', data: request }).then([requested]);
  move.given([requested]).when({ type: 'RequestMove', data: request }).thenNothing();
  move.given([requested]).when({ type: 'RequestMove', data: { ...request, target: { hostId: 'h_other' } } }).thenThrows('MOVE_EXISTS');
});

test('the process refuses what cannot move, before anything is recorded', () => {
  move.given([]).when({ type: 'RequestMove', data: { ...request, source: { ...source, state: 'hibernated' } } }).thenThrows('MOVE_SOURCE_STATE', 'activate');
  move.given([]).when({ type: 'RequestMove', data: { ...request, target: { hostId: 'h_src' } } }).thenThrows('MOVE_SAME_HOST');
  move.given([]).when({ type: 'RequestMove', data: { ...request, contract: undefined } }).thenThrows('MOVE_CONTRACT_REQUIRED');
});

test('progress: recorded when it changes, its state is the process state', () => {
  const progress = { moveId: 'mv_1', phase: 'copying' as const, sourceWasRunning: true, stoppedSource: true };
  const progressed: MoveEvent = { type: 'MoveProgressed', data: { ...progress, from: 'reserving' } };
  move.given([requested]).when({ type: 'RecordMoveProgress', data: progress }).then([progressed]);
  move.given([requested, progressed]).when({ type: 'RecordMoveProgress', data: progress }).thenNothing();
  move.given([]).when({ type: 'RecordMoveProgress', data: progress }).thenThrows('MOVE_NOT_FOUND');
  const state = [requested, progressed].reduce(moveDecider.evolve, moveDecider.initialState());
  assert.equal(state.status === 'requested' && [state.phase, state.stoppedSource, state.request.target.hostId], ['copying', true, 'h_dst']);
});

test.run();
