/**
 * Host: a physical machine and the XNode slices cut from it. The host stream is the capacity boundary: every slice of
 * a host lives in its stream, so one expected revision guards the invariant
 *
 *     Σ consumption(slice, state) ≤ capacity = floor((resources − reserved) × allocationRatio)   (per resource)
 *
 * with the consumption table of consumption.ts. Also here: the host status (online | maintenance | draining |
 * unreachable | retired), the slice state machine, CopyFrom, agents' observed states and the fencing epochs of HA slices.
 *
 * Pure: no I/O, no clock. `decide` and `evolve` never change a state in place (the handler shares them between
 * commands); `evolveInPlace` does, for a holder that owns its state (see `ownedHostState`).
 */
import './events.ts'; // registers the event schemas (the store validates appends against them)
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import {
  add, capacityOf, formatResources, full, ONE_TO_ONE, RESOURCE_KEYS, sameResources, shortfalls, sizeOf, sub, ZERO,
  type AllocationRatios, type Resources,
} from '../common/quantities.ts';
import type { HostCommand } from './commands.ts';
import { consumption, isLive, type XNodeKind, type XNodeState } from './consumption.ts';
import type { CopySource, Fencing, HostEvent, XNodeTransitionData } from './events.ts';

export type HostType = 'VM' | 'CM' | 'BM';
export type AdminStatus = 'online' | 'maintenance' | 'draining';
export type HostStatus = AdminStatus | 'unreachable' | 'retired';
export type ObservedState = 'running' | 'stopped' | 'hibernated' | 'failed' | 'absent';

export interface XNodeSlice {
  readonly xnodeId: string;
  readonly kind: XNodeKind;
  readonly size: Resources;
  readonly state: XNodeState;
  readonly generation: number;
  readonly imageId?: string;
  readonly contractId?: string;
  readonly ha?: Fencing;
  /** The CopyFrom in progress, if any. */
  readonly copy?: { copyId: string; source: CopySource };
  readonly copies: number;
  readonly observed?: { state: ObservedState; generation: number; observedAt: string };
}

export interface HostState {
  readonly registered: boolean;
  readonly hostId: string;
  readonly zoneId: string;
  readonly regionId: string;
  readonly name: string;
  readonly type: HostType;
  readonly area: string;
  readonly resources: Resources;
  readonly reserved: Resources;
  readonly allocationRatios: AllocationRatios;
  readonly capacity: Resources;
  /** Σ consumption of every slice in its current state (kept in step by evolve). */
  readonly used: Resources;
  readonly admin: AdminStatus;
  readonly reachable: boolean;
  readonly retired: boolean;
  readonly slices: Readonly<Record<string, XNodeSlice>>;
  /** Highest fencing epoch seen per `componentId/replica`. */
  readonly epochs: Readonly<Record<string, number>>;
  /** When the host was confirmed powered off out of band (cleared when its heartbeats resume). */
  readonly poweredOffAt?: string;
}

export const hostStatus = (s: Pick<HostState, 'retired' | 'reachable' | 'admin'>): HostStatus =>
  s.retired ? 'retired' : !s.reachable ? 'unreachable' : s.admin;
export const freeOf = (s: HostState): Resources => sub(s.capacity, s.used);
export const epochKey = (f: Pick<Fencing, 'componentId' | 'replica'>): string => `${f.componentId}/${f.replica}`;
const kindOf = (type: HostType): XNodeKind => (type === 'VM' ? 'VNode' : type === 'CM' ? 'CNode' : 'BNode');

const initial: HostState = {
  registered: false, hostId: '', zoneId: '', regionId: '', name: '', type: 'VM', area: '',
  resources: ZERO, reserved: ZERO, allocationRatios: ONE_TO_ONE, capacity: ZERO, used: ZERO,
  admin: 'online', reachable: true, retired: false, slices: {}, epochs: {},
};

// ─── evolve ──────────────────────────────────────────────────────────────────────────────────────────────────────

type Draft = { -readonly [K in keyof HostState]: HostState[K] } & { slices: Record<string, XNodeSlice>; epochs: Record<string, number> };

/**
 * Applies one event to `s` IN PLACE and returns it (a new object only for HostRegistered). O(1) per event: a slice
 * event touches one entry of `slices` (and of `epochs`). Callers either own `s` (evolveInPlace) or hand it a fresh
 * copy of exactly what the event changes (the pure `evolve`).
 */
