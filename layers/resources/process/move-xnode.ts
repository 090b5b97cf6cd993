/**
 * Move (or copy) an XNode to another host, across zones or regions: a process manager as a pure state machine.
 *
 *   reserving ─XNodeSliced(target)─▶ [move of a running source] stopping-source ─XNodePoweredOff(source)─▶ copying
 *             └─────────────────────────────────────────────────────────────────────────────────────────▶ copying
 *   copying ─XNodeCopyCompleted(target)─▶ starting-target (the target's agent boots it)
 *   starting-target ─XNodeProvisioned(target)─▶ switch:
 *       copy: (power the target off when the source was not running) ─▶ done
 *       move: MoveRContractItem (when the slice belongs to a contract) ─RContractItemMoved─▶ releasing-source
 *             (power the target off when the source was not running) ─▶ releasing-source ─XNodeReleased(source)─▶ done
 *   any failure before the switch (target refused, stop refused, copy failed, target failed, rebind refused):
 *       rolling-back: release the target, power the source back on if this move stopped it ─XNodeReleased(target)─▶ rolled-back
 *
 * Reserve on the target first: nothing is stopped or copied until the target's capacity is held, so a full target
 * costs the source nothing. The source keeps its slice (and its disk) until the target runs, so every failure
 * before the switch can go back. At most one of the two runs at any time for a move: the source is stopped before
 * the target boots. An HA slice keeps its fencing token {componentId, replica, epoch}: it is the same instance, moved.
 *
 * `startMove(request, trigger)` and `reactMove(event, state)` are pure and return the commands to send; command
 * ids derive from the triggering event, so re-processing an event sends the same commands (idempotent). The state
 * can be kept by the wiring, or rebuilt by folding `reactMove` over the move's events (correlationId = moveId).
 */
import { DomainError } from '../../../core/decider.ts';
import { deriveId, stream } from '../common/ids.ts';
import type { Resources } from '../common/quantities.ts';
import type { XNodeKind, XNodeState } from '../host/consumption.ts';
import type { Fencing } from '../host/events.ts';
import { sender, type OutgoingCommand, type ProcessEvent } from './types.ts';

export interface MoveRequest {
  moveId: string;
  mode: 'move' | 'copy';
  /** The source as the register sees it when the move starts. */
  source: { hostId: string; xnodeId: string; kind: XNodeKind; state: XNodeState; size: Resources; imageId?: string; ha?: Fencing; contractId?: string };
  target: { hostId: string; xnodeId?: string };
  /** The RContract item the slice belongs to; a move points it at the target. */
  contract?: { contractId: string; index: number };
  reason?: string;
}

export type MovePhase =
  | 'reserving' | 'stopping-source' | 'copying' | 'starting-target' | 'switching' | 'releasing-source' | 'done'
  | 'rolling-back' | 'rolled-back' | 'failed';

export interface MoveState {
  readonly request: MoveRequest & { target: { hostId: string; xnodeId: string } };
  readonly phase: MovePhase;
  readonly sourceWasRunning: boolean;
  /** This move powered the source off (so a roll-back powers it on again). */
  readonly stoppedSource: boolean;
  readonly failure?: { code: string; message: string };
  readonly warning?: string;
}
export interface MoveStep { state: MoveState; commands: OutgoingCommand[] }

export const MOVE_EVENTS = [
  'XNodeSliced', 'XNodePoweredOff', 'XNodeFailed', 'XNodeCopyCompleted', 'XNodeCopyFailed', 'XNodeProvisioned', 'XNodeReleased',
  'RContractItemMoved', 'CommandRejected',
] as const;
export const isFinished = (s: MoveState): boolean => s.phase === 'done' || s.phase === 'rolled-back' || s.phase === 'failed';

const correlation = (moveId: string) => `move_${moveId}`;

export function startMove(request: MoveRequest, trigger: ProcessEvent): MoveStep {
  const { source, target } = request;
  if (!/^[A-Za-z0-9_]{1,64}$/.test(request.moveId)) throw new DomainError('INVALID_MOVE', 'moveId: letters, digits or "_"', ['moveId']);
  if (source.state !== 'running' && source.state !== 'stopped' && source.state !== 'failed') {
    throw new DomainError('MOVE_SOURCE_STATE', `slice ${source.xnodeId} is ${source.state}: only running, stopped or failed slices move${source.state === 'hibernated' ? ' (activate or power it off first)' : ''}`, ['source']);
  }
  if (target.hostId === source.hostId) throw new DomainError('MOVE_SAME_HOST', `slice ${source.xnodeId} is already on ${source.hostId}`, ['target', 'hostId']);
  if (request.mode === 'move' && source.contractId !== undefined && request.contract?.contractId !== source.contractId) {
    throw new DomainError('MOVE_CONTRACT_REQUIRED', `slice ${source.xnodeId} belongs to ${source.contractId}: name the contract item to move with it`, ['contract']);
  }
  const targetId = target.xnodeId ?? deriveId('xnode', request.moveId, 'target');
  const state: MoveState = {
    request: { ...request, target: { hostId: target.hostId, xnodeId: targetId } },
    phase: 'reserving', sourceWasRunning: source.state === 'running', stoppedSource: false,
  };
  const s = sender(trigger, correlation(request.moveId));
  const contractId = request.mode === 'move' ? request.contract?.contractId : undefined;
  s.send('reserve-target', stream.host(target.hostId), 'SliceXNode', {
    hostId: target.hostId, xnodeId: targetId,
    ...(source.kind !== 'BNode' && { size: { ...source.size } }),
    ...(source.imageId !== undefined && { imageId: source.imageId }), ...(contractId !== undefined && { contractId }), ...(source.ha && { ha: source.ha }),
  });
  return { state, commands: s.out };
}

