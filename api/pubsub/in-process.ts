/** The in-process PubSub of the embedded profile: one map of topic → listeners. */
import type { PubSub } from './port.ts';

export class InProcessPubSub implements PubSub {
  private readonly topics = new Map<string, Set<(payload: unknown) => void>>();
  private closed = false;

  async publish(topic: string, payload: unknown): Promise<void> {
    if (this.closed) return;
    const listeners = this.topics.get(topic);
    if (!listeners) return;
    for (const listener of [...listeners]) {
      try { listener(payload); } catch { /* a listener's failure is its own; the others still get the message */ }
    }
  }

  async subscribe(topic: string, listener: (payload: unknown) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('pubsub is closed');
    let set = this.topics.get(topic);
    if (!set) { set = new Set(); this.topics.set(topic, set); }
    const wrapped = (payload: unknown) => listener(payload);
    set.add(wrapped);
    return async () => {
      const s = this.topics.get(topic);
      if (!s) return;
      s.delete(wrapped);
      if (s.size === 0) this.topics.delete(topic);
    };
  }

  /** Number of live subscriptions (all topics). */
  get size(): number {
    let n = 0;
    for (const s of this.topics.values()) n += s.size;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.topics.clear();
  }
}
