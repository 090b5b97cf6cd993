/**
 * CContract: a tenant's component contract. Needs (type, size, replicas, writers, access scope), never a place; the
 * replica slots with their fencing epochs; the schedulers' decisions (with reasons); the lifecycle
 *
 *     requested → placing → running | degraded → releasing → released
 *
 * and the estimate beside the measured usage. Pure: no I/O, no clock (times come in command data).
 *
 * A slot (one replica) has an `epoch`: the incarnation the ledger currently wants. Placing it claims the slot at that
 * epoch for one host (DecidePlacement: only one scheduler wins, the stream's expected revision decides); a refused
 * slice, a lost host or a failed slice moves the slot to the next epoch, so a late or duplicated step of an older
 * incarnation can never be mistaken for the current one, and the old slice is fenced (its agent refuses it).
 */
import './events.ts';
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import { map, sameResources, type Resources } from '../../resources/common/quantities.ts';
import type { XNodeState } from '../../resources/host/consumption.ts';
import type { CContractCommand } from './commands.ts';
import type { CContractEvent, ComponentStatus, Needs, Reasons } from './events.ts';

export type SlotState = 'pending' | 'placing' | XNodeState;
export interface Placement { hostId: string; zoneId: string; regionId: string; area: string; xnodeId: string }
export interface OldIncarnation { hostId: string; xnodeId: string; epoch: number; byEpoch: number; fenced: boolean }
export interface Slot {
  readonly replica: number;
  /** The incarnation the ledger wants now. */
  readonly epoch: number;
  readonly state: SlotState;
  readonly placement?: Placement;
  readonly child?: string;
  /** Pending after a loss: not placed before this time (the old incarnation's lease has surely expired by then). */
  readonly notBefore?: string;
  readonly lostAt?: string;
  readonly decidedAt?: string;
  readonly failures: number;
  readonly lastError?: { code: string; message: string };
  /** Superseded incarnations still to fence and release. */
  readonly old: readonly OldIncarnation[];
  /** Last resize request applied to this slot's slice. */
  readonly resized: number;
}

export interface CContractState {
  readonly status: 'none' | ComponentStatus;
  readonly needs?: Needs;
  readonly size: Resources;
  readonly estimated: Resources;
  readonly slots: readonly Slot[];
  readonly power: 'on' | 'off' | 'hibernated';
  readonly powerSeq: number;
  readonly resizeSeq: number;
  /** Set while no host could take the pending replicas. */
  readonly deferred?: { code: string; message: string };
  /** Ever reached `running` (a later loss makes it degraded rather than placing). */
  readonly wasRunning: boolean;
  readonly lastDecision?: Reasons & { schedulerId: string; decidedAt: string };
  readonly usage?: { from: string; to: string; usage: Resources };
}

const initial: CContractState = { status: 'none', size: map(() => 0), estimated: map(() => 0), slots: [], power: 'on', powerSeq: 0, resizeSeq: 0, wasRunning: false };

const times = (size: Resources, n: number): Resources => map((k) => size[k] * n);
const withSlot = (state: CContractState, replica: number, f: (s: Slot) => Slot): CContractState =>
  ({ ...state, slots: state.slots.map((s) => (s.replica === replica ? f(s) : s)) });

/** The XNode state a slot should be in for the component's desired power state. */
export const wantedState = (power: CContractState['power']): XNodeState => (power === 'on' ? 'running' : power === 'off' ? 'stopped' : 'hibernated');
export const isPlaced = (s: Slot): boolean => s.placement !== undefined && s.state !== 'pending' && s.state !== 'released';

/** The lifecycle status that follows from the slots (for contracts not releasing). */
export function derivedStatus(state: CContractState): ComponentStatus {
  if (state.status === 'releasing' || state.status === 'released') return state.status;
  if (state.needs?.flatPool) return 'running';
  const want = wantedState(state.power);
  const healthy = state.slots.every((s) => s.state === want);
  if (healthy && state.slots.length > 0) return 'running';
  const lost = state.slots.some((s) => s.state === 'pending' || s.state === 'failed' || s.state === 'fenced' || s.state === 'released');
  if (state.deferred || (state.wasRunning && lost)) return 'degraded';
  if (state.slots.some((s) => s.state !== 'pending') || state.status === 'placing') return 'placing';
  return 'requested';
}

