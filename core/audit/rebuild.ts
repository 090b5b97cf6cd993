/**
 * Rebuilding read models from zero, each into a fresh database of its own (in memory by default), with the same
 * reads, decoding and digest as the runner's `rebuildProjection`, and what makes rebuilds fast:
 *
 *  - a projection that offers a bulk loader (`bulk(db) → { apply(event), flush() }`, producing the same rows as its
 *    `apply`) is loaded through it, since a rebuild writes into an empty database of its own; the loader is flushed
 *    after the last batch, before the digest is taken;
 *  - several read models are rebuilt in ONE pass over the log (`rebuildAllFromZero`): reading and decoding the log
 *    costs more than most projections' own work, so it is paid once and each event is handed to every projection
 *    whose filter accepts it (the same filter semantics as the store's `readAll`);
 *  - an event is decoded only as far as the projections that take it need: a projection that declares
 *    `reads: 'metadata'` (the audit index) never looks at `data`, so an event only such projections take has just
 *    its metadata parsed (`decodeMetadataOnly`); one that declares `reads: 'data+times'` (the RRegister) gets the
 *    data and the times without the rest of the metadata parsed (`decodeDataAndTimes`);
 *  - on a machine with two or more cores, the read models are split over two threads (node:worker_threads; see
 *    `planThreads`): each thread opens the SQLite file read-only, reads and decodes the log itself and rebuilds its
 *    share. Reading and decoding is the larger part of a rebuild, so it is paid twice, but on two cores at once.
 *    The rows, and so the digests, are those of the one-thread rebuild (tested in core/audit/rebuild.test.ts).
 */
import Database from 'better-sqlite3';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { EventStore, ReadFilter, StoredEvent } from '../event-store/port.ts';
import { decodeRow } from '../event-store/sqlite.ts';
import { eventDefinitions, latestVersion, needsUpcast, upcast } from '../../schema/registry.ts';
import type { EventMetadata } from '../../schema/envelope.ts';
import { digestOf, type RebuildResult, type SqliteProjection } from '../../projections/runner.ts';
import { moduleOf } from './projections.ts';
import type { WorkerInput, WorkerMessage } from './rebuild-worker.ts';

const WORKER_URL = new URL('./rebuild-worker.mjs', import.meta.url);
/** Posted by a thread started ahead of its job once it has booted (rebuild-worker.ts). */
export const REBUILD_THREAD_READY = 'ready';

/** The second thread started ahead of its job (`prepareRebuildThread`), while it boots or waits. */
let prepared: { worker: Worker; ready: Promise<void>; startedAt: number } | undefined;

/**
 * Starts the second thread of a two-thread rebuild ahead of its job, so that its boot overlaps the caller's other work.
 * Booting means tsx's loader compiling and loading the store and the decoders: 0.4–0.5 s on the 2-core benchmark
 * machine. `ledger replay` calls this first and then loads the schemas, discovers the read models and opens the
 * databases. The next two-thread rebuild hands the prepared thread its job instead of starting one. Resolves once the
 * thread has booted, with how long that took in ms. An idle prepared thread never keeps the process alive. If it
 * fails to boot, the rebuild starts a thread of its own.
 */
export function prepareRebuildThread(): Promise<number> {
  if (!prepared) {
    const startedAt = performance.now();
    const worker = new Worker(WORKER_URL, { workerData: null });
    worker.unref();
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', (m) => (m === REBUILD_THREAD_READY ? resolve() : reject(new Error(`rebuild thread: unexpected first message ${JSON.stringify(m)}`))));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the rebuild thread exited with code ${code} while booting`)));
    });
    const mine = { worker, ready, startedAt };
    ready.catch(() => { if (prepared === mine) prepared = undefined; void worker.terminate(); });
    prepared = mine;
  }
  const { ready, startedAt } = prepared;
  return ready.then(() => performance.now() - startedAt);
}