function apply(s: Draft, event: HostEvent): Draft {
  switch (event.type) {
    case 'HostRegistered': {
      const d = event.data;
      return {
        ...initial, registered: true, hostId: d.hostId, zoneId: d.zoneId, regionId: d.regionId, name: d.name, type: d.type,
        area: d.area, resources: d.resources, reserved: d.reserved, allocationRatios: d.allocationRatios, capacity: d.capacity,
        slices: {}, epochs: {},
      };
    }
    case 'HostCapacityAdjusted':
      s.resources = event.data.resources; s.reserved = event.data.reserved; s.allocationRatios = event.data.allocationRatios; s.capacity = event.data.capacity;
      return s;
    case 'HostStatusChanged':
      if (event.data.reachable && s.poweredOffAt !== undefined) delete s.poweredOffAt;
      s.admin = event.data.admin; s.reachable = event.data.reachable;
      return s;
    case 'HostPoweredOff':
      s.reachable = false; s.poweredOffAt = event.data.confirmedAt;
      return s;
    case 'HostRetired':
      s.retired = true;
      return s;
    case 'XNodeSliced': {
      const d = event.data;
      const slice: { -readonly [K in keyof XNodeSlice]: XNodeSlice[K] } = { xnodeId: d.xnodeId, kind: d.kind, size: d.size, state: d.state, generation: d.generation, copies: 0 };
      if (d.imageId !== undefined) slice.imageId = d.imageId;
      if (d.contractId !== undefined) slice.contractId = d.contractId;
      if (d.ha) slice.ha = d.ha;
      s.slices[d.xnodeId] = slice;
      s.used = add(s.used, consumption(d.kind, d.size, d.state));
      if (d.ha && raisesEpoch(s, d.ha)) s.epochs[epochKey(d.ha)] = d.ha.epoch;
      return s;
    }
    default: {
      const d = event.data;
      const old = s.slices[d.xnodeId];
      if (!old) return s;
      let next: XNodeSlice = { ...old, state: d.state, size: d.size, generation: d.generation };
      switch (event.type) {
        case 'XNodeCopyStarted': next = { ...next, copy: { copyId: event.data.copyId, source: event.data.source }, copies: old.copies + 1 }; break;
        case 'XNodeCopyCompleted': case 'XNodeCopyFailed': case 'XNodeReleased': { const { copy: _done, ...rest } = next; next = rest; break; }
        case 'XNodeObserved': next = { ...next, observed: { state: event.data.observed, generation: event.data.observedGeneration, observedAt: event.data.observedAt } }; break;
        case 'XNodeFenced': {
          const ha = fencedBy(old, event.data.fencedByEpoch);
          if (ha && raisesEpoch(s, ha)) s.epochs[epochKey(ha)] = ha.epoch;
          break;
        }
      }
      s.used = add(sub(s.used, consumption(old.kind, old.size, old.state)), consumption(next.kind, next.size, next.state));
      s.slices[d.xnodeId] = next;
      return s;
    }
  }
}

const raisesEpoch = (s: HostState, ha: Fencing): boolean => (s.epochs[epochKey(ha)] ?? -1) < ha.epoch;
const fencedBy = (slice: XNodeSlice, epoch: number): Fencing | undefined => (slice.ha ? { ...slice.ha, epoch } : undefined);

/** Pure: copies the state and the one or two maps the event changes, then applies it to the copy. */
function evolve(state: HostState, event: HostEvent): HostState {
  switch (event.type) {
    case 'HostRegistered': return apply(state as Draft, event); // builds a new state, reads nothing of the old one
    case 'HostCapacityAdjusted': case 'HostStatusChanged': case 'HostPoweredOff': case 'HostRetired': return apply({ ...state } as Draft, event);
    case 'XNodeSliced': {
      const ha = event.data.ha;
      return apply({ ...state, slices: { ...state.slices }, ...(ha && raisesEpoch(state, ha) && { epochs: { ...state.epochs } }) } as Draft, event);
    }
    default: {
      const old = state.slices[event.data.xnodeId];
      if (!old) return state;
      const ha = event.type === 'XNodeFenced' ? fencedBy(old, event.data.fencedByEpoch) : undefined;
      return apply({ ...state, slices: { ...state.slices }, ...(ha && raisesEpoch(state, ha) && { epochs: { ...state.epochs } }) } as Draft, event);
    }
  }
}

/**
 * A copy of `state` that its holder owns: `evolveInPlace` may then change it without anyone else seeing. For callers
 * that keep a state to themselves (the scheduler's host batcher): the pure `evolve` copies the host's whole slice map
 * per slice event, which at a hundred slices per host was most of the placement benchmark's time and garbage.
 */
export function ownedHostState(state: HostState): HostState {
  return { ...state, slices: { ...state.slices }, epochs: { ...state.epochs } };
}
/** `evolve` on an OWNED state (from `ownedHostState`, or returned by this for HostRegistered): changes it in place. */
export function evolveInPlace(state: HostState, event: HostEvent): HostState {
  return apply(state as Draft, event);
}

// ─── checks ──────────────────────────────────────────────────────────────────────────────────────────────────────

