/**
 * Where the metered events come from: stream by stream (every event of one stream, in log order, then the next
 * stream), streams in name order, positions up to a cut. Reading stream by stream lets the engine finish a host's
 * slices and forget them before reading the next host: memory holds one stream, not the whole month.
 *
 *   - embedded SQLite: one ordered scan of the (stream, revision) index on a separate read-only connection;
 *   - any EventStore (KurrentDB…): the category events in log order, grouped by stream in memory, then sorted;
 *   - a list of streams (the tenant view): each stream read on its own.
 */
import Database from 'better-sqlite3';
import type { EventStore } from '../../core/event-store/port.ts';
import { SqliteEventStore } from '../../core/event-store/sqlite.ts';
import { needsUpcast, upcast } from '../../schema/registry.ts';
import { parseUtc } from '../../layers/metering/period.ts';
import { METERED_CATEGORIES, METERED_EVENTS } from './segments.ts';

export interface EventSink {
  event(stream: string, type: string, data: any, occurredAt: number, position: number): void;
  /** Called after the last event of a stream; the next stream starts when the returned promise resolves. */
  endStream(stream: string): void | Promise<void>;
}

export interface StreamSource {
  forEachStream(cut: number, sink: EventSink): Promise<{ events: number }>;
}

/** Decodes the stored body of the embedded store (`{"data":…,"metadata":{…}}`, canonical JSON) without parsing the metadata. */
export function decodeBody(type: string, body: string): { data: any; occurredAt: number } {
  const i = body.lastIndexOf(',"metadata":{');
  if (!body.startsWith('{"data":') || i < 0) {
    const full = JSON.parse(body);
    const up = needsUpcast(type, full.metadata.version) ? upcast(type, full.metadata.version, full.data).data : full.data;
    return { data: up, occurredAt: parseUtc(full.metadata.occurredAt) };
  }
  let data = JSON.parse(body.slice(8, i));
  const o = body.indexOf('"occurredAt":"', i);
  const text = body.slice(o + 14, body.indexOf('"', o + 14));
  // the store validated it (UTC ISO 8601); the common millisecond form parses directly
  const occurredAt = text.length === 24 ? Date.parse(text) : parseUtc(text);
  const v = body.lastIndexOf('"version":');
  const version = Number.parseInt(body.slice(v + 10), 10);
  if (needsUpcast(type, version)) data = upcast(type, version, data).data;
  return { data, occurredAt };
}

/** A half-open range of stream names [from, to). */
export interface StreamRange { from: string; to: string }
/** Every metered stream: the three categories, in name order. */
export const ALL_METERED_RANGES: StreamRange[] = [...METERED_CATEGORIES].sort().map((c) => ({ from: `${c}-`, to: `${c}.` }));

export class SqliteStreamSource implements StreamSource {
  constructor(private readonly path: string, private readonly ranges: StreamRange[] = ALL_METERED_RANGES) {}

  async forEachStream(cut: number, sink: EventSink): Promise<{ events: number }> {
    const db = new Database(this.path, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 10000');
      const types = METERED_EVENTS.map(() => '?').join(',');
      // the whole body: cutting it in SQL (instr/substr count characters) costs more than cutting it here
      const stmt = db.prepare(`SELECT stream, type, body, position FROM events INDEXED BY events_by_stream
        WHERE stream >= ? AND stream < ? AND type IN (${types}) AND position <= ? ORDER BY stream, revision`).raw(true);
      let count = 0;
      for (const range of this.ranges) {
        let current: string | null = null;
        for (const row of stmt.iterate(range.from, range.to, ...METERED_EVENTS, cut) as IterableIterator<[string, string, string, number]>) {
          const [stream, type, body, position] = row;
          if (stream !== current) {
            if (current !== null) await sink.endStream(current);
            current = stream;
          }
          const { data, occurredAt } = decodeBody(type, body);
          sink.event(stream, type, data, occurredAt, position);
          count++;
        }
        if (current !== null) await sink.endStream(current);
      }
      return { events: count };
    } finally {
      db.close();
    }
  }
}

/** Any store: read the categories in log order, group by stream, then replay stream by stream in name order. */
export class GenericStreamSource implements StreamSource {
  constructor(private readonly store: EventStore) {}

  async forEachStream(cut: number, sink: EventSink): Promise<{ events: number }> {
    const byStream = new Map<string, { type: string; data: unknown; at: number; pos: number }[]>();
    let after = 0;
    let count = 0;
    for (;;) {
      const batch = await this.store.readAll({ after, maxCount: 5000, filter: { categories: [...METERED_CATEGORIES], eventTypes: [...METERED_EVENTS] } });
      if (batch.length === 0) break;
      let done = false;
      for (const e of batch) {
        if (e.position > cut) { done = true; break; }
        let list = byStream.get(e.streamId);
        if (!list) { list = []; byStream.set(e.streamId, list); }
        list.push({ type: e.type, data: e.data, at: parseUtc(e.metadata.occurredAt), pos: e.position });
      }
      after = batch[batch.length - 1].position;
      if (done || batch.length < 5000) break;
    }
    for (const stream of [...byStream.keys()].sort(binary)) {
      for (const e of byStream.get(stream)!) { sink.event(stream, e.type, e.data, e.at, e.pos); count++; }
      byStream.delete(stream);
      await sink.endStream(stream);
    }
    return { events: count };
  }
}

