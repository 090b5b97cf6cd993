/**
 * The API side of the Redis read models (distributed profile): the projects, RRegister and CRegister read ports
 * answered from what the projector wrote (layout.ts). Rows are the SQLite rows as JSON, so the same row mappers as
 * the embedded readers turn them into the same objects. Lookups by key are one HGET/HMGET; pages walk a sorted set
 * (the table's `seq` order, or an index by the column the filter names) and apply the remaining conditions in
 * JavaScript; counts and capacity sums read the narrowest set. The registers are small (regions, hosts, projects,
 * components — not events), so this stays cheap.
 *
 * Every reader reads the generation named in the projection's meta hash (cached, refreshed on the projector's change
 * announcements and every second), so a rebuild swapped in meanwhile is picked up while the old generation is still
 * kept for a grace period. When Redis is away, reads fail fast with RedisUnavailableError (the API answers a clear
 * GraphQL error and /readyz says degraded) and the connection is retried in the background.
 */
import { Redis } from 'ioredis';
import { RESOURCE_KEYS, type Resources } from '../../layers/resources/common/quantities.ts';
import type { ComponentTypeState } from '../../layers/components/type/decider.ts';
import { toComponent, toReplica, type ComponentRow, type Page as CPage, type ReplicaRow } from '../cregister-read.ts';
import { toProject, toUser, type Page, type ProjectRow, type UserRow } from '../projects-read.ts';
import type { CRegisterRead, ProjectsRead, RRegisterRead } from '../read-ports.ts';
import {
  res, sub, toContract, toHost, toImage, toItem, toMove, toNetwork, toRegion, toXImage, toXNetwork, toXNode, toZone,
  type CapacitySummary, type HostFilter, type RContractFilter, type XNodeFilter,
} from '../rregister-read.ts';
import { RES_COLUMNS } from '../rregister.ts';
import { CHANGES_CHANNEL, DEFAULT_ROOT, memberOf, RedisLayout } from './layout.ts';

export class RedisUnavailableError extends Error {
  readonly code = 'UNAVAILABLE';
  constructor(cause: unknown) {
    super('the shared read models (Redis) are unavailable; try again shortly');
    this.name = 'RedisUnavailableError';
    (this as { cause?: unknown }).cause = cause;
  }
}

/** An error of the connection rather than of the command: the socket went away, or Redis is still loading. */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (typeof e.code === 'string' && ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTCONN', 'ECONNABORTED'].includes(e.code)) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  return typeof e.message === 'string' && /Connection is closed|Stream isn't writeable|^LOADING |enableOfflineQueue|Reached the max retries/.test(e.message);
}

type Row = Record<string, any>;
type Pred = (r: Row) => boolean;

/** Reads one projection's live generation. */
class ModelReader {
  private gen = 0;
  private genReadAt = 0;
  position = 0;
  constructor(readonly redis: Redis, readonly layout: RedisLayout) {}

  /** Called with the projector's announcements: the generation and position it just committed. */
  announced(gen: number, position: number): void {
    if (gen !== this.gen) { this.gen = gen; this.genReadAt = Date.now(); }
    if (position > this.position) this.position = position;
  }

  async call<T>(run: () => Promise<T>): Promise<T> {
    try { return await run(); } catch (error) {
      // (the connection may already be 'ready' again when a command that failed with it gets here)
      if (this.redis.status !== 'ready' || isConnectionError(error)) throw new RedisUnavailableError(error);
      throw error;
    }
  }

  async generation(): Promise<number> {
    if (this.gen && Date.now() - this.genReadAt < 1000) return this.gen;
    const gen = Number(await this.call(() => this.redis.hget(this.layout.meta, 'gen')) ?? 0);
    this.gen = gen;
    this.genReadAt = Date.now();
    return gen;
  }

  /** Where the live generation's checkpoint is (reads Redis). */
  async checkpoint(): Promise<number> {
    const gen = await this.generation();
    const p = Number(await this.call(() => this.redis.hget(this.layout.cp(gen), 'position')) ?? 0);
    if (p > this.position) this.position = p;
    return p;
  }