function registeredHost(state: HostState, hostId: string): void {
  if (!state.registered) throw new DomainError('HOST_NOT_FOUND', `host ${hostId} does not exist`, ['hostId']);
  if (state.hostId !== hostId) throw new DomainError('HOST_MISMATCH', `command for host ${hostId} sent to the stream of ${state.hostId}`, ['hostId']);
}
function notRetired(state: HostState): void {
  if (state.retired) throw new DomainError('HOST_RETIRED', `host ${state.hostId} is retired`, ['hostId']);
}
function reachable(state: HostState, what: string): void {
  notRetired(state);
  if (!state.reachable) throw new DomainError('HOST_UNREACHABLE', `host ${state.hostId} is unreachable (missed heartbeats): cannot ${what}`, ['hostId']);
}
/** New capacity claims (slice, grow) need a host that is online and reachable. */
function acceptsNewWork(state: HostState, what: string): void {
  reachable(state, what);
  if (state.admin === 'draining') throw new DomainError('HOST_DRAINING', `host ${state.hostId} is draining: cannot ${what}`, ['hostId']);
  if (state.admin === 'maintenance') throw new DomainError('HOST_IN_MAINTENANCE', `host ${state.hostId} is in maintenance: cannot ${what}`, ['hostId']);
}
/** Starting a slice that is already placed here: allowed while draining, not in maintenance. */
function allowsStart(state: HostState, what: string): void {
  reachable(state, what);
  if (state.admin === 'maintenance') throw new DomainError('HOST_IN_MAINTENANCE', `host ${state.hostId} is in maintenance: cannot ${what}`, ['hostId']);
}

function sliceOf(state: HostState, xnodeId: string): XNodeSlice {
  const slice = state.slices[xnodeId];
  if (!slice) throw new DomainError('XNODE_NOT_FOUND', `slice ${xnodeId} is not on host ${state.hostId}`, ['xnodeId']);
  return slice;
}
function notEnded(slice: XNodeSlice, what: string): void {
  if (slice.state === 'released') throw new DomainError('XNODE_RELEASED', `slice ${slice.xnodeId} is released: cannot ${what}`, ['xnodeId']);
  if (slice.state === 'fenced') throw new DomainError('XNODE_FENCED', `slice ${slice.xnodeId} is fenced (a newer epoch of its replica exists): cannot ${what}`, ['xnodeId']);
}
function notBusy(slice: XNodeSlice, what: string): void {
  if (slice.copy) throw new DomainError('XNODE_BUSY', `slice ${slice.xnodeId} is being copied into (${slice.copy.copyId}): cannot ${what} until the copy ends`, ['xnodeId']);
}

/** Fencing: a command under an epoch older than the newest seen for the slice's replica is refused. */
function checkEpoch(state: HostState, slice: XNodeSlice, epoch: number | undefined): void {
  if (!slice.ha) return;
  const seen = Math.max(state.epochs[epochKey(slice.ha)] ?? slice.ha.epoch, slice.ha.epoch);
  if (epoch !== undefined && epoch < seen) {
    throw new DomainError('STALE_EPOCH', `epoch ${epoch} of replica ${epochKey(slice.ha)} is stale: epoch ${seen} has been seen`, ['epoch']);
  }
  if (slice.ha.epoch < seen) {
    throw new DomainError('STALE_EPOCH', `slice ${slice.xnodeId} holds epoch ${slice.ha.epoch} of replica ${epochKey(slice.ha)}, but epoch ${seen} has been seen`, ['xnodeId']);
  }
  if (epoch !== undefined && epoch !== slice.ha.epoch) {
    throw new DomainError('EPOCH_MISMATCH', `command under epoch ${epoch} addressed to slice ${slice.xnodeId} of epoch ${slice.ha.epoch}`, ['epoch']);
  }
}

/** The invariant: refuses an increase of consumption that would take any resource over capacity. */
export function ensureFits(state: HostState, increase: Resources, what: string | (() => string)): void {
  const short = shortfalls(state.capacity, state.used, increase);
  if (short.length === 0) return;
  const detail = short.map((s) => `${s.key} requested ${s.requested}, free ${s.free} of capacity ${s.capacity}`).join('; ');
  throw new DomainError('INSUFFICIENT_CAPACITY', `host ${state.hostId} cannot fit ${typeof what === 'string' ? what : what()}: ${detail}`, ['size', short[0].key]);
}

// ─── event builders ──────────────────────────────────────────────────────────────────────────────────────────────

