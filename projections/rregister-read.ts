/**
 * Queries over the RRegister (rregister.ts): lists keyed by `seq` (the global position of the creating event) for
 * cursor pagination, filters by region / zone / host / type / state / area, and free capacity per host, zone and
 * region. Free = capacity − used, per resource; `schedulable` counts only hosts that take new slices (online).
 */
import type Database from 'better-sqlite3';
import { RESOURCE_KEYS, type Resources } from '../layers/resources/common/quantities.ts';
import type { Amounts } from '../layers/resources/rcontract/events.ts';
import { RES_COLUMNS } from './rregister.ts';

export interface Page<T> { rows: T[]; hasNextPage: boolean }

export interface RegionRow { regionId: string; seq: number; name: string; description: string | null; status: string; createdAt: string; updatedAt: string }
export interface ZoneRow { zoneId: string; seq: number; regionId: string; name: string; status: string; createdAt: string; updatedAt: string }
export interface HostRow {
  hostId: string; seq: number; zoneId: string; regionId: string; name: string; type: 'VM' | 'CM' | 'BM'; area: string;
  status: string; admin: string; reachable: boolean; statusReason: string | null; lastSeenAt: string | null;
  resources: Resources; reserved: Resources; allocationRatios: Resources; capacity: Resources; used: Resources; free: Resources;
  liveXNodes: number; createdAt: string; updatedAt: string;
}
export interface XNodeRow {
  xnodeId: string; seq: number; hostId: string; zoneId: string; regionId: string; kind: string; state: string; size: Resources;
  generation: number; contractId: string | null; imageId: string | null; ha: { componentId: string; replica: number; epoch: number } | null;
  copyId: string | null; observed: string | null; observedGeneration: number | null; observedAt: string | null; drift: boolean;
  stateReason: string | null; createdAt: string; updatedAt: string;
}
export interface NetworkRow {
  networkId: string; seq: number; regionId: string; zoneId: string | null; name: string; status: string;
  bandwidthMbps: number; usedBandwidthMbps: number; freeBandwidthMbps: number; poolSize: number; ipsUsed: number; freeIps: number;
  segments: number; segmentsUsed: number; publicIpPool: { cidrs: string[]; addresses: string[]; excluded: string[] }; createdAt: string; updatedAt: string;
}
export interface XNetworkRow {
  xnetworkId: string; seq: number; networkId: string; regionId: string; zoneId: string | null; contractId: string | null; cidr: string; gateway: string;
  public: boolean; bandwidthMbps: number; publicIps: string[]; segment: number; status: string; devices: number; ports: number; createdAt: string; updatedAt: string;
}
export interface ImageRow {
  imageId: string; seq: number; regionId: string; name: string; kind: string; format: string; arch: string; os: { family: string; version: string } | null;
  sizeGiB: number; digest: string; status: string; checkpoints: number; branches: number; createdAt: string; updatedAt: string;
}
export interface XImageRow {
  ximageId: string; seq: number; regionId: string; imageId: string | null; contractId: string | null; quota: { checkpoints: number; sizeGiB: number };
  usage: { checkpoints: number; sizeGiB: number }; status: string; createdAt: string; updatedAt: string;
}
export interface RContractItemRow {
  index: number; kind: 'compute' | 'network' | 'image'; sliceId: string; hostId: string | null; networkId: string | null; regionId: string | null;
  status: string; requested: Amounts; reserved: Amounts | null; usage: Amounts; usageUntil: string | null; failure: { code: string; message: string } | null;
  request: Record<string, unknown>;
}
export interface RContractRow {
  contractId: string; seq: number; tenantId: string | null; holder: { kind: string; id: string } | null; status: string; compensated: boolean;
  reserved: Amounts; failure: { code: string; message: string } | null; createdAt: string; updatedAt: string;
}
export interface MoveRow {
  moveId: string; seq: number; mode: string; source: { hostId: string; xnodeId: string }; target: { hostId: string; xnodeId: string };
  contractId: string | null; phase: string; failure: { code: string; message: string } | null; warning: string | null; createdAt: string; updatedAt: string;
}
export interface CapacitySummary { hosts: number; capacity: Resources; used: Resources; free: Resources; schedulableFree: Resources }

