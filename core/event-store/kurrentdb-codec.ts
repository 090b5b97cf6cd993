/**
 * Pure pieces of the KurrentDB / EventStoreDB adapter (no I/O, testable without a server): how events are encoded
 * and chained, how stored records are decoded and verified, how positions, expected revisions and read filters map
 * onto `@kurrent/kurrentdb-client`.
 *
 * Storage layout of one ledger event in KurrentDB:
 * - event id    = metadata.eventId (a UUID), so the server's own idempotency check works on it;
 * - event type  = the ledger event type; content type application/json;
 * - data        = the validated event data, as JSON;
 * - metadata    = the envelope (eventId, occurredAt, actor, …, version, recordedAt) plus `hash`, as JSON.
 * The chain hash is chainHash(prevHash, stream, revision, type, canonical({data, metadata without hash})): the very
 * body the SQLite adapter stores, so a chain verifies the same way whichever adapter wrote it, and it can be
 * recomputed from what KurrentDB returns (JSON round trips keep every value that canonical JSON can express).
 *
 * Positions: the port's global position is the event's `$all` commit position as a JS number. KurrentDB positions are
 * byte offsets in the transaction log (unsigned 64-bit); a JS number holds them exactly up to 2^53 - 1 (8 PiB of log),
 * beyond which `positionToNumber` refuses rather than round. Every event written through gRPC appends is its own
 * implicit transaction, so its commit and prepare positions are equal and unique; `after` checkpoints are turned back
 * into `{commit, prepare}` with both set to the number. (Events from legacy explicit TCP transactions share one commit
 * position; a store holding such history must not use these numbers as unique checkpoints.)
 */
import {
  eventTypeFilter, excludeSystemEvents, jsonEvent, NO_STREAM, streamNameFilter,
  type AppendStreamState, type EventData, type Filter, type JSONType, type Position,
} from '@kurrent/kurrentdb-client';
import { EventMetadataInput, type EventMetadata } from '../../schema/envelope.ts';
import { needsUpcast, SchemaError, upcast, validateEvent } from '../../schema/registry.ts';
import { canonical, chainHash, GENESIS_HASH } from '../hash-chain.ts';
import {
  WrongExpectedRevisionError, type ChainBreak, type ExpectedRevision, type NewEvent, type ReadFilter, type StoredEvent,
} from './port.ts';

// ---------------------------------------------------------------------------------------------------------------
// Positions

/** Largest position the port can carry as a JS number without losing precision. */
export const MAX_POSITION = BigInt(Number.MAX_SAFE_INTEGER);
/** What servers before 22.6 report as the position of an event read from its own stream ("unknown"). */
const UNKNOWN_POSITION = 0xffff_ffff_ffff_ffffn;

export class PositionOutOfRangeError extends RangeError {
  readonly code = 'POSITION_OUT_OF_RANGE';
  constructor(readonly position: bigint) {
    super(`KurrentDB log position ${position} is beyond 2^53 - 1 and cannot be carried as a JS number`);
    this.name = 'PositionOutOfRangeError';
  }
}

/** A commit position as the port's number; throws when it cannot be represented exactly. */
export function positionToNumber(commit: bigint): number {
  if (commit < 0n || commit > MAX_POSITION) throw new PositionOutOfRangeError(commit);
  return Number(commit);
}

/** The port's `after` checkpoint as a client read position (commit = prepare, see the file comment). */
export function numberToPosition(position: number): Position {
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`invalid position ${position}: a non-negative safe integer`);
  const p = BigInt(position);
  return { commit: p, prepare: p };
}

/** Total order of `$all` positions. */
export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/**
 * Position of an event read from its own stream: exact on servers ≥ 22.6; -1 ("unknown") when the server does not say
 * (older servers send nothing or 2^64 - 1 there). Events read from `$all` always carry their position.
 */
export function streamReadPosition(position: Position | undefined, commitPosition?: bigint): number {
  const commit = position?.commit ?? commitPosition;
  if (commit === undefined || commit === UNKNOWN_POSITION || commit < 0n) return -1;
  return positionToNumber(commit);
}

// ---------------------------------------------------------------------------------------------------------------
// Expected revisions

