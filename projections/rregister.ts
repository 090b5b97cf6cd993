/**
 * The RRegister: the global register (read model) of the Resources layer. Where everything is and its state:
 * regions, zones, hosts (status, type, area, resources, capacity, used, free), the XNode slices of every host,
 * physical networks and their slices, virtual networks, images, checkpoint quotas (XImages), RContracts with their
 * items, and moves. Free capacity per zone and region is summed from the hosts (rregister-read.ts).
 *
 * What an XNode consumes in its state comes from `consumption()` (layers/resources/host/consumption.ts), the same
 * function the Host decider uses, so `used` here is the decider's `used`.
 *
 * Deterministic: every value comes from the events (times from `metadata.occurredAt`, row order keys from the global
 * position), and JSON columns are written with a fixed key order, so a rebuild from zero gives the same digest.
 */
import type Database from 'better-sqlite3';
import type { StoredEvent } from '../core/event-store/port.ts';
import type { SqliteProjection } from './runner.ts';
import '../layers/resources/index.ts'; // registers the Resources schemas
import { consumption, type XNodeKind, type XNodeState } from '../layers/resources/host/consumption.ts';
import { RESOURCE_KEYS, type Resources } from '../layers/resources/common/quantities.ts';
import { UNITS, type Amounts } from '../layers/resources/rcontract/events.ts';

export const RREGISTER_TABLES = {
  regions: 'rr_regions',
  zones: 'rr_zones',
  hosts: 'rr_hosts',
  xnodes: 'rr_xnodes',
  networks: 'rr_networks',
  networkSlices: 'rr_network_slices',
  xnetworks: 'rr_xnetworks',
  images: 'rr_images',
  ximages: 'rr_ximages',
  rcontracts: 'rr_rcontracts',
  rcontractItems: 'rr_rcontract_items',
  moves: 'rr_moves',
} as const;

/** Column name stems of the five host resources, in RESOURCE_KEYS order. */
export const RES_COLUMNS: Record<keyof Resources, string> = {
  cpuCores: 'cpu_cores', cpuMHz: 'cpu_mhz', ramMiB: 'ram_mib', diskGiB: 'disk_gib', diskIops: 'disk_iops',
};
const cols = (prefix: string) => RESOURCE_KEYS.map((k) => `${prefix}_${RES_COLUMNS[k]}`);
const colDefs = (prefix: string) => cols(prefix).map((c) => `${c} INTEGER NOT NULL DEFAULT 0`).join(', ');
const values = (r: Resources) => RESOURCE_KEYS.map((k) => r[k]);
/** JSON of resources with a fixed key order. */
export const resourcesJson = (r: Resources): string => JSON.stringify(Object.fromEntries(RESOURCE_KEYS.map((k) => [k, r[k]])));
/** JSON of amounts with the UNITS key order (absent units left out). */
export const amountsJson = (a: Amounts | undefined): string => JSON.stringify(Object.fromEntries(UNITS.filter((u) => a?.[u] !== undefined).map((u) => [u, a![u]])));
const sumAmounts = (a: Amounts, b: Amounts | undefined): Amounts => {
  const out: Amounts = { ...a };
  for (const u of UNITS) if (b?.[u] !== undefined) out[u] = (out[u] ?? 0) + b[u]!;
  return out;
};
/** A stable JSON text for any plain value (object keys sorted). */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v));
}