/** Only the given streams (each read whole, up to the cut). */
export class StreamListSource implements StreamSource {
  constructor(private readonly store: EventStore, private readonly streams: string[]) {}

  async forEachStream(cut: number, sink: EventSink): Promise<{ events: number }> {
    let count = 0;
    const wanted = new Set<string>(METERED_EVENTS);
    for (const stream of [...new Set(this.streams)].sort(binary)) {
      let from = 0;
      for (;;) {
        const batch = await this.store.readStream(stream, { fromRevision: from, maxCount: 1000 });
        for (const e of batch) {
          if (e.position > cut || !wanted.has(e.type)) continue;
          sink.event(stream, e.type, e.data, parseUtc(e.metadata.occurredAt), e.position);
          count++;
        }
        if (batch.length < 1000) break;
        from = batch[batch.length - 1].revision + 1;
      }
      await sink.endStream(stream);
    }
    return { events: count };
  }
}

/** Byte order of ASCII names (what SQLite's BINARY collation gives for stream names). */
export const binary = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The fastest source for a store: the embedded file's stream index, else reading by category. */
export function sourceFor(store: EventStore): StreamSource {
  const path = sqlitePathOf(store);
  return path ? new SqliteStreamSource(path) : new GenericStreamSource(store);
}

/**
 * Events of some types in some categories, up to a position, in log order — through the (stream, revision) index
 * of the embedded file, one range per category (the context of an export: a narrow read, not a scan of the log).
 */
export function readCategoriesSqlite(path: string, categories: readonly string[], types: readonly string[], upTo: number): { type: string; data: unknown; position: number }[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    const stmt = db.prepare(`SELECT type, body, position FROM events INDEXED BY events_by_stream
      WHERE stream >= ? AND stream < ? AND type IN (${types.map(() => '?').join(',')}) AND position <= ?`).raw(true);
    const out: { type: string; data: unknown; position: number }[] = [];
    for (const c of categories) {
      for (const [type, body, position] of stmt.iterate(`${c}-`, `${c}.`, ...types, upTo) as IterableIterator<[string, string, number]>) {
        out.push({ type, data: decodeBody(type, body).data, position });
      }
    }
    return out.sort((a, b) => a.position - b.position);
  } finally {
    db.close();
  }
}

/** The embedded store's file, when the store is one (and not in memory). */
export function sqlitePathOf(store: EventStore): string | undefined {
  if (!(store instanceof SqliteEventStore)) return undefined;
  const db = store.db as unknown as { name: string; memory: boolean };
  return db.name && db.name !== ':memory:' && !db.memory ? db.name : undefined;
}

/**
 * Splits the metered streams into two ranges of about the same number of events (at a stream boundary of the Host
 * category, which holds nearly all of them), or returns null when there is too little to be worth a second thread.
 */
export function splitRanges(path: string, minEvents: number): [StreamRange[], StreamRange[]] | null {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    const host = ALL_METERED_RANGES.find((r) => r.from === 'Host-')!;
    const count = db.prepare('SELECT count(*) FROM events INDEXED BY events_by_stream WHERE stream >= ? AND stream < ?').pluck().get(host.from, host.to) as number;
    if (count < minEvents) return null;
    let middle = db.prepare('SELECT stream FROM events INDEXED BY events_by_stream WHERE stream >= ? AND stream < ? ORDER BY stream, revision LIMIT 1 OFFSET ?')
      .pluck().get(host.from, host.to, Math.floor(count / 2)) as string | undefined;
    const firstStream = db.prepare('SELECT min(stream) FROM events WHERE stream >= ? AND stream < ?').pluck().get(host.from, host.to) as string | null;
    // the first range must hold something: when the middle event is in the first stream, split after that stream
    if (middle !== undefined && middle === firstStream) middle = db.prepare('SELECT min(stream) FROM events WHERE stream > ? AND stream < ?').pluck().get(middle, host.to) as string | undefined ?? undefined;
    if (!middle) return null;
    const first = ALL_METERED_RANGES.filter((r) => r.to <= host.from);
    const rest = ALL_METERED_RANGES.filter((r) => r.from >= host.to);
    return [[...first, { from: host.from, to: middle }], [{ from: middle, to: host.to }, ...rest]];
  } finally {
    db.close();
  }
}