/** The stream state the adapter sends with an append: always the exact tail it read (it checks `expected` itself). */
export function streamStateFor(actual: number): AppendStreamState {
  return actual < 0 ? NO_STREAM : BigInt(actual);
}

/** The client's CurrentStreamState (revision or "no_stream"; -5/-6 for deleted/tombstoned) as a port revision. */
export function actualRevisionOf(current: unknown): number {
  if (typeof current === 'bigint') return current < 0n ? -1 : Number(current);
  if (typeof current === 'number') return current < 0 ? -1 : current;
  return -1; // "no_stream"
}

/** True for the client's wrong-expected-version error (by its `type`, so it also works across module copies). */
export function isWrongExpectedVersion(error: unknown): error is { type: 'wrong-expected-version'; actualState: unknown; streamName?: string } {
  return typeof error === 'object' && error !== null && (error as { type?: unknown }).type === 'wrong-expected-version';
}

export function isStreamNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { type?: unknown }).type === 'stream-not-found';
}

/**
 * Translates a conflict reported by the server into the port's typed error. The caller's own expectation is what the
 * error carries as `expected` (the server only saw the exact revision the adapter derived from it).
 */
export function translateConflict(error: unknown, streamId: string, expected: ExpectedRevision): WrongExpectedRevisionError | null {
  if (error instanceof WrongExpectedRevisionError) return error;
  if (!isWrongExpectedVersion(error)) return null;
  return new WrongExpectedRevisionError(streamId, expected, actualRevisionOf(error.actualState));
}

// ---------------------------------------------------------------------------------------------------------------
// Read filters

export const isSystemName = (name: string): boolean => name.startsWith('$');