const SETUP = `
  CREATE TABLE IF NOT EXISTS rr_regions (
    region_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, name TEXT NOT NULL, description TEXT, status TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS rr_zones (
    zone_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, region_id TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS rr_zones_by_region ON rr_zones (region_id, seq);
  CREATE TABLE IF NOT EXISTS rr_hosts (
    host_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, zone_id TEXT NOT NULL, region_id TEXT NOT NULL, name TEXT NOT NULL,
    type TEXT NOT NULL, area TEXT NOT NULL, status TEXT NOT NULL, admin TEXT NOT NULL, reachable INTEGER NOT NULL,
    resources TEXT NOT NULL, reserved TEXT NOT NULL, allocation_ratios TEXT NOT NULL,
    ${colDefs('cap')}, ${colDefs('used')},
    live_xnodes INTEGER NOT NULL DEFAULT 0, status_reason TEXT, last_seen_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS rr_hosts_by_zone ON rr_hosts (zone_id, seq);
  CREATE INDEX IF NOT EXISTS rr_hosts_by_region ON rr_hosts (region_id, seq);
  CREATE TABLE IF NOT EXISTS rr_xnodes (
    xnode_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, host_id TEXT NOT NULL, zone_id TEXT NOT NULL, region_id TEXT NOT NULL,
    kind TEXT NOT NULL, state TEXT NOT NULL, ${colDefs('size')}, generation INTEGER NOT NULL,
    contract_id TEXT, image_id TEXT, ha_component_id TEXT, ha_replica INTEGER, ha_epoch INTEGER,
    copy_id TEXT, observed TEXT, observed_generation INTEGER, observed_at TEXT, drift INTEGER NOT NULL DEFAULT 0,
    state_reason TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS rr_xnodes_by_host ON rr_xnodes (host_id, seq);
  CREATE INDEX IF NOT EXISTS rr_xnodes_by_contract ON rr_xnodes (contract_id);
  CREATE TABLE IF NOT EXISTS rr_networks (
    network_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, region_id TEXT NOT NULL, zone_id TEXT, name TEXT NOT NULL, status TEXT NOT NULL,
    bandwidth_mbps INTEGER NOT NULL, used_bandwidth_mbps INTEGER NOT NULL DEFAULT 0, pool_size INTEGER NOT NULL, ips_used INTEGER NOT NULL DEFAULT 0,
    segments INTEGER NOT NULL, segments_used INTEGER NOT NULL DEFAULT 0, public_ip_pool TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS rr_network_slices (
    slice_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, network_id TEXT NOT NULL, contract_id TEXT, bandwidth_mbps INTEGER NOT NULL,
    public_ips TEXT NOT NULL, segment INTEGER NOT NULL, released INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS rr_xnetworks (
    xnetwork_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, network_id TEXT NOT NULL, region_id TEXT NOT NULL, zone_id TEXT, contract_id TEXT,
    cidr TEXT NOT NULL, gateway TEXT NOT NULL, public INTEGER NOT NULL, bandwidth_mbps INTEGER NOT NULL, public_ips TEXT NOT NULL, segment INTEGER NOT NULL,
    status TEXT NOT NULL, devices INTEGER NOT NULL DEFAULT 0, ports INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS rr_images (
    image_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, region_id TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, format TEXT NOT NULL,
    arch TEXT NOT NULL, os_family TEXT, os_version TEXT, size_gib INTEGER NOT NULL, digest TEXT NOT NULL, status TEXT NOT NULL,
    checkpoints INTEGER NOT NULL DEFAULT 1, branches INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS rr_ximages (
    ximage_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, region_id TEXT NOT NULL, image_id TEXT, contract_id TEXT,
    quota_checkpoints INTEGER NOT NULL, quota_size_gib INTEGER NOT NULL, used_checkpoints INTEGER NOT NULL DEFAULT 0, used_size_gib INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS rr_rcontracts (
    contract_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, tenant_id TEXT, holder_kind TEXT, holder_id TEXT, status TEXT NOT NULL,
    compensated INTEGER NOT NULL DEFAULT 0, reserved TEXT NOT NULL DEFAULT '{}', failure_code TEXT, failure_message TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS rr_rcontracts_by_tenant ON rr_rcontracts (tenant_id, seq);
  CREATE TABLE IF NOT EXISTS rr_rcontract_items (
    contract_id TEXT NOT NULL, idx INTEGER NOT NULL, kind TEXT NOT NULL, slice_id TEXT NOT NULL, host_id TEXT, network_id TEXT, region_id TEXT,
    status TEXT NOT NULL, requested TEXT NOT NULL, reserved TEXT, usage TEXT NOT NULL DEFAULT '{}', usage_until TEXT, failure_code TEXT, failure_message TEXT,
    request TEXT NOT NULL, PRIMARY KEY (contract_id, idx));
  CREATE TABLE IF NOT EXISTS rr_moves (
    move_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, mode TEXT NOT NULL, source_host_id TEXT NOT NULL, source_xnode_id TEXT NOT NULL,
    target_host_id TEXT NOT NULL, target_xnode_id TEXT NOT NULL, contract_id TEXT, phase TEXT NOT NULL, failure_code TEXT, failure_message TEXT,
    warning TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
`;

type Stmts = ReturnType<typeof prepare>;
const statements = new WeakMap<Database.Database, Stmts>();

