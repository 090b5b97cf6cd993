/**
 * The pure placement core: given the fleet view and a component's needs, choose a host for each replica to place.
 * No I/O, no clock; deterministic for a given fleet and request.
 *
 *  1. Scope and type (structural, through the index): hosts of one of the type's host types, in the whole fleet
 *     (access Full), one region (Region) or one zone (Zone).
 *  2. Failure domains (required anti-affinity): replicas of one component never share the domain of the access
 *     scope: a region (Full), a zone (Region), an area (Zone: and among areas, the most distant from the other
 *     replicas' areas first: `dc1/row1/rack1` and `dc1/row1/rack2` are 1 apart, `dc1/row2/…` 2, `dc2/…` 3).
 *  3. Filters: status online (not draining, in maintenance, unreachable or retired), free capacity (capacity − used
 *     − reserved ≥ size on every resource), not a host the caller excludes.
 *  4. Scores: `binpack` = mean of cpu/ram/disk utilisation after placement (fuller is better: best fit);
 *     `spread` = 1 − that (emptier is better). Hosts are scanned per domain from a cursor: bin-pack scans from the
 *     first host that is not full (so it fills hosts in order, first-fit with look-ahead); spread rotates the start.
 *     At most `sample` feasible hosts per domain are scored (Nomad/Kubernetes-style sampling), so a decision costs
 *     O(sample) on any fleet size.
 */
import type { HostType } from '../../resources/host/decider.ts';
import { formatResources, RESOURCE_KEYS, type Resources } from '../../resources/common/quantities.ts';
import type { Access, Policy } from '../ids.ts';
import type { Reasons } from '../ccontract/events.ts';
import type { Fleet, HostView, PoolRef } from './fleet.ts';

export interface PlacedReplica { hostId: string; regionId: string; zoneId: string; area: string }

export interface PlacementRequest {
  componentId: string;
  size: Resources;
  hostTypes: readonly HostType[];
  access: Access;
  regionId?: string;
  zoneId?: string;
  /** Replica indexes to place now. */
  replicas: readonly number[];
  /** Where the component's other live replicas are (they keep their domains). */
  placed: readonly PlacedReplica[];
  /** Domains to stay out of (siblings of a component built on another component). */
  avoid?: { regions?: readonly string[]; zones?: readonly string[]; areas?: readonly string[] };
  excludeHosts?: ReadonlySet<string>;
}

export interface Choice { replica: number; host: HostView; score: number }
export type PlanOutcome =
  | { ok: true; choices: Choice[]; reasons: Reasons }
  | { ok: false; code: 'NO_CAPACITY' | 'NO_FAILURE_DOMAIN' | 'NO_HOSTS_IN_SCOPE'; message: string; choices: Choice[]; reasons: Reasons };

export interface PlannerOptions {
  policy?: Policy;
  /** Feasible hosts scored per domain and replica (default 8). */
  sample?: number;
  /** Hosts examined per domain and replica at most (default 256). */
  maxScan?: number;
  /** Keep this many scored candidates per replica in the reasons (default 3, at most 5). */
  top?: number;
  /**
   * Several schedulers at once: this one is `index` of `of`. Every pool lists the hosts of its share first (a hash of
   * the host id, mod `of`, equals `index`), then the others, so parallel bin-packers fill different hosts and meet
   * only when their own share of a scope is full (and then fill the others' shares from the end). A preference, never a limit: conflicts are still settled by the
   * host stream's expected revision.
   */
  share?: { index: number; of: number };
}

/** FNV-1a of a host id: which scheduler's share a host is in. */
export function shareOf(hostId: string, of: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < hostId.length; i++) { h ^= hostId.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return (h >>> 0) % of;
}

interface Pool extends PoolRef {
  key: string;
  domain: string;
  hosts: HostView[];
  cursor: number;
  rr: number;
  minReq: Resources | null;
  /** How many hosts at the front are of this scheduler's share (all of them without `share`). */
  own: number;
}

const level = (access: Access) => (access === 'Full' ? 'region' : access === 'Region' ? 'zone' : 'area');
const domainOf = (h: { regionId: string; zoneId: string; area: string }, access: Access) =>
  access === 'Full' ? h.regionId : access === 'Region' ? h.zoneId : h.area;