export interface HostFilter {
  regionId?: string; zoneId?: string; hostIds?: string[]; type?: string; status?: string[]; area?: string; areaPrefix?: string;
  /** Only hosts with at least this much free. */
  minFree?: Partial<Resources>;
}
export interface XNodeFilter { regionId?: string; zoneId?: string; hostId?: string; kind?: string; state?: string[]; contractId?: string; area?: string; includeReleased?: boolean }
export interface RContractFilter { status?: string[]; tenantId?: string }

export const res = (r: Record<string, unknown>, prefix: string): Resources =>
  Object.fromEntries(RESOURCE_KEYS.map((k) => [k, r[`${prefix}_${RES_COLUMNS[k]}`] as number])) as Resources;
export const sub = (a: Resources, b: Resources): Resources => Object.fromEntries(RESOURCE_KEYS.map((k) => [k, a[k] - b[k]])) as Resources;
const json = <T>(v: unknown, fallback: T): T => (typeof v === 'string' ? JSON.parse(v) as T : fallback);

export const toRegion = (r: any): RegionRow => ({ regionId: r.region_id, seq: r.seq, name: r.name, description: r.description, status: r.status, createdAt: r.created_at, updatedAt: r.updated_at });
export const toZone = (r: any): ZoneRow => ({ zoneId: r.zone_id, seq: r.seq, regionId: r.region_id, name: r.name, status: r.status, createdAt: r.created_at, updatedAt: r.updated_at });
export function toHost(r: any): HostRow {
  const capacity = res(r, 'cap');
  const used = res(r, 'used');
  return {
    hostId: r.host_id, seq: r.seq, zoneId: r.zone_id, regionId: r.region_id, name: r.name, type: r.type, area: r.area, status: r.status, admin: r.admin,
    reachable: r.reachable === 1, statusReason: r.status_reason, lastSeenAt: r.last_seen_at,
    resources: json(r.resources, {} as Resources), reserved: json(r.reserved, {} as Resources), allocationRatios: json(r.allocation_ratios, {} as Resources),
    capacity, used, free: sub(capacity, used), liveXNodes: r.live_xnodes, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}
export const toXNode = (r: any): XNodeRow => ({
  xnodeId: r.xnode_id, seq: r.seq, hostId: r.host_id, zoneId: r.zone_id, regionId: r.region_id, kind: r.kind, state: r.state, size: res(r, 'size'),
  generation: r.generation, contractId: r.contract_id, imageId: r.image_id,
  ha: r.ha_component_id === null ? null : { componentId: r.ha_component_id, replica: r.ha_replica, epoch: r.ha_epoch },
  copyId: r.copy_id, observed: r.observed, observedGeneration: r.observed_generation, observedAt: r.observed_at, drift: r.drift === 1,
  stateReason: r.state_reason, createdAt: r.created_at, updatedAt: r.updated_at,
});
export const toNetwork = (r: any): NetworkRow => ({
  networkId: r.network_id, seq: r.seq, regionId: r.region_id, zoneId: r.zone_id, name: r.name, status: r.status,
  bandwidthMbps: r.bandwidth_mbps, usedBandwidthMbps: r.used_bandwidth_mbps, freeBandwidthMbps: r.bandwidth_mbps - r.used_bandwidth_mbps,
  poolSize: r.pool_size, ipsUsed: r.ips_used, freeIps: r.pool_size - r.ips_used, segments: r.segments, segmentsUsed: r.segments_used,
  publicIpPool: json(r.public_ip_pool, { cidrs: [], addresses: [], excluded: [] }), createdAt: r.created_at, updatedAt: r.updated_at,
});
export const toXNetwork = (r: any): XNetworkRow => ({
  xnetworkId: r.xnetwork_id, seq: r.seq, networkId: r.network_id, regionId: r.region_id, zoneId: r.zone_id, contractId: r.contract_id, cidr: r.cidr,
  gateway: r.gateway, public: r.public === 1, bandwidthMbps: r.bandwidth_mbps, publicIps: json(r.public_ips, []), segment: r.segment, status: r.status,
  devices: r.devices, ports: r.ports, createdAt: r.created_at, updatedAt: r.updated_at,
});
export const toImage = (r: any): ImageRow => ({
  imageId: r.image_id, seq: r.seq, regionId: r.region_id, name: r.name, kind: r.kind, format: r.format, arch: r.arch,
  os: r.os_family === null ? null : { family: r.os_family, version: r.os_version }, sizeGiB: r.size_gib, digest: r.digest, status: r.status,
  checkpoints: r.checkpoints, branches: r.branches, createdAt: r.created_at, updatedAt: r.updated_at,
});
export const toXImage = (r: any): XImageRow => ({
  ximageId: r.ximage_id, seq: r.seq, regionId: r.region_id, imageId: r.image_id, contractId: r.contract_id,
  quota: { checkpoints: r.quota_checkpoints, sizeGiB: r.quota_size_gib }, usage: { checkpoints: r.used_checkpoints, sizeGiB: r.used_size_gib },
  status: r.status, createdAt: r.created_at, updatedAt: r.updated_at,
});
export const toContract = (r: any): RContractRow => ({
  contractId: r.contract_id, seq: r.seq, tenantId: r.tenant_id, holder: r.holder_kind === null ? null : { kind: r.holder_kind, id: r.holder_id },
  status: r.status, compensated: r.compensated === 1, reserved: json(r.reserved, {}),
  failure: r.failure_code === null ? null : { code: r.failure_code, message: r.failure_message }, createdAt: r.created_at, updatedAt: r.updated_at,
});
export const toItem = (r: any): RContractItemRow => ({
  index: r.idx, kind: r.kind, sliceId: r.slice_id, hostId: r.host_id, networkId: r.network_id, regionId: r.region_id, status: r.status,
  requested: json(r.requested, {}), reserved: json(r.reserved, null), usage: json(r.usage, {}), usageUntil: r.usage_until,
  failure: r.failure_code === null ? null : { code: r.failure_code, message: r.failure_message }, request: json(r.request, {}),
});
export const toMove = (r: any): MoveRow => ({
  moveId: r.move_id, seq: r.seq, mode: r.mode, source: { hostId: r.source_host_id, xnodeId: r.source_xnode_id },
  target: { hostId: r.target_host_id, xnodeId: r.target_xnode_id }, contractId: r.contract_id, phase: r.phase,
  failure: r.failure_code === null ? null : { code: r.failure_code, message: r.failure_message }, warning: r.warning, createdAt: r.created_at, updatedAt: r.updated_at,
});

type Where = { sql: string[]; params: unknown[] };
const where = (): Where => ({ sql: [], params: [] });
const add = (w: Where, sql: string, ...params: unknown[]) => { w.sql.push(sql); w.params.push(...params); };
const inList = (w: Where, column: string, list: string[] | undefined) => {
  if (list === undefined) return;
  if (list.length === 0) { w.sql.push('0'); return; }
  add(w, `${column} IN (${list.map(() => '?').join(', ')})`, ...list);
};
const clause = (w: Where) => (w.sql.length ? `WHERE ${w.sql.join(' AND ')}` : '');
/** LIKE pattern of a literal prefix (escapes %, _ and \). */
const prefixPattern = (p: string) => `${p.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export class RRegisterReadModel {
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) { s = this.db.prepare(sql); this.stmts.set(sql, s); }
    return s;
  }
  private page<T>(table: string, w: Where, after: number, first: number, map: (r: any) => T): Page<T> {
    const w2: Where = { sql: [...w.sql, 'seq > ?'], params: [...w.params, after] };
    const rows = this.stmt(`SELECT * FROM ${table} ${clause(w2)} ORDER BY seq LIMIT ?`).all(...w2.params, first + 1) as any[];
    return { rows: rows.slice(0, first).map(map), hasNextPage: rows.length > first };
  }
  private count(table: string, w: Where): number {
    return (this.stmt(`SELECT count(*) AS n FROM ${table} ${clause(w)}`).get(...w.params) as { n: number }).n;
  }
  private one<T>(table: string, key: string, id: string, map: (r: any) => T): T | null {
    const r = this.stmt(`SELECT * FROM ${table} WHERE ${key} = ?`).get(id);
    return r ? map(r) : null;
  }

  // ── regions and zones ──────────────────────────────────────────────────────────────────────────────────────
  region(regionId: string): RegionRow | null { return this.one('rr_regions', 'region_id', regionId, toRegion); }
  regions(after: number, first: number): Page<RegionRow> { return this.page('rr_regions', where(), after, first, toRegion); }
  regionCount(): number { return this.count('rr_regions', where()); }
  zone(zoneId: string): ZoneRow | null { return this.one('rr_zones', 'zone_id', zoneId, toZone); }
  zones(filter: { regionId?: string }, after: number, first: number): Page<ZoneRow> { return this.page('rr_zones', this.zoneWhere(filter), after, first, toZone); }
  zoneCount(filter: { regionId?: string }): number { return this.count('rr_zones', this.zoneWhere(filter)); }
  private zoneWhere(filter: { regionId?: string }): Where {
    const w = where();
    if (filter.regionId !== undefined) add(w, 'region_id = ?', filter.regionId);
    return w;
  }

  // ── hosts ──────────────────────────────────────────────────────────────────────────────────────────────────
  host(hostId: string): HostRow | null { return this.one('rr_hosts', 'host_id', hostId, toHost); }
  hosts(filter: HostFilter, after: number, first: number): Page<HostRow> { return this.page('rr_hosts', this.hostWhere(filter), after, first, toHost); }
  hostCount(filter: HostFilter): number { return this.count('rr_hosts', this.hostWhere(filter)); }
  private hostWhere(f: HostFilter): Where {
    const w = where();
    if (f.regionId !== undefined) add(w, 'region_id = ?', f.regionId);
    if (f.zoneId !== undefined) add(w, 'zone_id = ?', f.zoneId);
    inList(w, 'host_id', f.hostIds);
    if (f.type !== undefined) add(w, 'type = ?', f.type);
    inList(w, 'status', f.status);
    if (f.area !== undefined) add(w, 'area = ?', f.area);
    if (f.areaPrefix !== undefined) add(w, "area LIKE ? ESCAPE '\\'", prefixPattern(f.areaPrefix));
    for (const k of RESOURCE_KEYS) {
      const min = f.minFree?.[k];
      if (min !== undefined) add(w, `cap_${RES_COLUMNS[k]} - used_${RES_COLUMNS[k]} >= ?`, min);
    }
    return w;
  }

  /** Capacity, use and free of the hosts of a zone, a region, or everywhere (retired hosts left out). */
  capacity(scope: { zoneId?: string; regionId?: string } = {}): CapacitySummary {
    const w = where();
    add(w, "status <> 'retired'");
    if (scope.zoneId !== undefined) add(w, 'zone_id = ?', scope.zoneId);
    if (scope.regionId !== undefined) add(w, 'region_id = ?', scope.regionId);
    const sums = RESOURCE_KEYS.flatMap((k) => {
      const c = RES_COLUMNS[k];
      return [`COALESCE(SUM(cap_${c}), 0) AS cap_${c}`, `COALESCE(SUM(used_${c}), 0) AS used_${c}`,
        `COALESCE(SUM(CASE WHEN status = 'online' THEN cap_${c} - used_${c} ELSE 0 END), 0) AS sched_${c}`];
    });
    const r = this.stmt(`SELECT count(*) AS hosts, ${sums.join(', ')} FROM rr_hosts ${clause(w)}`).get(...w.params) as Record<string, number>;
    const capacity = res(r, 'cap');
    const used = res(r, 'used');
    return { hosts: r.hosts, capacity, used, free: sub(capacity, used), schedulableFree: res(r, 'sched') };
  }

  // ── XNodes ─────────────────────────────────────────────────────────────────────────────────────────────────
  xnode(xnodeId: string): XNodeRow | null { return this.one('rr_xnodes', 'xnode_id', xnodeId, toXNode); }
  xnodes(filter: XNodeFilter, after: number, first: number): Page<XNodeRow> { return this.page('rr_xnodes', this.xnodeWhere(filter), after, first, toXNode); }
  xnodeCount(filter: XNodeFilter): number { return this.count('rr_xnodes', this.xnodeWhere(filter)); }
  private xnodeWhere(f: XNodeFilter): Where {
    const w = where();
    if (f.regionId !== undefined) add(w, 'region_id = ?', f.regionId);
    if (f.zoneId !== undefined) add(w, 'zone_id = ?', f.zoneId);
    if (f.hostId !== undefined) add(w, 'host_id = ?', f.hostId);
    if (f.kind !== undefined) add(w, 'kind = ?', f.kind);
    if (f.contractId !== undefined) add(w, 'contract_id = ?', f.contractId);
    inList(w, 'state', f.state);
    if (f.state === undefined && !f.includeReleased) add(w, "state <> 'released'");
    if (f.area !== undefined) add(w, 'host_id IN (SELECT host_id FROM rr_hosts WHERE area = ?)', f.area);
    return w;
  }

  // ── networks and images ────────────────────────────────────────────────────────────────────────────────────
  network(networkId: string): NetworkRow | null { return this.one('rr_networks', 'network_id', networkId, toNetwork); }
  networks(filter: { regionId?: string; zoneId?: string }, after: number, first: number): Page<NetworkRow> {
    return this.page('rr_networks', this.placeWhere(filter), after, first, toNetwork);
  }
  networkCount(filter: { regionId?: string; zoneId?: string }): number { return this.count('rr_networks', this.placeWhere(filter)); }
  xnetwork(xnetworkId: string): XNetworkRow | null { return this.one('rr_xnetworks', 'xnetwork_id', xnetworkId, toXNetwork); }
  xnetworksOf(networkId: string): XNetworkRow[] { return (this.stmt('SELECT * FROM rr_xnetworks WHERE network_id = ? ORDER BY seq').all(networkId) as any[]).map(toXNetwork); }
  image(imageId: string): ImageRow | null { return this.one('rr_images', 'image_id', imageId, toImage); }
  images(filter: { regionId?: string }, after: number, first: number): Page<ImageRow> { return this.page('rr_images', this.placeWhere(filter), after, first, toImage); }
  imageCount(filter: { regionId?: string }): number { return this.count('rr_images', this.placeWhere(filter)); }
  ximage(ximageId: string): XImageRow | null { return this.one('rr_ximages', 'ximage_id', ximageId, toXImage); }
  private placeWhere(f: { regionId?: string; zoneId?: string }): Where {
    const w = where();
    if (f.regionId !== undefined) add(w, 'region_id = ?', f.regionId);
    if (f.zoneId !== undefined) add(w, 'zone_id = ?', f.zoneId);
    return w;
  }

  // ── RContracts and moves ───────────────────────────────────────────────────────────────────────────────────
  rcontract(contractId: string): RContractRow | null { return this.one('rr_rcontracts', 'contract_id', contractId, toContract); }
  rcontracts(filter: RContractFilter, after: number, first: number): Page<RContractRow> { return this.page('rr_rcontracts', this.contractWhere(filter), after, first, toContract); }
  rcontractCount(filter: RContractFilter): number { return this.count('rr_rcontracts', this.contractWhere(filter)); }
  private contractWhere(f: RContractFilter): Where {
    const w = where();
    inList(w, 'status', f.status);
    if (f.tenantId !== undefined) add(w, 'tenant_id = ?', f.tenantId);
    return w;
  }
  rcontractItems(contractId: string): RContractItemRow[] {
    return (this.stmt('SELECT * FROM rr_rcontract_items WHERE contract_id = ? ORDER BY idx').all(contractId) as any[]).map(toItem);
  }
  move(moveId: string): MoveRow | null { return this.one('rr_moves', 'move_id', moveId, toMove); }
}
