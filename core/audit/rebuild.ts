/**
 * Rebuilding read models from zero, each into a fresh database of its own (in memory by default), with the same
 * reads, decoding and digest as the runner's `rebuildProjection`, and two additions that make rebuilds fast:
 *
 *  - a projection that offers a bulk loader (`bulk(db) → { apply(event), flush() }`, producing the same rows as its
 *    `apply`) is loaded through it, since a rebuild writes into an empty database of its own; the loader is flushed
 *    after the last batch, before the digest is taken;
 *  - several read models are rebuilt in ONE pass over the log (`rebuildAllFromZero`): reading and decoding the log
 *    costs more than most projections' own work, so it is paid once and each event is handed to every projection
 *    whose filter accepts it (the same filter semantics as the store's `readAll`).
 */
import Database from 'better-sqlite3';
import type { EventStore, ReadFilter, StoredEvent } from '../event-store/port.ts';
import { digestOf, type RebuildResult, type SqliteProjection } from '../../projections/runner.ts';

export interface BulkLoader { apply(event: StoredEvent): void; flush(): void }
export type BulkCapable = SqliteProjection & { bulk?: (db: Database.Database) => BulkLoader };

export interface RebuildOptions {
  /** Where to build (a fresh database); in memory by default. */
  target?: Database.Database;
  /** Last position to include (default: the head when the rebuild starts). */
  until?: number;
  batchSize?: number;
  onProgress?: (position: number, until: number, events: number) => void;
}

export interface RebuildAllOptions {
  /** Where to build each projection (a fresh database per projection); in memory when not named. */
  targets?: Record<string, Database.Database>;
  /** Last position to include: one for all, or per projection name (default: the head when the rebuild starts). */
  until?: number | Record<string, number>;
  /** Events read per batch (default 500: small batches die young, so the garbage collector has less to move). */
  batchSize?: number;
  /** After each batch: the pass's position, where it stops, and the events read so far. */
  onProgress?: (position: number, until: number, events: number) => void;
}

export type Rebuilt = RebuildResult & { db: Database.Database };

const CHECKPOINTS = `CREATE TABLE IF NOT EXISTS projection_checkpoints (
  name TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL, updated_at TEXT NOT NULL)`;

export async function rebuildFromZero(store: EventStore, p: BulkCapable, options: RebuildOptions = {}): Promise<Rebuilt> {
  const [result] = await rebuildAllFromZero(store, [p], {
    targets: options.target ? { [p.name]: options.target } : undefined,
    until: options.until,
    batchSize: options.batchSize,
    onProgress: options.onProgress,
  });
  return result;
}

/** `readAll`'s filter as a predicate: types, then categories (`<C>-` prefixes) or stream prefixes. */
export function filterPredicate(filter: ReadFilter | undefined): ((streamId: string, type: string) => boolean) | null {
  if (!filter) return null;
  const types = filter.eventTypes?.length ? new Set(filter.eventTypes) : null;
  const prefixes = [...(filter.categories ?? []).map((c) => `${c}-`), ...(filter.streamPrefixes ?? [])];
  if (!types && prefixes.length === 0) return null;
  // Stream names have exactly one '-' (schema/envelope.ts), so a category prefix `<C>-` is a lookup of the part
  // before it; other prefixes are compared as strings.
  const categories = new Set((filter.categories ?? []).filter((c) => !c.includes('-')));
  const others = prefixes.filter((p) => !(p.endsWith('-') && categories.has(p.slice(0, -1))));
  return (streamId, type) => {
    if (types && !types.has(type)) return false;
    if (prefixes.length === 0) return true;
    const dash = streamId.indexOf('-');
    if (dash > 0 && categories.has(streamId.slice(0, dash))) return true;
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
 * Rebuilds every projection of `projections` from zero in one pass over the log. Each one gets its own database
 * (`targets[name]`, or in memory), its setup, its bulk loader when it has one, its events (its filter, up to its
 * `until`) applied in one transaction per batch, its checkpoint row and its digest.
 */
export async function rebuildAllFromZero(store: EventStore, projections: BulkCapable[], options: RebuildAllOptions = {}): Promise<Rebuilt[]> {
  const started = process.hrtime.bigint();
  const head = await store.headPosition();
  const untilOf = (p: SqliteProjection) => (typeof options.until === 'number' ? options.until : options.until?.[p.name] ?? head);
  const batchSize = options.batchSize ?? 500;
  const work = projections.map((p) => {
    const db = options.targets?.[p.name] ?? new Database(':memory:');
    p.setup(db);
    const loader: BulkLoader = typeof p.bulk === 'function' ? p.bulk(db) : { apply: (e) => p.apply(db, e), flush: () => {} };
    const accepts = projections.length === 1 ? null : filterPredicate(p.filter);
    const until = untilOf(p);
    const applyBatch = db.transaction((events: StoredEvent[]) => {
      let n = 0;
      for (const e of events) {
        if (e.position > until) break;
        if (accepts !== null && !accepts(e.streamId, e.type)) continue;
        loader.apply(e);
        n++;
      }
      return n;
    });
    return { p, db, loader, until, applyBatch, events: 0 };
  });
  const end = Math.max(0, ...work.map((w) => w.until));
  const filter = unionFilter(projections);
  let position = 0;
  let read = 0;
  while (position < end) {
    const batch = await store.readAll({ after: position, maxCount: batchSize, filter });
    for (const w of work) if (position < w.until) w.events += w.applyBatch(batch);
    read += batch.length;
    position = batch.length < batchSize || batch[batch.length - 1].position >= end ? end : batch[batch.length - 1].position;
    options.onProgress?.(position, end, read);
  }
  const digests = work.map((w) => {
    w.db.transaction(() => w.loader.flush())();
    w.db.exec(CHECKPOINTS);
    w.db.prepare('INSERT OR REPLACE INTO projection_checkpoints (name, version, position, updated_at) VALUES (?, ?, ?, ?)')
      .run(w.p.name, w.p.version, w.until, new Date().toISOString());
    return digestOf(w.db, w.p);
  });
  // The pass is shared: every result carries the time of the whole rebuild (read, apply, flush, digests).
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return work.map((w, i) => ({ name: w.p.name, digest: digests[i], position: w.until, events: w.events, seconds, db: w.db }));
}