function ref(state: HostState, slice: XNodeSlice) {
  return {
    hostId: state.hostId, zoneId: state.zoneId, regionId: state.regionId, xnodeId: slice.xnodeId, kind: slice.kind,
    size: slice.size, state: slice.state, generation: slice.generation,
    ...(slice.contractId !== undefined && { contractId: slice.contractId }), ...(slice.ha && { ha: slice.ha }),
  };
}
type TransitionType = 'XNodeProvisioned' | 'XNodePoweredOn' | 'XNodePoweredOff' | 'XNodeHibernated' | 'XNodeActivated' | 'XNodeFailed' | 'XNodeReleased';
function transition(
  type: TransitionType, state: HostState, slice: XNodeSlice, to: XNodeState,
  cause: XNodeTransitionData['cause'], reason?: string,
): HostEvent {
  const bump = cause === 'command' || cause === 'host-retired' || cause === 'superseded';
  const data: XNodeTransitionData = {
    ...ref(state, slice), state: to, generation: slice.generation + (bump ? 1 : 0), from: slice.state, cause,
    ...(reason !== undefined && { reason }),
  };
  return { type, data };
}
function fenced(state: HostState, slice: XNodeSlice, byEpoch: number, cause: 'command' | 'superseded', reason?: string): HostEvent {
  return {
    type: 'XNodeFenced',
    data: { ...ref(state, slice), state: 'fenced', generation: slice.generation + 1, from: slice.state, cause, fencedByEpoch: byEpoch, ...(reason !== undefined && { reason }) },
  };
}

/** Collects events and keeps a state that includes them, so later checks of the same decision see earlier events. */
function emitter(state: HostState) {
  const events: HostEvent[] = [];
  let applied = 0;
  return {
    // evolved lazily: a decision that emits its last event without reading the state again copies nothing
    get state() { while (applied < events.length) state = evolve(state, events[applied++]); return state; },
    emit(e: HostEvent) { events.push(e); },
    events,
  };
}

const statusEvent = (state: HostState, next: Pick<HostState, 'admin' | 'reachable'>, cause: 'operator' | 'heartbeat', extra: { reason?: string; missedBeats?: number; lastSeenAt?: string }): HostEvent => ({
  type: 'HostStatusChanged',
  data: {
    hostId: state.hostId, zoneId: state.zoneId, regionId: state.regionId,
    from: hostStatus(state), to: hostStatus({ ...next, retired: false }), admin: next.admin, reachable: next.reachable, cause,
    ...(extra.reason !== undefined && { reason: extra.reason }), ...(extra.missedBeats !== undefined && { missedBeats: extra.missedBeats }),
    ...(extra.lastSeenAt !== undefined && { lastSeenAt: extra.lastSeenAt }),
  },
});

function hostShape(type: HostType, resources: Resources, reserved: Resources, allocationRatios: AllocationRatios) {
  for (const k of RESOURCE_KEYS) {
    if (reserved[k] > resources[k]) throw new DomainError('RESERVE_EXCEEDS_RESOURCES', `System reserve of ${k} (${reserved[k]}) exceeds the host's ${resources[k]}`, ['reserved', k]);
  }
  if (type === 'BM') {
    if (RESOURCE_KEYS.some((k) => reserved[k] !== 0)) throw new DomainError('BM_NO_RESERVE', 'a BM host is lent whole as one BNode: it has no System reserve', ['reserved']);
    if (RESOURCE_KEYS.some((k) => allocationRatios[k] !== 1)) throw new DomainError('BM_NO_OVERCOMMIT', 'a BM host is lent whole as one BNode: its allocation ratios are 1', ['allocationRatios']);
  }
  return { resources, reserved, allocationRatios, capacity: capacityOf(resources, reserved, allocationRatios) };
}

// ─── decide ──────────────────────────────────────────────────────────────────────────────────────────────────────

