/**
 * The `audit` read model: an index of the whole log by what operators look for — category, actor, tenant and
 * correlation id — plus a coarse time index, so `ledger audit log` and GraphQL `auditLog` page through any filter
 * without reading the log. It holds no event bodies: it names positions, and the events are read from the store
 * (the log stays the only source of what happened; every candidate is re-checked against its stored metadata).
 *
 * Shape (posting lists, not one row per event, so that a rebuild of a million events writes ~60 k rows):
 *   audit_postings(key, first_position, last_position, count, positions)
 *       key = "c:<category>" | "a:<actorKind>:<actorId>" | "t:<tenantId>" | "r:<bucket>" (correlation ids, many and
 *       short-lived, share 4096 buckets by hash: a correlation query reads its bucket and keeps the events that
 *       carry the id);
 *       each row is a chunk of up to CHUNK positions of that key, in position order; `positions` lists them as
 *       offsets from first_position ("0,3,17").
 *   audit_time(first_position, last_position, count, min_recorded_at, max_recorded_at)
 *       chunks of CHUNK consecutive events with the range of their recordedAt (times are nearly monotonic in
 *       position, never assumed to be: a time filter reads the chunks whose range meets it and checks each event).
 * Chunks fill in position order, so the rows depend only on the log: live projection and a rebuild from zero give
 * the same rows and the same digest.
 *
 * `apply` is idempotent: an event at or below a chunk's last_position was applied already (every applier goes in
 * position order). So the CLI may catch the index up before a query while `ledger serve` projects it too.
 * `bulk(db)` is the same logic for a rebuild into an empty database, with the open chunks held in memory and
 * written when full (and all of them at `flush`): ~20× cheaper per event than the SQL path.
 */
import type Database from 'better-sqlite3';
import type { StoredEvent } from '../core/event-store/port.ts';
import type { SqliteProjection } from './runner.ts';

export const AUDIT_POSTINGS = 'audit_postings';
export const AUDIT_TIME = 'audit_time';
/** Positions per chunk. */
export const CHUNK = 256;

/** Correlation ids are many (one per request) and short-lived: they share CORRELATION_BUCKETS posting lists. */
export const CORRELATION_BUCKETS = 4096;

/** The bucket of a correlation id: 32-bit FNV-1a over its UTF-16 code units, modulo CORRELATION_BUCKETS. */
export function correlationBucket(id: string): number {
  let h = -2128831035; // 0x811c9dc5 as a 32-bit integer (a small integer throughout: ~25 % faster than from the heap number)
  const n = id.length;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % CORRELATION_BUCKETS;
}

const bucketKeys = Array.from({ length: CORRELATION_BUCKETS }, (_, b) => `r:${b.toString(16).padStart(3, '0')}`);
export const correlationKey = (id: string): string => bucketKeys[correlationBucket(id)];
export const categoryKey = (category: string): string => `c:${category}`;
export const actorKey = (kind: string, id: string): string => `a:${kind}:${id}`;
export const tenantKey = (tenantId: string): string => `t:${tenantId}`;