/** How far apart two areas are: 0 = the same, else the number of path components after they diverge. */
export function areaDistance(a: string[], b: string[]): number {
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  return Math.max(a.length, b.length) - common;
}

const schedulable = (h: HostView) => !h.retired && h.reachable && h.admin === 'online';
function fits(h: HostView, size: Resources): boolean {
  const c = h.capacity, u = h.used, r = h.reserved;
  return u.cpuCores + r.cpuCores + size.cpuCores <= c.cpuCores && u.ramMiB + r.ramMiB + size.ramMiB <= c.ramMiB
    && u.diskGiB + r.diskGiB + size.diskGiB <= c.diskGiB && u.cpuMHz + r.cpuMHz + size.cpuMHz <= c.cpuMHz
    && u.diskIops + r.diskIops + size.diskIops <= c.diskIops;
}
function utilisation(h: HostView, size: Resources): number {
  const c = h.capacity, u = h.used, r = h.reserved;
  return ((u.cpuCores + r.cpuCores + size.cpuCores) / c.cpuCores + (u.ramMiB + r.ramMiB + size.ramMiB) / c.ramMiB + (u.diskGiB + r.diskGiB + size.diskGiB) / c.diskGiB) / 3;
}
const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

export class Planner {
  readonly policy: Policy;
  private readonly sample: number;
  private readonly maxScan: number;
  private readonly topN: number;
  private readonly share: { index: number; of: number } | undefined;
  private built = -1;
  private pools = new Map<string, Pool>();
  /** type|region → zone ids; type|zone → area pools; type → region ids */
  private children = new Map<string, string[]>();
  /** Domain pools per request scope (types, access, region, zone): built once per topology, read by every plan. */
  private scopes = new Map<string, Map<string, Pool[]>>();
  /** Area → its path components (Zone access compares paths for every candidate area). */
  private paths = new Map<string, string[]>();

  constructor(readonly fleet: Fleet, options: PlannerOptions = {}) {
    this.policy = options.policy ?? 'binpack';
    this.sample = options.sample ?? 8;
    this.maxScan = options.maxScan ?? 256;
    this.topN = Math.min(5, options.top ?? 3);
    this.share = options.share && options.share.of > 1 ? options.share : undefined;
  }

  /** (Re)builds the pools when hosts were added. Pools: per type × region, type × zone, type × zone × area. */
  private index(): void {
    if (this.built === this.fleet.topology) return;
    this.pools = new Map();
    this.children = new Map();
    this.scopes = new Map();
    for (const h of this.fleet.hosts) h.memberships = [];
    const share = this.share;
    const other = (h: HostView) => (share && shareOf(h.hostId, share.of) !== share.index ? 1 : 0);
    const place = (a: HostView, b: HostView) => (a.regionId < b.regionId ? -1 : a.regionId > b.regionId ? 1 : a.zoneId < b.zoneId ? -1 : a.zoneId > b.zoneId ? 1 : a.area < b.area ? -1 : a.area > b.area ? 1 : a.hostId < b.hostId ? -1 : 1);
    // the hosts of other shares in reverse: their own scheduler bin-packs them from the front, this one (when its
    // share is full) from the back, so the two meet only when the pool is nearly full
    const sorted = [...this.fleet.hosts].sort((a, b) => other(a) - other(b) || (other(a) ? place(b, a) : place(a, b)));
    const child = (key: string, value: string) => {
      const list = this.children.get(key) ?? [];
      if (!list.includes(value)) list.push(value);
      this.children.set(key, list);
    };
    for (const h of sorted) {
      for (const [key, domain] of [[`${h.type}|R|${h.regionId}`, h.regionId], [`${h.type}|Z|${h.zoneId}`, h.zoneId], [`${h.type}|A|${h.zoneId}|${h.area}`, h.area]] as const) {
        let p = this.pools.get(key);
        if (!p) { p = { key, domain, hosts: [], cursor: 0, rr: 0, dirty: false, minReq: null, own: 0 }; this.pools.set(key, p); }
        h.memberships.push({ pool: p, position: p.hosts.length });
        p.hosts.push(h);
        if (!other(h)) p.own++;
      }
      child(`${h.type}|regions`, h.regionId);
      child(`${h.type}|R|${h.regionId}|zones`, h.zoneId);
      child(`${h.type}|Z|${h.zoneId}|areas`, h.area);
    }
    this.built = this.fleet.topology;
  }

