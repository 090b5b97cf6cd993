/**
 * Cluster event store: KurrentDB / EventStoreDB through its gRPC client (`@kurrent/kurrentdb-client`), implementing
 * the same port as the embedded SQLite adapter, with the same semantics (see kurrentdb-codec.ts for the storage
 * layout, positions and filters).
 *
 * Append: validate every event (schema, envelope) and the stream name before any I/O; read the stream's tail (last
 * event, backwards, max 1) for its revision and chain hash; check the caller's expectation against it; hash the new
 * events onto the tail; append with the *exact* revision read, so a writer that got in between makes the server
 * refuse the append instead of breaking the chain. A refused append with an exact expectation (a revision or
 * `no_stream`) is the caller's conflict and becomes `WrongExpectedRevisionError` with the server's actual revision;
 * with `any` / `stream_exists` the adapter reads the tail again and retries, a bounded number of times.
 *
 * Subscription: the generic catch-up loop of catch-up.ts over `readAll` + `headPosition` (same proof of no gap / no
 * duplicate as the SQLite adapter, same behaviour of `position`, `waitFor` and `onCaughtUp`), woken by this process's
 * appends, by a live server push (one `subscribeToAll` from the end per store, used only as a wake-up signal), and by
 * a poll as the fallback when that push is down. See `subscribe` for why the server's own catch-up subscription
 * is not handed to callers directly.
 *
 * Requirements on the server: KurrentDB, or EventStoreDB ≥ 22.6 (positions on stream reads); the connecting user
 * may read `$all`; reads and appends go to the leader (the client's default `nodePreference=leader`); streams are
 * never deleted or truncated (a deleted or truncated stream cannot keep its chain and `verifyStream` reports it).
 */