function evolve(state: CContractState, event: CContractEvent): CContractState {
  switch (event.type) {
    case 'ComponentRequested': {
      const { estimated, ...needs } = event.data;
      const slots: Slot[] = needs.flatPool ? [] : Array.from({ length: needs.replicas }, (_, replica) => ({ replica, epoch: 1, state: 'pending' as const, failures: 0, old: [], resized: 0 }));
      return { ...initial, status: 'requested', needs, size: needs.size, estimated, slots };
    }
    case 'ComponentStatusChanged':
      return { ...state, status: event.data.to, wasRunning: state.wasRunning || event.data.to === 'running' };
    case 'PlacementDecided': {
      let s: CContractState = {
        ...state, deferred: undefined, lastDecision: { ...event.data.reasons, schedulerId: event.data.schedulerId, decidedAt: event.data.decidedAt },
        ...(event.data.status && { status: event.data.status.to }),
      };
      for (const d of event.data.decisions) {
        s = withSlot(s, d.replica, (slot) => ({
          ...slot, epoch: d.epoch, state: 'placing', notBefore: undefined, decidedAt: event.data.decidedAt,
          placement: { hostId: d.hostId, zoneId: d.zoneId, regionId: d.regionId, area: d.area, xnodeId: d.xnodeId },
        }));
      }
      return s;
    }
    case 'PlacementFailed':
      return withSlot(state, event.data.replica, (slot) => ({
        ...slot, epoch: event.data.nextEpoch, state: 'pending', placement: undefined, decidedAt: undefined, failures: slot.failures + 1,
        lastError: { code: event.data.code, message: event.data.message },
      }));
    case 'PlacementDeferred':
      return { ...state, deferred: { code: event.data.code, message: event.data.message } };
    case 'ReplicaObserved': {
      const d = event.data;
      return withSlot(state, d.replica, (slot) => ({
        ...slot, state: d.state, failures: d.state === 'running' ? 0 : slot.failures,
        ...(slot.child && { placement: { hostId: d.hostId, zoneId: d.zoneId ?? '', regionId: d.regionId ?? '', area: d.area ?? '', xnodeId: d.xnodeId ?? '' } }),
      }));
    }
    case 'ReplicaLost': {
      const d = event.data;
      return withSlot(state, d.replica, (slot) => ({
        ...slot, epoch: d.newEpoch, state: 'pending', placement: undefined, child: undefined, decidedAt: undefined, lostAt: d.detectedAt,
        notBefore: d.notBefore,
        old: slot.child ? slot.old : [...slot.old, { hostId: d.hostId, xnodeId: d.xnodeId, epoch: d.epoch, byEpoch: d.newEpoch, fenced: false }],
      }));
    }
    case 'ReplacementExpedited':
      return withSlot(state, event.data.replica, (slot) => ({ ...slot, notBefore: undefined }));
    case 'OldReplicaFenced':
      return withSlot(state, event.data.replica, (slot) => ({ ...slot, old: slot.old.map((o) => (o.xnodeId === event.data.xnodeId ? { ...o, fenced: true } : o)) }));
    case 'OldReplicaReleased':
      return withSlot(state, event.data.replica, (slot) => ({ ...slot, old: slot.old.filter((o) => o.xnodeId !== event.data.xnodeId) }));
    case 'ChildRequested':
      return withSlot(state, event.data.replica, (slot) => ({ ...slot, epoch: event.data.epoch, state: 'placing', child: event.data.childId, notBefore: undefined }));
    case 'ComponentPowerRequested':
      return { ...state, power: event.data.desired, powerSeq: event.data.seq };
    case 'ComponentResizeRequested':
      return { ...state, size: event.data.size, estimated: event.data.estimated, resizeSeq: event.data.seq, needs: state.needs && { ...state.needs, size: event.data.size, ...(event.data.sizeName && { sizeName: event.data.sizeName }) } };
    case 'ReplicaResized':
      return withSlot(state, event.data.replica, (slot) => ({ ...slot, resized: event.data.seq }));
    case 'ComponentReleaseRequested':
      return state;
    case 'ReplicaReleased':
      return withSlot(state, event.data.replica, (slot) => ({ ...slot, state: 'released', old: [] }));
    case 'ComponentReleased':
      return { ...state, status: 'released' };
    case 'ComponentUsageRecorded':
      return { ...state, usage: { from: event.data.from, to: event.data.to, usage: event.data.usage } };
    default:
      return state;
  }
}