function decide(command: HostCommand, state: HostState): HostEvent[] {
  if (command.type === 'RegisterHost') {
    const d = command.data;
    if (state.registered) {
      if (state.hostId === d.hostId && state.zoneId === d.zoneId && state.name === d.name && state.type === d.type && sameResources(state.resources, d.resources)) return [];
      throw new DomainError('HOST_EXISTS', `host ${d.hostId} already exists (named "${state.name}" in zone ${state.zoneId})`, ['hostId']);
    }
    const shape = hostShape(d.type, d.resources, full(d.reserved), { ...ONE_TO_ONE, ...d.allocationRatios });
    return [{
      type: 'HostRegistered',
      data: { hostId: d.hostId, zoneId: d.zoneId, regionId: d.regionId, name: d.name, type: d.type, area: d.area, ...shape, status: 'online' },
    }];
  }

  registeredHost(state, command.data.hostId);
  const out = emitter(state);

  switch (command.type) {
    case 'AdjustHostCapacity': {
      notRetired(state);
      const d = command.data;
      const shape = hostShape(state.type, d.resources ?? state.resources, d.reserved ? full(d.reserved) : state.reserved, { ...state.allocationRatios, ...d.allocationRatios });
      if (sameResources(shape.resources, state.resources) && sameResources(shape.reserved, state.reserved) && sameResources(shape.allocationRatios, state.allocationRatios)) return [];
      if (state.type === 'BM' && !sameResources(shape.resources, state.resources) && Object.values(state.slices).some((s) => isLive(s.state))) {
        throw new DomainError('BNODE_PRESENT', `host ${state.hostId} is lent whole to a BNode: release it before changing the machine's resources`, ['resources']);
      }
      for (const k of RESOURCE_KEYS) {
        if (shape.capacity[k] < state.used[k]) {
          throw new DomainError('CAPACITY_BELOW_USAGE', `new ${k} capacity ${shape.capacity[k]} is below the ${state.used[k]} its slices consume`, ['resources', k]);
        }
      }
      return [{ type: 'HostCapacityAdjusted', data: { hostId: state.hostId, zoneId: state.zoneId, regionId: state.regionId, ...shape, previousCapacity: state.capacity } }];
    }

    case 'DrainHost': case 'StartHostMaintenance': case 'ReturnHostOnline': {
      notRetired(state);
      const admin: AdminStatus = command.type === 'DrainHost' ? 'draining' : command.type === 'StartHostMaintenance' ? 'maintenance' : 'online';
      if (state.admin === admin) return [];
      return [statusEvent(state, { admin, reachable: state.reachable }, 'operator', { reason: command.data.reason })];
    }
    case 'MarkHostUnreachable': {
      notRetired(state);
      if (!state.reachable) return [];
      return [statusEvent(state, { admin: state.admin, reachable: false }, 'heartbeat', { missedBeats: command.data.missedBeats, lastSeenAt: command.data.lastSeenAt })];
    }
    case 'MarkHostReachable': {
      notRetired(state);
      if (state.reachable) return [];
      return [statusEvent(state, { admin: state.admin, reachable: true }, 'heartbeat', { lastSeenAt: command.data.seenAt })];
    }
    case 'ConfirmHostPoweredOff': {
      notRetired(state);
      const d = command.data;
      if (state.poweredOffAt !== undefined) return []; // already known to be off
      if (state.reachable) {
        out.emit(statusEvent(state, { admin: state.admin, reachable: false }, 'operator', { reason: d.reason ?? `powered off out of band (${d.method})` }));
      }
      out.emit({
        type: 'HostPoweredOff',
        data: { hostId: state.hostId, zoneId: state.zoneId, regionId: state.regionId, method: d.method, confirmedAt: d.confirmedAt, ...(d.reason !== undefined && { reason: d.reason }) },
      });
      return out.events;
    }
    case 'RetireHost': {
      if (state.retired) return [];
      const live = Object.values(state.slices).filter((s) => isLive(s.state));
      if (live.length > 0 && !command.data.force) {
        const byState = new Map<string, number>();
        for (const s of live) byState.set(s.state, (byState.get(s.state) ?? 0) + 1);
        const summary = [...byState].map(([st, n]) => `${n} ${st}`).join(', ');
        throw new DomainError('HOST_HAS_SLICES', `host ${state.hostId} still holds ${live.length} slice(s) (${summary}); release or move them, or retire with force`, ['force']);
      }
      const from = hostStatus(state);
      for (const s of live) out.emit(transition('XNodeReleased', out.state, s, 'released', 'host-retired', command.data.reason));
      out.emit({
        type: 'HostRetired',
        data: {
          hostId: state.hostId, zoneId: state.zoneId, regionId: state.regionId, from, forced: live.length > 0,
          releasedXNodeIds: live.map((s) => s.xnodeId), ...(command.data.reason !== undefined && { reason: command.data.reason }),
        },
      });
      return out.events;
    }

    case 'SliceXNode': {
      const d = command.data;
      const kind = kindOf(state.type);
      const existing = state.slices[d.xnodeId];
      const size = state.type === 'BM' ? state.resources : d.size ? sizeOf(d.size) : undefined;
      if (existing) {
        const same = isLive(existing.state) && size !== undefined && sameResources(existing.size, size) && existing.contractId === d.contractId
          && existing.imageId === d.imageId && existing.ha?.epoch === d.ha?.epoch;
        if (same) return []; // the same request again
        throw new DomainError('XNODE_EXISTS', `slice ${d.xnodeId} already exists on host ${state.hostId} (${existing.state})`, ['xnodeId']);
      }
      acceptsNewWork(state, `slice ${d.xnodeId}`);
      if (state.type === 'BM') {
        const holder = Object.values(state.slices).find((s) => isLive(s.state));
        if (holder) throw new DomainError('BNODE_EXISTS', `BM host ${state.hostId} is already lent whole to ${holder.xnodeId}`, ['hostId']);
        if (d.size && (d.size.cpuCores !== state.resources.cpuCores || d.size.ramMiB !== state.resources.ramMiB || d.size.diskGiB !== state.resources.diskGiB)) {
          throw new DomainError('BNODE_SIZE', `a BNode is the whole machine (${formatResources(state.resources)}); omit size or give exactly that`, ['size']);
        }
      }
      if (!size) throw new DomainError('SIZE_REQUIRED', `a ${kind} on ${state.type} host ${state.hostId} needs a size`, ['size']);
      if (d.copyFrom?.kind === 'xnode' && d.copyFrom.xnodeId === d.xnodeId) throw new DomainError('COPY_FROM_SELF', `slice ${d.xnodeId} cannot be copied from itself`, ['copyFrom']);
      if (d.ha) {
        const key = epochKey(d.ha);
        const seen = state.epochs[key];
        if (seen !== undefined && d.ha.epoch < seen) throw new DomainError('STALE_EPOCH', `epoch ${d.ha.epoch} of replica ${key} is stale: epoch ${seen} has been seen`, ['ha', 'epoch']);
        // every HA slice ever cut here recorded its epoch: no epoch seen for this replica, no peer to look for
        const peers = seen === undefined ? [] : Object.values(state.slices).filter((s) => s.ha && epochKey(s.ha) === key && isLive(s.state) && s.state !== 'fenced');
        const twin = peers.find((s) => s.ha!.epoch === d.ha!.epoch);
        if (twin) throw new DomainError('EPOCH_IN_USE', `epoch ${d.ha.epoch} of replica ${key} is already held by ${twin.xnodeId}`, ['ha', 'epoch']);
        for (const older of peers) out.emit(fenced(out.state, older, d.ha.epoch, 'superseded', `superseded by ${d.xnodeId} (epoch ${d.ha.epoch})`));
      }
      ensureFits(out.state, consumption(kind, size, 'provisioning'), () => `slice ${d.xnodeId} (${formatResources(size)})`); // worded only when refused
      out.emit({
        type: 'XNodeSliced',
        data: {
          hostId: state.hostId, zoneId: state.zoneId, regionId: state.regionId, xnodeId: d.xnodeId, kind, size, state: 'provisioning', generation: 1,
          ...(d.contractId !== undefined && { contractId: d.contractId }), ...(d.ha && { ha: d.ha }), ...(d.imageId !== undefined && { imageId: d.imageId }),
        },
      });
      if (d.copyFrom) out.emit(copyStarted(out.state, out.state.slices[d.xnodeId], d.copyFrom));
      return out.events;
    }

    case 'ResizeXNode': {
      const d = command.data;
      const slice = sliceOf(state, d.xnodeId);
      notEnded(slice, 'resize');
      checkEpoch(state, slice, d.epoch);
      if (slice.kind === 'BNode') throw new DomainError('BNODE_FIXED_SIZE', `BNode ${slice.xnodeId} is the whole machine; it cannot be resized`, ['size']);
      if (slice.state !== 'stopped' && slice.state !== 'provisioning') throw new DomainError('XNODE_MUST_BE_STOPPED', `slice ${slice.xnodeId} is ${slice.state}: power it off before resizing`, ['xnodeId']);
      notBusy(slice, 'resize');
      const size = sizeOf(d.size);
      if (sameResources(size, slice.size)) return [];
      if (size.diskGiB < slice.size.diskGiB) throw new DomainError('DISK_SHRINK_NOT_ALLOWED', `disk of ${slice.xnodeId} cannot shrink from ${slice.size.diskGiB} to ${size.diskGiB} GiB`, ['size', 'diskGiB']);
      const before = consumption(slice.kind, slice.size, slice.state);
      const after = consumption(slice.kind, size, slice.state);
      const increase = sub(after, before);
      if (RESOURCE_KEYS.some((k) => increase[k] > 0)) {
        acceptsNewWork(state, `grow slice ${slice.xnodeId}`);
        ensureFits(state, increase, `the growth of ${slice.xnodeId} to ${formatResources(size)}`);
      } else reachable(state, `resize slice ${slice.xnodeId}`);
      return [{ type: 'XNodeResized', data: { ...ref(state, slice), size, generation: slice.generation + 1, previousSize: slice.size } }];
    }

    case 'CopyXNodeFrom': {
      const d = command.data;
      const slice = sliceOf(state, d.xnodeId);
      notEnded(slice, 'copy into it');
      checkEpoch(state, slice, d.epoch);
      allowsStart(state, `copy into ${slice.xnodeId}`);
      if (slice.state !== 'stopped' && slice.state !== 'provisioning') throw new DomainError('XNODE_MUST_BE_STOPPED', `slice ${slice.xnodeId} is ${slice.state}: its disk is in use; power it off first`, ['xnodeId']);
      notBusy(slice, 'start another copy');
      if (d.source.kind === 'xnode' && d.source.xnodeId === slice.xnodeId) throw new DomainError('COPY_FROM_SELF', `slice ${slice.xnodeId} cannot be copied from itself`, ['source']);
      return [copyStarted(state, slice, d.source)];
    }
    case 'ReportXNodeCopy': {
      const d = command.data;
      const slice = sliceOf(state, d.xnodeId);
      if (!slice.copy || slice.copy.copyId !== d.copyId) {
        const n = /^c(\d+)$/.exec(d.copyId);
        if (n && Number(n[1]) <= slice.copies) return []; // a repeated report of a copy already ended
        throw new DomainError('COPY_NOT_FOUND', `slice ${slice.xnodeId} has no copy ${d.copyId} in progress`, ['copyId']);
      }
      const base = { ...ref(state, slice), copyId: slice.copy.copyId, source: slice.copy.source };
      return d.outcome === 'completed'
        ? [{ type: 'XNodeCopyCompleted', data: base }]
        : [{ type: 'XNodeCopyFailed', data: { ...base, ...(d.message !== undefined && { message: d.message }) } }];
    }

    case 'PowerOnXNode': {
      const d = command.data;
      const slice = sliceOf(state, d.xnodeId);
      if (slice.state === 'running') return [];
      notEnded(slice, 'power it on');
      checkEpoch(state, slice, d.epoch);
      if (slice.state === 'provisioning') throw new DomainError('XNODE_NOT_READY', `slice ${slice.xnodeId} is still provisioning; it starts when provisioned`, ['xnodeId']);
      if (slice.state === 'hibernated') throw new DomainError('XNODE_HIBERNATED', `slice ${slice.xnodeId} is hibernated: activate it instead`, ['xnodeId']);
      notBusy(slice, 'power it on');
      allowsStart(state, `power on ${slice.xnodeId}`);
      // stopped and failed slices hold their whole reservation: powering on takes nothing new (ensureFits is a no-op)
      ensureFits(state, sub(consumption(slice.kind, slice.size, 'running'), consumption(slice.kind, slice.size, slice.state)), `slice ${slice.xnodeId}`);
      return [transition('XNodePoweredOn', state, slice, 'running', 'command', d.reason)];
    }
    case 'PowerOffXNode': {
      const d = command.data;
      const slice = sliceOf(state, d.xnodeId);
      if (slice.state === 'stopped') return [];
      notEnded(slice, 'power it off');
      checkEpoch(state, slice, d.epoch);
      if (slice.state === 'provisioning') throw new DomainError('XNODE_NOT_READY', `slice ${slice.xnodeId} is still provisioning: release it to cancel`, ['xnodeId']);
      if (slice.state === 'hibernated') throw new DomainError('XNODE_HIBERNATED', `slice ${slice.xnodeId} is hibernated (already off, CPU and RAM given back): activate or release it`, ['xnodeId']);
      reachable(state, `power off ${slice.xnodeId}`);
      return [transition('XNodePoweredOff', state, slice, 'stopped', 'command', d.reason)];
    }
    case 'HibernateXNode': {
      const d = command.data;
      const slice = sliceOf(state, d.xnodeId);
      if (slice.state === 'hibernated') return [];
      notEnded(slice, 'hibernate it');
      checkEpoch(state, slice, d.epoch);
      if (slice.kind === 'BNode') throw new DomainError('HIBERNATE_UNSUPPORTED', `BNode ${slice.xnodeId} is a whole machine: it can be powered off, not hibernated`, ['xnodeId']);
      if (slice.state !== 'running' && slice.state !== 'stopped') throw new DomainError('XNODE_INVALID_STATE', `slice ${slice.xnodeId} is ${slice.state}: only running or stopped slices hibernate`, ['xnodeId']);
      notBusy(slice, 'hibernate it');
      reachable(state, `hibernate ${slice.xnodeId}`);
      return [transition('XNodeHibernated', state, slice, 'hibernated', 'command', d.reason)];
    }
    case 'ActivateXNode': {
      const d = command.data;
      const slice = sliceOf(state, d.xnodeId);
      if (slice.state === 'running') return [];
      notEnded(slice, 'activate it');
      checkEpoch(state, slice, d.epoch);
      if (slice.state !== 'hibernated') throw new DomainError('XNODE_NOT_HIBERNATED', `slice ${slice.xnodeId} is ${slice.state}, not hibernated${slice.state === 'stopped' || slice.state === 'failed' ? ': power it on instead' : ''}`, ['xnodeId']);
      allowsStart(state, `activate ${slice.xnodeId}`);
      ensureFits(state, sub(consumption(slice.kind, slice.size, 'running'), consumption(slice.kind, slice.size, 'hibernated')), `the activation of ${slice.xnodeId} (${formatResources(slice.size)})`);
      return [transition('XNodeActivated', state, slice, 'running', 'command', d.reason)];
    }
    case 'ReleaseXNode': {
      const d = command.data;
      const slice = sliceOf(state, d.xnodeId);
      if (slice.state === 'released') return []; // compensations and retries release safely
      return [transition('XNodeReleased', state, slice, 'released', 'command', d.reason)];
    }
    case 'FenceXNode': {
      const d = command.data;
      const slice = sliceOf(state, d.xnodeId);
      if (!slice.ha) throw new DomainError('XNODE_NOT_HA', `slice ${slice.xnodeId} carries no fencing token`, ['xnodeId']);
      if (slice.state === 'released') return [];
      const seen = Math.max(state.epochs[epochKey(slice.ha)] ?? 0, slice.ha.epoch);
      if (slice.state === 'fenced' && d.epoch <= seen) return [];
      if (d.epoch <= slice.ha.epoch) throw new DomainError('STALE_EPOCH', `fencing ${slice.xnodeId} needs an epoch newer than its own ${slice.ha.epoch}, got ${d.epoch}`, ['epoch']);
      if (slice.state === 'fenced') {
        // already fenced; remember the newer epoch so commands under older ones are refused
        return [{ type: 'XNodeFenced', data: { ...ref(state, slice), from: 'fenced', cause: 'command', fencedByEpoch: d.epoch, ...(d.reason !== undefined && { reason: d.reason }) } }];
      }
      return [fenced(state, slice, d.epoch, 'command', d.reason)];
    }

    case 'ReportXNodeObserved':
      return observe(state, command.data);
  }
}