/** The thread id of the prepared second thread waiting for a job (undefined: none). */
export const preparedRebuildThread = (): number | undefined => prepared?.worker.threadId;

/** The prepared thread, booted and now owned by the caller (undefined: none was prepared, or it failed to boot). */
async function takePreparedThread(): Promise<Worker | undefined> {
  const p = prepared;
  if (!p) return undefined;
  prepared = undefined;
  try { await p.ready; } catch { return undefined; }
  p.worker.removeAllListeners();
  p.worker.ref();
  return p.worker;
}

export interface BulkLoader { apply(event: StoredEvent): void; flush(): void }
export type BulkCapable = SqliteProjection & {
  bulk?: (db: Database.Database) => BulkLoader;
  /**
   * What of an event the projection reads, when not all of it; a rebuild decodes each event only as far as the
   * projections that take it need (`decodeMetadataOnly`, `decodeDataAndTimes`):
   *  - 'metadata': streamId, revision, position, type and metadata, never `data` (handed undefined);
   *  - 'data+times': streamId, revision, position, type, data, and of the metadata only occurredAt, recordedAt,
   *    version and hash (the other metadata keys are absent).
   */
  reads?: 'metadata' | 'data+times';
  /**
   * What rebuilding it costs per event of the log it takes, beyond reading and decoding, as a fraction of a raw
   * read + JSON.parse of that event (measured by `ledger bench replay`); used to balance the two threads.
   */
  rebuildCost?: number;
};

export interface RebuildOptions {
  /** Where to build (a fresh database); in memory by default. */
  target?: Database.Database;
  /** Last position to include (default: the head when the rebuild starts). */
  until?: number;
  batchSize?: number;
  onProgress?: (position: number, until: number, events: number) => void;
}

export interface RebuildAllOptions {
  /**
   * Where to build each projection (a fresh database per projection); in memory when not named. A target that is a
   * file may be written by the second thread through a connection of its own (journal off, as for scratch files).
   */
  targets?: Record<string, Database.Database>;
  /** Last position to include: one for all, or per projection name (default: the head when the rebuild starts). */
  until?: number | Record<string, number>;
  /** Events read per batch (default 500: small batches die young, so the garbage collector has less to move). */
  batchSize?: number;
  /** After each batch: the pass's position, where it stops, and the events read so far (of the slower thread). */
  onProgress?: (position: number, until: number, events: number) => void;
  /**
   * 1: one thread; 2: a second thread whenever the read models can be split (see `planThreads`); default: two on a
   * machine with 2+ cores, for logs of at least MIN_EVENTS_FOR_TWO_THREADS events.
   */
  threads?: 1 | 2;
}

export type Rebuilt = RebuildResult & { db: Database.Database };

/** Below this many events a second thread costs more to start (~0.25 s: a thread, tsx, the modules) than it saves. */
export const MIN_EVENTS_FOR_TWO_THREADS = 100_000;

const CHECKPOINTS = `CREATE TABLE IF NOT EXISTS projection_checkpoints (
  name TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL, updated_at TEXT NOT NULL)`;

export async function rebuildFromZero(store: EventStore, p: BulkCapable, options: RebuildOptions = {}): Promise<Rebuilt> {
  const [result] = await rebuildAllFromZero(store, [p], {
    targets: options.target ? { [p.name]: options.target } : undefined,
    until: options.until,
    batchSize: options.batchSize,
    onProgress: options.onProgress,
    threads: 1,
  });
  return result;
}

/**
 * `readAll`'s filter as a predicate: types, then categories (`<C>-` prefixes) or stream prefixes. `category`, when
 * given, is the stream's category (the part before its '-'), computed once per event for every projection.
 */
