/**
 * Whole-log verification: every stream's hash chain recomputed from the stored bytes (SqliteEventStore.verifyRows),
 * then, given a digest exported earlier, every recorded chain head checked against the log. Findings name the event
 * (stream, revision, position, event id) and are ordered by position, so the first one is the earliest damage.
 *
 *   - altered:   an event's stored bytes (or hash) no longer match its chain: changed, or swapped with another;
 *   - gap:       a revision is missing or out of sequence inside a stream: an event removed or moved;
 *   - truncated: the digest recorded revision r of a stream, the log now ends before r (last events removed, or the
 *                whole stream deleted) — invisible without a digest, since what remains is a valid chain;
 *   - rewritten: the stream still reaches revision r, but with another hash than the digest recorded: its history up
 *                to r was altered and its chain recomputed;
 *   - digest:    the digest document itself is not intact (root or signature).
 */
import type { EventStore } from '../event-store/port.ts';
import { SqliteEventStore, verifyRows } from '../event-store/sqlite.ts';
import type { ChainHead, DigestDocument, SignatureCheck } from './digest.ts';

export interface Finding {
  kind: 'altered' | 'gap' | 'truncated' | 'rewritten' | 'digest';
  message: string;
  streamId?: string;
  revision?: number;
  position?: number;
  eventId?: string;
}

export interface ChainWalk {
  store: string;
  streams: number;
  events: number;
  headPosition: number;
  heads: Record<string, ChainHead>;
  findings: Finding[];
}

type Row = { position: number; stream: string; revision: number; type: string; body: string; hash: string };

const eventIdOf = (body: string): string | undefined => {
  try { return JSON.parse(body)?.metadata?.eventId; } catch { return undefined; }
};

const describe = (f: { streamId?: string; revision?: number; position?: number; eventId?: string }) =>
  `${f.streamId} revision ${f.revision}${f.position !== undefined ? ` (position ${f.position}${f.eventId ? `, event ${f.eventId}` : ''})` : ''}`;

/** Walks every chain of the embedded store in one read snapshot. */
function walkSqlite(store: SqliteEventStore): ChainWalk {
  const db = store.db;
  const walk: ChainWalk = { store: 'sqlite', streams: 0, events: 0, headPosition: 0, heads: {}, findings: [] };
  db.transaction(() => {
    walk.headPosition = db.prepare('SELECT coalesce(max(position), 0) FROM events').pluck().get() as number;
    const rows = db.prepare('SELECT position, stream, revision, type, body, hash FROM events ORDER BY stream, revision').iterate() as IterableIterator<Row>;
    let current: Row[] = [];
    const finish = () => {
      if (current.length === 0) return;
      walk.streams++;
      walk.events += current.length;
      const broken = verifyRows(current);
      if (broken) {
        const gap = broken.reason.startsWith('revision');
        walk.findings.push({
          kind: gap ? 'gap' : 'altered', streamId: broken.streamId, revision: broken.revision, position: broken.position, eventId: broken.eventId,
          message: gap
            ? `${describe(broken)}: ${broken.reason}`
            : `${describe(broken)}: its stored bytes do not match its hash chain: the event was altered (or swapped with another)`,
        });
      }
      const last = current[current.length - 1];
      walk.heads[last.stream] = { revision: last.revision, hash: last.hash, position: last.position, eventId: eventIdOf(last.body) };
      current = [];
    };
    for (const row of rows) {
      if (current.length && current[0].stream !== row.stream) finish();
      current.push(row);
    }
    finish();
  })();
  return walk;
}

/** Any store: reads the whole log for the heads and asks the store to verify each stream. */
async function walkGeneric(store: EventStore): Promise<ChainWalk> {
  const walk: ChainWalk = { store: store.kind, streams: 0, events: 0, headPosition: await store.headPosition(), heads: {}, findings: [] };
  let after = 0;
  for (;;) {
    const batch = await store.readAll({ after, maxCount: 1000 });
    for (const e of batch) {
      walk.events++;
      walk.heads[e.streamId] = { revision: e.revision, hash: e.metadata.hash, position: e.position, eventId: e.metadata.eventId };
    }
    if (batch.length < 1000) break;
    after = batch[batch.length - 1].position;
  }
  walk.streams = Object.keys(walk.heads).length;
  for (const s of Object.keys(walk.heads).sort()) {
    const broken = await store.verifyStream(s);
    if (broken) walk.findings.push({ kind: broken.reason.startsWith('revision') ? 'gap' : 'altered', ...broken, message: `${describe(broken)}: ${broken.reason}` });
  }
  return walk;
}

export async function walkChains(store: EventStore): Promise<ChainWalk> {
  const walk = store instanceof SqliteEventStore ? walkSqlite(store) : await walkGeneric(store);
  walk.findings.sort(byPosition);
  return walk;
}

const byPosition = (a: Finding, b: Finding) => (a.kind === 'digest' ? -1 : b.kind === 'digest' ? 1 : (a.position ?? 0) - (b.position ?? 0));

export interface DigestComparison {
  streamsChecked: number;
  /** Streams in the log that the digest does not know (created after it). */
  newStreams: number;
  /** Events appended after the digest (log events − digest events, when nothing is missing). */
  eventsSince: number;
  findings: Finding[];
}

/** Checks every head recorded in the digest against the log. */
export async function compareWithDigest(store: EventStore, walk: ChainWalk, doc: DigestDocument, check: { rootValid: boolean; signature: SignatureCheck }): Promise<DigestComparison> {
  const findings: Finding[] = [];
  if (!check.rootValid) findings.push({ kind: 'digest', message: 'the digest document was edited: its root hash does not match its heads' });
  if (check.signature === 'invalid') findings.push({ kind: 'digest', message: 'the digest document was edited or forged: its HMAC signature does not match (same key id)' });
  let checked = 0;
  for (const stream of Object.keys(doc.heads).sort()) {
    const recorded = doc.heads[stream];
    checked++;
    const now = walk.heads[stream];
    const at = { streamId: stream, revision: recorded.revision, position: recorded.position, eventId: recorded.eventId };
    if (!now || now.revision < recorded.revision) {
      findings.push({
        kind: 'truncated', ...at,
        message: now
          ? `${describe(at)} recorded in the digest is no longer in the log: the stream now ends at revision ${now.revision} (events removed from its end)`
          : `${describe(at)} recorded in the digest is no longer in the log: the whole stream ${stream} is gone`,
      });
      continue;
    }
    const [e] = now.revision === recorded.revision ? [null] : await store.readStream(stream, { fromRevision: recorded.revision, maxCount: 1 });
    const hash = e === null ? now.hash : e?.metadata.hash;
    if (hash !== recorded.hash) {
      findings.push({
        kind: 'rewritten', ...at,
        message: `${describe(at)}: its chain hash differs from the digest's: the stream's history up to this revision was altered and its chain recomputed`,
      });
    }
  }
  const newStreams = Object.keys(walk.heads).filter((s) => !(s in doc.heads)).length;
  return { streamsChecked: checked, newStreams, eventsSince: Math.max(0, walk.events - doc.events), findings: findings.sort(byPosition) };
}