function copyStarted(state: HostState, slice: XNodeSlice, source: CopySource): HostEvent {
  return { type: 'XNodeCopyStarted', data: { ...ref(state, slice), generation: slice.generation + 1, copyId: `c${slice.copies + 1}`, source } };
}

/** What the agent would see of a slice that is in the ledger's state. */
function matches(state: XNodeState, observed: ObservedState): boolean {
  switch (state) {
    case 'provisioning': return observed !== 'failed';
    case 'fenced': return observed !== 'running';
    case 'released': return observed === 'absent';
    default: return state === observed;
  }
}

/**
 * Observed state. A report of the current generation moves the ledger to reality where reality moved on its own
 * (provisioned, stopped from inside, crashed, vanished); a report of an older generation is recorded, never acted on
 * (the agent has not yet applied the latest command). Anything else the agent sees is recorded as drift for the
 * agent to correct: the ledger never lets an observation take capacity it has not granted.
 */
function observe(state: HostState, d: Extract<HostCommand, { type: 'ReportXNodeObserved' }>['data']): HostEvent[] {
  notRetired(state);
  const slice = sliceOf(state, d.xnodeId);
  if (d.generation > slice.generation) {
    throw new DomainError('OBSERVATION_AHEAD', `agent reports generation ${d.generation} of ${slice.xnodeId}, but the ledger is at ${slice.generation}`, ['generation']);
  }
  const current = d.generation === slice.generation;
  let next: { type: TransitionType; to: XNodeState } | undefined;
  if (current && !slice.copy) {
    const o = d.observed;
    if (slice.state === 'provisioning' && o === 'running') next = { type: 'XNodeProvisioned', to: 'running' };
    else if (slice.state === 'running' && o === 'stopped') next = { type: 'XNodePoweredOff', to: 'stopped' };
    // only states that hold their whole reservation can fail: a hibernated slice seen failed stays hibernated (recorded
    // as drift) because `failed` keeps CPU and RAM it had given back; its Activate will surface the failure.
    else if ((slice.state === 'provisioning' || slice.state === 'running' || slice.state === 'stopped') && (o === 'failed' || (o === 'absent' && slice.state !== 'provisioning'))) {
      next = { type: 'XNodeFailed', to: 'failed' };
    }
  }
  const changed = !slice.observed || slice.observed.state !== d.observed || slice.observed.generation !== d.generation;
  if (!changed && !next) return [];
  const out = emitter(state);
  out.emit({
    type: 'XNodeObserved',
    data: {
      ...ref(state, slice), observed: d.observed, observedGeneration: d.generation, observedAt: d.observedAt,
      drift: !next && !matches(slice.state, d.observed), ...(d.message !== undefined && { message: d.message }),
    },
  });
  if (next) {
    const reason = d.message ?? (d.observed === 'absent' ? 'the agent no longer finds the slice' : undefined);
    out.emit(transition(next.type, out.state, out.state.slices[slice.xnodeId], next.to, 'observed', reason));
  }
  return out.events;
}

export const hostDecider: Decider<HostState, HostCommand, HostEvent> = {
  initialState: () => initial,
  evolve,
  decide,
};
