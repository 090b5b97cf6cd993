import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fold } from '../../../core/decider.ts';
import { spec } from '../../../core/spec.ts';
import { validateEvent } from '../../../schema/registry.ts';
import type { XImageCommand } from './commands.ts';
import { ximageDecider, type XImageState } from './decider.ts';
import type { XImageEvent } from './events.ts';

const xi = spec(ximageDecider);
const X = 'xi_db';
function run(given: XImageEvent[], ...commands: XImageCommand[]): XImageEvent[] {
  const events = [...given];
  let state = fold<XImageState, XImageEvent>(ximageDecider, given);
  for (const c of commands) for (const e of ximageDecider.decide(c, state)) { validateEvent(e.type, e.data); state = ximageDecider.evolve(state, e); events.push(e); }
  return events;
}
const stateOf = (events: XImageEvent[]) => fold<XImageState, XImageEvent>(ximageDecider, events);
const alloc: XImageCommand = { type: 'AllocateXImage', data: { ximageId: X, regionId: 'r_eu', imageId: 'i_deb12', contractId: 'rc_1', quota: { checkpoints: 3, sizeGiB: 100 } } };
const base = run([], alloc);
const take = (checkpointId: string, sizeGiB: number, parentCheckpointId?: string): XImageCommand =>
  ({ type: 'TakeXImageCheckpoint', data: { ximageId: X, checkpointId, sizeGiB, xnodeId: 'xn_1', ...(parentCheckpointId && { parentCheckpointId }) } });

test('allocate a quota', () => {
  xi.given([]).when(alloc).then([{ type: 'XImageAllocated', data: { ximageId: X, regionId: 'r_eu', contractId: 'rc_1', imageId: 'i_deb12', quota: { checkpoints: 3, sizeGiB: 100 } } }]);
  xi.given(base).when(alloc).thenNothing();
});

test('checkpoints within count and size; refusals name what is exceeded', () => {
  const two = run(base, take('c1', 60), take('c2', 30, 'c1'));
  assert.equal(stateOf(two).usage, { checkpoints: 2, sizeGiB: 90 });
  xi.given(two).when(take('c3', 20)).thenThrows('XIMAGE_QUOTA_EXCEEDED', 'sizeGiB requested 20, free 10 of quota 100');
  const three = run(two, take('c3', 10));
  xi.given(three).when(take('c4', 1)).thenThrows('XIMAGE_QUOTA_EXCEEDED', 'checkpoints requested 1, free 0 of quota 3');
  xi.given(two).when(take('c3', 5, 'nope')).thenThrows('PARENT_NOT_FOUND');
  xi.given(two).when(take('c1', 60)).thenNothing();
});

test('delete frees quota but not under a child; quota never below usage; release drops everything', () => {
  const two = run(base, take('c1', 60), take('c2', 30, 'c1'));
  xi.given(two).when({ type: 'DeleteXImageCheckpoint', data: { ximageId: X, checkpointId: 'c1' } }).thenThrows('CHECKPOINT_HAS_CHILDREN', 'c2');
  const one = run(two, { type: 'DeleteXImageCheckpoint', data: { ximageId: X, checkpointId: 'c2' } });
  assert.equal(stateOf(one).usage, { checkpoints: 1, sizeGiB: 60 });
  xi.given(one).when({ type: 'ChangeXImageQuota', data: { ximageId: X, quota: { checkpoints: 5, sizeGiB: 50 } } }).thenThrows('QUOTA_BELOW_USAGE', '60 GiB');
  xi.given(one).when({ type: 'ChangeXImageQuota', data: { ximageId: X, quota: { checkpoints: 5, sizeGiB: 200 } } })
    .then((e) => assert.equal((e[0].data as { previousQuota: unknown }).previousQuota, { checkpoints: 3, sizeGiB: 100 }));
  const released = run(one, { type: 'ReleaseXImage', data: { ximageId: X, reason: 'contract ended' } });
  assert.equal((released[released.length - 1].data as { droppedCheckpointIds: string[] }).droppedCheckpointIds, ['c1']);
  xi.given(released).when({ type: 'ReleaseXImage', data: { ximageId: X } }).thenNothing();
  xi.given(released).when(take('c9', 1)).thenThrows('XIMAGE_RELEASED');
});

test.run();
