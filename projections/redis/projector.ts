/**
 * A SQLite projection kept in Redis (distributed profile): ONE projector process folds the log into Redis, every API
 * instance reads from there (readers.ts).
 *
 * The fold is the projection's own `apply`, unchanged, run against a private in-memory SQLite copy of the model
 * (loaded from Redis at start), so the Redis model can never disagree with the embedded one. Triggers on the copy's
 * tables record which rows a batch touched; after the batch, those rows (and their index entries) become one Lua
 * script that writes them together with the checkpoint (scripts.ts), and only then is the SQLite transaction
 * committed. Whatever fails — Redis down, a lost reply, another writer — the copy is rolled back (or reloaded from
 * Redis), so Redis never applies an event twice nor skips one.
 *
 * Generations: a changed `version`, or `rebuild()`, folds the log from zero into a fresh generation while the old one
 * keeps serving (and, for rebuild(), keeps being updated); when the new one has caught up, one script flips the
 * generation readers use, and the old keys are deleted after a grace period.
 *
 * Fencing: pass the lease's token; the scripts refuse to write when the projection's stored fence is higher (a newer
 * leader took over), and the projector then stops for good (`onFenced`).
 */
import Database from 'better-sqlite3';
import type { Redis } from 'ioredis';
import { matchesFilter, type EventStore, type StoredEvent, type Subscription } from '../../core/event-store/port.ts';
import { digestOf, type SqliteProjection } from '../runner.ts';
import { CHANGES_CHANNEL, DEFAULT_ROOT, memberOf, REDIS_INDEXES, RedisLayout, type IndexSpec } from './layout.ts';
import { isCheckpointMismatch, isFenced, withScripts, type ScriptedRedis } from './scripts.ts';

/** A fencing token from a lease: a fixed one, or read at every write (null: the lease is lost, do not write). */
export type Fence = { name: string; token: number } | (() => { name: string; token: number } | null);

export interface RedisProjectorOptions {
  store: EventStore;
  redis: Redis;
  projection: SqliteProjection;
  root?: string;
  fence?: Fence;
  batchSize?: number;
  /** How long an old generation stays readable after a swap (default 5 s). */
  graceMs?: number;
  onError?: (projection: string, error: unknown) => void;
  /** Called once when a write was refused by the fence; the projector has stopped. */
  onFenced?: (projection: string, error: Error) => void;
}

export interface RedisProjectionStatus {
  name: string; version: number; gen: number; position: number; caughtUp: boolean; building: boolean; fenced: boolean; lastError?: string;
}

export class FencedError extends Error {
  constructor(message: string) { super(message); this.name = 'FencedError'; }
}

interface TableInfo {
  name: string; columns: string[]; pk: string[]; hasSeq: boolean; indexes: IndexSpec[];
  select: Database.Statement; insert: Database.Statement;
}

/** One fold into one generation: its SQLite copy, its subscription, its position. */
class Run {
  readonly db = new Database(':memory:');
  readonly tables: TableInfo[] = [];
  position = 0;
  caughtUp = false;
  events = 0;
  sub: Subscription | null = null;
  private changes!: Database.Statement;
  private clearChanges!: Database.Statement;

  constructor(readonly gen: number, public building: boolean, private readonly p: SqliteProjection) {
    p.setup(this.db);
    this.db.exec('CREATE TABLE _rc (id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, k TEXT NOT NULL, old TEXT)');
    const specs = REDIS_INDEXES[p.name] ?? {};
    for (const t of p.tables) {
      const info = this.db.prepare(`PRAGMA table_info("${t.name}")`).all() as { name: string; pk: number }[];
      const columns = info.map((c) => c.name);
      const pk = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
      if (!pk.length) throw new Error(`projection ${p.name}: table ${t.name} has no primary key; Redis rows need one`);
      this.tables.push({
        name: t.name, columns, pk, hasSeq: columns.includes('seq'), indexes: specs[t.name] ?? [],
        select: this.db.prepare(`SELECT * FROM "${t.name}" WHERE ${pk.map((c) => `"${c}" = ?`).join(' AND ')}`),
        insert: this.db.prepare(`INSERT INTO "${t.name}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`),
      });
    }
  }