function prepare(db: Database.Database) {
  const capSet = cols('cap').map((c) => `${c} = ?`).join(', ');
  const usedSet = cols('used').map((c) => `${c} = ?`).join(', ');
  return {
    insertRegion: db.prepare(`INSERT INTO rr_regions (region_id, seq, name, description, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?)
      ON CONFLICT(region_id) DO NOTHING`),
    regionName: db.prepare('UPDATE rr_regions SET name = ?, updated_at = ? WHERE region_id = ?'),
    regionStatus: db.prepare('UPDATE rr_regions SET status = ?, updated_at = ? WHERE region_id = ?'),
    insertZone: db.prepare(`INSERT INTO rr_zones (zone_id, seq, region_id, name, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?)
      ON CONFLICT(zone_id) DO NOTHING`),
    zoneName: db.prepare('UPDATE rr_zones SET name = ?, updated_at = ? WHERE zone_id = ?'),
    zoneStatus: db.prepare('UPDATE rr_zones SET status = ?, updated_at = ? WHERE zone_id = ?'),

    insertHost: db.prepare(`INSERT INTO rr_hosts (host_id, seq, zone_id, region_id, name, type, area, status, admin, reachable, resources, reserved,
      allocation_ratios, ${cols('cap').join(', ')}, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'online', 'online', 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(host_id) DO NOTHING`),
    hostCapacity: db.prepare(`UPDATE rr_hosts SET resources = ?, reserved = ?, allocation_ratios = ?, ${capSet}, updated_at = ? WHERE host_id = ?`),
    hostStatus: db.prepare('UPDATE rr_hosts SET status = ?, admin = ?, reachable = ?, status_reason = ?, last_seen_at = COALESCE(?, last_seen_at), updated_at = ? WHERE host_id = ?'),
    hostRetired: db.prepare(`UPDATE rr_hosts SET status = 'retired', status_reason = ?, updated_at = ? WHERE host_id = ?`),
    host: db.prepare(`SELECT ${cols('used').join(', ')}, live_xnodes FROM rr_hosts WHERE host_id = ?`).raw(),
    hostUsed: db.prepare(`UPDATE rr_hosts SET ${usedSet}, live_xnodes = ?, updated_at = ? WHERE host_id = ?`),

    insertXNode: db.prepare(`INSERT INTO rr_xnodes (xnode_id, seq, host_id, zone_id, region_id, kind, state, ${cols('size').join(', ')}, generation,
      contract_id, image_id, ha_component_id, ha_replica, ha_epoch, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(xnode_id) DO NOTHING`),
    xnode: db.prepare(`SELECT kind, state, ${cols('size').join(', ')} FROM rr_xnodes WHERE xnode_id = ?`).raw(),
    xnodeChange: db.prepare(`UPDATE rr_xnodes SET state = ?, ${cols('size').map((c) => `${c} = ?`).join(', ')}, generation = ?, contract_id = ?,
      ha_epoch = COALESCE(?, ha_epoch), state_reason = ?, updated_at = ? WHERE xnode_id = ?`),
    xnodeCopy: db.prepare('UPDATE rr_xnodes SET copy_id = ?, updated_at = ? WHERE xnode_id = ?'),
    xnodeObserved: db.prepare('UPDATE rr_xnodes SET observed = ?, observed_generation = ?, observed_at = ?, drift = ?, updated_at = ? WHERE xnode_id = ?'),

    insertNetwork: db.prepare(`INSERT INTO rr_networks (network_id, seq, region_id, zone_id, name, status, bandwidth_mbps, pool_size, segments, public_ip_pool,
      created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?) ON CONFLICT(network_id) DO NOTHING`),
    networkPool: db.prepare('UPDATE rr_networks SET pool_size = ?, public_ip_pool = ?, updated_at = ? WHERE network_id = ?'),
    networkPoolOf: db.prepare('SELECT public_ip_pool FROM rr_networks WHERE network_id = ?').pluck(),
    networkBandwidth: db.prepare('UPDATE rr_networks SET bandwidth_mbps = ?, updated_at = ? WHERE network_id = ?'),
    networkStatus: db.prepare('UPDATE rr_networks SET status = ?, updated_at = ? WHERE network_id = ?'),
    networkUse: db.prepare(`UPDATE rr_networks SET used_bandwidth_mbps = used_bandwidth_mbps + ?, ips_used = ips_used + ?, segments_used = segments_used + ?,
      updated_at = ? WHERE network_id = ?`),
    insertSlice: db.prepare(`INSERT INTO rr_network_slices (slice_id, seq, network_id, contract_id, bandwidth_mbps, public_ips, segment, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(slice_id) DO NOTHING`),
    slice: db.prepare('SELECT bandwidth_mbps, public_ips, released FROM rr_network_slices WHERE slice_id = ?'),
    sliceChange: db.prepare('UPDATE rr_network_slices SET bandwidth_mbps = ?, public_ips = ?, released = ?, updated_at = ? WHERE slice_id = ?'),

    insertXNetwork: db.prepare(`INSERT INTO rr_xnetworks (xnetwork_id, seq, network_id, region_id, zone_id, contract_id, cidr, gateway, public, bandwidth_mbps,
      public_ips, segment, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?) ON CONFLICT(xnetwork_id) DO NOTHING`),
    xnetworkCounts: db.prepare('UPDATE rr_xnetworks SET devices = devices + ?, ports = ports + ?, updated_at = ? WHERE xnetwork_id = ?'),
    xnetworkAllocation: db.prepare('UPDATE rr_xnetworks SET bandwidth_mbps = ?, public_ips = ?, updated_at = ? WHERE xnetwork_id = ?'),
    xnetworkDeleted: db.prepare(`UPDATE rr_xnetworks SET status = 'deleted', devices = 0, ports = 0, updated_at = ? WHERE xnetwork_id = ?`),

    insertImage: db.prepare(`INSERT INTO rr_images (image_id, seq, region_id, name, kind, format, arch, os_family, os_version, size_gib, digest, status,
      created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?) ON CONFLICT(image_id) DO NOTHING`),
    imageCounts: db.prepare('UPDATE rr_images SET checkpoints = checkpoints + ?, branches = branches + ?, updated_at = ? WHERE image_id = ?'),
    imageStatus: db.prepare('UPDATE rr_images SET status = ?, updated_at = ? WHERE image_id = ?'),

    insertXImage: db.prepare(`INSERT INTO rr_ximages (ximage_id, seq, region_id, image_id, contract_id, quota_checkpoints, quota_size_gib, status, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?) ON CONFLICT(ximage_id) DO NOTHING`),
    ximageUsage: db.prepare('UPDATE rr_ximages SET used_checkpoints = ?, used_size_gib = ?, updated_at = ? WHERE ximage_id = ?'),
    ximageQuota: db.prepare('UPDATE rr_ximages SET quota_checkpoints = ?, quota_size_gib = ?, updated_at = ? WHERE ximage_id = ?'),
    ximageReleased: db.prepare(`UPDATE rr_ximages SET status = 'released', used_checkpoints = 0, used_size_gib = 0, updated_at = ? WHERE ximage_id = ?`),

    insertContract: db.prepare(`INSERT INTO rr_rcontracts (contract_id, seq, tenant_id, holder_kind, holder_id, status, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, 'opening', ?, ?) ON CONFLICT(contract_id) DO NOTHING`),
    contractStatus: db.prepare('UPDATE rr_rcontracts SET status = ?, updated_at = ? WHERE contract_id = ?'),
    contractStatusOf: db.prepare('SELECT status FROM rr_rcontracts WHERE contract_id = ?').pluck(),
    contractConfirmed: db.prepare(`UPDATE rr_rcontracts SET status = 'active', reserved = ?, updated_at = ? WHERE contract_id = ?`),
    contractFailed: db.prepare(`UPDATE rr_rcontracts SET status = 'failed', failure_code = ?, failure_message = ?, updated_at = ? WHERE contract_id = ?`),
    contractCompensated: db.prepare('UPDATE rr_rcontracts SET compensated = 1, updated_at = ? WHERE contract_id = ?'),
    insertItem: db.prepare(`INSERT INTO rr_rcontract_items (contract_id, idx, kind, slice_id, host_id, network_id, region_id, status, requested, request)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT(contract_id, idx) DO NOTHING`),
    itemReserved: db.prepare('UPDATE rr_rcontract_items SET status = ?, reserved = ? WHERE contract_id = ? AND idx = ?'),
    itemsConfirmed: db.prepare(`UPDATE rr_rcontract_items SET status = 'confirmed' WHERE contract_id = ? AND status = 'reserved'`),
    itemFailed: db.prepare(`UPDATE rr_rcontract_items SET status = 'failed', failure_code = ?, failure_message = ? WHERE contract_id = ? AND idx = ?`),
    itemReleased: db.prepare(`UPDATE rr_rcontract_items SET status = 'released' WHERE contract_id = ? AND idx = ?`),
    itemMoved: db.prepare('UPDATE rr_rcontract_items SET slice_id = ?, host_id = ? WHERE contract_id = ? AND idx = ?'),
    itemUsageOf: db.prepare('SELECT usage FROM rr_rcontract_items WHERE contract_id = ? AND idx = ?').pluck(),
    itemUsage: db.prepare('UPDATE rr_rcontract_items SET usage = ?, usage_until = ? WHERE contract_id = ? AND idx = ?'),
    touchContract: db.prepare('UPDATE rr_rcontracts SET updated_at = ? WHERE contract_id = ?'),

    insertMove: db.prepare(`INSERT INTO rr_moves (move_id, seq, mode, source_host_id, source_xnode_id, target_host_id, target_xnode_id, contract_id, phase,
      created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'reserving', ?, ?) ON CONFLICT(move_id) DO NOTHING`),
    moveProgress: db.prepare('UPDATE rr_moves SET phase = ?, failure_code = ?, failure_message = ?, warning = ?, updated_at = ? WHERE move_id = ?'),
  };
}

