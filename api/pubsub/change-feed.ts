/**
 * Change feeds: turn stored events into pub/sub messages for GraphQL subscriptions. They read the event store
 * (a live catch-up subscription from the head at start), wait until the read models have applied each batch, and
 * only then publish, so a subscriber that reacts by querying sees the change, and every writer's change (this API,
 * another process, a process manager) reaches subscribers, not just changes made through this server's mutations.
 */
import type { EventStore, ReadFilter, StoredEvent, Subscription } from '../../core/event-store/port.ts';
import type { PubSub } from './port.ts';

export interface ChangeMessage { topic: string; payload: unknown }

export interface ChangeFeed {
  name: string;
  /** The events this feed looks at. */
  filter: ReadFilter;
  /** Messages to publish for one event (after the read models applied it). */
  messages(event: StoredEvent): ChangeMessage[];
}

export interface ChangeFeedOptions {
  store: EventStore;
  /** Resolves once the read models have applied everything up to `position`. */
  readModelsAt: (position: number, timeoutMs: number) => Promise<void>;
  feeds: ChangeFeed[];
  pubsub: PubSub;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** How long to wait for the read models before publishing anyway (default 5 s). */
  waitTimeoutMs?: number;
}

export interface RunningFeeds { close(): Promise<void>; readonly published: number }

export async function startChangeFeeds(options: ChangeFeedOptions): Promise<RunningFeeds> {
  const { store, feeds, pubsub, log } = options;
  const timeout = options.waitTimeoutMs ?? 5000;
  const head = await store.headPosition();
  let published = 0;
  const subs: Subscription[] = feeds.map((feed) => store.subscribe({
    after: head,
    filter: feed.filter,
    batchSize: 500,
    onBatch: async (events, position) => {
      try {
        await options.readModelsAt(position, timeout);
      } catch (error) {
        log.warn({ feed: feed.name, position, err: error }, 'read models lag behind; publishing changes anyway');
      }
      for (const event of events) {
        let messages: ChangeMessage[];
        try { messages = feed.messages(event); } catch (error) {
          log.error({ feed: feed.name, position: event.position, err: error }, 'change feed could not map an event');
          continue;
        }
        for (const m of messages) {
          try { await pubsub.publish(m.topic, m.payload); published++; } catch (error) {
            log.error({ feed: feed.name, topic: m.topic, err: error }, 'publishing a change failed');
          }
        }
      }
    },
    onError: (error) => log.error({ feed: feed.name, err: error }, 'change feed subscription failed'),
  }));
  return {
    get published() { return published; },
    async close() { await Promise.all(subs.map((s) => s.close())); },
  };
}