export function filterPredicate(filter: ReadFilter | undefined): ((streamId: string, type: string, category?: string) => boolean) | null {
  if (!filter) return null;
  const types = filter.eventTypes?.length ? new Set(filter.eventTypes) : null;
  const prefixes = [...(filter.categories ?? []).map((c) => `${c}-`), ...(filter.streamPrefixes ?? [])];
  if (!types && prefixes.length === 0) return null;
  // Stream names have exactly one '-' (schema/envelope.ts), so a category prefix `<C>-` is a lookup of the part
  // before it; other prefixes are compared as strings.
  const categories = new Set((filter.categories ?? []).filter((c) => !c.includes('-')));
  const others = prefixes.filter((p) => !(p.endsWith('-') && categories.has(p.slice(0, -1))));
  return (streamId, type, category) => {
    if (types && !types.has(type)) return false;
    if (prefixes.length === 0) return true;
    if (category === undefined) {
      const dash = streamId.indexOf('-');
      if (dash > 0) category = streamId.slice(0, dash);
    }
    if (category !== undefined && categories.has(category)) return true;
    for (const p of others) if (streamId.startsWith(p)) return true;
    return false;
  };
}

/** The filter of one read serving every projection (none when one of them reads everything or filters by type). */
function unionFilter(projections: SqliteProjection[]): ReadFilter | undefined {
  if (projections.length === 1) return projections[0].filter;
  const categories = new Set<string>();
  const streamPrefixes = new Set<string>();
  for (const p of projections) {
    const f = p.filter;
    if (!f || f.eventTypes?.length || (!f.categories?.length && !f.streamPrefixes?.length)) return undefined;
    for (const c of f.categories ?? []) categories.add(c);
    for (const s of f.streamPrefixes ?? []) streamPrefixes.add(s);
  }
  return { categories: [...categories], streamPrefixes: [...streamPrefixes] };
}

/**
 * Where the metadata member starts in a stored body (the index of its '"metadata":'), or -1.
 *
 * The stored body is canonical JSON (core/hash-chain.ts: keys sorted), so its last top-level member is "metadata",
 * and the metadata's schema is strict (schema/envelope.ts): fixed keys, of which "actor" sorts first and is an object
 * of exactly "id" and "kind"; every other value is a string or an integer. So the member reads
 * '"metadata":{"actor":{"id":' and, inside the metadata, '{"actor":{"id":' occurs only there (a '{' opens only the
 * metadata and the actor). Whatever the data holds comes before it: the LAST '{"actor":{"id":' of the body is the
 * metadata's. It is searched in the body's last 340 characters first (the metadata of a fleet's events is ~270): a
 * match there is the last one when no later match follows; no match there means the metadata starts before, and
 * the whole body is searched backwards. (`indexOf` from near the end: ~50 ns; `lastIndexOf` over the metadata:
 * ~300 ns, a tenth of what an event costs the audit index.)
 */
export function metadataAt(body: string): number {
  let at = body.indexOf(ACTOR_AT, body.length > 340 ? body.length - 340 : 0);
  if (at < 0) return body.lastIndexOf(METADATA_MEMBER);
  for (let next = body.indexOf(ACTOR_AT, at + 1); next >= 0; next = body.indexOf(ACTOR_AT, next + 1)) at = next;
  at -= METADATA_MEMBER.length;
  return at > 0 && body.startsWith(METADATA_MEMBER, at) ? at : -1;
}
const METADATA_MEMBER = '"metadata":';
const ACTOR_AT = '{"actor":{"id":';

/** A body whose metadata member starts at `at` is canonical in shape: a '{' or ',' before it, '}}' at the end. */
const wellFormed = (body: string, at: number) => at > 0 && body.charCodeAt(body.length - 1) === 0x7d && body.charCodeAt(body.length - 2) === 0x7d
  && (body.charCodeAt(at - 1) === 0x2c || body.charCodeAt(at - 1) === 0x7b);

/**
 * An event decoded without its data (`reads: 'metadata'`): only the metadata of the body is read (see `metadataAt`),
 * about a third of parsing the whole body for the events of a fleet. The metadata equals the full decode's (hash
 * added, version upcast as the store does); `data` is undefined. A body not of the canonical shape (none is) is
 * parsed whole. Equality with the full decode: core/audit/rebuild.test.ts.
 */
