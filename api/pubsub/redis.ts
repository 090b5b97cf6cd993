/**
 * The PubSub port on Redis pub/sub (distributed profile): every API instance subscribes to the topics its WebSocket
 * subscribers asked for, on its own subscriber connection, and relays the messages to them; the single publisher of
 * change messages is the projector (after it committed the read-model change), so a change made through instance A
 * reaches a subscriber connected to instance B.
 *
 * One Redis channel per topic (`<prefix><topic>`), subscribed while at least one local listener wants it. Redis
 * pub/sub is at-most-once: a subscriber that is disconnected misses what was published meanwhile (subscriptions are
 * live notifications; clients re-query after reconnecting). ioredis re-subscribes by itself after a reconnect.
 */
import { Redis } from 'ioredis';
import type { PubSub } from './port.ts';

export interface RedisPubSubOptions {
  /** Channel prefix (default `ledger:ps:`). */
  prefix?: string;
  /** Called when a message cannot be parsed or a listener throws. */
  onError?: (error: unknown) => void;
}

export class RedisPubSub implements PubSub {
  private readonly pub: Redis;
  private sub: Redis | null = null;
  private readonly listeners = new Map<string, Set<(payload: unknown) => void>>();
  private readonly prefix: string;
  private closed = false;

  constructor(private readonly url: string, private readonly options: RedisPubSubOptions = {}) {
    this.prefix = options.prefix ?? 'ledger:ps:';
    // Publishing fails fast while Redis is down (no offline queue): the caller logs it and goes on.
    this.pub = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName: 'ledger-pubsub-pub' });
    this.pub.on('error', () => { /* reconnects by itself; failures surface on the commands */ });
    void this.pub.connect().catch(() => {});
  }

  /** The subscriber connection, made on first subscribe (a connection in subscribe mode can do nothing else). */
  private subscriber(): Redis {
    if (this.sub) return this.sub;
    const sub = new Redis(this.url, { lazyConnect: false, maxRetriesPerRequest: null, connectionName: 'ledger-pubsub-sub' });
    sub.on('error', () => { /* reconnects and re-subscribes by itself */ });
    sub.on('message', (channel: string, message: string) => {
      const set = this.listeners.get(channel.slice(this.prefix.length));
      if (!set) return;
      let payload: unknown;
      try { payload = JSON.parse(message); } catch (error) { this.options.onError?.(error); return; }
      for (const listener of [...set]) {
        try { listener(payload); } catch (error) { this.options.onError?.(error); }
      }
    });
    this.sub = sub;
    return sub;
  }

  async publish(topic: string, payload: unknown): Promise<void> {
    if (this.closed) return;
    await this.pub.publish(this.prefix + topic, JSON.stringify(payload));
  }

  async subscribe(topic: string, listener: (payload: unknown) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('pubsub is closed');
    let set = this.listeners.get(topic);
    const first = !set;
    if (!set) { set = new Set(); this.listeners.set(topic, set); }
    const wrapped = (payload: unknown) => listener(payload);
    set.add(wrapped);
    // ioredis queues the SUBSCRIBE while disconnected and replays it on reconnect, so this resolves once Redis answered
    if (first) await this.subscriber().subscribe(this.prefix + topic);
    return async () => {
      const s = this.listeners.get(topic);
      if (!s || !s.delete(wrapped) || s.size > 0) return;
      this.listeners.delete(topic);
      if (!this.closed) await this.sub?.unsubscribe(this.prefix + topic).catch(() => {});
    };
  }

  /** Number of live local subscriptions (all topics). */
  get size(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.pub.disconnect();
    this.sub?.disconnect();
  }
}