const sizeFrom = (row: unknown[], offset: number): Resources => ({
  cpuCores: row[offset] as number, cpuMHz: row[offset + 1] as number, ramMiB: row[offset + 2] as number,
  diskGiB: row[offset + 3] as number, diskIops: row[offset + 4] as number,
});

/** Moves a slice's consumption on its host from (kind, size, state) `before` to `after`; keeps the live count. */
function account(s: Stmts, hostId: string, kind: XNodeKind, before: { size: Resources; state: XNodeState } | null, after: { size: Resources; state: XNodeState }, at: string) {
  const row = s.host.get(hostId) as unknown[] | undefined;
  if (!row) return;
  const used = sizeFrom(row, 0);
  let live = row[5] as number;
  const old = before ? consumption(kind, before.size, before.state) : null;
  const now = consumption(kind, after.size, after.state);
  const next = RESOURCE_KEYS.map((k) => used[k] - (old ? old[k] : 0) + now[k]);
  if ((before === null || before.state !== 'released') && after.state === 'released') live -= 1;
  if (before === null && after.state !== 'released') live += 1;
  s.hostUsed.run(...next, live, at, hostId);
}

function apply(db: Database.Database, stored: StoredEvent): void {
  let s = statements.get(db);
  if (!s) { s = prepare(db); statements.set(db, s); }
  const at = stored.metadata.occurredAt;
  const seq = stored.position;
  const d = stored.data as any;
  switch (stored.type) {
    // ── regions and zones ────────────────────────────────────────────────────────────────────────────────────
    case 'RegionRegistered': s.insertRegion.run(d.regionId, seq, d.name, d.description ?? null, at, at); break;
    case 'RegionRenamed': s.regionName.run(d.name, at, d.regionId); break;
    case 'RegionRetired': s.regionStatus.run('retired', at, d.regionId); break;
    case 'ZoneRegistered': s.insertZone.run(d.zoneId, seq, d.regionId, d.name, at, at); break;
    case 'ZoneRenamed': s.zoneName.run(d.name, at, d.zoneId); break;
    case 'ZoneRetired': s.zoneStatus.run('retired', at, d.zoneId); break;

    // ── hosts and their slices ───────────────────────────────────────────────────────────────────────────────
    case 'HostRegistered':
      s.insertHost.run(d.hostId, seq, d.zoneId, d.regionId, d.name, d.type, d.area, resourcesJson(d.resources), resourcesJson(d.reserved),
        resourcesJson(d.allocationRatios), ...values(d.capacity), at, at);
      break;
    case 'HostCapacityAdjusted':
      s.hostCapacity.run(resourcesJson(d.resources), resourcesJson(d.reserved), resourcesJson(d.allocationRatios), ...values(d.capacity), at, d.hostId);
      break;
    case 'HostStatusChanged':
      s.hostStatus.run(d.to, d.admin, d.reachable ? 1 : 0, d.reason ?? null, d.cause === 'heartbeat' ? (d.lastSeenAt ?? null) : null, at, d.hostId);
      break;
    case 'HostRetired': s.hostRetired.run(d.reason ?? null, at, d.hostId); break;
    case 'XNodeSliced':
      s.insertXNode.run(d.xnodeId, seq, d.hostId, d.zoneId, d.regionId, d.kind, d.state, ...values(d.size), d.generation, d.contractId ?? null,
        d.imageId ?? null, d.ha?.componentId ?? null, d.ha?.replica ?? null, d.ha?.epoch ?? null, at, at);
      account(s, d.hostId, d.kind, null, { size: d.size, state: d.state }, at);
      break;
    case 'XNodeProvisioned': case 'XNodePoweredOn': case 'XNodePoweredOff': case 'XNodeHibernated': case 'XNodeActivated':
    case 'XNodeFailed': case 'XNodeFenced': case 'XNodeReleased': case 'XNodeResized': {
      const row = s.xnode.get(d.xnodeId) as unknown[] | undefined;
      if (!row) break;
      const before = { size: sizeFrom(row, 2), state: row[1] as XNodeState };
      s.xnodeChange.run(d.state, ...values(d.size), d.generation, d.contractId ?? null, stored.type === 'XNodeFenced' ? null : (d.ha?.epoch ?? null),
        d.reason ?? null, at, d.xnodeId);
      account(s, d.hostId, row[0] as XNodeKind, before, { size: d.size, state: d.state }, at);
      if (stored.type === 'XNodeReleased') s.xnodeCopy.run(null, at, d.xnodeId);
      break;
    }
    case 'XNodeCopyStarted': s.xnodeCopy.run(d.copyId, at, d.xnodeId); break;
    case 'XNodeCopyCompleted': case 'XNodeCopyFailed': s.xnodeCopy.run(null, at, d.xnodeId); break;
    case 'XNodeObserved': s.xnodeObserved.run(d.observed, d.observedGeneration, d.observedAt, d.drift ? 1 : 0, at, d.xnodeId); break;

    // ── networks ─────────────────────────────────────────────────────────────────────────────────────────────
    case 'NetworkRegistered':
      s.insertNetwork.run(d.networkId, seq, d.regionId, d.zoneId ?? null, d.name, d.bandwidthMbps, d.poolSize, d.switchCapacity.segments,
        stableJson({ cidrs: d.publicIpPool.cidrs, addresses: d.publicIpPool.addresses, excluded: d.publicIpPool.excluded }), at, at);
      break;
    case 'NetworkPublicIpsAdded': {
      const pool = JSON.parse((s.networkPoolOf.get(d.networkId) as string | undefined) ?? '{"addresses":[],"cidrs":[],"excluded":[]}');
      const next = { cidrs: [...pool.cidrs, ...d.cidrs], addresses: [...pool.addresses, ...d.addresses], excluded: [...pool.excluded, ...d.excluded] };
      s.networkPool.run(d.poolSize, stableJson(next), at, d.networkId);
      break;
    }
    case 'NetworkBandwidthAdjusted': s.networkBandwidth.run(d.bandwidthMbps, at, d.networkId); break;
    case 'NetworkRetired': s.networkStatus.run('retired', at, d.networkId); break;
    case 'NetworkSliceAllocated':
      s.insertSlice.run(d.sliceId, seq, d.networkId, d.contractId ?? null, d.bandwidthMbps, JSON.stringify(d.publicIps), d.segment, at, at);
      s.networkUse.run(d.bandwidthMbps, d.publicIps.length, 1, at, d.networkId);
      break;
    case 'NetworkSliceResized': case 'NetworkSlicePublicIpsAdded': case 'NetworkSlicePublicIpReleased': case 'NetworkSliceReleased': {
      const row = s.slice.get(d.sliceId) as { bandwidth_mbps: number; public_ips: string; released: number } | undefined;
      if (!row || row.released) break;
      const released = stored.type === 'NetworkSliceReleased';
      const bandwidth = released ? 0 : (d.bandwidthMbps ?? row.bandwidth_mbps);
      const ips: string[] = released ? [] : (d.publicIps ?? JSON.parse(row.public_ips));
      const before: string[] = JSON.parse(row.public_ips);
      s.sliceChange.run(released ? row.bandwidth_mbps : bandwidth, JSON.stringify(released ? before : ips), released ? 1 : 0, at, d.sliceId);
      s.networkUse.run(bandwidth - row.bandwidth_mbps, ips.length - before.length, released ? -1 : 0, at, d.networkId);
      break;
    }
    case 'XNetworkCreated':
      s.insertXNetwork.run(d.xnetworkId, seq, d.networkId, d.regionId, d.zoneId ?? null, d.contractId ?? null, d.cidr, d.gateway, d.public ? 1 : 0,
        d.bandwidthMbps, JSON.stringify(d.publicIps), d.segment, at, at);
      break;
    case 'XNetworkDeviceAdded': s.xnetworkCounts.run(1, 0, at, d.xnetworkId); break;
    case 'XNetworkDeviceRemoved': s.xnetworkCounts.run(-1, 0, at, d.xnetworkId); break;
    case 'XNetworkPortAttached': s.xnetworkCounts.run(0, 1, at, d.xnetworkId); break;
    case 'XNetworkPortDetached': s.xnetworkCounts.run(0, -1, at, d.xnetworkId); break;
    case 'XNetworkAllocationChanged': s.xnetworkAllocation.run(d.bandwidthMbps, JSON.stringify(d.publicIps), at, d.xnetworkId); break;
    case 'XNetworkDeleted': s.xnetworkDeleted.run(at, d.xnetworkId); break;

    // ── images ───────────────────────────────────────────────────────────────────────────────────────────────
    case 'ImageRegistered':
      s.insertImage.run(d.imageId, seq, d.regionId, d.name, d.kind, d.format, d.arch, d.os?.family ?? null, d.os?.version ?? null, d.sizeGiB, d.digest, at, at);
      break;
    case 'ImageCheckpointCreated': s.imageCounts.run(1, 0, at, d.imageId); break;
    case 'ImageBranchCreated': s.imageCounts.run(0, 1, at, d.imageId); break;
    case 'ImageDeprecated': s.imageStatus.run('deprecated', at, d.imageId); break;
    case 'ImageRetired': s.imageStatus.run('retired', at, d.imageId); break;
    case 'XImageAllocated':
      s.insertXImage.run(d.ximageId, seq, d.regionId, d.imageId ?? null, d.contractId ?? null, d.quota.checkpoints, d.quota.sizeGiB, at, at);
      break;
    case 'XImageCheckpointTaken': case 'XImageCheckpointDeleted': s.ximageUsage.run(d.usage.checkpoints, d.usage.sizeGiB, at, d.ximageId); break;
    case 'XImageQuotaChanged': s.ximageQuota.run(d.quota.checkpoints, d.quota.sizeGiB, at, d.ximageId); break;
    case 'XImageReleased': s.ximageReleased.run(at, d.ximageId); break;

    // ── RContracts ───────────────────────────────────────────────────────────────────────────────────────────
    case 'RContractOpened':
      s.insertContract.run(d.contractId, seq, d.tenantId ?? null, d.holder?.kind ?? null, d.holder?.id ?? null, at, at);
      for (const item of d.items) {
        const sliceId = item.kind === 'compute' ? item.xnodeId : item.kind === 'network' ? item.xnetworkId : item.ximageId;
        s.insertItem.run(d.contractId, item.index, item.kind, sliceId, item.hostId ?? null, item.networkId ?? null, item.regionId ?? null,
          amountsJson(d.requested[item.index]), stableJson(item));
      }
      break;
    case 'RContractItemReserved': {
      const status = s.contractStatusOf.get(d.contractId) === 'active' ? 'confirmed' : 'reserved';
      s.itemReserved.run(status, amountsJson(d.reserved), d.contractId, d.index);
      s.touchContract.run(at, d.contractId);
      break;
    }
    case 'RContractConfirmed': s.contractConfirmed.run(amountsJson(d.reserved), at, d.contractId); s.itemsConfirmed.run(d.contractId); break;
    case 'RContractItemFailed': s.itemFailed.run(d.code, d.message, d.contractId, d.index); s.touchContract.run(at, d.contractId); break;
    case 'RContractFailed': s.contractFailed.run(d.code, d.message, at, d.contractId); break;
    case 'RContractCompensated': s.contractCompensated.run(at, d.contractId); break;
    case 'RContractItemReleased': s.itemReleased.run(d.contractId, d.index); s.touchContract.run(at, d.contractId); break;
    case 'RContractItemMoved': s.itemMoved.run(d.to.xnodeId, d.to.hostId, d.contractId, d.index); s.touchContract.run(at, d.contractId); break;
    case 'RContractTerminationRequested': s.contractStatus.run('terminating', at, d.contractId); break;
    case 'RContractTerminated': s.contractStatus.run('terminated', at, d.contractId); break;
    case 'RContractUsageRecorded': {
      const before = JSON.parse((s.itemUsageOf.get(d.contractId, d.index) as string | undefined) ?? '{}') as Amounts;
      s.itemUsage.run(amountsJson(sumAmounts(before, d.usage)), d.to, d.contractId, d.index);
      s.touchContract.run(at, d.contractId);
      break;
    }

    // ── moves ────────────────────────────────────────────────────────────────────────────────────────────────
    case 'MoveRequested':
      s.insertMove.run(d.moveId, seq, d.mode, d.source.hostId, d.source.xnodeId, d.target.hostId, d.target.xnodeId, d.contract?.contractId ?? null, at, at);
      break;
    case 'MoveProgressed': s.moveProgress.run(d.phase, d.failure?.code ?? null, d.failure?.message ?? null, d.warning ?? null, at, d.moveId); break;
    default: break; // other Resources events (names) are not part of the register
  }
}