export function reactMove(event: ProcessEvent, state: MoveState): MoveStep {
  const { source, target } = state.request;
  const s = sender(event, correlation(state.request.moveId));
  const d = event.data ?? {};
  const on = (x: { hostId: string; xnodeId: string }) => d.hostId === x.hostId && d.xnodeId === x.xnodeId;
  const refused = (type: string, x: { hostId: string; xnodeId: string }) =>
    event.type === 'CommandRejected' && d.command.type === type && d.command.data.hostId === x.hostId && d.command.data.xnodeId === x.xnodeId;
  const reason = (what: string) => `move ${state.request.moveId}: ${what}`;
  const next = (change: Partial<MoveState>): MoveStep => ({ state: { ...state, ...change }, commands: s.out });
  const same: MoveStep = { state, commands: [] };

  const copy = (): MoveStep => {
    s.send('copy', stream.host(target.hostId), 'CopyXNodeFrom', { hostId: target.hostId, xnodeId: target.xnodeId, source: { kind: 'xnode', xnodeId: source.xnodeId, hostId: source.hostId } });
    return next({ phase: 'copying' });
  };
  const rollBack = (failure: { code: string; message: string }, stoppedSource = state.stoppedSource): MoveStep => {
    s.send('rollback-target', stream.host(target.hostId), 'ReleaseXNode', { hostId: target.hostId, xnodeId: target.xnodeId, reason: reason(`rolled back: ${failure.message}`) });
    if (stoppedSource) s.send('rollback-source', stream.host(source.hostId), 'PowerOnXNode', { hostId: source.hostId, xnodeId: source.xnodeId, reason: reason('rolled back') });
    return next({ phase: 'rolling-back', failure });
  };
  const rejection = () => ({ code: String(d.code), message: String(d.message) });
  const releaseSource = (): void => {
    s.send('release-source', stream.host(source.hostId), 'ReleaseXNode', { hostId: source.hostId, xnodeId: source.xnodeId, reason: reason(`moved to ${target.xnodeId} on ${target.hostId}`) });
  };

  switch (state.phase) {
    case 'reserving':
      if (event.type === 'XNodeSliced' && on(target)) {
        if (state.request.mode === 'move' && state.sourceWasRunning) {
          s.send('stop-source', stream.host(source.hostId), 'PowerOffXNode', { hostId: source.hostId, xnodeId: source.xnodeId, reason: reason('stopping for the copy') });
          return next({ phase: 'stopping-source', stoppedSource: true });
        }
        return copy();
      }
      if (refused('SliceXNode', target)) return next({ phase: 'failed', failure: rejection() });
      return same;

    case 'stopping-source':
      if ((event.type === 'XNodePoweredOff' || event.type === 'XNodeFailed') && on(source)) return copy();
      if (refused('PowerOffXNode', source)) return rollBack(rejection(), false);
      return same;

    case 'copying':
      if (event.type === 'XNodeCopyCompleted' && on(target)) return next({ phase: 'starting-target' });
      if (event.type === 'XNodeCopyFailed' && on(target)) return rollBack({ code: 'COPY_FAILED', message: d.message ?? `copy ${d.copyId} failed` });
      if (refused('CopyXNodeFrom', target)) return rollBack(rejection());
      if (event.type === 'XNodeReleased' && on(target)) return rollBack({ code: 'TARGET_RELEASED', message: 'the target was released during the copy' });
      return same;

    case 'starting-target':
      if (event.type === 'XNodeProvisioned' && on(target)) {
        if (!state.sourceWasRunning) s.send('stop-target', stream.host(target.hostId), 'PowerOffXNode', { hostId: target.hostId, xnodeId: target.xnodeId, reason: reason('the source was not running') });
        if (state.request.mode === 'copy') return next({ phase: 'done' });
        const c = state.request.contract;
        if (c) {
          s.send('rebind', stream.rcontract(c.contractId), 'MoveRContractItem', { contractId: c.contractId, index: c.index, to: { xnodeId: target.xnodeId, hostId: target.hostId } });
          return next({ phase: 'switching' });
        }
        releaseSource();
        return next({ phase: 'releasing-source' });
      }
      if (event.type === 'XNodeFailed' && on(target)) return rollBack({ code: 'TARGET_FAILED', message: d.reason ?? 'the target failed to start' });
      return same;

    case 'switching':
      if (event.type === 'RContractItemMoved' && d.contractId === state.request.contract?.contractId && d.to?.xnodeId === target.xnodeId) {
        releaseSource();
        return next({ phase: 'releasing-source' });
      }
      if (event.type === 'CommandRejected' && d.command.type === 'MoveRContractItem') return rollBack(rejection());
      return same;

    case 'releasing-source':
      if (event.type === 'XNodeReleased' && on(source)) return next({ phase: 'done' });
      if (refused('ReleaseXNode', source)) return next({ phase: 'done', warning: `the source could not be released: ${d.code}: ${d.message}` });
      return same;

    case 'rolling-back':
      if (event.type === 'XNodeReleased' && on(target)) return next({ phase: 'rolled-back' });
      if (refused('ReleaseXNode', target)) return next({ phase: 'rolled-back', warning: `the target could not be released: ${d.code}: ${d.message}` });
      return same;

    default:
      return same; // done, rolled-back, failed
  }
}

/** Rebuilds a move's state from its request and the events it has seen (the wiring may keep it or fold it). */
export function foldMove(request: MoveRequest, trigger: ProcessEvent, events: ProcessEvent[]): MoveState {
  return events.reduce((st, e) => reactMove(e, st).state, startMove(request, trigger).state);
}
