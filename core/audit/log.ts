/**
 * The audit timeline: events of the whole log filtered by stream, category, tenant, actor, correlation id and recorded
 * time, oldest first, paged by position. Used by `ledger audit log` and GraphQL `auditLog`.
 *
 * How a page is found: the most selective filter drives (a stream's own events, or a posting list of the `audit`
 * index, or the index's time chunks, or the whole log when nothing narrows it); each candidate event is read from
 * the store and checked against every filter (so the index only has to be complete, never exact); the log after
 * the index's checkpoint is scanned, so a lagging index never hides recent events. Work per page is bounded
 * (`maxScan` candidates): a page may come back short with a cursor to continue from.
 */
import type Database from 'better-sqlite3';
import type { Actor } from '../../schema/envelope.ts';
import { categoryOf, STREAM_NAME } from '../../schema/envelope.ts';
import type { EventStore, StoredEvent } from '../event-store/port.ts';
import { decodeRow, SqliteEventStore } from '../event-store/sqlite.ts';
import {
  actorKey, AUDIT_POSTINGS, AUDIT_TIME, auditProjection, categoryKey, correlationKey, tenantKey,
} from '../../projections/audit.ts';
import { summarize } from './summary.ts';

export interface AuditFilter {
  /** A whole stream name (`Host-h_1`). */
  stream?: string;
  /** A stream category (`Host`). */
  category?: string;
  /** A tenant id (events carrying `tenantId`). */
  tenant?: string;
  /** `kind:id` (`operator:ops_ann`) or a bare id (any kind). */
  actor?: string;
  correlation?: string;
  /** Recorded at or after (UTC ISO, canonical form). */
  from?: string;
  /** Recorded before (half-open). */
  to?: string;
}

export interface AuditEntry {
  position: number;
  recordedAt: string;
  occurredAt: string;
  actor: Actor;
  tenantId?: string;
  streamId: string;
  revision: number;
  type: string;
  summary: string;
  eventId: string;
  correlationId: string;
  causationId?: string;
  commandId?: string;
  data: unknown;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `after` for the next page; null when nothing follows. */
  nextCursor: number | null;
  /** How the candidates were found. */
  via: 'stream' | 'index' | 'time-index' | 'log';
  /** Position up to which the index was used; later events were scanned from the log. */
  indexedThrough: number;
  /** Candidate events read and checked. */
  examined: number;
}

export interface AuditQueryOptions {
  /** Entries per page (default 50, at most 1000). */
  limit?: number;
  /** Start after this position (a cursor). */
  after?: number;
  /** Most candidates read for one page (default 20 000). */
  maxScan?: number;
}

export const MAX_LIMIT = 1000;
const ACTOR_KINDS = ['tenant', 'operator', 'system', 'agent'] as const;

/** Checks the filter's values; throws an Error naming the wrong one. */
export function validateFilter(f: AuditFilter): AuditFilter {
  if (f.stream !== undefined && !STREAM_NAME.test(f.stream)) throw new Error(`stream ${JSON.stringify(f.stream)}: expected <Category>-<id>, e.g. Host-h_1`);
  if (f.category !== undefined && !/^[A-Za-z][A-Za-z0-9]*$/.test(f.category)) throw new Error(`category ${JSON.stringify(f.category)}: letters and digits, e.g. Host`);
  if (f.actor !== undefined) {
    const colon = f.actor.indexOf(':');
    if (f.actor === '' || (colon >= 0 && !(ACTOR_KINDS as readonly string[]).includes(f.actor.slice(0, colon)))) {
      throw new Error(`actor ${JSON.stringify(f.actor)}: expected <kind>:<id> with kind one of ${ACTOR_KINDS.join(', ')}, or a bare id`);
    }
  }
  for (const k of ['tenant', 'correlation'] as const) if (f[k] !== undefined && f[k] === '') throw new Error(`${k} must not be empty`);
  if (f.from !== undefined && f.to !== undefined && f.from >= f.to) throw new Error(`the time window is empty: from ${f.from} is not before to ${f.to}`);
  return f;
}

/** True when the event passes every filter. */
export function matches(e: StoredEvent, f: AuditFilter): boolean {
  const m = e.metadata;
  if (f.stream !== undefined && e.streamId !== f.stream) return false;
  if (f.category !== undefined && categoryOf(e.streamId) !== f.category) return false;
  if (f.tenant !== undefined && m.tenantId !== f.tenant) return false;
  if (f.correlation !== undefined && m.correlationId !== f.correlation) return false;
  if (f.actor !== undefined) {
    const colon = f.actor.indexOf(':');
    if (colon < 0 ? m.actor.id !== f.actor : `${m.actor.kind}:${m.actor.id}` !== f.actor) return false;
  }
  if (f.from !== undefined && m.recordedAt < f.from) return false;
  if (f.to !== undefined && m.recordedAt >= f.to) return false;
  return true;
}