interface HostRow {
  host_id: string; seq: number; zone_id: string; region_id: string; name: string; type: string; area: string;
  status: string; admin: string; reachable: number; resources: string; reserved: string; allocation_ratios: string;
  cap: number[]; used: number[]; live_xnodes: number; status_reason: string | null; last_seen_at: string | null;
  created_at: string; updated_at: string;
}
interface XNodeRow {
  xnode_id: string; seq: number; host_id: string; zone_id: string; region_id: string; kind: XNodeKind; state: XNodeState;
  size: Resources; generation: number; contract_id: string | null; image_id: string | null; ha_component_id: string | null;
  ha_replica: number | null; ha_epoch: number | null; copy_id: string | null; observed: string | null;
  observed_generation: number | null; observed_at: string | null; drift: number; state_reason: string | null;
  created_at: string; updated_at: string;
}
/** Resources as a row holds them (the five columns read back), so `account` computes with what the SQL path reads. */
const sizeOf = (r: Resources): Resources => ({ cpuCores: r.cpuCores, cpuMHz: r.cpuMHz, ramMiB: r.ramMiB, diskGiB: r.diskGiB, diskIops: r.diskIops });

/**
 * The bulk loader of a rebuild into an empty database (see core/audit/rebuild.ts): hosts and XNodes — the rows that
 * nearly every event of a fleet touches, ~4 SQL statements per slice change on the SQL path — are folded in memory
 * and written once at `flush()`; every other event goes through `apply` (those tables never read hosts or XNodes, and
 * host/XNode events touch no other table, so the two halves do not interact). Each case below is the SQL statement
 * of `apply` for the same event, on the row in memory; the rebuilt tables (and their digest) are the same, which
 * projections/rregister-bulk.test.ts checks over a log holding every kind of host and XNode event.
 */