  /** Triggers record every touched row's key, and (for updates and deletes) its indexed values before the change. */
  installTriggers(): void {
    for (const t of this.tables) {
      const key = (row: string) => `json_array(${t.pk.map((c) => `${row}."${c}"`).join(', ')})`;
      const old = `json_object('_', 1${t.indexes.map((i) => `, '${i.column}', OLD."${i.column}"`).join('')})`;
      this.db.exec(`
        CREATE TRIGGER "_rc_${t.name}_i" AFTER INSERT ON "${t.name}" BEGIN INSERT INTO _rc (tbl, k, old) VALUES ('${t.name}', ${key('NEW')}, NULL); END;
        CREATE TRIGGER "_rc_${t.name}_u" AFTER UPDATE ON "${t.name}" BEGIN
          INSERT INTO _rc (tbl, k, old) VALUES ('${t.name}', ${key('OLD')}, ${old});
          INSERT INTO _rc (tbl, k, old) VALUES ('${t.name}', ${key('NEW')}, NULL); END;
        CREATE TRIGGER "_rc_${t.name}_d" AFTER DELETE ON "${t.name}" BEGIN INSERT INTO _rc (tbl, k, old) VALUES ('${t.name}', ${key('OLD')}, ${old}); END;`);
    }
    this.changes = this.db.prepare('SELECT tbl, k, old FROM _rc ORDER BY id');
    this.clearChanges = this.db.prepare('DELETE FROM _rc');
  }

  /** Loads a generation's rows from Redis into the copy; returns its checkpoint. */
  async load(redis: Redis, layout: RedisLayout): Promise<number> {
    const cp = await redis.hget(layout.cp(this.gen), 'position');
    for (const t of this.tables) {
      const docs = await redis.hvals(layout.rows(this.gen, t.name));
      const insert = this.db.transaction(() => {
        for (const json of docs) {
          const doc = JSON.parse(json) as Record<string, unknown>;
          t.insert.run(Object.fromEntries(t.columns.map((c) => [c, doc[c] ?? null])));
        }
      });
      insert();
    }
    return Number(cp ?? 0);
  }

  /** The Redis writes for every row the current transaction touched (then forgets them). */
  collectOps(layout: RedisLayout): string[] {
    const first = new Map<string, { tbl: string; k: string; old: string | null }>();
    for (const r of this.changes.all() as { tbl: string; k: string; old: string | null }[]) {
      const id = `${r.tbl}\u0000${r.k}`;
      if (!first.has(id)) first.set(id, r);
    }
    this.clearChanges.run();
    const byName = new Map(this.tables.map((t) => [t.name, t]));
    const ops: string[] = [];
    for (const { tbl, k, old: oldJson } of first.values()) {
      const t = byName.get(tbl)!;
      const keyValues = JSON.parse(k) as unknown[];
      const member = memberOf(keyValues);
      const old = oldJson === null ? null : JSON.parse(oldJson) as Record<string, unknown>;
      const now = t.select.get(...keyValues) as Record<string, unknown> | undefined;
      const scoreOf = (row: Record<string, unknown>, column?: string) => {
        const c = column ?? (t.hasSeq ? 'seq' : null);
        return String(c ? Number(row[c] ?? 0) : 0);
      };
      if (now) {
        ops.push('H', layout.rows(this.gen, t.name), member, JSON.stringify(now));
        ops.push('Z', layout.seq(this.gen, t.name), scoreOf(now), member);
        for (const i of t.indexes) {
          const before = old?.[i.column];
          const after = now[i.column];
          if (old && before !== null && before !== undefined && before !== after) ops.push('z', layout.index(this.gen, t.name, i.column, before), member, '');
          if (after !== null && after !== undefined) ops.push('Z', layout.index(this.gen, t.name, i.column, after), scoreOf(now, i.score), member);
        }
      } else if (old) {
        ops.push('h', layout.rows(this.gen, t.name), member, '');
        ops.push('z', layout.seq(this.gen, t.name), member, '');
        for (const i of t.indexes) {
          const before = old[i.column];
          if (before !== null && before !== undefined) ops.push('z', layout.index(this.gen, t.name, i.column, before), member, '');
        }
      }
    }
    return ops;
  }

  close(): void { this.db.close(); }
}