function exists(state: CContractState, componentId: string): Needs {
  if (state.status === 'none' || !state.needs) throw new DomainError('COMPONENT_NOT_FOUND', `component ${componentId} does not exist`, ['componentId']);
  if (state.needs.componentId !== componentId) throw new DomainError('COMPONENT_MISMATCH', `command for ${componentId} sent to the stream of ${state.needs.componentId}`, ['componentId']);
  return state.needs;
}
function notReleasing(state: CContractState, what: string): void {
  if (state.status === 'releasing' || state.status === 'released') throw new DomainError('COMPONENT_RELEASED', `component ${state.needs!.componentId} is ${state.status}: cannot ${what}`, ['componentId']);
}
function slotOf(state: CContractState, replica: number): Slot {
  const slot = state.slots[replica];
  if (!slot) throw new DomainError('REPLICA_NOT_FOUND', `component ${state.needs!.componentId} has no replica ${replica}`, ['replica']);
  return slot;
}

/** Runs the events through evolve and appends a status change when the derived status moved. */
function emit(state: CContractState, events: CContractEvent[], reason: string): CContractEvent[] {
  if (events.length === 0) return events;
  let s = state;
  for (const e of events) s = evolve(s, e);
  const to = derivedStatus(s);
  if (s.status !== 'none' && to !== s.status) {
    events.push({ type: 'ComponentStatusChanged', data: { componentId: s.needs!.componentId, from: s.status as ComponentStatus, to, reason } });
  }
  return events;
}

function checkNeeds(n: Needs): void {
  if (n.writers > n.replicas) throw new DomainError('INVALID_NEEDS', `${n.writers} writers need at least ${n.writers} replicas`, ['replicas']);
  if (n.type.singleRunning && n.replicas !== 1) throw new DomainError('INVALID_NEEDS', `a ${n.type.name} runs as exactly one instance (replicas 1)`, ['replicas']);
  if (n.access === 'Region' && !n.regionId) throw new DomainError('SCOPE_REQUIRED', 'access REGION needs a regionId (the region the replicas stay in)', ['regionId']);
  if (n.access === 'Zone' && !n.zoneId) throw new DomainError('SCOPE_REQUIRED', 'access ZONE needs a zoneId (the zone the replicas stay in)', ['zoneId']);
  if (n.access === 'Full' && (n.regionId || n.zoneId)) throw new DomainError('SCOPE_NOT_ALLOWED', 'access FULL spans every region: give neither regionId nor zoneId', [n.regionId ? 'regionId' : 'zoneId']);
  if (n.access === 'Region' && n.zoneId) throw new DomainError('SCOPE_NOT_ALLOWED', 'access REGION spans the zones of a region: give no zoneId', ['zoneId']);
  if (n.type.distribution === 'Flat' && !n.flatPool) throw new DomainError('INVALID_NEEDS', 'an instance of a Flat type is carved in its pool (flatPool)', ['type']);
}

const sameNeeds = (a: Needs, b: Needs) => JSON.stringify(a) === JSON.stringify(b);