  /** The domain pools of a request's scope: [domain, pools of that domain (one per host type)]. */
  private domainPools(req: Pick<PlacementRequest, 'hostTypes' | 'access' | 'regionId' | 'zoneId'>): ReadonlyMap<string, Pool[]> {
    this.index();
    const scopeKey = `${req.hostTypes.join(',')}|${req.access}|${req.regionId ?? ''}|${req.zoneId ?? ''}`;
    const known = this.scopes.get(scopeKey);
    if (known) return known;
    const out = new Map<string, Pool[]>();
    this.scopes.set(scopeKey, out);
    const add = (domain: string, key: string) => {
      const p = this.pools.get(key);
      if (!p) return;
      const list = out.get(domain) ?? [];
      list.push(p);
      out.set(domain, list);
    };
    for (const t of req.hostTypes) {
      if (req.access === 'Full') for (const r of this.children.get(`${t}|regions`) ?? []) add(r, `${t}|R|${r}`);
      else if (req.access === 'Region') for (const z of this.children.get(`${t}|R|${req.regionId}|zones`) ?? []) add(z, `${t}|Z|${z}`);
      else for (const a of this.children.get(`${t}|Z|${req.zoneId}|areas`) ?? []) add(a, `${t}|A|${req.zoneId}|${a}`);
    }
    return out;
  }

