/**
 * Network: a physical network of a zone (or a region) and the slices cut from it. Like a host for XNodes, the network
 * stream is the boundary of what it hands out, so its expected revision guards:
 *   - every public IP of the pool is held by at most one slice at a time;
 *   - Σ slice bandwidth ≤ the network's bandwidth;
 *   - every switch segment (VLAN/VNI id, 1..segments) is held by at most one slice.
 * The XNetwork itself (subnet, DNS, router, load balancer, firewall) lives in its own stream (xnetwork/), built on
 * the slice handed out here; see docs/resources.md for why.
 * IPs are handed out lowest-free first, so allocation is deterministic; a released IP can be handed out again.
 */
import './events.ts'; // registers the event schemas (the store validates appends against them)
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import { intToIp, ipToInt, inRanges, lowestFree, mergeRanges, rangesSize, usableRange, type Range } from '../common/ipv4.ts';
import type { NetworkCommand } from './commands.ts';
import type { NetworkEvent } from './events.ts';

export const MAX_POOL_SIZE = 65_536;

export interface NetworkSlice {
  readonly sliceId: string;
  readonly bandwidthMbps: number;
  readonly publicIps: readonly string[];
  readonly segment: number;
  readonly contractId?: string;
  readonly released: boolean;
}
export interface NetworkState {
  readonly registered: boolean;
  readonly retired: boolean;
  readonly networkId: string;
  readonly regionId: string;
  readonly zoneId?: string;
  readonly name: string;
  readonly bandwidthMbps: number;
  readonly usedBandwidthMbps: number;
  /** Usable addresses of the pool, merged ranges. */
  readonly pool: readonly Range[];
  readonly excluded: Readonly<Record<string, true>>;
  readonly poolSize: number;
  readonly segments: number;
  readonly ipOwner: Readonly<Record<string, string>>;
  readonly segmentOwner: Readonly<Record<number, string>>;
  readonly slices: Readonly<Record<string, NetworkSlice>>;
}

const initial: NetworkState = {
  registered: false, retired: false, networkId: '', regionId: '', name: '', bandwidthMbps: 0, usedBandwidthMbps: 0,
  pool: [], excluded: {}, poolSize: 0, segments: 0, ipOwner: {}, segmentOwner: {}, slices: {},
};

function buildPool(pool: readonly Range[], excluded: Readonly<Record<string, true>>, add: { cidrs: readonly string[]; addresses: readonly string[]; excluded: readonly string[] }) {
  const ranges = mergeRanges([...pool, ...add.cidrs.map(usableRange), ...add.addresses.map((a) => [ipToInt(a), ipToInt(a)] as const)]);
  const ex: Record<string, true> = { ...excluded };
  for (const e of add.excluded) ex[e] = true;
  const poolSize = rangesSize(ranges) - Object.keys(ex).filter((ip) => inRanges(ipToInt(ip), ranges)).length;
  return { pool: ranges, excluded: ex, poolSize };
}

export const freeIpCount = (s: NetworkState): number => s.poolSize - Object.keys(s.ipOwner).length;
export const freeBandwidthMbps = (s: NetworkState): number => s.bandwidthMbps - s.usedBandwidthMbps;

function setIps(owner: Readonly<Record<string, string>>, ips: readonly string[], sliceId: string | undefined): Record<string, string> {
  const next = { ...owner };
  for (const ip of ips) { if (sliceId === undefined) delete next[ip]; else next[ip] = sliceId; }
  return next;
}

