/**
 * Move: the durable record of one move (or copy) of an XNode: the request, with the source as it was, and the
 * phases the move process (process/move-xnode.ts, run by process/runner-move.ts) went through. The state is exactly
 * the process's MoveState, so a runner that restarts resumes every unfinished move from its stream.
 */
import './events.ts'; // registers the event schemas (the store validates appends against them)
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import { startMove, type MoveState } from '../process/move-xnode.ts';
import type { MoveCommand } from './commands.ts';
import type { MoveEvent } from './events.ts';

export type MoveAggregate = { status: 'none' } | ({ status: 'requested'; moveId: string } & MoveState);

const VALIDATION_TRIGGER = { type: 'RequestMove', data: {}, metadata: { eventId: 'validation' } };
const stripUndefined = <T extends object>(o: T): T => JSON.parse(JSON.stringify(o)) as T;

export const moveDecider: Decider<MoveAggregate, MoveCommand, MoveEvent> = {
  initialState: () => ({ status: 'none' }),
  evolve(state, event) {
    switch (event.type) {
      case 'MoveRequested': {
        const d = event.data;
        return {
          status: 'requested', moveId: d.moveId, phase: 'reserving', sourceWasRunning: d.source.state === 'running', stoppedSource: false,
          request: { moveId: d.moveId, mode: d.mode, source: d.source, target: d.target, ...(d.contract && { contract: d.contract }), ...(d.reason !== undefined && { reason: d.reason }) },
        };
      }
      case 'MoveProgressed': {
        if (state.status === 'none') return state;
        const d = event.data;
        const { failure: _f, warning: _w, ...rest } = state;
        return { ...rest, phase: d.phase, sourceWasRunning: d.sourceWasRunning, stoppedSource: d.stoppedSource, ...(d.failure && { failure: d.failure }), ...(d.warning !== undefined && { warning: d.warning }) };
      }
      default: return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'RequestMove': {
        const d = command.data;
        // the pure process validates the request (source state, same host, contract item) and names the target slice
        const { request } = startMove(stripUndefined(d), VALIDATION_TRIGGER).state;
        if (state.status !== 'none') {
          const same = state.request.source.hostId === d.source.hostId && state.request.source.xnodeId === d.source.xnodeId
            && state.request.target.hostId === request.target.hostId && state.request.target.xnodeId === request.target.xnodeId && state.request.mode === d.mode;
          if (same) return [];
          throw new DomainError('MOVE_EXISTS', `move ${d.moveId} already exists (${state.request.mode} of ${state.request.source.xnodeId} to ${state.request.target.hostId}, ${state.phase})`, ['moveId']);
        }
        return [{
          type: 'MoveRequested',
          data: {
            moveId: d.moveId, mode: d.mode, source: d.source, target: { hostId: request.target.hostId, xnodeId: request.target.xnodeId },
            ...(d.contract && { contract: d.contract }), ...(d.reason !== undefined && { reason: d.reason }),
          },
        }];
      }
      case 'RecordMoveProgress': {
        const d = command.data;
        if (state.status === 'none') throw new DomainError('MOVE_NOT_FOUND', `move ${d.moveId} does not exist`, ['moveId']);
        if (state.phase === d.phase && state.sourceWasRunning === d.sourceWasRunning && state.stoppedSource === d.stoppedSource
          && state.failure?.code === d.failure?.code && state.warning === d.warning) return [];
        return [{
          type: 'MoveProgressed',
          data: {
            moveId: d.moveId, phase: d.phase, from: state.phase, sourceWasRunning: d.sourceWasRunning, stoppedSource: d.stoppedSource,
            ...(d.failure && { failure: d.failure }), ...(d.warning !== undefined && { warning: d.warning }),
          },
        }];
      }
    }
  },
};