export class RedisProjector {
  readonly name: string;
  private readonly redis: ScriptedRedis;
  private readonly layout: RedisLayout;
  private live: Run | null = null;
  private building: Run | null = null;
  private fenced = false;
  private stopped = false;
  private lastError: string | undefined;
  private readonly waiters: { position: number; resolve: () => void }[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private swapDone: ((r: { gen: number; position: number; events: number }) => void) | null = null;
  private restarting: Promise<void> | null = null;

  constructor(private readonly o: RedisProjectorOptions) {
    this.name = o.projection.name;
    this.redis = withScripts(o.redis);
    this.layout = new RedisLayout(o.projection.name, o.root ?? DEFAULT_ROOT);
  }

  private token(): number {
    const f = typeof this.o.fence === 'function' ? this.o.fence() : this.o.fence;
    if (f === null) throw new FencedError(`projection ${this.name}: the lease is lost; not writing`);
    return f?.token ?? 0;
  }

  /** Resumes the live generation, or (first start, changed version) builds a new one and swaps it in. */
  async start(): Promise<void> {
    const meta = await this.redis.hgetall(this.layout.meta);
    const gen = Number(meta.gen ?? 0);
    const version = gen ? await this.redis.hget(this.layout.cp(gen), 'version') : null;
    if (gen && Number(version) === this.o.projection.version) {
      const run = new Run(gen, false, this.o.projection);
      run.position = await run.load(this.redis, this.layout);
      this.live = run;
      this.follow(run);
    } else {
      await this.startBuild();
    }
  }

  /** Folds the log from zero into a new generation (the current one keeps serving and updating), then swaps. */
  async rebuild(): Promise<{ name: string; gen: number; position: number; events: number; seconds: number; digest: string }> {
    const started = process.hrtime.bigint();
    if (this.building) throw new Error(`projection ${this.name}: a rebuild is already running`);
    const done = new Promise<{ gen: number; position: number; events: number }>((resolve) => { this.swapDone = resolve; });
    await this.startBuild();
    const r = await done;
    return { name: this.name, ...r, seconds: Number(process.hrtime.bigint() - started) / 1e9, digest: this.digest() };
  }

  private async startBuild(): Promise<void> {
    const gen = Number(await this.redis.rmAllocate(this.layout.meta, this.token()));
    await this.deleteGeneration(gen); // leftovers of a build that crashed before its swap
    const run = new Run(gen, true, this.o.projection);
    this.building = run;
    this.follow(run);
  }

  private follow(run: Run): void {
    run.installTriggers();
    const filter = this.o.projection.filter;
    // Unfiltered, so that every batch moves the checkpoint to its log position even when none of its events concern
    // this projection: readers then know the model holds everything up to a mutation's position (read-your-writes).
    run.sub = this.o.store.subscribe({
      after: run.position,
      batchSize: this.o.batchSize ?? 1000,
      onBatch: (events, position) => this.commit(run, filter ? events.filter((e) => matchesFilter(filter, e.streamId, e.type)) : events, position),
      onCaughtUp: () => {
        run.caughtUp = true;
        if (run.building) void this.swap(run).catch((error) => this.failed(error));
      },
      onError: (error) => this.failed(error),
    });
  }

  private async commit(run: Run, events: StoredEvent[], position: number): Promise<void> {
    if (this.stopped || this.fenced) throw new Error(`projection ${this.name} is stopped`);
    const db = run.db;
    db.exec('BEGIN');
    try {
      const token = this.token();
      for (const e of events) this.o.projection.apply(db, e);
      const ops = run.collectOps(this.layout);
      await this.redis.rmCommit(this.layout.meta, this.layout.cp(run.gen), token, run.position, position, this.o.projection.version, ...ops);
      db.exec('COMMIT');
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      if (isFenced(error) || error instanceof FencedError) this.onFenced(error as Error);
      else if (isCheckpointMismatch(error)) void this.reload(run);
      throw error;
    }
    run.position = position;
    run.events += events.length;
    this.lastError = undefined;
    if (run === this.live) {
      this.settleWaiters();
      this.announce(run);
    }
  }

  /** Makes a caught-up build the generation readers use; the previous one stops and is deleted after the grace. */
  private async swap(run: Run): Promise<void> {
    const old = await this.redis.rmSwap(this.layout.meta, this.token(), run.gen).catch((error) => {
      if (isFenced(error)) this.onFenced(error);
      throw error;
    });
    const previous = this.live;
    this.live = run;
    this.building = null;
    run.building = false; // live now: from here on its commits wake waiters and announce themselves
    this.settleWaiters();
    this.announce(run);
    if (previous) await previous.sub?.close().then(() => previous.close());
    const oldGen = Number(old ?? 0);
    if (oldGen && oldGen !== run.gen) {
      const timer = setTimeout(() => { this.timers.delete(timer); void this.deleteGeneration(oldGen).catch(() => {}); }, this.o.graceMs ?? 5000);
      timer.unref();
      this.timers.add(timer);
    }
    this.swapDone?.({ gen: run.gen, position: run.position, events: run.events });
    this.swapDone = null;
  }

  /** The copy and Redis disagree about the checkpoint: start this run over from what Redis holds. */
  private reload(run: Run): Promise<void> {
    if (this.restarting) return this.restarting;
    this.restarting = (async () => {
      await run.sub?.close();
      run.close();
      if (this.stopped || this.fenced) return;
      const fresh = new Run(run.gen, run.building, this.o.projection);
      fresh.position = await fresh.load(this.redis, this.layout);
      if (this.live === run) {
        this.live = fresh;
        // A Redis that lost its data (restarted without persistence) lost the pointer to the live generation too:
        // point readers at it again, or they would read nothing while it is refolded from the log (chaos test).
        if (!(await this.redis.hget(this.layout.meta, 'gen'))) await this.redis.rmSwap(this.layout.meta, this.token(), fresh.gen);
      }
      if (this.building === run) this.building = fresh;
      this.follow(fresh);
    })().catch((error) => this.failed(error)).finally(() => { this.restarting = null; });
    return this.restarting;
  }

  private onFenced(error: Error): void {
    if (this.fenced) return;
    this.fenced = true;
    this.lastError = error.message;
    this.o.onFenced?.(this.name, error);
    void this.stop();
  }

  private failed(error: unknown): void {
    this.lastError = error instanceof Error ? error.message : String(error);
    if (this.o.onError) this.o.onError(this.name, error); else if (!this.stopped) console.error(`redis projection ${this.name}:`, error);
  }

  private announce(run: Run): void {
    this.redis.publish(CHANGES_CHANNEL(this.layout.root), JSON.stringify({ name: this.name, gen: run.gen, position: run.position })).catch(() => {});
  }

  private settleWaiters(): void {
    const at = this.live?.position ?? 0;
    for (let i = this.waiters.length - 1; i >= 0; i--) if (this.waiters[i].position <= at) { this.waiters[i].resolve(); this.waiters.splice(i, 1); }
  }

  /** Resolves once the generation readers use holds everything up to `position`. */
  waitFor(position: number, timeoutMs = 10_000): Promise<void> {
    if (this.live && this.live.position >= position) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis projection ${this.name} did not reach ${position} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ position, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }

  status(): RedisProjectionStatus {
    const run = this.live ?? this.building;
    return {
      name: this.name, version: this.o.projection.version, gen: this.live?.gen ?? 0,
      position: Math.max(this.live?.position ?? 0, this.live?.sub?.position ?? 0), caughtUp: !!this.live?.caughtUp,
      building: !!this.building, fenced: this.fenced, ...(this.lastError !== undefined && { lastError: this.lastError }),
      ...(run === null && { lastError: this.lastError ?? 'not started' }),
    };
  }

  /** sha256 over the live generation's rows (the same digest as the SQLite projection's at the same position). */
  digest(): string {
    if (!this.live) throw new Error(`projection ${this.name} has no live generation yet`);
    return digestOf(this.live.db, this.o.projection);
  }

  private async deleteGeneration(gen: number): Promise<void> {
    const pattern = `${this.layout.genPrefix(gen)}:*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await this.redis.unlink(...keys);
    } while (cursor !== '0');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const run of [this.live, this.building]) {
      if (!run) continue;
      await run.sub?.close();
      run.close();
    }
    this.live = null;
    this.building = null;
  }
}

/** Loads a generation of a projection from Redis into a fresh in-memory SQLite database (for digests and checks). */
export async function loadFromRedis(redis: Redis, projection: SqliteProjection, options: { root?: string; gen?: number } = {}): Promise<{ db: Database.Database; gen: number; position: number }> {
  const layout = new RedisLayout(projection.name, options.root ?? DEFAULT_ROOT);
  const gen = options.gen ?? Number(await redis.hget(layout.meta, 'gen') ?? 0);
  const run = new Run(gen, false, projection);
  const position = await run.load(redis, layout);
  return { db: run.db, gen, position };
}

/** The digest of what Redis holds for a projection (live generation by default). */
export async function redisDigest(redis: Redis, projection: SqliteProjection, options: { root?: string; gen?: number } = {}): Promise<{ digest: string; gen: number; position: number }> {
  const { db, gen, position } = await loadFromRedis(redis, projection, options);
  try { return { digest: digestOf(db, projection), gen, position }; } finally { db.close(); }
}