function evolve(state: NetworkState, event: NetworkEvent): NetworkState {
  switch (event.type) {
    case 'NetworkRegistered': {
      const d = event.data;
      return {
        ...initial, registered: true, networkId: d.networkId, regionId: d.regionId, ...(d.zoneId !== undefined && { zoneId: d.zoneId }),
        name: d.name, bandwidthMbps: d.bandwidthMbps, segments: d.switchCapacity.segments, ...buildPool([], {}, d.publicIpPool),
      };
    }
    case 'NetworkPublicIpsAdded': return { ...state, ...buildPool(state.pool, state.excluded, event.data) };
    case 'NetworkBandwidthAdjusted': return { ...state, bandwidthMbps: event.data.bandwidthMbps };
    case 'NetworkRetired': return { ...state, retired: true };
    case 'NetworkSliceAllocated': {
      const d = event.data;
      const slice: NetworkSlice = { sliceId: d.sliceId, bandwidthMbps: d.bandwidthMbps, publicIps: d.publicIps, segment: d.segment, released: false, ...(d.contractId !== undefined && { contractId: d.contractId }) };
      return {
        ...state, usedBandwidthMbps: state.usedBandwidthMbps + d.bandwidthMbps, ipOwner: setIps(state.ipOwner, d.publicIps, d.sliceId),
        segmentOwner: { ...state.segmentOwner, [d.segment]: d.sliceId }, slices: { ...state.slices, [d.sliceId]: slice },
      };
    }
    case 'NetworkSliceResized': {
      const old = state.slices[event.data.sliceId];
      if (!old) return state;
      return {
        ...state, usedBandwidthMbps: state.usedBandwidthMbps - old.bandwidthMbps + event.data.bandwidthMbps,
        slices: { ...state.slices, [old.sliceId]: { ...old, bandwidthMbps: event.data.bandwidthMbps } },
      };
    }
    case 'NetworkSlicePublicIpsAdded': {
      const old = state.slices[event.data.sliceId];
      if (!old) return state;
      return { ...state, ipOwner: setIps(state.ipOwner, event.data.addedIps, old.sliceId), slices: { ...state.slices, [old.sliceId]: { ...old, publicIps: event.data.publicIps } } };
    }
    case 'NetworkSlicePublicIpReleased': {
      const old = state.slices[event.data.sliceId];
      if (!old) return state;
      return { ...state, ipOwner: setIps(state.ipOwner, [event.data.ip], undefined), slices: { ...state.slices, [old.sliceId]: { ...old, publicIps: event.data.publicIps } } };
    }
    case 'NetworkSliceReleased': {
      const old = state.slices[event.data.sliceId];
      if (!old || old.released) return state;
      const { [old.segment]: _freed, ...segmentOwner } = state.segmentOwner;
      return {
        ...state, usedBandwidthMbps: state.usedBandwidthMbps - old.bandwidthMbps, ipOwner: setIps(state.ipOwner, old.publicIps, undefined),
        segmentOwner, slices: { ...state.slices, [old.sliceId]: { ...old, released: true, publicIps: [], bandwidthMbps: 0 } },
      };
    }
    default: return state;
  }
}

function mustExist(state: NetworkState, networkId: string): void {
  if (!state.registered) throw new DomainError('NETWORK_NOT_FOUND', `network ${networkId} does not exist`, ['networkId']);
  if (state.networkId !== networkId) throw new DomainError('NETWORK_MISMATCH', `command for network ${networkId} sent to the stream of ${state.networkId}`, ['networkId']);
}
function active(state: NetworkState): void {
  if (state.retired) throw new DomainError('NETWORK_RETIRED', `network ${state.networkId} is retired`, ['networkId']);
}
function liveSlice(state: NetworkState, sliceId: string): NetworkSlice {
  const s = state.slices[sliceId];
  if (!s) throw new DomainError('NETWORK_SLICE_NOT_FOUND', `network ${state.networkId} has no slice ${sliceId}`, ['sliceId']);
  if (s.released) throw new DomainError('NETWORK_SLICE_RELEASED', `slice ${sliceId} of network ${state.networkId} is released`, ['sliceId']);
  return s;
}
function ensureBandwidth(state: NetworkState, increase: number, what: string): void {
  if (increase > 0 && state.usedBandwidthMbps + increase > state.bandwidthMbps) {
    throw new DomainError('INSUFFICIENT_BANDWIDTH', `network ${state.networkId} cannot fit ${what}: bandwidthMbps requested ${increase}, free ${freeBandwidthMbps(state)} of capacity ${state.bandwidthMbps}`, ['bandwidthMbps']);
  }
}
/** Picks `count` public IPs: exactly `requested` when given, else the lowest free ones. */
function pickIps(state: NetworkState, count: number, requested: readonly string[] | undefined, field: string): string[] {
  if (requested && requested.length > 0) {
    const seen = new Set<string>();
    for (const ip of requested) {
      if (seen.has(ip)) throw new DomainError('IP_DUPLICATE', `${ip} is asked for twice`, [field]);
      seen.add(ip);
      if (!inRanges(ipToInt(ip), state.pool) || state.excluded[ip]) throw new DomainError('IP_NOT_IN_POOL', `${ip} is not an address network ${state.networkId} hands out`, [field]);
      const holder = state.ipOwner[ip];
      if (holder) throw new DomainError('IP_TAKEN', `${ip} is already held by ${holder}`, [field]);
    }
    return [...requested];
  }
  if (count === 0) return [];
  const ips = lowestFree(state.pool, count, (ip) => !!state.ipOwner[ip] || !!state.excluded[ip]);
  if (ips.length < count) throw new DomainError('IP_POOL_EXHAUSTED', `network ${state.networkId} has ${freeIpCount(state)} free public IPs, ${count} requested`, [field]);
  return ips;
}