export function decodeMetadataOnly(position: number, streamId: string, revision: number, type: string, body: string, hash: string): StoredEvent {
  const at = metadataAt(body);
  let metadata: EventMetadata | null = null;
  if (wellFormed(body, at)) {
    metadata = metadataFromText(body, at) ?? JSON.parse(body.slice(at + METADATA_MEMBER.length, body.length - 1));
  }
  metadata ??= (JSON.parse(body) as { metadata: EventMetadata }).metadata;
  metadata.hash = hash;
  // the store upcasts data and version together; the version an upcast ends at is the type's latest
  const latest = latestVersion(type);
  if (latest !== undefined && metadata.version < latest) metadata.version = latest;
  return { streamId, revision, position, type, data: undefined, metadata };
}

const ACTOR_ID = '{"actor":{"id":"';
const ACTOR_KIND = '","kind":"';
const CAUSATION_ID = ',"causationId":"';
const COMMAND_ID = ',"commandId":"';
const CORRELATION_ID = ',"correlationId":"';
const EVENT_ID = ',"eventId":"';
const OCCURRED = ',"occurredAt":"';
const RECORDED = ',"recordedAt":"';
const TENANT_ID = ',"tenantId":"';
const VERSION_AT_END = ',"version":';

/**
 * The metadata object read off its canonical text without JSON.parse (~350 ns instead of ~650): the keys in their
 * sorted order, each string value up to the next quote, version an integer before the closing '}}'. Only when the
 * metadata holds no backslash (no escape, so a quote always ends a string); null on anything else (JSON.parse then
 * decides). The object has the keys, in the order, JSON.parse gives. (Its longer strings are slices of the body,
 * which they keep alive while they live: read models that keep metadata strings keep ids, not whole events.)
 */
/**
 * Where the string value of the member whose key (with its quotes, colon and opening quote: `key`) starts at i ends
 * (its closing quote), or -1 when the member is not there. A key there with no closing quote also gives -1: the next
 * member's key is then not found where it must be, and the caller gives up as before.
 */
function stringEnd(body: string, i: number, key: string): number {
  return body.startsWith(key, i) ? body.indexOf('"', i + key.length) : -1;
}

export function metadataFromText(body: string, at: number): EventMetadata | null {
  let i = at + METADATA_MEMBER.length;
  if (body.indexOf('\\', i) >= 0 || !body.startsWith(ACTOR_ID, i)) return null;
  // each string: from after its opening quote to the next quote (no escapes)
  let start = i + ACTOR_ID.length;
  let end = body.indexOf('"', start);
  if (end < 0 || !body.startsWith(ACTOR_KIND, end)) return null;
  const id = body.slice(start, end);
  start = end + ACTOR_KIND.length;
  end = body.indexOf('"', start);
  if (end < 0 || body.charCodeAt(end + 1) !== 0x7d /* } */) return null;
  const m = { actor: { id, kind: body.slice(start, end) } } as EventMetadata;
  i = end + 2;
  // each member: its key at i, its string value up to the next quote; optional members may be absent
  end = stringEnd(body, i, CAUSATION_ID);
  if (end >= 0) { m.causationId = body.slice(i + CAUSATION_ID.length, end); i = end + 1; }
  end = stringEnd(body, i, COMMAND_ID);
  if (end >= 0) { m.commandId = body.slice(i + COMMAND_ID.length, end); i = end + 1; }
  if ((end = stringEnd(body, i, CORRELATION_ID)) < 0) return null;
  m.correlationId = body.slice(i + CORRELATION_ID.length, end); i = end + 1;
  if ((end = stringEnd(body, i, EVENT_ID)) < 0) return null;
  m.eventId = body.slice(i + EVENT_ID.length, end); i = end + 1;
  if ((end = stringEnd(body, i, OCCURRED)) < 0) return null;
  m.occurredAt = body.slice(i + OCCURRED.length, end); i = end + 1;
  if ((end = stringEnd(body, i, RECORDED)) < 0) return null;
  m.recordedAt = body.slice(i + RECORDED.length, end); i = end + 1;
  end = stringEnd(body, i, TENANT_ID);
  if (end >= 0) { m.tenantId = body.slice(i + TENANT_ID.length, end); i = end + 1; }
  if (!body.startsWith(VERSION_AT_END, i) || body.length - 2 <= i + VERSION_AT_END.length) return null;
  const version = Number(body.slice(i + VERSION_AT_END.length, body.length - 2));
  if (!Number.isSafeInteger(version)) return null;
  m.version = version;
  return m;
}

