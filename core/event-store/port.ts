/**
 * The event store port: what every adapter (embedded SQLite, KurrentDB/EventStoreDB) provides.
 * Revisions are per stream and start at 0; positions are global, increasing, and used as checkpoints.
 */
import type { EventMetadata, EventMetadataInput } from '../../schema/envelope.ts';

/** Optimistic concurrency: what the writer believes about the stream before appending. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number;

export interface NewEvent<T = unknown> {
  type: string;
  data: T;
  metadata: EventMetadataInput;
}

export interface StoredEvent<T = unknown> {
  streamId: string;
  revision: number;
  position: number;
  type: string;
  data: T;
  metadata: EventMetadata;
}

export interface AppendResult {
  /** Revision of the last event appended: pass it as `expected` for the next append. */
  nextExpectedRevision: number;
  /** Global position of the last event appended. */
  position: number;
  events: StoredEvent[];
}

export interface ReadFilter {
  /** Stream categories (`Host` matches `Host-h_1`). */
  categories?: string[];
  /** Stream name prefixes. */
  streamPrefixes?: string[];
  /** Event types. */
  eventTypes?: string[];
}

export interface ReadStreamOptions {
  direction?: 'forwards' | 'backwards';
  /** First revision to return (inclusive); forwards default 0, backwards default the end. */
  fromRevision?: number;
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Return events strictly after this position (a checkpoint); default: from the start. */
  after?: number;
  maxCount?: number;
  filter?: ReadFilter;
}

export interface SubscribeOptions {
  /** Deliver events strictly after this position; default: from the start. */
  after?: number;
  filter?: ReadFilter;
  /** Largest batch handed to `onBatch`. */
  batchSize?: number;
  /** Called with each batch in position order; the next batch waits for the returned promise. */
  onBatch: (events: StoredEvent[], lastPosition: number) => Promise<void> | void;
  /** Called once when the subscription first reaches the head of the log (history read, live from here on). */
  onCaughtUp?: (position: number) => void;
  onError?: (error: unknown) => void;
}

export interface Subscription {
  /** Position of the last event (or scanned point) delivered. */
  readonly position: number;
  close(): Promise<void>;
  /** Resolves once the subscription has delivered everything up to `position`. */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
}

export interface ChainBreak {
  streamId: string;
  revision: number;
  position: number;
  eventId?: string;
  reason: string;
}

export interface EventStore {
  readonly kind: 'sqlite' | 'kurrentdb';
  append(streamId: string, events: NewEvent[], options?: { expected?: ExpectedRevision }): Promise<AppendResult>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<StoredEvent[]>;
  readAll(options?: ReadAllOptions): Promise<StoredEvent[]>;
  /** Current last revision of a stream, or -1 when it does not exist. */
  streamRevision(streamId: string): Promise<number>;
  /** Global position of the newest event, 0 when empty. */
  headPosition(): Promise<number>;
  /** Catch-up subscription: history from `after`, then live events, with no gap and no duplicate. */
  subscribe(options: SubscribeOptions): Subscription;
  /** Walks one stream's hash chain; returns the first broken event or null. */
  verifyStream(streamId: string): Promise<ChainBreak | null>;
  close(): Promise<void>;
}

export class WrongExpectedRevisionError extends Error {
  readonly code = 'WRONG_EXPECTED_REVISION';
  constructor(readonly streamId: string, readonly expected: ExpectedRevision, readonly actual: number) {
    super(`append to ${streamId} refused: expected ${expected === -1 ? 'no stream' : String(expected)}, actual revision ${actual === -1 ? 'none (no stream)' : actual}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

export class InvalidStreamNameError extends Error {
  readonly code = 'INVALID_STREAM_NAME';
  constructor(readonly streamId: string) {
    super(`invalid stream name ${JSON.stringify(streamId)}: expected <Category>-<id> with id of [A-Za-z0-9_]`);
    this.name = 'InvalidStreamNameError';
  }
}

/** Checks an expected revision against the actual one (-1 = no stream). */
export function expectationHolds(expected: ExpectedRevision, actual: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return actual === -1;
  if (expected === 'stream_exists') return actual >= 0;
  return expected === actual;
}

export function matchesFilter(filter: ReadFilter | undefined, streamId: string, type: string): boolean {
  if (!filter) return true;
  const { categories, streamPrefixes, eventTypes } = filter;
  if (eventTypes && eventTypes.length && !eventTypes.includes(type)) return false;
  const hasStreamFilter = (categories && categories.length) || (streamPrefixes && streamPrefixes.length);
  if (!hasStreamFilter) return true;
  const dash = streamId.indexOf('-');
  const category = dash < 0 ? streamId : streamId.slice(0, dash);
  return !!(categories?.includes(category) || streamPrefixes?.some((p) => streamId.startsWith(p)));
}