  async one(table: string, ...key: unknown[]): Promise<Row | null> {
    const gen = await this.generation();
    const json = await this.call(() => this.redis.hget(this.layout.rows(gen, table), memberOf(key)));
    return json === null ? null : JSON.parse(json);
  }

  async has(table: string, ...key: unknown[]): Promise<boolean> {
    const gen = await this.generation();
    return (await this.call(() => this.redis.hexists(this.layout.rows(gen, table), memberOf(key)))) === 1;
  }

  private async docs(gen: number, table: string, members: string[]): Promise<Row[]> {
    if (!members.length) return [];
    const values = await this.call(() => this.redis.hmget(this.layout.rows(gen, table), ...members));
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v));
  }

  private setKey(gen: number, table: string, index?: [column: string, value: unknown]): string {
    return index ? this.layout.index(gen, table, index[0], index[1]) : this.layout.seq(gen, table);
  }

  /** Rows after the score `after`, in score order, that pass `pred`: up to `first` and whether more follow. */
  async page(table: string, index: [string, unknown] | undefined, after: number, first: number, pred?: Pred): Promise<Page<Row>> {
    const gen = await this.generation();
    const key = this.setKey(gen, table, index);
    const rows: Row[] = [];
    let from = `(${after}`;
    const chunk = pred ? Math.max(100, first + 1) : first + 1;
    for (;;) {
      const flat = await this.call(() => this.redis.zrangebyscore(key, from, '+inf', 'WITHSCORES', 'LIMIT', '0', String(chunk)));
      const members: string[] = [];
      for (let i = 0; i < flat.length; i += 2) members.push(flat[i]);
      for (const r of await this.docs(gen, table, members)) if (!pred || pred(r)) rows.push(r);
      if (rows.length > first || members.length < chunk) break;
      from = `(${flat[flat.length - 1]}`;
    }
    return { rows: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  /** Every row of a set (in score order, then member order) that passes `pred`. */
  async all(table: string, index?: [string, unknown], pred?: Pred): Promise<Row[]> {
    const gen = await this.generation();
    const members = await this.call(() => this.redis.zrange(this.setKey(gen, table, index), '0', '-1'));
    const rows = await this.docs(gen, table, members);
    return pred ? rows.filter(pred) : rows;
  }

  async count(table: string, index?: [string, unknown], pred?: Pred): Promise<number> {
    if (!pred) {
      const gen = await this.generation();
      return this.call(() => this.redis.zcard(this.setKey(gen, table, index)));
    }
    return (await this.all(table, index, pred)).length;
  }
}

const mapPage = <T>(p: Page<Row>, map: (r: Row) => T): Page<T> => ({ rows: p.rows.map(map), hasNextPage: p.hasNextPage });

// ── projects ─────────────────────────────────────────────────────────────────────────────────────────────────────

export class RedisProjectsRead implements ProjectsRead {
  constructor(private readonly m: ModelReader, private readonly versionOf: () => string) {}
  version(): string { return this.versionOf(); }
  async user(userId: string): Promise<UserRow | null> { const r = await this.m.one('projects_users', userId); return r ? toUser(r as any) : null; }
  async users(after: number, first: number): Promise<Page<UserRow>> { return mapPage(await this.m.page('projects_users', undefined, after, first), (r) => toUser(r as any)); }
  userCount(): Promise<number> { return this.m.count('projects_users'); }
  async project(projectId: string): Promise<ProjectRow | null> { const r = await this.m.one('projects_projects', projectId); return r ? toProject(r as any) : null; }
  isMember(userId: string, projectId: string): Promise<boolean> { return this.m.has('projects_members', userId, projectId); }
  async projectsOf(userId: string, after: number, first: number, includeArchived: boolean): Promise<Page<ProjectRow>> {
    // member rows in seq order, joined to their projects (archived ones left out unless asked for)
    const out: ProjectRow[] = [];
    let cursor = after;
    for (;;) {
      const members = await this.m.page('projects_members', ['user_id', userId], cursor, Math.max(first + 1, 50));
      for (const m of members.rows) {
        const p = await this.m.one('projects_projects', m.project_id);
        if (p && (includeArchived || p.status === 'active')) out.push(toProject(p as any));
      }
      if (out.length > first || !members.hasNextPage) break;
      cursor = members.rows[members.rows.length - 1].seq;
    }
    return { rows: out.slice(0, first), hasNextPage: out.length > first };
  }
  async projectCountOf(userId: string, includeArchived: boolean): Promise<number> {
    if (includeArchived) return this.m.count('projects_members', ['user_id', userId]);
    const members = await this.m.all('projects_members', ['user_id', userId]);
    let n = 0;
    for (const m of members) if ((await this.m.one('projects_projects', m.project_id))?.status === 'active') n++;
    return n;
  }
  async componentIds(projectId: string): Promise<string[]> { return (await this.m.all('projects_components', ['project_id', projectId])).map((r) => r.component_id); }
  componentCount(projectId: string): Promise<number> { return this.m.count('projects_components', ['project_id', projectId]); }
}

// ── RRegister ────────────────────────────────────────────────────────────────────────────────────────────────────

const eq = (column: string, value: unknown): Pred => (r) => r[column] === value;
const and = (preds: Pred[]): Pred | undefined => (preds.length === 0 ? undefined : (r) => preds.every((p) => p(r)));

export class RedisRRegisterRead implements RRegisterRead {
  constructor(private readonly m: ModelReader) {}

  private async one<T>(table: string, id: string, map: (r: Row) => T): Promise<T | null> { const r = await this.m.one(table, id); return r ? map(r) : null; }

  region(regionId: string) { return this.one('rr_regions', regionId, toRegion); }
  async regions(after: number, first: number) { return mapPage(await this.m.page('rr_regions', undefined, after, first), toRegion); }
  regionCount() { return this.m.count('rr_regions'); }
  zone(zoneId: string) { return this.one('rr_zones', zoneId, toZone); }
  async zones(filter: { regionId?: string }, after: number, first: number) {
    return mapPage(await this.m.page('rr_zones', filter.regionId !== undefined ? ['region_id', filter.regionId] : undefined, after, first), toZone);
  }
  zoneCount(filter: { regionId?: string }) { return this.m.count('rr_zones', filter.regionId !== undefined ? ['region_id', filter.regionId] : undefined); }

  /** The narrowest index for a host filter, and the conditions left to check on each row. */
  private hostQuery(f: HostFilter): { index?: [string, unknown]; pred?: Pred } {
    const preds: Pred[] = [];
    let index: [string, unknown] | undefined;
    const use = (column: string, value: unknown) => { if (!index) index = [column, value]; else preds.push(eq(column, value)); };
    if (f.zoneId !== undefined) use('zone_id', f.zoneId);
    if (f.regionId !== undefined) use('region_id', f.regionId);
    if (f.area !== undefined) use('area', f.area);
    if (f.hostIds !== undefined) { const ids = new Set(f.hostIds); preds.push((r) => ids.has(r.host_id)); }
    if (f.type !== undefined) preds.push(eq('type', f.type));
    if (f.status !== undefined) { const s = new Set(f.status); preds.push((r) => s.has(r.status)); }
    if (f.areaPrefix !== undefined) { const p = f.areaPrefix; preds.push((r) => typeof r.area === 'string' && r.area.startsWith(p)); }
    for (const k of RESOURCE_KEYS) {
      const min = f.minFree?.[k];
      if (min !== undefined) { const c = RES_COLUMNS[k]; preds.push((r) => r[`cap_${c}`] - r[`used_${c}`] >= min); }
    }
    return { index, pred: and(preds) };
  }
  host(hostId: string) { return this.one('rr_hosts', hostId, toHost); }
  async hosts(filter: HostFilter, after: number, first: number) {
    const q = this.hostQuery(filter);
    return mapPage(await this.m.page('rr_hosts', q.index, after, first, q.pred), toHost);
  }
  hostCount(filter: HostFilter) { const q = this.hostQuery(filter); return this.m.count('rr_hosts', q.index, q.pred); }

  async capacity(scope: { zoneId?: string; regionId?: string } = {}): Promise<CapacitySummary> {
    const q = this.hostQuery({ ...(scope.zoneId !== undefined && { zoneId: scope.zoneId }), ...(scope.regionId !== undefined && { regionId: scope.regionId }) });
    const hosts = await this.m.all('rr_hosts', q.index, (r) => r.status !== 'retired' && (!q.pred || q.pred(r)));
    const zero = () => Object.fromEntries(RESOURCE_KEYS.map((k) => [k, 0])) as Resources;
    const capacity = zero(); const used = zero(); const schedulableFree = zero();
    for (const h of hosts) {
      const c = res(h, 'cap'); const u = res(h, 'used');
      for (const k of RESOURCE_KEYS) {
        capacity[k] += c[k]; used[k] += u[k];
        if (h.status === 'online') schedulableFree[k] += c[k] - u[k];
      }
    }
    return { hosts: hosts.length, capacity, used, free: sub(capacity, used), schedulableFree };
  }

  private async xnodeQuery(f: XNodeFilter): Promise<{ index?: [string, unknown]; pred?: Pred }> {
    const preds: Pred[] = [];
    let index: [string, unknown] | undefined;
    if (f.hostId !== undefined) index = ['host_id', f.hostId];
    else if (f.contractId !== undefined) index = ['contract_id', f.contractId];
    if (f.hostId !== undefined && index?.[0] !== 'host_id') preds.push(eq('host_id', f.hostId));
    if (f.contractId !== undefined && index?.[0] !== 'contract_id') preds.push(eq('contract_id', f.contractId));
    if (f.regionId !== undefined) preds.push(eq('region_id', f.regionId));
    if (f.zoneId !== undefined) preds.push(eq('zone_id', f.zoneId));
    if (f.kind !== undefined) preds.push(eq('kind', f.kind));
    if (f.state !== undefined) { const s = new Set(f.state); preds.push((r) => s.has(r.state)); } else if (!f.includeReleased) preds.push((r) => r.state !== 'released');
    if (f.area !== undefined) {
      const hosts = new Set((await this.m.all('rr_hosts', ['area', f.area])).map((h) => h.host_id));
      preds.push((r) => hosts.has(r.host_id));
    }
    return { index, pred: and(preds) };
  }
  xnode(xnodeId: string) { return this.one('rr_xnodes', xnodeId, toXNode); }
  async xnodes(filter: XNodeFilter, after: number, first: number) {
    const q = await this.xnodeQuery(filter);
    return mapPage(await this.m.page('rr_xnodes', q.index, after, first, q.pred), toXNode);
  }
  async xnodeCount(filter: XNodeFilter) { const q = await this.xnodeQuery(filter); return this.m.count('rr_xnodes', q.index, q.pred); }

  private placeQuery(f: { regionId?: string; zoneId?: string }): { index?: [string, unknown]; pred?: Pred } {
    return { index: f.regionId !== undefined ? ['region_id', f.regionId] : undefined, pred: f.zoneId !== undefined ? eq('zone_id', f.zoneId) : undefined };
  }
  network(networkId: string) { return this.one('rr_networks', networkId, toNetwork); }
  async networks(filter: { regionId?: string; zoneId?: string }, after: number, first: number) {
    const q = this.placeQuery(filter);
    return mapPage(await this.m.page('rr_networks', q.index, after, first, q.pred), toNetwork);
  }
  networkCount(filter: { regionId?: string; zoneId?: string }) { const q = this.placeQuery(filter); return this.m.count('rr_networks', q.index, q.pred); }
  xnetwork(xnetworkId: string) { return this.one('rr_xnetworks', xnetworkId, toXNetwork); }
  async xnetworksOf(networkId: string) { return (await this.m.all('rr_xnetworks', ['network_id', networkId])).map(toXNetwork); }
  image(imageId: string) { return this.one('rr_images', imageId, toImage); }
  async images(filter: { regionId?: string }, after: number, first: number) {
    const q = this.placeQuery(filter);
    return mapPage(await this.m.page('rr_images', q.index, after, first, q.pred), toImage);
  }
  imageCount(filter: { regionId?: string }) { const q = this.placeQuery(filter); return this.m.count('rr_images', q.index, q.pred); }
  ximage(ximageId: string) { return this.one('rr_ximages', ximageId, toXImage); }

  private contractQuery(f: RContractFilter): { index?: [string, unknown]; pred?: Pred } {
    const s = f.status ? new Set(f.status) : null;
    return { index: f.tenantId !== undefined ? ['tenant_id', f.tenantId] : undefined, pred: s ? (r) => s.has(r.status) : undefined };
  }
  rcontract(contractId: string) { return this.one('rr_rcontracts', contractId, toContract); }
  async rcontracts(filter: RContractFilter, after: number, first: number) {
    const q = this.contractQuery(filter);
    return mapPage(await this.m.page('rr_rcontracts', q.index, after, first, q.pred), toContract);
  }
  rcontractCount(filter: RContractFilter) { const q = this.contractQuery(filter); return this.m.count('rr_rcontracts', q.index, q.pred); }
  async rcontractItems(contractId: string) { return (await this.m.all('rr_rcontract_items', ['contract_id', contractId])).map(toItem); }
  move(moveId: string) { return this.one('rr_moves', moveId, toMove); }
}

// ── CRegister ────────────────────────────────────────────────────────────────────────────────────────────────────

export class RedisCRegisterRead implements CRegisterRead {
  constructor(private readonly m: ModelReader) {}
  async component(componentId: string): Promise<ComponentRow | null> { const r = await this.m.one('cregister_components', componentId); return r ? toComponent(r) : null; }
  async componentsOf(projectId: string, after: number, first: number, includeReleased: boolean): Promise<CPage<ComponentRow>> {
    return mapPage(await this.m.page('cregister_components', ['project_id', projectId], after, first, includeReleased ? undefined : (r) => r.status !== 'released'), toComponent);
  }
  countOf(projectId: string, includeReleased: boolean) {
    return this.m.count('cregister_components', ['project_id', projectId], includeReleased ? undefined : (r) => r.status !== 'released');
  }
  async components(after: number, first: number) { return mapPage(await this.m.page('cregister_components', undefined, after, first), toComponent); }
  count() { return this.m.count('cregister_components'); }
  async replicas(componentId: string): Promise<ReplicaRow[]> { return (await this.m.all('cregister_replicas', ['component_id', componentId])).map(toReplica); }
  async replicasOnHost(hostId: string): Promise<ReplicaRow[]> {
    const rows = await this.m.all('cregister_replicas', ['host_id', hostId]);
    return rows.sort((a, b) => (a.component_id < b.component_id ? -1 : a.component_id > b.component_id ? 1 : a.replica - b.replica)).map(toReplica);
  }
  async types(): Promise<ComponentTypeState[]> {
    const rows = await this.m.all('cregister_types');
    return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((r) => JSON.parse(r.state_json));
  }
  async type(name: string): Promise<ComponentTypeState | null> {
    const [r] = await this.m.all('cregister_types', ['name', name]);
    return r ? JSON.parse(r.state_json) : null;
  }
}

// ── the three together, as an API instance uses them ────────────────────────────────────────────────────────────

export interface RedisReadModelStatus { name: string; gen: number; position: number }

export class RedisReadModels {
  readonly redis: Redis;
  private readonly listener: Redis;
  private readonly models: Map<string, ModelReader>;
  readonly projects: RedisProjectsRead;
  readonly rregister: RedisRRegisterRead;
  readonly cregister: RedisCRegisterRead;
  /** Bumped on every announcement and reconnect: the response cache's stamp (never reused while disconnected). */
  private changes = 0;
  private listening = false;
  private readonly waiters = new Set<() => void>();

  private constructor(url: string, root: string) {
    // Reads fail fast while Redis is away (no offline queue, one try) instead of hanging requests.
    this.redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName: 'ledger-api-read',
      retryStrategy: (n) => Math.min(100 * n, 1000) });
    this.redis.on('error', () => { /* reconnects by itself; reads answer RedisUnavailableError meanwhile */ });
    this.listener = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null, connectionName: 'ledger-api-changes', retryStrategy: (n) => Math.min(100 * n, 1000) });
    this.listener.on('error', () => {});
    this.models = new Map(['projects', 'rregister', 'cregister'].map((name) => [name, new ModelReader(this.redis, new RedisLayout(name, root))]));
    this.projects = new RedisProjectsRead(this.models.get('projects')!, () => this.version());
    this.rregister = new RedisRRegisterRead(this.models.get('rregister')!);
    this.cregister = new RedisCRegisterRead(this.models.get('cregister')!);
    const channel = CHANGES_CHANNEL(root);
    this.listener.on('ready', () => { this.listening = true; this.changes++; });
    this.listener.on('close', () => { this.listening = false; this.changes++; });
    this.listener.on('message', (_channel: string, message: string) => {
      try {
        const m = JSON.parse(message) as { name: string; gen: number; position: number };
        this.models.get(m.name)?.announced(m.gen, m.position);
      } catch { return; }
      this.changes++;
      for (const wake of [...this.waiters]) wake();
    });
    void this.listener.subscribe(channel).catch(() => {});
  }

  /** Connects (waits for Redis up to `timeoutMs`; if it is not there, the API starts degraded and keeps retrying). */
  static async connect(url: string, options: { root?: string; timeoutMs?: number } = {}): Promise<RedisReadModels> {
    const rm = new RedisReadModels(url, options.root ?? DEFAULT_ROOT);
    const ready = Promise.all([rm.redis.connect(), rm.listener.connect()]).catch(() => {});
    await Promise.race([ready, new Promise((r) => setTimeout(r, options.timeoutMs ?? 5000).unref())]);
    return rm;
  }

  get available(): boolean { return this.redis.status === 'ready'; }

  private version(): string {
    // while the announcements are not heard, never let the response cache reuse an answer
    return this.listening && this.available ? `r${this.changes}` : `x${++this.changes}`;
  }

  /** Resolves once every Redis read model holds the log up to `position` (read-your-writes after a mutation). */
  async waitFor(position: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const behind = [...this.models.values()].filter((m) => m.position < position);
      if (!behind.length) return;
      // announcements are best effort: look at the checkpoints themselves too
      await Promise.all(behind.map((m) => m.checkpoint()));
      if ([...this.models.values()].every((m) => m.position >= position)) {
        // seen in a checkpoint before its announcement arrived: move the response cache's stamp now, or a query right
        // after this mutation could be answered from an entry made before it (read-your-writes)
        this.changes++;
        return;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the Redis read models did not reach position ${position} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => { clearTimeout(timer); this.waiters.delete(wake); resolve(); };
        const timer = setTimeout(wake, Math.min(left, 50));
        this.waiters.add(wake);
      });
    }
  }

  /** Each model's generation and checkpoint, read from Redis (throws RedisUnavailableError when it is away). */
  async statuses(): Promise<RedisReadModelStatus[]> {
    const out: RedisReadModelStatus[] = [];
    for (const [name, m] of this.models) out.push({ name, gen: await m.generation(), position: await m.checkpoint() });
    return out;
  }

  async close(): Promise<void> {
    for (const wake of [...this.waiters]) wake();
    this.redis.disconnect();
    this.listener.disconnect();
  }
}

// ── which read models a ledger's API uses ────────────────────────────────────────────────────────────────────────

const attached = new WeakMap<object, RedisReadModels>();
/** Makes the API modules read the shared registers of `ledger` from Redis (call before the first request). */
export function attachRedisReadModels(ledger: object, models: RedisReadModels): void { attached.set(ledger, models); }
export function redisReadModelsOf(ledger: object): RedisReadModels | undefined { return attached.get(ledger); }