// The keys as searched: without their opening quote, which is the commonest character of the text (a search for it
// stops at every string; one for a letter seldom does: ~130 ns for the three instead of ~400). A match is the key
// all the same: a quote right after the name ends a string, and a ':' after that string makes it a key.
const OCCURRED_AT = 'occurredAt":"';
const RECORDED_AT = 'recordedAt":"';
const VERSION = 'version":';

/**
 * An event decoded with its data but, of its metadata, only the times and version (`reads: 'data+times'`): the
 * data member is parsed alone (it runs from '{"data":' to the ',' before the metadata), and occurredAt, recordedAt
 * and version are read off the metadata's text: the times are ISO 8601 UTC (the schema's pattern for occurredAt;
 * the store writes recordedAt), so they hold no quote or escape, and version, the last key, is an integer before
 * the closing '}}'. Data and version are upcast as the store does; the metadata holds occurredAt, recordedAt,
 * version and hash only. Null when the body is not of that shape (the caller decodes it whole). Equality with the
 * full decode: core/audit/rebuild.test.ts.
 */
export function decodeDataAndTimes(position: number, streamId: string, revision: number, type: string, body: string, hash: string): StoredEvent | null {
  const at = metadataAt(body);
  if (!wellFormed(body, at)) return null;
  const o = body.indexOf(OCCURRED_AT, at) + OCCURRED_AT.length;
  const r = body.indexOf(RECORDED_AT, o) + RECORDED_AT.length;
  const v = body.indexOf(VERSION, r) + VERSION.length;
  if (o < OCCURRED_AT.length || r < RECORDED_AT.length || v < VERSION.length) return null;
  let version = Number(body.slice(v, body.length - 2));
  if (!Number.isSafeInteger(version)) return null;
  let data: unknown;
  if (body.startsWith('{"data":')) data = JSON.parse(body.slice(8, at - 1));
  else if (at !== 1) return null;
  const metadata = { occurredAt: body.slice(o, body.indexOf('"', o)), recordedAt: body.slice(r, body.indexOf('"', r)), version, hash } as EventMetadata;
  if (needsUpcast(type, version)) {
    const up = upcast(type, version, data);
    data = up.data;
    version = metadata.version = up.version;
  }
  return { streamId, revision, position, type, data, metadata };
}

type RowTuple = [number, string, number, string, string, string];
/** The embedded store's undecoded rows (SqliteEventStore.readAllRows), when the store has them. */
type RowSource = (after: number, maxCount: number, filter: ReadFilter | undefined) => RowTuple[];
function rowSource(store: EventStore): RowSource | null {
  const s = store as EventStore & { readAllRows?: (o: { after: number; maxCount: number; filter?: ReadFilter }) => RowTuple[] };
  return typeof s.readAllRows === 'function' ? (after, maxCount, filter) => s.readAllRows!({ after, maxCount, filter }) : null;
}

/** The path of the embedded store's file (undefined: another store, or in memory). */
function sqlitePath(store: EventStore): string | undefined {
  const db = (store as { kind?: string; db?: { name?: string; memory?: boolean } }).db;
  if ((store as { kind?: string }).kind !== 'sqlite' || !db) return undefined;
  return db.name && db.name !== ':memory:' && !db.memory ? db.name : undefined;
}