  plan(req: PlacementRequest): PlanOutcome {
    const domains = this.domainPools(req);
    const filtered: Record<string, number> = {};
    const count = (reason: string, n = 1) => { if (n > 0) filtered[reason] = (filtered[reason] ?? 0) + n; };
    const top: Reasons['top'] = [];
    const choices: Choice[] = [];
    let candidates = 0;
    const why: string[] = [];
    const lvl = level(req.access);
    const taken: PlacedReplica[] = [...req.placed];
    const avoid = req.avoid;
    const avoidHost = (h: HostView) => (avoid?.regions?.includes(h.regionId) || avoid?.zones?.includes(h.zoneId) || avoid?.areas?.includes(h.area)) ?? false;
    const componentHosts = new Set(taken.map((p) => p.hostId));
    const reasonsOf = (): Reasons => ({ policy: this.policy, candidates, filtered, top, why: why.join('; ').slice(0, 2000) });

    if (domains.size === 0) {
      const scope = req.access === 'Full' ? 'the fleet' : req.access === 'Region' ? `region ${req.regionId}` : `zone ${req.zoneId}`;
      const message = `${scope} has no ${req.hostTypes.join('/')} hosts`;
      why.push(message);
      return { ok: false, code: 'NO_HOSTS_IN_SCOPE', message, choices, reasons: reasonsOf() };
    }

    for (const replica of req.replicas) {
      const used = new Set(taken.map((p) => domainOf(p, req.access)));
      // eligible domains, in tiers (Zone access: most distant areas first)
      let tiers: string[][];
      const eligible = [...domains.keys()].filter((d) => {
        if (!used.has(d)) return true;
        count(`same-${lvl}`, domains.get(d)!.reduce((n, p) => n + p.hosts.length, 0));
        return false;
      });
      if (req.access === 'Zone' && taken.length > 0) {
        const usedPaths = taken.map((p) => this.pathOf(p.area));
        const byTier = new Map<number, string[]>();
        for (const d of eligible) {
          const path = this.pathOf(d);
          let dist = Infinity;
          for (const u of usedPaths) dist = Math.min(dist, areaDistance(path, u));
          const tier = byTier.get(dist);
          if (tier) tier.push(d); else byTier.set(dist, [d]);
        }
        tiers = [...byTier.entries()].sort((a, b) => b[0] - a[0]).map(([, ds]) => ds);
      } else tiers = [eligible];

      let best: Choice | null = null;
      const scored: { host: HostView; score: number }[] = [];
      for (const tier of tiers) {
        for (const d of tier) {
          // enough feasible hosts scored in this tier: stop looking (O(sample) per replica even with many areas)
          if (scored.length >= this.sample) break;
          for (const pool of domains.get(d)!) {
            const r = this.scan(pool, req.size, (h) => componentHosts.has(h.hostId) || (req.excludeHosts?.has(h.hostId) ?? false) || avoidHost(h), count);
            candidates += r.examined;
            for (const s of r.scored) {
              scored.push(s);
              if (!best || s.score > best.score || (s.score === best.score && s.host.hostId < best.host.hostId)) best = { replica, host: s.host, score: s.score };
            }
          }
        }
        if (best) break; // a farther tier had room: never go closer than needed
      }
      const chosen = best as Choice | null;
      if (!chosen) {
        const noDomain = eligible.length === 0;
        const message = noDomain
          ? `no ${lvl} left for replica ${replica}: the ${taken.length} other replica(s) hold ${[...used].join(', ')} and replicas must not share a ${lvl}`
          : `no host in scope can take replica ${replica} (${formatResources(req.size)}) now: ${Object.entries(filtered).map(([k, v]) => `${v} ${k}`).join(', ') || 'no hosts'}`;
        why.push(message);
        return { ok: false, code: noDomain ? 'NO_FAILURE_DOMAIN' : 'NO_CAPACITY', message, choices, reasons: reasonsOf() };
      }
      scored.sort((a, b) => b.score - a.score);
      for (const s of scored.slice(0, this.topN)) top.push({ replica, hostId: s.host.hostId, score: round4(s.score) });
      if (!top.some((t) => t.replica === replica && t.hostId === chosen.host.hostId)) top.push({ replica, hostId: chosen.host.hostId, score: round4(chosen.score) });
      choices.push({ ...chosen, score: round4(chosen.score) });
      // hold the capacity for the next replicas of this plan
      chosen.host.reserved = addInPlace(chosen.host.reserved, req.size);
      taken.push(chosen.host);
      componentHosts.add(chosen.host.hostId);
      why.push(`replica ${replica} → ${chosen.host.hostId} (${chosen.host.regionId}/${chosen.host.zoneId}/${chosen.host.area}): ${this.policy} score ${round4(chosen.score)}, best of ${scored.length} feasible${used.size ? `; ${lvl}s ${[...used].join(', ')} held by other replicas` : ''}`);
    }
    // the caller reserves for real (fleet.reserve) once the plan is accepted
    for (const c of choices) c.host.reserved = subInPlace(c.host.reserved, req.size);
    return { ok: true, choices, reasons: reasonsOf() };
  }

  private pathOf(area: string): string[] {
    let path = this.paths.get(area);
    if (!path) { path = area.split('/'); this.paths.set(area, path); }
    return path;
  }

  /** Scores up to `sample` feasible hosts of one pool. */
  private scan(pool: Pool, size: Resources, excluded: (h: HostView) => boolean, count: (reason: string, n?: number) => void) {
    if (!pool.minReq) pool.minReq = { ...size };
    else if (RESOURCE_KEYS.some((k) => size[k] < pool.minReq![k])) {
      for (const k of RESOURCE_KEYS) pool.minReq[k] = Math.min(pool.minReq[k], size[k]);
      pool.dirty = true;
    }
    const hosts = pool.hosts;
    const n = hosts.length;
    const scored: { host: HostView; score: number }[] = [];
    let examined = 0;
    if (this.policy === 'binpack') {
      if (pool.dirty) { pool.cursor = 0; pool.dirty = false; }
      while (pool.cursor < n && (!schedulable(hosts[pool.cursor]) || !fits(hosts[pool.cursor], pool.minReq))) pool.cursor++;
      if (pool.cursor > 0) count('full-or-unavailable', pool.cursor);
      for (let i = pool.cursor; i < n && scored.length < this.sample && examined < this.maxScan; i++) {
        // other schedulers' hosts only when none of this one's share can take it
        if (i === pool.own && scored.length > 0) break;
        const h = hosts[i];
        examined++;
        if (!this.filter(h, size, excluded, count)) continue;
        scored.push({ host: h, score: utilisation(h, size) });
      }
    } else {
      const start = pool.rr % Math.max(1, n);
      let last = -1;
      for (let j = 0; j < n && scored.length < this.sample && examined < this.maxScan; j++) {
        const i = (start + j) % n;
        const h = hosts[i];
        examined++;
        if (!this.filter(h, size, excluded, count)) continue;
        scored.push({ host: h, score: 1 - utilisation(h, size) });
        last = i;
      }
      if (last >= 0) pool.rr = last + 1;
    }
    return { scored, examined };
  }

