/**
 * The scheduler's in-memory view of the fleet, built from Host events only (a catch-up subscription on category Host):
 * every host's capacity, what its slices consume, its status, its place (region, zone, area) and the HA slices it
 * holds. It does not wait for any read model. Plans made on it are checked by the Host stream's expected revision
 * when committed, so a stale view can cost a retry, never an overcommit.
 *
 * Slices this process has just placed (and whose events have not come back yet) are held as reservations, so two
 * plans of one process do not pick the same last free cores; a reservation ends when its XNodeSliced is applied or
 * when the slice was refused.
 */
import type { StoredEvent } from '../../../core/event-store/port.ts';
import { consumption, type XNodeKind, type XNodeState } from '../../resources/host/consumption.ts';
import type { HostEvent } from '../../resources/host/events.ts';
import { hostStatus, type HostStatus, type HostType } from '../../resources/host/decider.ts';
import { add, sub, ZERO, type Resources } from '../../resources/common/quantities.ts';

export interface HaToken { componentId: string; replica: number; epoch: number }
export interface SliceView { xnodeId: string; kind: XNodeKind; size: Resources; state: XNodeState; ha?: HaToken }

export interface HostView {
  readonly index: number;
  readonly hostId: string;
  zoneId: string;
  regionId: string;
  area: string;
  /** `dc1/row2/rack7` → ['dc1', 'row2', 'rack7']: hosts whose paths share a longer prefix fail together. */
  areaPath: string[];
  type: HostType;
  capacity: Resources;
  /** Σ consumption of its slices, from the events applied. */
  used: Resources;
  /** Reserved by plans of this process not yet seen in events. */
  reserved: Resources;
  admin: 'online' | 'maintenance' | 'draining';
  reachable: boolean;
  retired: boolean;
  poweredOffAt?: string;
  /** When it was last seen before it became unreachable (the health monitor's lastSeenAt, else when it was marked). */
  lastSeenAt?: string;
  /** Last applied revision of the host's stream. */
  revision: number;
  slices: Map<string, SliceView>;
  /** Pools (scope partitions) this host belongs to, with its position in each; kept by the placement index. */
  memberships: { pool: PoolRef; position: number }[];
}

/** A pool's cursor must move back when a host of it gains free capacity. */
export interface PoolRef { dirty: boolean }

export const statusOf = (h: HostView): HostStatus => hostStatus(h);
export const freeOf = (h: HostView): Resources => sub(sub(h.capacity, h.used), h.reserved);

type Listener = (host: HostView, event: StoredEvent) => void;

export class Fleet {
  readonly hosts: HostView[] = [];
  readonly byId = new Map<string, HostView>();
  /** componentId → hosts holding a live slice of it. */
  private readonly haIndex = new Map<string, Set<string>>();
  private readonly reservations = new Map<string, { host: HostView; size: Resources }>();
  /** Bumped on every change of capacity, usage or status: plans that failed for capacity are worth retrying when it moved. */
  version = 0;
  /** Global position of the last Host event applied. */
  position = 0;
  private readonly listeners = new Set<Listener>();
  /** Added hosts (the placement index rebuilds its pools). */
  topology = 0;

  onChange(listener: Listener): () => void { this.listeners.add(listener); return () => this.listeners.delete(listener); }

  host(hostId: string): HostView | undefined { return this.byId.get(hostId); }

  /** Hosts holding a live (not released) slice of a component. */
  hostsOf(componentId: string): string[] { return [...(this.haIndex.get(componentId) ?? [])]; }

  /** Adds a host directly (benchmarks and tests that do not go through events). */
  addHost(h: { hostId: string; zoneId: string; regionId: string; area: string; type: HostType; capacity: Resources }): HostView {
    const view: HostView = {
      index: this.hosts.length, hostId: h.hostId, zoneId: h.zoneId, regionId: h.regionId, area: h.area, areaPath: h.area.split('/'),
      type: h.type, capacity: h.capacity, used: ZERO, reserved: ZERO, admin: 'online', reachable: true, retired: false, revision: -1,
      slices: new Map(), memberships: [],
    };
    this.hosts.push(view);
    this.byId.set(h.hostId, view);
    this.topology++;
    this.version++;
    return view;
  }