export function toEntry(e: StoredEvent): AuditEntry {
  const m = e.metadata;
  return {
    position: e.position, recordedAt: m.recordedAt, occurredAt: m.occurredAt, actor: m.actor,
    ...(m.tenantId !== undefined && { tenantId: m.tenantId }),
    streamId: e.streamId, revision: e.revision, type: e.type, summary: summarize(e),
    eventId: m.eventId, correlationId: m.correlationId,
    ...(m.causationId !== undefined && { causationId: m.causationId }),
    ...(m.commandId !== undefined && { commandId: m.commandId }),
    data: e.data,
  };
}

/** Reads single events by position (the SQLite store by primary key; others through readAll). */
export function eventReader(store: EventStore): (position: number) => Promise<StoredEvent | undefined> {
  if (store instanceof SqliteEventStore) {
    const stmt = store.db.prepare('SELECT position, stream, revision, type, body, hash FROM events WHERE position = ?');
    return async (p) => {
      const row = stmt.get(p) as Parameters<typeof decodeRow>[0] | undefined;
      return row ? decodeRow(row) : undefined;
    };
  }
  return async (p) => {
    const [e] = await store.readAll({ after: p - 1, maxCount: 1 });
    return e && e.position === p ? e : undefined;
  };
}

/** The position the `audit` index has applied (0 when it does not exist or has another version). */
export function auditIndexPosition(db: Database.Database): number {
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(AUDIT_POSTINGS);
  if (!hasTable) return 0;
  const row = db.prepare('SELECT version, position FROM projection_checkpoints WHERE name = ?').get(auditProjection.name) as { version: number; position: number } | undefined;
  return row && row.version === auditProjection.version ? row.position : 0;
}

/** Ascending positions > after of one index key, up to `through`. */
async function* posting(db: Database.Database, key: string, after: number, through: number): AsyncGenerator<number> {
  const start = db.prepare(`SELECT max(first_position) FROM ${AUDIT_POSTINGS} WHERE key = ? AND first_position <= ?`).pluck().get(key, after) as number | null;
  const page = db.prepare(`SELECT first_position, positions FROM ${AUDIT_POSTINGS} WHERE key = ? AND first_position >= ? AND first_position <= ? ORDER BY first_position LIMIT 64`).raw(true);
  let from = start ?? 0;
  for (;;) {
    const rows = page.all(key, from, through) as [number, string][];
    for (const [first, text] of rows) {
      for (const off of text.split(',')) {
        const p = first + Number(off);
        if (p > through) return;
        if (p > after) yield p;
      }
    }
    if (rows.length < 64) return;
    from = rows[rows.length - 1][0] + 1;
  }
}

async function* merge(sources: AsyncGenerator<number>[]): AsyncGenerator<number> {
  const heads = await Promise.all(sources.map(async (s) => ({ s, v: await s.next() })));
  let live = heads.filter((h) => !h.v.done);
  while (live.length) {
    let min = live[0];
    for (const h of live) if ((h.v.value as number) < (min.v.value as number)) min = h;
    const value = min.v.value as number;
    yield value;
    for (const h of live) if (h.v.value === value) h.v = await h.s.next(); // drop duplicates
    live = live.filter((h) => !h.v.done);
  }
}

const keyCount = (db: Database.Database, key: string): number =>
  db.prepare(`SELECT coalesce(sum(count), 0) FROM ${AUDIT_POSTINGS} WHERE key = ?`).pluck().get(key) as number;

/** Positions of the time chunks whose recorded-time range meets [from, to). */
async function* timeChunks(db: Database.Database, f: AuditFilter, after: number, through: number): AsyncGenerator<number> {
  const stmt = db.prepare(`SELECT first_position, last_position FROM ${AUDIT_TIME}
    WHERE last_position > ? AND first_position <= ? AND max_recorded_at >= ? AND min_recorded_at < ? ORDER BY first_position LIMIT 256`).raw(true);
  let from = after;
  for (;;) {
    const rows = stmt.all(from, through, f.from ?? '', f.to ?? '\uffff') as [number, number][];
    for (const [first, last] of rows) {
      for (let p = Math.max(first, after + 1); p <= Math.min(last, through); p++) yield p;
    }
    if (rows.length < 256) return;
    from = rows[rows.length - 1][1];
  }
}

/** Every position > after up to `through` (the log itself). */
async function* logPositions(store: EventStore, after: number, through: number, filter?: { categories?: string[] }): AsyncGenerator<StoredEvent> {
  let from = after;
  for (;;) {
    const batch = await store.readAll({ after: from, maxCount: 500, filter });
    for (const e of batch) { if (e.position > through) return; yield e; }
    if (batch.length < 500) return;
    from = batch[batch.length - 1].position;
  }
}

/**
 * One page of the timeline. `db` is the read-model database holding the `audit` index (may be null: the log is
 * scanned). Events after the index's checkpoint are always scanned from the log.
 */