/** The index keys of one event. */
export function auditKeys(e: StoredEvent): string[] {
  const m = e.metadata;
  const s = e.streamId;
  const dash = s.indexOf('-');
  const keys = [categoryKey(dash < 0 ? s : s.slice(0, dash)), actorKey(m.actor.kind, m.actor.id), correlationKey(m.correlationId)];
  if (m.tenantId !== undefined) keys.push(tenantKey(m.tenantId));
  return keys;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS ${AUDIT_POSTINGS} (
    key            TEXT    NOT NULL,
    first_position INTEGER NOT NULL,
    last_position  INTEGER NOT NULL,
    count          INTEGER NOT NULL,
    positions      TEXT    NOT NULL,
    PRIMARY KEY (key, first_position)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS ${AUDIT_TIME} (
    first_position  INTEGER PRIMARY KEY,
    last_position   INTEGER NOT NULL,
    count           INTEGER NOT NULL,
    min_recorded_at TEXT    NOT NULL,
    max_recorded_at TEXT    NOT NULL);
`;

type Stmts = ReturnType<typeof prepare>;
const statements = new WeakMap<Database.Database, Stmts>();
function prepare(db: Database.Database) {
  return {
    lastChunk: db.prepare(`SELECT first_position, last_position, count FROM ${AUDIT_POSTINGS} WHERE key = ? ORDER BY first_position DESC LIMIT 1`).raw(true),
    newChunk: db.prepare(`INSERT INTO ${AUDIT_POSTINGS} (key, first_position, last_position, count, positions) VALUES (?, ?, ?, ?, ?)`),
    extend: db.prepare(`UPDATE ${AUDIT_POSTINGS} SET positions = positions || ',' || ?, last_position = ?, count = count + 1 WHERE key = ? AND first_position = ?`),
    replace: db.prepare(`INSERT OR REPLACE INTO ${AUDIT_POSTINGS} (key, first_position, last_position, count, positions) VALUES (?, ?, ?, ?, ?)`),
    lastTime: db.prepare(`SELECT first_position, last_position, count, min_recorded_at, max_recorded_at FROM ${AUDIT_TIME} ORDER BY first_position DESC LIMIT 1`).raw(true),
    newTime: db.prepare(`INSERT INTO ${AUDIT_TIME} (first_position, last_position, count, min_recorded_at, max_recorded_at) VALUES (?, ?, 1, ?, ?)`),
    extendTime: db.prepare(`UPDATE ${AUDIT_TIME} SET last_position = ?, count = count + 1, min_recorded_at = min(min_recorded_at, ?), max_recorded_at = max(max_recorded_at, ?) WHERE first_position = ?`),
    replaceTime: db.prepare(`INSERT OR REPLACE INTO ${AUDIT_TIME} (first_position, last_position, count, min_recorded_at, max_recorded_at) VALUES (?, ?, ?, ?, ?)`),
  };
}
const stmts = (db: Database.Database): Stmts => {
  let s = statements.get(db);
  if (!s) { s = prepare(db); statements.set(db, s); }
  return s;
};

function applyLive(db: Database.Database, e: StoredEvent): void {
  const s = stmts(db);
  const p = e.position;
  const t = e.metadata.recordedAt;
  const time = s.lastTime.get() as [number, number, number, string, string] | undefined;
  if (time && time[1] >= p) return; // applied already (the time index holds every event)
  if (!time || time[2] >= CHUNK) s.newTime.run(p, p, t, t);
  else s.extendTime.run(p, t, t, time[0]);
  for (const key of auditKeys(e)) {
    const last = s.lastChunk.get(key) as [number, number, number] | undefined;
    if (last && last[1] >= p) continue;
    if (!last || last[2] >= CHUNK) s.newChunk.run(key, p, p, 1, '0');
    else s.extend.run(String(p - last[0]), p, key, last[0]);
  }
}

interface OpenChunk { key: string; first: number; last: number; offsets: number[]; written?: boolean }

/**
 * The bulk loader of a rebuild into an empty database: the same rows as `apply`, with open chunks kept in memory
 * (one map per kind of key, keyed by the strings the decoder produced, so no key string is built per event).
 * `apply` must run inside a transaction (it writes chunks as they fill); `flush()` writes every open chunk (call it
 * at the end, inside a transaction). Memory is bounded: past `maxOpen` open chunks they are all written and the
 * loader continues from the rows, like the SQL path.
 */
export function auditBulkLoader(db: Database.Database, maxOpen = 1_000_000) {
  const s = stmts(db);
  const selectPositions = db.prepare(`SELECT positions FROM ${AUDIT_POSTINGS} WHERE key = ? AND first_position = ?`).pluck();
  // correlation buckets by number (a small-integer key hashes for free), the others by the decoder's strings
  const kinds = { c: new Map<string, OpenChunk>(), t: new Map<string, OpenChunk>(), r: new Map<number, OpenChunk>(), a: new Map<string, Map<string, OpenChunk>>() };
  let openCount = 0;
  let spilled = false;
  let time: { first: number; last: number; count: number; min: string; max: string } | undefined;

  const write = (c: OpenChunk) => { s.replace.run(c.key, c.first, c.last, c.offsets.length, c.offsets.join(',')); c.written = true; };
  const ROWS = 100;
  const insertMany = db.prepare(`INSERT INTO ${AUDIT_POSTINGS} (key, first_position, last_position, count, positions) VALUES ${Array(ROWS).fill('(?, ?, ?, ?, ?)').join(', ')}`);
  /** Writes chunks, many rows per statement for those never written before. */
  const writeAll = (chunks: Iterable<OpenChunk>) => {
    const params: unknown[] = [];
    for (const c of chunks) {
      if (c.written) { write(c); continue; }
      params.push(c.key, c.first, c.last, c.offsets.length, c.offsets.join(','));
      c.written = true;
      if (params.length === ROWS * 5) { insertMany.run(params); params.length = 0; }
    }
    for (let i = 0; i < params.length; i += 5) s.replace.run(params.slice(i, i + 5));
  };
  const writeTime = () => { if (time) s.replaceTime.run(time.first, time.last, time.count, time.min, time.max); };
  const reopen = (key: string): OpenChunk | undefined => {
    const last = s.lastChunk.get(key) as [number, number, number] | undefined;
    if (!last || last[2] >= CHUNK) return undefined;
    return { key, first: last[0], last: last[1], offsets: (selectPositions.get(key, last[0]) as string).split(',').map(Number) };
  };
  const add = <K extends string | number>(map: Map<K, OpenChunk>, id: K, prefix: string, p: number, fullKey?: string) => {
    let c = map.get(id);
    if (c === undefined) {
      const key = fullKey ?? prefix + id;
      if (spilled) c = reopen(key);
      if (c === undefined) { map.set(id, { key, first: p, last: p, offsets: [0] }); openCount++; return; }
      map.set(id, c);
      openCount++;
    }
    if (c.last >= p) return; // applied already
    if (c.offsets.length >= CHUNK) {
      write(c);
      map.set(id, { key: c.key, first: p, last: p, offsets: [0] });
      return;
    }
    c.offsets.push(p - c.first);
    c.last = p;
  };
  const all = (): Map<unknown, OpenChunk>[] => [kinds.c, kinds.t, kinds.r, ...kinds.a.values()];
  // the last event's category and actor kind: consecutive events mostly share them, so their strings (already
  // hashed) are reused instead of slicing and hashing new ones
  let lastCategory = '';
  let lastCategoryPrefix = '\u0000';
  let lastKind = '';
  let lastActors: Map<string, OpenChunk> | undefined;
  let lastActorPrefix = '';

  return {
    apply(e: StoredEvent): void {
      const p = e.position;
      const m = e.metadata;
      const t = m.recordedAt;
      if (time === undefined && spilled) {
        const r = s.lastTime.get() as [number, number, number, string, string] | undefined;
        if (r && r[2] < CHUNK) time = { first: r[0], last: r[1], count: r[2], min: r[3], max: r[4] };
      }
      if (time !== undefined && time.last >= p) return;
      if (time === undefined || time.count >= CHUNK) {
        writeTime();
        time = { first: p, last: p, count: 1, min: t, max: t };
      } else {
        time.last = p; time.count++;
        if (t < time.min) time.min = t;
        if (t > time.max) time.max = t;
      }
      const streamId = e.streamId;
      if (!streamId.startsWith(lastCategoryPrefix)) {
        const dash = streamId.indexOf('-');
        lastCategory = dash < 0 ? streamId : streamId.slice(0, dash);
        lastCategoryPrefix = dash < 0 ? '\u0000' : `${lastCategory}-`; // a category never holds '-': its prefix is exact
      }
      add(kinds.c, lastCategory, 'c:', p);
      const kind = m.actor.kind;
      if (kind !== lastKind || lastActors === undefined) {
        lastActors = kinds.a.get(kind);
        if (lastActors === undefined) { lastActors = new Map(); kinds.a.set(kind, lastActors); }
        lastKind = kind;
        lastActorPrefix = `a:${kind}:`;
      }
      add(lastActors, m.actor.id, lastActorPrefix, p);
      const bucket = correlationBucket(m.correlationId);
      add(kinds.r, bucket, '', p, bucketKeys[bucket]);
      if (m.tenantId !== undefined) add(kinds.t, m.tenantId, 't:', p);
      if (openCount > maxOpen) {
        for (const map of all()) { writeAll(map.values()); map.clear(); }
        openCount = 0;
        spilled = true;
      }
    },
    /** Writes every open chunk (they stay open: more events may follow). */
    flush(): void {
      const chunks: OpenChunk[] = [];
      for (const map of all()) for (const c of map.values()) chunks.push(c);
      chunks.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.first - b.first));
      writeAll(chunks);
      writeTime();
    },
  };
}

export const auditProjection: SqliteProjection & { bulk: typeof auditBulkLoader; idempotent: true; reads: 'metadata'; rebuildCost: number } = {
  name: 'audit',
  version: 1,
  /** Applying an event again changes nothing (see `apply`). */
  idempotent: true,
  /** It never reads an event's data: a rebuild may parse only the metadata (core/audit/rebuild.ts). */
  reads: 'metadata',
  /** Per event, beyond reading and decoding, as a fraction of a raw read + parse (`ledger bench replay`). */
  rebuildCost: 0.4,
  tables: [
    { name: AUDIT_POSTINGS, orderBy: 'key, first_position' },
    { name: AUDIT_TIME, orderBy: 'first_position' },
  ],
  setup(db) { db.exec(SCHEMA); },
  apply: applyLive,
  bulk: auditBulkLoader,
};