function decide(command: CContractCommand, state: CContractState): CContractEvent[] {
  if (command.type === 'RequestComponent') {
    const n = command.data;
    if (state.status !== 'none') {
      if (state.needs && sameNeeds(state.needs, n)) return [];
      throw new DomainError('COMPONENT_EXISTS', `component ${n.componentId} already exists`, ['componentId']);
    }
    checkNeeds(n);
    const events: CContractEvent[] = [{ type: 'ComponentRequested', data: { ...n, estimated: times(n.size, n.type.distribution === 'Flat' ? 1 : n.replicas) } }];
    return emit(initial, events, n.flatPool ? `carved in the pool ${n.flatPool}` : 'requested');
  }
  const d = command.data;
  const needs = exists(state, d.componentId);
  const cid = needs.componentId;

  switch (command.type) {
    case 'DecidePlacement': {
      const c = command.data;
      notReleasing(state, 'place replicas');
      const seen = new Set<number>();
      for (const dec of c.decisions) {
        const slot = slotOf(state, dec.replica);
        if (seen.has(dec.replica)) throw new DomainError('INVALID_DECISION', `replica ${dec.replica} decided twice`, ['decisions']);
        seen.add(dec.replica);
        if (slot.state !== 'pending' || slot.epoch !== dec.epoch) {
          throw new DomainError('SLOT_NOT_PENDING', `replica ${dec.replica} of ${cid} is ${slot.state} at epoch ${slot.epoch}, not pending at epoch ${dec.epoch}`, ['decisions']);
        }
        if (slot.notBefore && slot.notBefore > c.decidedAt) {
          throw new DomainError('TOO_EARLY', `replica ${dec.replica} of ${cid} may not be replaced before ${slot.notBefore} (the lost incarnation's lease)`, ['decisions']);
        }
      }
      // The lifecycle move a decision makes (requested → placing, degraded → placing) is recorded in the decision
      // itself: one event per decision where a separate ComponentStatusChanged made two (the hot path of placing).
      const after = evolve(state, { type: 'PlacementDecided', data: c });
      const to = derivedStatus(after);
      if (to === after.status) return [{ type: 'PlacementDecided', data: c }];
      return [{ type: 'PlacementDecided', data: { ...c, status: { from: state.status as ComponentStatus, to } } }];
    }
    case 'FailPlacement': {
      const c = command.data;
      const slot = slotOf(state, c.replica);
      if (slot.epoch !== c.epoch || slot.state !== 'placing' || slot.placement?.xnodeId !== c.xnodeId) return [];
      return emit(state, [{ type: 'PlacementFailed', data: { ...c, nextEpoch: c.epoch + 1 } }], `replica ${c.replica}: ${c.code}`);
    }
    case 'DeferPlacement': {
      const c = command.data;
      notReleasing(state, 'defer placement');
      const pending = c.replicas.filter((r) => slotOf(state, r).state === 'pending');
      if (pending.length === 0) return [];
      if (state.deferred && state.deferred.code === c.code && state.deferred.message === c.message) return [];
      return emit(state, [{ type: 'PlacementDeferred', data: { ...c, replicas: pending } }], c.message);
    }
    case 'ObserveReplica': {
      const c = command.data;
      const slot = slotOf(state, c.replica);
      if (slot.epoch !== c.epoch || slot.state === 'pending' || slot.state === 'released') return [];
      if (!slot.child && slot.placement?.xnodeId !== c.xnodeId) return [];
      if (slot.state === c.state && (!slot.child || slot.placement?.hostId === c.hostId)) return [];
      if (state.status === 'released') return [];
      return emit(state, [{ type: 'ReplicaObserved', data: c }], `replica ${c.replica} ${c.state}`);
    }
    case 'ReportReplicaLost': {
      const c = command.data;
      if (state.status === 'releasing' || state.status === 'released') return [];
      const slot = slotOf(state, c.replica);
      if (slot.epoch !== c.epoch || !slot.placement || slot.placement.xnodeId !== c.xnodeId || slot.state === 'pending' || slot.state === 'released') return [];
      return emit(state, [{ type: 'ReplicaLost', data: { ...c, newEpoch: c.epoch + 1 } }], `replica ${c.replica} lost (${c.cause} on ${c.hostId})`);
    }
    case 'ExpediteReplacement': {
      const c = command.data;
      const slot = slotOf(state, c.replica);
      if (slot.epoch !== c.epoch || slot.state !== 'pending' || !slot.notBefore) return [];
      return [{ type: 'ReplacementExpedited', data: c }];
    }
    case 'RecordOldReplicaFenced': {
      const c = command.data;
      const old = slotOf(state, c.replica).old.find((o) => o.xnodeId === c.xnodeId);
      if (!old || old.fenced) return [];
      return [{ type: 'OldReplicaFenced', data: { ...c, epoch: old.epoch, byEpoch: old.byEpoch } }];
    }
    case 'RecordOldReplicaReleased': {
      const c = command.data;
      const old = slotOf(state, c.replica).old.find((o) => o.xnodeId === c.xnodeId);
      if (!old) return [];
      return emit(state, [{ type: 'OldReplicaReleased', data: { ...c, epoch: old.epoch } }], 'superseded slice released');
    }
    case 'RequestChild': {
      const c = command.data;
      notReleasing(state, 'request a child');
      const slot = slotOf(state, c.replica);
      if (slot.child === c.childId && slot.epoch === c.epoch) return [];
      if (slot.state !== 'pending' || slot.epoch !== c.epoch) throw new DomainError('SLOT_NOT_PENDING', `replica ${c.replica} of ${cid} is ${slot.state} at epoch ${slot.epoch}`, ['replica']);
      return emit(state, [{ type: 'ChildRequested', data: c }], `replica ${c.replica} held by ${c.childId}`);
    }
    case 'RequestPower': {
      const c = command.data;
      notReleasing(state, `power it ${c.action}`);
      const desired = c.action === 'on' || c.action === 'activate' ? 'on' : c.action === 'off' ? 'off' : 'hibernated';
      if (c.action === 'activate' && state.power !== 'hibernated') throw new DomainError('NOT_HIBERNATED', `component ${cid} is not hibernated (it is ${state.power === 'on' ? 'on' : 'off'}): power it on instead`, ['action']);
      if (c.action === 'on' && state.power === 'hibernated') throw new DomainError('HIBERNATED', `component ${cid} is hibernated: activate it`, ['action']);
      if (c.action === 'hibernate' && needs.type.hostTypes.length === 1 && needs.type.hostTypes[0] === 'BM') throw new DomainError('HIBERNATE_UNSUPPORTED', 'bare-metal components cannot hibernate', ['action']);
      if (needs.flatPool) throw new DomainError('POWER_NOT_SUPPORTED', `component ${cid} is carved in a shared pool: it has no power of its own`, ['componentId']);
      if (state.power === desired) return [];
      return emit(state, [{ type: 'ComponentPowerRequested', data: { componentId: cid, action: c.action, desired, seq: state.powerSeq + 1 } }], `power ${c.action}`);
    }
    case 'RequestResize': {
      const c = command.data;
      notReleasing(state, 'resize it');
      if (needs.flatPool || needs.type.pool.kind === 'component') throw new DomainError('RESIZE_NOT_SUPPORTED', `component ${cid} cannot be resized in place; request a new one`, ['componentId']);
      if (sameResources(c.size, state.size)) return [];
      if (state.power !== 'off') throw new DomainError('COMPONENT_MUST_BE_STOPPED', `component ${cid} is ${state.power === 'on' ? 'powered on' : 'hibernated'}: power it off before resizing`, ['componentId']);
      if (c.size.diskGiB < state.size.diskGiB) throw new DomainError('DISK_SHRINK_NOT_ALLOWED', `disk cannot shrink from ${state.size.diskGiB} to ${c.size.diskGiB} GiB`, ['size', 'diskGiB']);
      return [{ type: 'ComponentResizeRequested', data: { componentId: cid, size: c.size, previousSize: state.size, ...(c.sizeName && { sizeName: c.sizeName }), seq: state.resizeSeq + 1, estimated: times(c.size, needs.replicas) } }];
    }
    case 'RecordReplicaResized': {
      const c = command.data;
      const slot = slotOf(state, c.replica);
      if (slot.epoch !== c.epoch || slot.resized >= c.seq) return [];
      return [{ type: 'ReplicaResized', data: c }];
    }
    case 'RequestRelease': {
      const c = command.data;
      if (state.status === 'releasing' || state.status === 'released') return [];
      const events: CContractEvent[] = [
        { type: 'ComponentStatusChanged', data: { componentId: cid, from: state.status as ComponentStatus, to: 'releasing', reason: c.reason ?? 'released by its owner' } },
        { type: 'ComponentReleaseRequested', data: c },
      ];
      if (state.slots.length === 0) { // a Flat instance: its share of the pool is given back by the service
        events.push({ type: 'ComponentReleased', data: { componentId: cid } }, { type: 'ComponentStatusChanged', data: { componentId: cid, from: 'releasing', to: 'released', reason: 'nothing left to give back' } });
      }
      return events;
    }
    case 'RecordReplicaReleased': {
      const c = command.data;
      if (state.status !== 'releasing') return [];
      const slot = slotOf(state, c.replica);
      if (slot.state === 'released') return [];
      const events: CContractEvent[] = [{ type: 'ReplicaReleased', data: { componentId: cid, replica: c.replica, epoch: slot.epoch, ...(slot.placement && !slot.child && { hostId: slot.placement.hostId, xnodeId: slot.placement.xnodeId }) } }];
      if (state.slots.every((s) => s.replica === c.replica || s.state === 'released')) {
        events.push({ type: 'ComponentReleased', data: { componentId: cid } }, { type: 'ComponentStatusChanged', data: { componentId: cid, from: 'releasing', to: 'released', reason: 'every replica released' } });
      }
      return events;
    }
    case 'RecordComponentUsage': {
      const c = command.data;
      if (!(c.from < c.to)) throw new DomainError('USAGE_WINDOW_INVALID', `usage window [${c.from}, ${c.to}) is empty`, ['to']);
      if (state.usage && state.usage.from === c.from && state.usage.to === c.to) return [];
      return [{ type: 'ComponentUsageRecorded', data: c }];
    }
  }
}

export const ccontractDecider: Decider<CContractState, CContractCommand, CContractEvent> = { initialState: () => initial, evolve, decide };