const fileOf = (db: Database.Database | undefined): string | null | undefined =>
  db === undefined ? null : (db.memory || !db.name || db.name === ':memory:' ? undefined : db.name);

/**
 * Rebuilds every projection of `projections` from zero in one pass over the log (or two passes at once, on two
 * threads; see `planThreads`). Each one gets its own database (`targets[name]`, or in memory), its setup, its bulk
 * loader when it has one, its events (its filter, up to its `until`) applied in one transaction per batch, its
 * checkpoint row and its digest. Every result carries the time of the whole rebuild.
 */
export async function rebuildAllFromZero(store: EventStore, projections: BulkCapable[], options: RebuildAllOptions = {}): Promise<Rebuilt[]> {
  const started = process.hrtime.bigint();
  const head = await store.headPosition();
  const until: Record<string, number> = Object.fromEntries(projections.map((p) => [p.name,
    typeof options.until === 'number' ? options.until : options.until?.[p.name] ?? head]));
  const path = sqlitePath(store);
  const wanted = options.threads ?? (availableParallelism() >= 2 && Math.max(0, ...Object.values(until)) >= MIN_EVENTS_FOR_TWO_THREADS ? 2 : 1);
  const plan = wanted === 2 && path ? planThreads(projections, options.targets) : null;
  const results = plan
    ? await rebuildOnTwoThreads(store, path!, projections, plan, until, options)
    : await rebuildHere(store, projections, { ...options, until });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  for (const r of results) r.seconds = seconds;
  return results;
}

/**
 * How to split `projections` over two threads: which go to the second one (null: one thread is better, or they
 * cannot be split). A projection can move when the worker can import it (its module is known: discovered under
 * projections/) and its target is a file or none (an in-memory database cannot be handed to another thread). The
 * split minimises the larger of the two threads' estimated costs per event of the log, as fractions of a raw read +
 * parse: reading and decoding (1 for whole events, 0.85 for data and times, 0.5 for metadata only; a projection with
 * a filter and no declared cost takes a small part of the log, so its decoding counts a tenth), plus each
 * projection's `rebuildCost` (default 0.5, or 0.1 with a filter); the second thread also pays its start.
 * Exhaustive over the movable projections (a handful).
 */
export function planThreads(projections: BulkCapable[], targets?: Record<string, Database.Database>): Set<string> | null {
  if (projections.length < 2) return null;
  const movable = projections.filter((p) => moduleOf(p) !== undefined && fileOf(targets?.[p.name]) !== undefined);
  if (movable.length === 0 || movable.length > 12) return null;
  const level = (p: BulkCapable) => (p.reads === 'metadata' ? 0.5 : p.reads === 'data+times' ? 0.85 : 1) * (p.filter && p.rebuildCost === undefined ? 0.1 : 1);
  const decodeCost = (share: BulkCapable[]) => {
    const mixed = share.some((p) => p.reads === 'metadata') && share.some((p) => p.reads === 'data+times');
    return mixed ? 1 : Math.max(0, ...share.map(level));
  };
  const cost = (share: BulkCapable[]) => decodeCost(share) + share.reduce((sum, p) => sum + (p.rebuildCost ?? (p.filter ? 0.1 : 0.5)), 0);
  const START = 0.1;
  let best: { worker: BulkCapable[]; cost: number } | null = null;
  for (let mask = 1; mask < 1 << movable.length; mask++) {
    const worker = movable.filter((_, i) => mask & (1 << i));
    const here = projections.filter((p) => !worker.includes(p));
    if (here.length === 0) continue;
    const c = Math.max(cost(worker) + START, cost(here));
    if (best === null || c < best.cost - 1e-9) best = { worker, cost: c };
  }
  if (best === null || best.cost >= cost(projections) - 1e-9) return null;
  return new Set(best.worker.map((p) => p.name));
}

