/**
 * The relay: every stored event, in position order, onto the bus.
 *
 * Subject `ledger.<layer>.<Category>.<id>.<EventType>` (layer from the schema registry), `msgId` = the event id
 * (JetStream drops a republished event within its duplicate window), headers with position, stream, revision and
 * type, payload = the stored event as JSON.
 *
 * Exactly-once onto the bus, across crashes:
 * - events are published one at a time, each awaiting the bus's acknowledgement, so the bus holds a gap-free,
 *   ordered prefix of the log (a failure stops the relay before the next event; it retries from there);
 * - the checkpoint is saved after each acknowledged batch;
 * - on start the relay resumes after max(checkpoint, position of the newest event the bus already holds), so an
 *   event acknowledged just before a crash, but not yet checkpointed, is not published again even once the
 *   duplicate window has passed.
 */
import type { EventStore, StoredEvent, Subscription } from './event-store/port.ts';
import type { CheckpointStore } from './checkpoint.ts';
import type { Bus, Message } from './bus/port.ts';
import type { Fence } from './lease.ts';
import { FencedError } from './fence.ts';
import { LeaseLostError } from './lease.ts';
import { subjectToken } from './bus/subjects.ts';
import { categoryDefinitions, layerOf } from '../schema/registry.ts';
import { categoryOf, idOf } from '../schema/envelope.ts';

export const SUBJECT_PREFIX = 'ledger';

/** Headers the relay puts on every message. */
export const RELAY_HEADERS = {
  position: 'Ledger-Position',
  stream: 'Ledger-Stream',
  revision: 'Ledger-Revision',
  type: 'Ledger-Event-Type',
} as const;

/** Matches every relayed event subject (`ledger.<layer>.<Category>.<id>.<EventType>`). */
export const EVENT_SUBJECTS = `${SUBJECT_PREFIX}.*.*.*.*`;

/** The subject an event is published on: `ledger.<layer>.<Category>.<id>.<EventType>`. */
export function subjectFor(event: Pick<StoredEvent, 'streamId' | 'type'>, prefix = SUBJECT_PREFIX): string {
  const category = categoryOf(event.streamId);
  return `${prefix}.${layerOf(category)}.${subjectToken(category)}.${subjectToken(idOf(event.streamId))}.${subjectToken(event.type)}`;
}

/** Every event of one stream, e.g. `streamSubjects('Host-h_1')` = `ledger.resources.Host.h_1.>` (what a host agent listens on). */
export function streamSubjects(streamId: string, prefix = SUBJECT_PREFIX): string {
  const category = categoryOf(streamId);
  return `${prefix}.${layerOf(category)}.${subjectToken(category)}.${subjectToken(idOf(streamId))}.>`;
}

/** Every event of one category, e.g. `categorySubjects('CContract')` = `ledger.components.CContract.>`. */
export function categorySubjects(category: string, prefix = SUBJECT_PREFIX): string {
  return `${prefix}.${layerOf(category)}.${subjectToken(category)}.>`;
}

/** The stored event a relayed message carries. */
export function eventFromMessage<T = unknown>(message: Message): StoredEvent<T> {
  return message.json<StoredEvent<T>>();
}

export class UnknownCategoryError extends Error {
  readonly code = 'UNKNOWN_CATEGORY';
  constructor(readonly category: string, readonly event: StoredEvent) {
    super(`event ${event.metadata.eventId} at position ${event.position} (${event.streamId}) belongs to category ${category}, which no loaded schema defines, so its layer (and subject) is unknown: start the relay with every layer's schemas loaded`);
    this.name = 'UnknownCategoryError';
  }
}

export interface RelayOptions {
  store: Pick<EventStore, 'subscribe' | 'headPosition'>;
  bus: Bus;
  checkpoints: CheckpointStore;
  /** Checkpoint name. Default `relay`. */
  name?: string;
  /** Subject prefix. Default `ledger`. */
  prefix?: string;
  /** Events read per batch (one checkpoint per batch). Default 200. */
  batchSize?: number;
  /**
   * An event of a category no loaded schema defines: `error` (default) stops the relay at that event and reports it
   * (nothing is lost: fix the deployment, restart); `core` publishes it under `ledger.core.…`.
   */
  unknownCategory?: 'error' | 'core';
  /** Progress and problems, one line each. Default: stderr. */
  log?: (line: string) => void;
  /**
   * The relay's lease (distributed profile): checked before every publish; when it is lost, or the checkpoint store
   * refuses a write (FencedError), the relay stops for good and `stopped` resolves with the reason. The checkpoint
   * store should be fenced by the same lease (KvCheckpointStore).
   */
  fence?: Fence;
}

export interface RelayStats {
  /** Checkpointed position: every event up to here is on the bus. */
  position: number;
  /** Where this run started (after this position). */
  startedAfter: number;
  published: number;
  /** Publishes the bus reported as duplicates (already stored within its window). */
  duplicates: number;
}