export async function queryAuditLog(store: EventStore, db: Database.Database | null, filter: AuditFilter, options: AuditQueryOptions = {}): Promise<AuditPage> {
  const f = validateFilter(filter);
  const limit = options.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new Error(`limit must be between 1 and ${MAX_LIMIT} (got ${limit})`);
  const after = options.after ?? 0;
  const maxScan = options.maxScan ?? 20_000;
  const head = await store.headPosition();
  const indexed = db ? Math.min(auditIndexPosition(db), head) : 0;
  const read = eventReader(store);
  const entries: AuditEntry[] = [];
  let examined = 0;
  let lastExamined = after;
  let more = false;

  // Candidate sources, the most selective first.
  type Source = { via: AuditPage['via']; count: number; positions?: () => AsyncGenerator<number>; events?: () => AsyncGenerator<StoredEvent> };
  const sources: Source[] = [];
  if (f.stream !== undefined) {
    const stream = f.stream;
    sources.push({
      via: 'stream', count: (await store.streamRevision(stream)) + 1,
      events: async function* () {
        let from = 0;
        for (;;) {
          const batch = await store.readStream(stream, { fromRevision: from, maxCount: 500 });
          for (const e of batch) if (e.position > after) yield e;
          if (batch.length < 500) return;
          from = batch[batch.length - 1].revision + 1;
        }
      },
    });
  }
  if (db && indexed > after) {
    const keyed: { keys: string[] }[] = [];
    if (f.category !== undefined) keyed.push({ keys: [categoryKey(f.category)] });
    if (f.tenant !== undefined) keyed.push({ keys: [tenantKey(f.tenant)] });
    if (f.correlation !== undefined) keyed.push({ keys: [correlationKey(f.correlation)] });
    if (f.actor !== undefined) {
      const colon = f.actor.indexOf(':');
      keyed.push({ keys: colon < 0 ? ACTOR_KINDS.map((k) => actorKey(k, f.actor!)) : [actorKey(f.actor.slice(0, colon), f.actor.slice(colon + 1))] });
    }
    for (const k of keyed) {
      sources.push({
        via: 'index', count: k.keys.reduce((n, key) => n + keyCount(db, key), 0),
        positions: () => (k.keys.length === 1 ? posting(db, k.keys[0], after, indexed) : merge(k.keys.map((key) => posting(db, key, after, indexed)))),
      });
    }
    if (keyed.length === 0 && (f.from !== undefined || f.to !== undefined)) {
      sources.push({ via: 'time-index', count: Number.MAX_SAFE_INTEGER - 1, positions: () => timeChunks(db, f, after, indexed) });
    }
  }
  const driver = sources.sort((a, b) => a.count - b.count)[0];
  const via: AuditPage['via'] = driver?.via ?? 'log';

  const consider = (e: StoredEvent): boolean => {
    examined++;
    lastExamined = e.position;
    if (matches(e, f)) {
      if (entries.length === limit) { more = true; return false; }
      entries.push(toEntry(e));
    }
    if (examined >= maxScan) { more = true; return false; }
    return true;
  };

  let go = true;
  let coveredThrough: number;
  if (driver?.events) {
    // a stream's own events cover the whole log, index or not
    for await (const e of driver.events()) if (!(go = consider(e))) break;
    coveredThrough = head;
  } else if (driver?.positions) {
    for await (const p of driver.positions()) {
      const e = await read(p);
      if (!e) continue;
      if (!(go = consider(e))) break;
    }
    coveredThrough = indexed;
  } else {
    coveredThrough = after;
  }
  // The part of the log the driver did not cover (after the index's checkpoint, or everything without an index).
  if (go && coveredThrough < head) {
    const filter = f.category !== undefined ? { categories: [f.category] } : undefined;
    for await (const e of logPositions(store, Math.max(after, coveredThrough), head, filter)) if (!(go = consider(e))) break;
  }
  if (more && entries.length === limit && lastExamined > entries[entries.length - 1].position) {
    // the page filled and one more match was seen: continue right after the last entry
    lastExamined = entries[entries.length - 1].position;
  }
  return { entries, nextCursor: more ? lastExamined : null, via, indexedThrough: indexed, examined };
}

/** The causal depth of each entry within a page (0 = its cause is not among the entries): for traces. */
export function causalDepths(entries: AuditEntry[]): number[] {
  const byEvent = new Map<string, number>();
  entries.forEach((e, i) => byEvent.set(e.eventId, i));
  const depth: number[] = new Array(entries.length).fill(-1);
  const of = (i: number, seen = 0): number => {
    if (depth[i] >= 0) return depth[i];
    const c = entries[i].causationId;
    const parent = c !== undefined ? byEvent.get(c) : undefined;
    depth[i] = parent === undefined || parent >= i || seen > 64 ? 0 : of(parent, seen + 1) + 1;
    return depth[i];
  };
  return entries.map((_, i) => of(i));
}