async function rebuildOnTwoThreads(store: EventStore, path: string, projections: BulkCapable[], plan: Set<string>, until: Record<string, number>,
  options: RebuildAllOptions): Promise<Rebuilt[]> {
  const there = projections.filter((p) => plan.has(p.name));
  const here = projections.filter((p) => !plan.has(p.name));
  const end = Math.max(0, ...Object.values(until));
  const input: WorkerInput = {
    path,
    batchSize: options.batchSize,
    upcasts: Object.fromEntries(eventDefinitions().filter((d) => d.version > 1).map((d) => [d.type, latestVersion(d.type)!])),
    projections: there.map((p) => ({ name: p.name, module: moduleOf(p)!, until: until[p.name], file: fileOf(options.targets?.[p.name]) ?? null })),
  };
  const warm = await takePreparedThread();
  const worker = warm ?? new Worker(WORKER_URL, { workerData: input });
  if (warm) warm.postMessage(input);
  // progress: the slower of the two passes (a pass that is done no longer holds the other back)
  const progress = { here: [0, 0], there: [0, 0] };
  const report = () => options.onProgress?.(Math.min(progress.here[0], progress.there[0]), end, Math.min(progress.here[1], progress.there[1]));
  const fromWorker = new Promise<Extract<WorkerMessage, { results: unknown }>['results']>((resolve, reject) => {
    worker.on('message', (m: WorkerMessage) => {
      if ('progress' in m) { progress.there = m.progress; report(); } else if ('results' in m) resolve(m.results);
      else reject(Object.assign(new Error(`rebuild thread: ${m.error.message}`), { stack: m.error.stack }));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the rebuild thread exited with code ${code} before its results`)));
  });
  fromWorker.catch(() => {}); // awaited below; a failure of the worker must not go unhandled while this thread works
  let mine: Rebuilt[];
  try {
    mine = await rebuildHere(store, here, {
      ...options, until, yieldPerBatch: options.onProgress !== undefined,
      onProgress: options.onProgress ? (position, _end, events) => { progress.here = [position, events]; report(); } : undefined,
    });
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  const read = progress.here[1];
  progress.here = [end, Number.MAX_SAFE_INTEGER];
  let theirs;
  try { theirs = await fromWorker; } finally { await worker.terminate(); }
  options.onProgress?.(end, end, Math.max(read, progress.there[1]));
  const byName = new Map<string, Rebuilt>(mine.map((r) => [r.name, r]));
  for (const r of theirs) {
    const db = options.targets?.[r.name] ?? new Database(Buffer.from(r.image!.buffer, r.image!.byteOffset, r.image!.byteLength));
    byName.set(r.name, { name: r.name, digest: r.digest, position: r.position, events: r.events, seconds: r.seconds, db });
  }
  return projections.map((p) => byName.get(p.name)!);
}

/** Projections one pass can serve: each has a bit in a 31-bit mask per event. */
const MAX_PER_PASS = 31;

/** The one-thread rebuild: one pass over the log for up to 31 projections (more: one pass per 31). */
async function rebuildHere(store: EventStore, projections: BulkCapable[], options: RebuildAllOptions & { until: Record<string, number>; yieldPerBatch?: boolean }): Promise<Rebuilt[]> {
  if (projections.length > MAX_PER_PASS) {
    const out: Rebuilt[] = [];
    for (let i = 0; i < projections.length; i += MAX_PER_PASS) out.push(...await rebuildHere(store, projections.slice(i, i + MAX_PER_PASS), options));
    return out;
  }
  const batchSize = options.batchSize ?? 500;
  const work = projections.map((p, j) => {
    const db = options.targets?.[p.name] ?? new Database(':memory:');
    p.setup(db);
    const loader: BulkLoader = typeof p.bulk === 'function' ? p.bulk(db) : { apply: (e) => p.apply(db, e), flush: () => {} };
    const bit = 1 << j;
    // events[i] is decoded for every projection whose bit is set in masks[i]
    const applyBatch = db.transaction((events: (StoredEvent | undefined)[], masks: Int32Array, n: number) => {
      let k = 0;
      for (let i = 0; i < n; i++) if (masks[i] & bit) { loader.apply(events[i]!); k++; }
      return k;
    });
    return { p, db, loader, bit, until: options.until[p.name], accepts: projections.length === 1 ? null : filterPredicate(p.filter), applyBatch, events: 0 };
  });
  // the projections by what they read: an event is decoded as far as those that take it need
  const metaOnly = work.reduce((m, w) => (w.p.reads === 'metadata' ? m | w.bit : m), 0);
  const dataTimes = work.reduce((m, w) => (w.p.reads === 'data+times' ? m | w.bit : m), 0);
  const full = work.reduce((m, w) => (w.p.reads === undefined ? m | w.bit : m), 0);
  const decode = (m: number, r: RowTuple): StoredEvent => {
    if ((m & full) === 0) {
      if ((m & dataTimes) === 0) return decodeMetadataOnly(r[0], r[1], r[2], r[3], r[4], r[5]);
      if ((m & metaOnly) === 0) {
        const e = decodeDataAndTimes(r[0], r[1], r[2], r[3], r[4], r[5]);
        if (e !== null) return e;
      }
    }
    return decodeRow({ position: r[0], stream: r[1], revision: r[2], type: r[3], body: r[4], hash: r[5] });
  };
  const end = Math.max(0, ...work.map((w) => w.until));
  const filter = unionFilter(projections);
  const rows = rowSource(store);
  const masks = new Int32Array(batchSize);
  const events: (StoredEvent | undefined)[] = new Array(batchSize);
  /** Which projections take the event (its bits), by position, stream and type. */
  const maskOf = (position: number, streamId: string, type: string): number => {
    const dash = streamId.indexOf('-');
    const category = dash > 0 ? streamId.slice(0, dash) : undefined;
    let m = 0;
    for (const w of work) if (position <= w.until && (w.accepts === null || w.accepts(streamId, type, category))) m |= w.bit;
    return m;
  };
  let position = 0;
  let read = 0;
  while (position < end) {
    let n: number;
    let last: number;
    let any = 0;
    if (rows !== null) {
      // rows of the embedded store: each decoded only as far as the projections that take it need
      const batch = rows(position, batchSize, filter);
      n = batch.length;
      last = n ? batch[n - 1][0] : end;
      for (let i = 0; i < n; i++) {
        const r = batch[i];
        const m = maskOf(r[0], r[1], r[3]);
        masks[i] = m;
        any |= m;
        events[i] = m === 0 ? undefined : decode(m, r);
      }
    } else {
      const batch = await store.readAll({ after: position, maxCount: batchSize, filter });
      n = batch.length;
      last = n ? batch[n - 1].position : end;
      for (let i = 0; i < n; i++) {
        const e = batch[i];
        masks[i] = maskOf(e.position, e.streamId, e.type);
        any |= masks[i];
        events[i] = e;
      }
    }
    for (const w of work) if (any & w.bit) w.events += w.applyBatch(events, masks, n);
    events.fill(undefined, 0, n); // let the batch's events die young
    read += n;
    position = n < batchSize || last >= end ? end : last;
    options.onProgress?.(position, end, read);
    // with a second thread, a turn of the event loop per batch lets its progress messages in (~1 µs each)
    if (options.yieldPerBatch) await new Promise((resolve) => setImmediate(resolve));
  }
  return work.map((w) => {
    w.db.transaction(() => w.loader.flush())();
    w.db.exec(CHECKPOINTS);
    w.db.prepare('INSERT OR REPLACE INTO projection_checkpoints (name, version, position, updated_at) VALUES (?, ?, ?, ?)')
      .run(w.p.name, w.p.version, w.until, new Date().toISOString());
    return { name: w.p.name, digest: digestOf(w.db, w.p), position: w.until, events: w.events, seconds: 0, db: w.db };
  });
}