export interface Relay {
  readonly stats: RelayStats;
  /** Resolves once every event up to `position` is on the bus and checkpointed. */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  /** Finishes the batch in progress, checkpoints it, stops. Does not close the store, bus or checkpoints. */
  stop(): Promise<void>;
  /** Resolves when the relay stopped by itself: it lost its lease or was fenced off (never for `stop()`). */
  readonly stopped: Promise<Error>;
}

/** The position (header) of the newest relayed event the bus holds, or 0. */
export async function busHighWater(bus: Bus, prefix = SUBJECT_PREFIX): Promise<number> {
  const last = await bus.lastMessage(`${prefix}.*.*.*.*`);
  const position = Number(last?.headers[RELAY_HEADERS.position]);
  return Number.isSafeInteger(position) && position > 0 ? position : 0;
}

export async function startRelay(options: RelayOptions): Promise<Relay> {
  const { store, bus, checkpoints } = options;
  const name = options.name ?? 'relay';
  const prefix = options.prefix ?? SUBJECT_PREFIX;
  const strict = (options.unknownCategory ?? 'error') === 'error';
  const log = options.log ?? ((line: string) => console.error(line));

  // Rate-limit repeated problem reports (a stuck relay retries every fraction of a second).
  const lastReported = new Map<string, number>();
  const report = (line: string) => {
    const now = Date.now();
    if (now - (lastReported.get(line) ?? 0) < 30_000) return;
    lastReported.set(line, now);
    log(line);
  };

  const checkpoint = await checkpoints.load(name);
  const head = await store.headPosition();
  let highWater = await busHighWater(bus, prefix);
  if (highWater > head) {
    log(`relay: the bus holds events up to position ${highWater} but the event store ends at ${head}: not the store it was fed from? ignoring the bus's position`);
    highWater = 0;
  }
  const startAfter = Math.max(checkpoint, highWater);
  if (highWater > checkpoint) {
    // Published and acknowledged before the last stop, but not checkpointed: never publish those again.
    await checkpoints.save(name, highWater);
    log(`relay: events up to position ${highWater} were already on the bus (checkpoint was ${checkpoint}); resuming after ${highWater}`);
  }

  const stats: RelayStats = { position: startAfter, startedAfter: startAfter, published: 0, duplicates: 0 };
  let lastPublished = startAfter;
  let known = new Set(categoryDefinitions().map((c) => c.name));
  const isKnown = (category: string) => {
    if (known.has(category)) return true;
    known = new Set(categoryDefinitions().map((c) => c.name)); // schemas may have been loaded since
    return known.has(category);
  };

  const publish = async (event: StoredEvent) => {
    // A leader that lost its lease (or was paused past it) publishes nothing more. A publish already under way when
    // it was paused can still land: it is the next event in order, which the new leader publishes with the same
    // Nats-Msg-Id, so the bus drops one of the two within the duplicate window (2 min, far above the lease TTL).
    if (options.fence && !options.fence.isValid()) throw new LeaseLostError(name, 'not valid any more before a publish');
    const category = categoryOf(event.streamId);
    if (strict && !isKnown(category)) throw new UnknownCategoryError(category, event);
    const ack = await bus.publish(subjectFor(event, prefix), event, {
      msgId: event.metadata.eventId,
      headers: {
        [RELAY_HEADERS.position]: String(event.position),
        [RELAY_HEADERS.stream]: event.streamId,
        [RELAY_HEADERS.revision]: String(event.revision),
        [RELAY_HEADERS.type]: event.type,
      },
    });
    if (ack.duplicate) stats.duplicates++; else stats.published++;
  };

  let fatal!: (error: Error) => void;
  const stopped = new Promise<Error>((resolve) => { fatal = resolve; });
  const subscription: Subscription = store.subscribe({
    after: startAfter,
    batchSize: options.batchSize ?? 200,
    onBatch: async (events, lastPosition) => {
      for (const event of events) {
        if (event.position <= lastPublished) continue; // already on the bus (a batch retried after a failure)
        await publish(event);
        lastPublished = event.position;
      }
      await checkpoints.save(name, lastPosition);
      stats.position = lastPosition;
    },
    onError: (error) => {
      if (error instanceof FencedError || error instanceof LeaseLostError) {
        log(`relay: stopped at position ${lastPublished}: ${error.message}`);
        void subscription.close();
        fatal(error);
        return;
      }
      report(`relay: stopped at position ${lastPublished}, retrying: ${error instanceof Error ? error.message : String(error)}`);
    },
  });

  return {
    stats,
    stopped,
    waitFor: (position, timeoutMs) => subscription.waitFor(position, timeoutMs),
    stop: () => subscription.close(),
  };
}