  private filter(h: HostView, size: Resources, excluded: (h: HostView) => boolean, count: (reason: string, n?: number) => void): boolean {
    if (h.retired) { count('retired'); return false; }
    if (!h.reachable) { count('unreachable'); return false; }
    if (h.admin !== 'online') { count(h.admin); return false; }
    if (excluded(h)) { count('excluded'); return false; }
    if (!fits(h, size)) { count('no-capacity'); return false; }
    return true;
  }

  /**
   * Can these needs ever be met (ignoring what is in use now)? Checks the scope has hosts of the type, one of them is
   * big enough, and enough distinct failure domains have such a host for every replica.
   */
  feasibility(req: Pick<PlacementRequest, 'size' | 'hostTypes' | 'access' | 'regionId' | 'zoneId'> & { replicas: number }): { ok: true } | { ok: false; code: string; message: string; field: string[] } {
    this.index();
    const big = (h: HostView) => !h.retired && RESOURCE_KEYS.every((k) => h.capacity[k] >= req.size[k]);
    const ofType = this.fleet.hosts.filter((h) => req.hostTypes.includes(h.type) && !h.retired);
    const scope = req.access === 'Full' ? 'any region' : req.access === 'Region' ? `region ${req.regionId}` : `zone ${req.zoneId}`;
    if (!ofType.some(big)) {
      const largest = ofType.reduce<HostView | null>((m, h) => (!m || h.capacity.cpuCores * 1e6 + h.capacity.ramMiB > m.capacity.cpuCores * 1e6 + m.capacity.ramMiB ? h : m), null);
      return { ok: false, code: 'SIZE_EXCEEDS_ANY_HOST', field: ['size'], message: ofType.length === 0
        ? `no ${req.hostTypes.join('/')} host exists yet for this type`
        : `${formatResources(req.size)} is more than any ${req.hostTypes.join('/')} host has (the largest offers ${formatResources(largest!.capacity)})` };
    }
    const domains = this.domainPools(req);
    const fitting = [...domains.entries()].filter(([, pools]) => pools.some((p) => p.hosts.some(big))).map(([d]) => d);
    if (domains.size === 0 || fitting.length === 0) {
      return { ok: false, code: 'NO_CAPACITY_IN_SCOPE', field: [req.access === 'Zone' ? 'zoneId' : req.access === 'Region' ? 'regionId' : 'access'],
        message: domains.size === 0 ? `${scope} has no ${req.hostTypes.join('/')} hosts` : `no host in ${scope} is big enough for ${formatResources(req.size)}` };
    }
    if (fitting.length < req.replicas) {
      const lvl = level(req.access);
      return { ok: false, code: 'INSUFFICIENT_FAILURE_DOMAINS', field: ['replicas'],
        message: `${req.replicas} replicas must each be in a different ${lvl}, but ${scope} has only ${fitting.length} ${lvl}(s) with hosts big enough (${fitting.join(', ')})` };
    }
    return { ok: true };
  }
}

function addInPlace(a: Resources, b: Resources): Resources {
  return { cpuCores: a.cpuCores + b.cpuCores, cpuMHz: a.cpuMHz + b.cpuMHz, ramMiB: a.ramMiB + b.ramMiB, diskGiB: a.diskGiB + b.diskGiB, diskIops: a.diskIops + b.diskIops };
}
function subInPlace(a: Resources, b: Resources): Resources {
  return { cpuCores: a.cpuCores - b.cpuCores, cpuMHz: a.cpuMHz - b.cpuMHz, ramMiB: a.ramMiB - b.ramMiB, diskGiB: a.diskGiB - b.diskGiB, diskIops: a.diskIops - b.diskIops };
}