function decide(command: NetworkCommand, state: NetworkState): NetworkEvent[] {
  if (command.type === 'RegisterNetwork') {
    const d = command.data;
    if (state.registered) {
      if (state.networkId === d.networkId && state.name === d.name && state.regionId === d.regionId) return [];
      throw new DomainError('NETWORK_EXISTS', `network ${d.networkId} already exists (named "${state.name}")`, ['networkId']);
    }
    const publicIpPool = { cidrs: d.publicIpPool?.cidrs ?? [], addresses: d.publicIpPool?.addresses ?? [], excluded: d.publicIpPool?.excluded ?? [] };
    const built = buildPool([], {}, publicIpPool);
    if (rangesSize(built.pool) > MAX_POOL_SIZE) throw new DomainError('POOL_TOO_LARGE', `a public IP pool holds at most ${MAX_POOL_SIZE} addresses (a /16); split it over several networks`, ['publicIpPool']);
    return [{
      type: 'NetworkRegistered',
      data: {
        networkId: d.networkId, regionId: d.regionId, ...(d.zoneId !== undefined && { zoneId: d.zoneId }), name: d.name,
        bandwidthMbps: d.bandwidthMbps, publicIpPool, poolSize: built.poolSize, switchCapacity: d.switchCapacity,
      },
    }];
  }
  mustExist(state, command.data.networkId);
  const ref = { networkId: state.networkId, regionId: state.regionId, ...(state.zoneId !== undefined && { zoneId: state.zoneId }) };

  switch (command.type) {
    case 'AddNetworkPublicIps': {
      active(state);
      const add = { cidrs: command.data.cidrs ?? [], addresses: command.data.addresses ?? [], excluded: command.data.excluded ?? [] };
      if (add.cidrs.length + add.addresses.length + add.excluded.length === 0) return [];
      const built = buildPool(state.pool, state.excluded, add);
      if (rangesSize(built.pool) > MAX_POOL_SIZE) throw new DomainError('POOL_TOO_LARGE', `a public IP pool holds at most ${MAX_POOL_SIZE} addresses`, ['cidrs']);
      const heldExcluded = add.excluded.find((ip) => state.ipOwner[ip]);
      if (heldExcluded) throw new DomainError('IP_TAKEN', `${heldExcluded} cannot be excluded: it is held by ${state.ipOwner[heldExcluded]}`, ['excluded']);
      return [{ type: 'NetworkPublicIpsAdded', data: { ...ref, ...add, poolSize: built.poolSize } }];
    }
    case 'AdjustNetworkBandwidth': {
      active(state);
      const bw = command.data.bandwidthMbps;
      if (bw === state.bandwidthMbps) return [];
      if (bw < state.usedBandwidthMbps) throw new DomainError('CAPACITY_BELOW_USAGE', `bandwidth ${bw} Mbps is below the ${state.usedBandwidthMbps} Mbps its slices hold`, ['bandwidthMbps']);
      return [{ type: 'NetworkBandwidthAdjusted', data: { ...ref, bandwidthMbps: bw, previousBandwidthMbps: state.bandwidthMbps } }];
    }
    case 'RetireNetwork': {
      if (state.retired) return [];
      const live = Object.values(state.slices).filter((s) => !s.released);
      if (live.length > 0) throw new DomainError('NETWORK_HAS_SLICES', `network ${state.networkId} still holds ${live.length} slice(s): ${live.slice(0, 5).map((s) => s.sliceId).join(', ')}`, ['networkId']);
      return [{ type: 'NetworkRetired', data: { ...ref, ...(command.data.reason !== undefined && { reason: command.data.reason }) } }];
    }
    case 'AllocateNetworkSlice': {
      const d = command.data;
      const count = d.requestedIps?.length ? d.requestedIps.length : d.publicIps ?? 0;
      const existing = state.slices[d.sliceId];
      if (existing) {
        if (!existing.released && existing.bandwidthMbps === d.bandwidthMbps && existing.publicIps.length === count && existing.contractId === d.contractId) return [];
        throw new DomainError('NETWORK_SLICE_EXISTS', `network ${state.networkId} already has slice ${d.sliceId}${existing.released ? ' (released)' : ''}`, ['sliceId']);
      }
      active(state);
      ensureBandwidth(state, d.bandwidthMbps, `slice ${d.sliceId}`);
      let segment = 0;
      for (let s = 1; s <= state.segments; s++) if (!state.segmentOwner[s]) { segment = s; break; }
      if (segment === 0) throw new DomainError('NO_FREE_SEGMENT', `network ${state.networkId} has all ${state.segments} switch segments in use`, ['networkId']);
      const publicIps = pickIps(state, count, d.requestedIps, 'publicIps');
      return [{ type: 'NetworkSliceAllocated', data: { ...ref, sliceId: d.sliceId, ...(d.contractId !== undefined && { contractId: d.contractId }), bandwidthMbps: d.bandwidthMbps, publicIps, segment } }];
    }
    case 'ResizeNetworkSlice': {
      const s = liveSlice(state, command.data.sliceId);
      const bw = command.data.bandwidthMbps;
      if (bw === s.bandwidthMbps) return [];
      if (bw > s.bandwidthMbps) { active(state); ensureBandwidth(state, bw - s.bandwidthMbps, `the growth of ${s.sliceId}`); }
      return [{ type: 'NetworkSliceResized', data: { ...ref, sliceId: s.sliceId, ...(s.contractId !== undefined && { contractId: s.contractId }), bandwidthMbps: bw, previousBandwidthMbps: s.bandwidthMbps } }];
    }
    case 'AddSlicePublicIps': {
      const s = liveSlice(state, command.data.sliceId);
      active(state);
      const added = pickIps(state, command.data.count ?? 0, command.data.requestedIps, 'count');
      if (added.length === 0) return [];
      return [{ type: 'NetworkSlicePublicIpsAdded', data: { ...ref, sliceId: s.sliceId, ...(s.contractId !== undefined && { contractId: s.contractId }), addedIps: added, publicIps: [...s.publicIps, ...added] } }];
    }
    case 'ReleaseSlicePublicIp': {
      const s = liveSlice(state, command.data.sliceId);
      const ip = command.data.ip;
      if (!s.publicIps.includes(ip)) {
        if (state.ipOwner[ip]) throw new DomainError('IP_NOT_OWNED', `${ip} is held by ${state.ipOwner[ip]}, not ${s.sliceId}`, ['ip']);
        return []; // already given back
      }
      return [{ type: 'NetworkSlicePublicIpReleased', data: { ...ref, sliceId: s.sliceId, ...(s.contractId !== undefined && { contractId: s.contractId }), ip, publicIps: s.publicIps.filter((x) => x !== ip) } }];
    }
    case 'ReleaseNetworkSlice': {
      const s = state.slices[command.data.sliceId];
      if (!s) throw new DomainError('NETWORK_SLICE_NOT_FOUND', `network ${state.networkId} has no slice ${command.data.sliceId}`, ['sliceId']);
      if (s.released) return [];
      return [{
        type: 'NetworkSliceReleased',
        data: {
          ...ref, sliceId: s.sliceId, ...(s.contractId !== undefined && { contractId: s.contractId }), bandwidthMbps: s.bandwidthMbps,
          publicIps: [...s.publicIps], segment: s.segment, ...(command.data.reason !== undefined && { reason: command.data.reason }),
        },
      }];
    }
  }
}

export const networkDecider: Decider<NetworkState, NetworkCommand, NetworkEvent> = { initialState: () => initial, evolve, decide };

/** The addresses of the pool in order (for read models and tests; at most MAX_POOL_SIZE). */
export const poolAddresses = (s: NetworkState): string[] => s.pool.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => intToIp(a + i))).filter((ip) => !s.excluded[ip]);