export function rregisterBulkLoader(db: Database.Database): { apply(event: StoredEvent): void; flush(): void } {
  const hosts = new Map<string, HostRow>();
  const xnodes = new Map<string, XNodeRow>();
  const insertHost = db.prepare(`INSERT OR REPLACE INTO rr_hosts (host_id, seq, zone_id, region_id, name, type, area, status, admin, reachable,
    resources, reserved, allocation_ratios, ${cols('cap').join(', ')}, ${cols('used').join(', ')}, live_xnodes, status_reason, last_seen_at,
    created_at, updated_at) VALUES (${Array(28).fill('?').join(', ')})`);
  const insertXNode = db.prepare(`INSERT OR REPLACE INTO rr_xnodes (xnode_id, seq, host_id, zone_id, region_id, kind, state, ${cols('size').join(', ')},
    generation, contract_id, image_id, ha_component_id, ha_replica, ha_epoch, copy_id, observed, observed_generation, observed_at, drift,
    state_reason, created_at, updated_at) VALUES (${Array(26).fill('?').join(', ')})`);

  /** `account` of the SQL path, on the host row in memory. */
  const account = (hostId: string, kind: XNodeKind, before: { size: Resources; state: XNodeState } | null, after: { size: Resources; state: XNodeState }, at: string) => {
    const h = hosts.get(hostId);
    if (h === undefined) return;
    const old = before ? consumption(kind, before.size, before.state) : null;
    const now = consumption(kind, after.size, after.state);
    for (let i = 0; i < RESOURCE_KEYS.length; i++) {
      const k = RESOURCE_KEYS[i];
      h.used[i] = h.used[i] - (old ? old[k] : 0) + now[k];
    }
    if ((before === null || before.state !== 'released') && after.state === 'released') h.live_xnodes -= 1;
    if (before === null && after.state !== 'released') h.live_xnodes += 1;
    h.updated_at = at;
  };

  return {
    apply(stored: StoredEvent): void {
      const at = stored.metadata.occurredAt;
      const d = stored.data as any;
      switch (stored.type) {
        case 'HostRegistered':
          if (!hosts.has(d.hostId)) {
            hosts.set(d.hostId, {
              host_id: d.hostId, seq: stored.position, zone_id: d.zoneId, region_id: d.regionId, name: d.name, type: d.type, area: d.area,
              status: 'online', admin: 'online', reachable: 1, resources: resourcesJson(d.resources), reserved: resourcesJson(d.reserved),
              allocation_ratios: resourcesJson(d.allocationRatios), cap: values(d.capacity), used: [0, 0, 0, 0, 0], live_xnodes: 0,
              status_reason: null, last_seen_at: null, created_at: at, updated_at: at,
            });
          }
          return;
        case 'HostCapacityAdjusted': {
          const h = hosts.get(d.hostId);
          if (h === undefined) return;
          h.resources = resourcesJson(d.resources); h.reserved = resourcesJson(d.reserved); h.allocation_ratios = resourcesJson(d.allocationRatios);
          h.cap = values(d.capacity); h.updated_at = at;
          return;
        }
        case 'HostStatusChanged': {
          const h = hosts.get(d.hostId);
          if (h === undefined) return;
          h.status = d.to; h.admin = d.admin; h.reachable = d.reachable ? 1 : 0; h.status_reason = d.reason ?? null;
          const seen = d.cause === 'heartbeat' ? (d.lastSeenAt ?? null) : null;
          if (seen !== null) h.last_seen_at = seen;
          h.updated_at = at;
          return;
        }
        case 'HostRetired': {
          const h = hosts.get(d.hostId);
          if (h === undefined) return;
          h.status = 'retired'; h.status_reason = d.reason ?? null; h.updated_at = at;
          return;
        }
        case 'XNodeSliced':
          if (!xnodes.has(d.xnodeId)) {
            xnodes.set(d.xnodeId, {
              xnode_id: d.xnodeId, seq: stored.position, host_id: d.hostId, zone_id: d.zoneId, region_id: d.regionId, kind: d.kind, state: d.state,
              size: sizeOf(d.size), generation: d.generation, contract_id: d.contractId ?? null, image_id: d.imageId ?? null,
              ha_component_id: d.ha?.componentId ?? null, ha_replica: d.ha?.replica ?? null, ha_epoch: d.ha?.epoch ?? null, copy_id: null,
              observed: null, observed_generation: null, observed_at: null, drift: 0, state_reason: null, created_at: at, updated_at: at,
            });
          }
          account(d.hostId, d.kind, null, { size: d.size, state: d.state }, at);
          return;
        case 'XNodeProvisioned': case 'XNodePoweredOn': case 'XNodePoweredOff': case 'XNodeHibernated': case 'XNodeActivated':
        case 'XNodeFailed': case 'XNodeFenced': case 'XNodeReleased': case 'XNodeResized': {
          const x = xnodes.get(d.xnodeId);
          if (x === undefined) return;
          const before = { size: x.size, state: x.state };
          x.state = d.state; x.size = sizeOf(d.size); x.generation = d.generation; x.contract_id = d.contractId ?? null;
          const epoch = stored.type === 'XNodeFenced' ? null : (d.ha?.epoch ?? null);
          if (epoch !== null) x.ha_epoch = epoch;
          x.state_reason = d.reason ?? null; x.updated_at = at;
          account(d.hostId, x.kind, before, { size: d.size, state: d.state }, at);
          if (stored.type === 'XNodeReleased') x.copy_id = null;
          return;
        }
        case 'XNodeCopyStarted': case 'XNodeCopyCompleted': case 'XNodeCopyFailed': {
          const x = xnodes.get(d.xnodeId);
          if (x === undefined) return;
          x.copy_id = stored.type === 'XNodeCopyStarted' ? d.copyId : null; x.updated_at = at;
          return;
        }
        case 'XNodeObserved': {
          const x = xnodes.get(d.xnodeId);
          if (x === undefined) return;
          x.observed = d.observed; x.observed_generation = d.observedGeneration; x.observed_at = d.observedAt; x.drift = d.drift ? 1 : 0; x.updated_at = at;
          return;
        }
        default: apply(db, stored);
      }
    },
    flush(): void {
      for (const h of hosts.values()) {
        insertHost.run(h.host_id, h.seq, h.zone_id, h.region_id, h.name, h.type, h.area, h.status, h.admin, h.reachable, h.resources, h.reserved,
          h.allocation_ratios, ...h.cap, ...h.used, h.live_xnodes, h.status_reason, h.last_seen_at, h.created_at, h.updated_at);
      }
      for (const x of xnodes.values()) {
        insertXNode.run(x.xnode_id, x.seq, x.host_id, x.zone_id, x.region_id, x.kind, x.state, ...values(x.size), x.generation, x.contract_id,
          x.image_id, x.ha_component_id, x.ha_replica, x.ha_epoch, x.copy_id, x.observed, x.observed_generation, x.observed_at, x.drift,
          x.state_reason, x.created_at, x.updated_at);
      }
    },
  };
}