import { EventEmitter } from 'node:events';
import {
  BACKWARDS, END, excludeSystemEvents, FORWARDS, KurrentDBClient, START,
  type AllStreamResolvedEvent, type AllStreamSubscription, type AppendResult as ClientAppendResult, type Direction,
  type Position, type ReadRevision, type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { STREAM_NAME } from '../../schema/envelope.ts';
import { GENESIS_HASH } from '../hash-chain.ts';
import { catchUpSubscription } from './catch-up.ts';
import {
  chainEvents, comparePositions, decodeRecord, encodeEvent, isStreamNotFound, numberToPosition, planFilter,
  positionToNumber, storedHash, streamReadPosition, streamStateFor, toEventData, translateConflict, verifyRecords,
  type ChainedEvent, type RawRecord,
} from './kurrentdb-codec.ts';
import {
  expectationHolds, InvalidStreamNameError, WrongExpectedRevisionError,
  type AppendResult, type ChainBreak, type EventStore, type ExpectedRevision, type NewEvent, type ReadAllOptions,
  type ReadStreamOptions, type StoredEvent, type SubscribeOptions, type Subscription,
} from './port.ts';

export interface KurrentEventStoreOptions {
  /** A connection string (`kurrentdb://host:2113?tls=false`, `kurrentdb+discover://…`, `esdb://…`) or a client to share. */
  connection: string | KurrentDBClient;
  /**
   * How often an idle subscription polls: the fallback when the live push is down, and the bound on latency for
   * events appended while the push is (re)connecting. Default 1000 ms with the live push, 250 ms without.
   */
  pollIntervalMs?: number;
  /** Wake subscriptions through a live `subscribeToAll` (default true); false: poll only. */
  liveWake?: boolean;
  /** Attempts of an `any` / `stream_exists` append when other writers keep moving the stream. Default 10. */
  maxAppendAttempts?: number;
}

/** Largest page asked of the server in one `$all` read. */
const MAX_PAGE = 4096;
/** Delay before the live wake-up feed is reopened after it failed. */
const FEED_RETRY_MS = 1000;

type AnyResolved = ResolvedEvent | AllStreamResolvedEvent;

export class KurrentEventStore implements EventStore {
  readonly kind = 'kurrentdb' as const;
  readonly client: KurrentDBClient;
  private readonly ownsClient: boolean;
  private readonly pollMs: number;
  private readonly liveWake: boolean;
  private readonly maxAttempts: number;
  private readonly emitter = new EventEmitter();
  private readonly subscriptions = new Set<Subscription>();
  private wakeListeners = 0;
  private feed: AllStreamSubscription | null = null;
  private feedRetry: NodeJS.Timeout | null = null;
  private closed = false;

  /** Opens a store on a connection string. The client connects lazily: the first operation reaches the server. */
  static connect(connectionString: string, options: Omit<KurrentEventStoreOptions, 'connection'> = {}): KurrentEventStore {
    return new KurrentEventStore({ ...options, connection: connectionString });
  }

  constructor(options: KurrentEventStoreOptions) {
    this.ownsClient = typeof options.connection === 'string';
    this.client = typeof options.connection === 'string' ? KurrentDBClient.connectionString(options.connection) : options.connection;
    this.liveWake = options.liveWake ?? true;
    this.pollMs = options.pollIntervalMs ?? (this.liveWake ? 1000 : 250);
    this.maxAttempts = Math.max(1, options.maxAppendAttempts ?? 10);
    this.emitter.setMaxListeners(0);
  }

  async append(streamId: string, events: NewEvent[], options: { expected?: ExpectedRevision } = {}): Promise<AppendResult> {
    if (this.closed) throw new Error('event store is closed');
    if (typeof streamId !== 'string' || !STREAM_NAME.test(streamId)) throw new InvalidStreamNameError(String(streamId));
    if (!Array.isArray(events) || events.length === 0) throw new Error(`append to ${streamId}: no events`);
    const expected = options.expected ?? 'any';
    const recordedAt = new Date().toISOString();
    const encoded = events.map((e) => encodeEvent(e, recordedAt)); // refuses the whole batch before any I/O
    const retries = expected === 'any' || expected === 'stream_exists';

    for (let attempt = 1; ; attempt++) {
      const tail = await this.readTail(streamId);
      const actual = tail ? tail.revision : -1;
      if (!expectationHolds(expected, actual)) throw new WrongExpectedRevisionError(streamId, expected, actual);
      const chained = chainEvents(streamId, tail ?? { revision: -1, hash: GENESIS_HASH }, encoded);

      let result: ClientAppendResult;
      let conflict: WrongExpectedRevisionError | null = null;
      try {
        result = await this.client.appendToStream(streamId, chained.map(toEventData), { streamState: streamStateFor(actual) });
        // With `throwOnAppendFailure=false` in the connection string the client reports a conflict as success: false.
        if (!result.success) conflict = new WrongExpectedRevisionError(streamId, expected, await this.streamRevision(streamId));
      } catch (error) {
        conflict = translateConflict(error, streamId, expected);
        if (!conflict) throw error;
        result = { success: false, nextExpectedRevision: -1n };
      }
      if (conflict) {
        if (retries && attempt < this.maxAttempts) {
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
          continue;
        }
        throw conflict;
      }

      const last = chained[chained.length - 1];
      if (Number(result.nextExpectedRevision) !== last.revision) {
        // Only possible when the stream's revisions do not follow its readable tail (a deleted or truncated stream).
        throw new Error(`append to ${streamId}: the server stored the events up to revision ${result.nextExpectedRevision}, `
          + `but they were hashed for revisions ${chained[0].revision}..${last.revision}; the stream's chain is broken (was it deleted?)`);
      }
      const positions = await this.appendedPositions(streamId, chained, result.position);
      this.emitter.emit('append');
      const stored: StoredEvent[] = chained.map((e, i) => ({
        streamId, revision: e.revision, position: positions[i], type: e.type, data: e.data, metadata: { ...e.metadata, hash: e.hash },
      }));
      return { nextExpectedRevision: last.revision, position: positions[positions.length - 1], events: stored };
    }
  }

  /**
   * Global positions of just-appended events. The server answers an append with the last event's position only;
   * the others are read back from the stream (by revision, checked by event id). Unknown positions are -1.
   */
  private async appendedPositions(streamId: string, chained: ChainedEvent[], lastPosition: Position | undefined): Promise<number[]> {
    const positions = chained.map(() => -1);
    if (lastPosition) positions[positions.length - 1] = positionToNumber(lastPosition.commit);
    if (chained.length === 1 && lastPosition) return positions;
    try {
      const first = chained[0].revision;
      const records = await this.readRecords(streamId, FORWARDS, BigInt(first), chained.length);
      for (const r of records) {
        const i = r.revision - first;
        if (i >= 0 && i < chained.length && r.id.toLowerCase() === chained[i].eventId.toLowerCase() && r.position >= 0) positions[i] = r.position;
      }
    } catch {
      // The append stands; positions that could not be read back stay unknown.
    }
    return positions;
  }

  /** Revision and chain hash of a stream's last event; null for a missing stream. */
  private async readTail(streamId: string): Promise<{ revision: number; hash: string } | null> {
    const [last] = await this.readRecords(streamId, BACKWARDS, END, 1);
    if (!last) return null;
    const hash = storedHash(last);
    if (hash === undefined) {
      throw new Error(`append to ${streamId} refused: its last event (revision ${last.revision}) carries no chain hash, so the chain cannot be extended`);
    }
    return { revision: last.revision, hash };
  }

  /** Raw records of one stream; [] when the stream does not exist. */
  private async readRecords(streamId: string, direction: Direction, fromRevision: ReadRevision, maxCount: number): Promise<RawRecord[]> {
    const out: RawRecord[] = [];
    try {
      for await (const resolved of this.client.readStream(streamId, { direction, fromRevision, maxCount })) {
        const r = toRawRecord(resolved, false);
        if (r) out.push(r);
      }
    } catch (error) {
      if (isStreamNotFound(error)) return [];
      throw error;
    }
    return out;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const backwards = options.direction === 'backwards';
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    if (maxCount <= 0) return [];
    let from: ReadRevision;
    if (options.fromRevision === undefined) from = backwards ? END : START;
    else if (options.fromRevision < 0) {
      if (backwards) return [];
      from = START;
    } else from = BigInt(options.fromRevision);
    const records = await this.readRecords(streamId, backwards ? BACKWARDS : FORWARDS, from, maxCount);
    return records.map(decodeRecord);
  }

  /**
   * `$all` strictly after `after`, in position order, at most `maxCount` events that pass the filter. The server
   * reads from a position inclusively, so the event at `after` is dropped here; pages continue until `maxCount`
   * events passed or the server reached the end of the log, so a short answer always means "nothing more now"
   * (which the catch-up subscription relies on), whatever the client-side part of the filter dropped.
   */
  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const maxCount = options.maxCount ?? 1000;
    if (maxCount <= 0) return [];
    const plan = planFilter(options.filter);
    const out: StoredEvent[] = [];
    let last: Position | null = options.after ? numberToPosition(options.after) : null;
    for (;;) {
      const pageSize = Math.min(maxCount - out.length + 1, MAX_PAGE);
      let returned = 0;
      for await (const resolved of this.client.readAll({ direction: FORWARDS, fromPosition: last ?? START, maxCount: pageSize, filter: plan.server })) {
        returned++;
        const e = resolved.event;
        if (!e) continue;
        const at = allPosition(resolved);
        if (last && comparePositions(at, last) <= 0) continue;
        last = at;
        if (out.length < maxCount && plan.accepts(e.streamId, e.type)) out.push(decodeRecord(toRawRecord(resolved, true)!));
      }
      if (out.length >= maxCount || returned < pageSize) return out;
    }
  }

  async streamRevision(streamId: string): Promise<number> {
    const [last] = await this.readRecords(streamId, BACKWARDS, END, 1);
    return last ? last.revision : -1;
  }

  /** Commit position of the newest record in `$all` (system events included: it is a point the log has reached). */
  async headPosition(): Promise<number> {
    for await (const resolved of this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 })) {
      const commit = resolved.event?.position.commit ?? resolved.commitPosition;
      if (commit !== undefined) return positionToNumber(commit);
    }
    return 0;
  }

  /**
   * Catch-up subscription. The generic loop of catch-up.ts is used rather than handing out the client's
   * `subscribeToAll` directly, because the port's contract is about *positions*, not only events: `position` and
   * `waitFor(p)` must advance over events the filter rejects (including system events and other applications'
   * events), which a server-filtered subscription only reports through sparse checkpoints; `onCaughtUp` must fire on
   * every server version (the server's caughtUp message is recent); batches must apply back-pressure; a dropped
   * connection must resume from the last delivered position. The loop gets all of that from `readAll` (exclusive
   * `after`, server-side filter, no short page before the end of the log) and `headPosition`, with the same
   * no-gap / no-duplicate argument as the embedded store: positions only grow, and every event at or below an observed
   * head is visible to the reads that follow on the same (leader) node.
   * The server's live push is still used, as a wake-up signal: one unfiltered (system events excluded)
   * `subscribeToAll` from the end per store, shared by all its subscriptions, so a subscription reacts to other
   * processes' appends within a round trip instead of a poll interval. When that push is down, polling covers.
   */
  subscribe(options: SubscribeOptions): Subscription {
    if (this.closed) throw new Error('event store is closed');
    const inner = catchUpSubscription(this, { onAppend: (listener) => this.onWake(listener) }, this.pollMs, options);
    const subscriptions = this.subscriptions;
    const sub: Subscription = {
      get position() { return inner.position; },
      waitFor: (position, timeoutMs) => inner.waitFor(position, timeoutMs),
      async close() {
        subscriptions.delete(sub);
        await inner.close();
      },
    };
    subscriptions.add(sub);
    return sub;
  }

  private onWake(listener: () => void): () => void {
    this.emitter.on('append', listener);
    this.wakeListeners += 1;
    this.startFeed();
    let registered = true;
    return () => {
      if (!registered) return;
      registered = false;
      this.emitter.off('append', listener);
      this.wakeListeners -= 1;
      if (this.wakeListeners === 0) void this.stopFeed();
    };
  }

  /** Opens the live wake-up feed (idempotent); on failure it is reopened after a pause while someone listens. */
  private startFeed(): void {
    if (!this.liveWake || this.closed || this.feed || this.feedRetry || this.wakeListeners === 0) return;
    let feed: AllStreamSubscription;
    try {
      feed = this.client.subscribeToAll({ fromPosition: END, filter: excludeSystemEvents() });
    } catch {
      this.feedRetry = setTimeout(() => { this.feedRetry = null; this.startFeed(); }, FEED_RETRY_MS);
      return;
    }
    this.feed = feed;
    const lost = () => {
      if (this.feed !== feed) return;
      this.feed = null;
      feed.unsubscribe().catch(() => { /* already gone */ });
      this.emitter.emit('append'); // read now: events may have arrived while the feed was failing
      if (!this.closed && this.wakeListeners > 0) {
        this.feedRetry = setTimeout(() => { this.feedRetry = null; this.startFeed(); }, FEED_RETRY_MS);
      }
    };
    feed.on('data', () => this.emitter.emit('append'));
    feed.on('error', lost);
    feed.on('end', lost);
  }

  private async stopFeed(): Promise<void> {
    if (this.feedRetry) { clearTimeout(this.feedRetry); this.feedRetry = null; }
    const feed = this.feed;
    this.feed = null;
    if (feed) {
      try { await feed.unsubscribe(); } catch { /* already gone */ }
    }
  }

  async verifyStream(streamId: string): Promise<ChainBreak | null> {
    const client = this.client;
    async function* records(): AsyncGenerator<RawRecord> {
      try {
        for await (const resolved of client.readStream(streamId, { direction: FORWARDS, fromRevision: START })) {
          const r = toRawRecord(resolved, false);
          if (r) yield r;
        }
      } catch (error) {
        if (!isStreamNotFound(error)) throw error;
      }
    }
    return verifyRecords(records());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.stopFeed();
    this.emitter.removeAllListeners();
    if (this.ownsClient) await this.client.dispose();
  }
}

/** `$all` position of an event read from `$all` (always sent by the server; the record's, else the commit position). */
function allPosition(resolved: AllStreamResolvedEvent): Position {
  const p = resolved.event?.position as Position | undefined;
  if (p) return p;
  if (resolved.commitPosition !== undefined) return { commit: resolved.commitPosition, prepare: resolved.commitPosition };
  throw new Error('the server returned an event of $all without its position');
}

/** The client's resolved event as a RawRecord; null when it carries no event. */
function toRawRecord(resolved: AnyResolved, fromAll: boolean): RawRecord | null {
  const e = resolved.event;
  if (!e) return null;
  const position = fromAll
    ? positionToNumber(allPosition(resolved as AllStreamResolvedEvent).commit)
    : streamReadPosition(e.position, resolved.commitPosition);
  return {
    streamId: e.streamId, id: e.id, revision: Number(e.revision), position, type: e.type,
    isJson: e.isJson, data: e.data, metadata: e.metadata,
  };
}