/** The part of a ReadFilter the server applies, and the check the adapter applies to what the server returns. */
export interface FilterPlan {
  server: Filter;
  /** Client-side check on every record the server returned (system events and what the server could not express). */
  accepts(streamId: string, type: string): boolean;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Stream-name prefixes of a filter: categories become `<Category>-` (the `$ce-` rule: category = part before the first `-`). */
export function streamPrefixesOf(filter: ReadFilter | undefined): string[] {
  return [...(filter?.categories ?? []).map((c) => `${c}-`), ...(filter?.streamPrefixes ?? [])];
}

/** Exact-match regex over event types (server-side regexes are .NET; this subset means the same there). */
export function eventTypeRegex(types: string[]): string {
  return `^(?:${types.map(escapeRegex).join('|')})$`;
}

/**
 * Plans a `$all` read: the server filters by stream-name prefixes when the filter names streams (types then checked
 * here, since a server filter is on streams *or* types), else by exact event types, else it excludes system event
 * types. System events (`$`-prefixed type or stream) are always dropped here as well.
 */
export function planFilter(filter: ReadFilter | undefined): FilterPlan {
  const prefixes = streamPrefixesOf(filter);
  const types = filter?.eventTypes?.length ? filter.eventTypes : undefined;
  const accepts = (streamId: string, type: string): boolean => {
    if (isSystemName(streamId) || isSystemName(type)) return false;
    if (types && !types.includes(type)) return false;
    if (prefixes.length && !prefixes.some((p) => streamId.startsWith(p))) return false;
    return true;
  };
  let server: Filter;
  if (prefixes.length) server = streamNameFilter({ prefixes });
  else if (types) server = eventTypeFilter({ regex: eventTypeRegex(types) });
  else server = excludeSystemEvents();
  return { server, accepts };
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding and the hash chain

export interface EncodedEvent {
  type: string;
  eventId: string;
  /** canonical({data, metadata}): the hashed body, identical to the SQLite adapter's stored body. */
  body: string;
  /** Data and metadata (without hash) exactly as hashed: parsed back from `body`. */
  data: unknown;
  metadata: Omit<EventMetadata, 'hash'>;
}

/** Validates one event (schema of its type, envelope) and builds its hashed body. Throws SchemaError; writes nothing. */
export function encodeEvent(e: NewEvent, recordedAt: string): EncodedEvent {
  if (!e || typeof e.type !== 'string') throw new SchemaError(String(e?.type), ['event has no type']);
  const { data, version } = validateEvent(e.type, e.data);
  const meta = EventMetadataInput.safeParse(e.metadata);
  if (!meta.success) throw new SchemaError(e.type, meta.error.issues.map((i) => `metadata.${i.path.join('.')}: ${i.message}`));
  const body = canonical({ data, metadata: { ...meta.data, version, recordedAt } });
  const parsed = JSON.parse(body) as { data: unknown; metadata: Omit<EventMetadata, 'hash'> };
  return { type: e.type, eventId: meta.data.eventId, body, data: parsed.data, metadata: parsed.metadata };
}

export interface ChainedEvent extends EncodedEvent { revision: number; hash: string }

/** Extends a stream's chain from its tail (`revision` -1 and hash "" for a new stream). */
export function chainEvents(streamId: string, tail: { revision: number; hash: string }, events: EncodedEvent[]): ChainedEvent[] {
  let prev = tail.hash;
  let revision = tail.revision;
  return events.map((e) => {
    revision += 1;
    const hash = chainHash(prev, streamId, revision, e.type, e.body);
    prev = hash;
    return { ...e, revision, hash };
  });
}

/** The client's EventData for a chained event: data and metadata (with hash) as JSON, id = eventId. */
export function toEventData(e: ChainedEvent): EventData {
  return jsonEvent({
    id: e.eventId,
    type: e.type,
    data: e.data as JSONType,
    metadata: { ...e.metadata, hash: e.hash } as JSONType,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

/** What the adapter needs of a record read back (the client's RecordedEvent, position already a number). */
export interface RawRecord {
  streamId: string;
  /** Server event id. */
  id: string;
  revision: number;
  position: number;
  type: string;
  isJson: boolean;
  data: unknown;
  /** Parsed JSON metadata, raw bytes when it was not JSON, undefined when empty. */
  metadata: unknown;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** The hash a record carries, or undefined. */
export function storedHash(record: RawRecord): string | undefined {
  return isPlainObject(record.metadata) && typeof record.metadata.hash === 'string' ? record.metadata.hash : undefined;
}

/** The body the record's hash must cover: canonical({data, metadata without hash}); null when it is not a ledger event. */
export function recordBody(record: RawRecord): string | null {
  if (!record.isJson || !isPlainObject(record.metadata) || record.data instanceof Uint8Array) return null;
  const { hash: _hash, ...metadata } = record.metadata;
  try { return canonical({ data: record.data, metadata }); } catch { return null; }
}

/** A stored record as the port's StoredEvent, upcast to the newest version of its type. */
export function decodeRecord(record: RawRecord): StoredEvent {
  const metadata = (isPlainObject(record.metadata) ? { ...record.metadata } : {}) as EventMetadata;
  let data = record.data;
  if (typeof metadata.version === 'number' && needsUpcast(record.type, metadata.version)) {
    const up = upcast(record.type, metadata.version, data);
    data = up.data;
    metadata.version = up.version;
  }
  return { streamId: record.streamId, revision: record.revision, position: record.position, type: record.type, data, metadata };
}

/**
 * Walks a stream's records in revision order, recomputing the chain; returns the first event that breaks it.
 * Accepts sync or async iterables, so a stream can be verified while it is read.
 */
export async function verifyRecords(records: Iterable<RawRecord> | AsyncIterable<RawRecord>): Promise<ChainBreak | null> {
  let prev = GENESIS_HASH;
  let expectedRevision = 0;
  for await (const r of records) {
    const eventId = isPlainObject(r.metadata) && typeof r.metadata.eventId === 'string' ? r.metadata.eventId : r.id;
    const at = { streamId: r.streamId, revision: r.revision, position: r.position, eventId };
    if (r.revision !== expectedRevision) {
      return { ...at, reason: `revision ${r.revision} follows ${expectedRevision - 1}: an event was removed or reordered` };
    }
    const hash = storedHash(r);
    const body = recordBody(r);
    if (hash === undefined || body === null) return { ...at, reason: 'not a ledger event: no JSON data and metadata with a chain hash' };
    if (chainHash(prev, r.streamId, r.revision, r.type, body) !== hash) {
      return { ...at, reason: 'hash mismatch: the event or one before it was altered' };
    }
    prev = hash;
    expectedRevision += 1;
  }
  return null;
}