  /** Holds capacity for a slice this process is placing (until its XNodeSliced is applied, or `unreserve`). */
  reserve(hostId: string, xnodeId: string | null, size: Resources): void {
    const host = this.byId.get(hostId);
    if (!host) return;
    host.reserved = add(host.reserved, size);
    if (xnodeId !== null) this.reservations.set(xnodeId, { host, size });
    this.version++;
  }

  /** Ends a reservation held without an id (`reserve(hostId, null, …)`): its slice was refused. */
  release(hostId: string, size: Resources): void {
    const host = this.byId.get(hostId);
    if (!host) return;
    host.reserved = sub(host.reserved, size);
    this.grew(host);
  }

  unreserve(xnodeId: string): void {
    const r = this.reservations.get(xnodeId);
    if (!r) return;
    this.reservations.delete(xnodeId);
    r.host.reserved = sub(r.host.reserved, r.size);
    this.grew(r.host);
  }

  private grew(host: HostView): void {
    for (const m of host.memberships) m.pool.dirty = true;
    this.version++;
  }

  /** Applies one stored Host event (in log order; repeats and older revisions are ignored). */
  apply(stored: StoredEvent): void {
    if (stored.position > this.position) this.position = stored.position;
    const e = { type: stored.type, data: stored.data } as HostEvent;
    if (e.type === 'HostRegistered') {
      const d = e.data;
      let h = this.byId.get(d.hostId);
      if (!h) h = this.addHost({ hostId: d.hostId, zoneId: d.zoneId, regionId: d.regionId, area: d.area, type: d.type, capacity: d.capacity });
      h.revision = stored.revision;
      this.emit(h, stored);
      return;
    }
    const h = this.byId.get((e.data as { hostId: string }).hostId);
    if (!h || stored.revision <= h.revision) return;
    h.revision = stored.revision;
    switch (e.type) {
      case 'HostCapacityAdjusted': h.capacity = e.data.capacity; this.grew(h); break;
      case 'HostStatusChanged':
        if (h.reachable && !e.data.reachable) h.lastSeenAt = e.data.lastSeenAt ?? stored.metadata.occurredAt;
        h.admin = e.data.admin; h.reachable = e.data.reachable;
        if (e.data.reachable) { h.poweredOffAt = undefined; h.lastSeenAt = undefined; }
        this.grew(h);
        break;
      case 'HostPoweredOff': h.reachable = false; h.poweredOffAt = e.data.confirmedAt; this.version++; break;
      case 'HostRetired': h.retired = true; this.version++; break;
      case 'XNodeObserved': case 'XNodeCopyStarted': case 'XNodeCopyCompleted': case 'XNodeCopyFailed': {
        const s = h.slices.get(e.data.xnodeId);
        if (s) s.state = e.data.state;
        break;
      }
      default: {
        const d = e.data as { xnodeId: string; kind: XNodeKind; size: Resources; state: XNodeState; ha?: HaToken };
        const old = h.slices.get(d.xnodeId);
        const before = old ? consumption(old.kind, old.size, old.state) : ZERO;
        const after = consumption(d.kind, d.size, d.state);
        h.used = add(sub(h.used, before), after);
        if (e.type === 'XNodeSliced') {
          const r = this.reservations.get(d.xnodeId);
          if (r) { this.reservations.delete(d.xnodeId); h.reserved = sub(h.reserved, r.size); }
        }
        if (d.state === 'released') h.slices.delete(d.xnodeId);
        else h.slices.set(d.xnodeId, { xnodeId: d.xnodeId, kind: d.kind, size: d.size, state: d.state, ...(d.ha && { ha: d.ha }) });
        if (d.ha) {
          const set = this.haIndex.get(d.ha.componentId) ?? new Set<string>();
          let live = false;
          for (const s of h.slices.values()) if (s.ha?.componentId === d.ha.componentId) { live = true; break; }
          if (live) set.add(h.hostId); else set.delete(h.hostId);
          if (set.size) this.haIndex.set(d.ha.componentId, set); else this.haIndex.delete(d.ha.componentId);
        }
        if (after.cpuCores < before.cpuCores || after.ramMiB < before.ramMiB || after.diskGiB < before.diskGiB) this.grew(h);
        else this.version++;
      }
    }
    this.emit(h, stored);
  }

  private emit(h: HostView, e: StoredEvent) { for (const l of this.listeners) l(h, e); }
}