export const rregisterProjection: SqliteProjection & { bulk: typeof rregisterBulkLoader; reads: 'data+times'; rebuildCost: number } = {
  name: 'rregister',
  version: 1,
  /** Of an event's metadata it reads only occurredAt: a rebuild may leave the rest unparsed (core/audit/rebuild.ts). */
  reads: 'data+times',
  /** Per event, beyond reading and decoding, as a fraction of a raw read + parse (`ledger bench replay`). */
  rebuildCost: 0.4,
  filter: { categories: ['Region', 'Zone', 'Host', 'Network', 'XNetwork', 'Image', 'XImage', 'RContract', 'Move'] },
  tables: [
    { name: RREGISTER_TABLES.regions, orderBy: 'region_id' },
    { name: RREGISTER_TABLES.zones, orderBy: 'zone_id' },
    { name: RREGISTER_TABLES.hosts, orderBy: 'host_id' },
    { name: RREGISTER_TABLES.xnodes, orderBy: 'xnode_id' },
    { name: RREGISTER_TABLES.networks, orderBy: 'network_id' },
    { name: RREGISTER_TABLES.networkSlices, orderBy: 'slice_id' },
    { name: RREGISTER_TABLES.xnetworks, orderBy: 'xnetwork_id' },
    { name: RREGISTER_TABLES.images, orderBy: 'image_id' },
    { name: RREGISTER_TABLES.ximages, orderBy: 'ximage_id' },
    { name: RREGISTER_TABLES.rcontracts, orderBy: 'contract_id' },
    { name: RREGISTER_TABLES.rcontractItems, orderBy: 'contract_id, idx' },
    { name: RREGISTER_TABLES.moves, orderBy: 'move_id' },
  ],
  setup(db) {
    db.exec(SETUP);
    statements.delete(db);
  },
  apply,
  bulk: rregisterBulkLoader,
};
