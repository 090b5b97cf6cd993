/**
 * Adapts our PubSub port to mercurius's custom pubsub contract: `subscribe(topic, queue)` pushes every payload into
 * the subscription's readable queue and registers an unsubscribe in `queue.close` (an array mercurius calls when the
 * subscription ends). A late message after the end is dropped; a subscriber that stops reading loses messages beyond
 * `maxQueued` instead of growing memory without bound.
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { PubSub } from './port.ts';

type Queue = Readable & { close?: Array<() => void> | (() => void) };

export function mercuriusPubSub(pubsub: PubSub, options: { maxQueued?: number; onDrop?: (topic: string) => void; onSubscribe?: () => void; onUnsubscribe?: () => void } = {}) {
  const maxQueued = options.maxQueued ?? 1000;
  return {
    emitter: new EventEmitter(),
    async subscribe(topic: string | string[], queue: Queue): Promise<void> {
      const topics = Array.isArray(topic) ? topic : [topic];
      let ended = false;
      const offs: Array<() => Promise<void>> = [];
      for (const t of topics) {
        offs.push(await pubsub.subscribe(t, (payload) => {
          if (ended || queue.destroyed || queue.readableEnded) return;
          if (queue.readableLength >= maxQueued) { options.onDrop?.(t); return; }
          queue.push(payload);
        }));
      }
      options.onSubscribe?.();
      const close = () => {
        if (ended) return;
        ended = true;
        options.onUnsubscribe?.();
        for (const off of offs) void off();
      };
      if (Array.isArray(queue.close)) queue.close.push(close);
      else queue.close = [close];
    },
    publish(event: { topic: string; payload: unknown }, callback: (error?: unknown) => void): void {
      pubsub.publish(event.topic, event.payload).then(() => callback(), (error) => callback(error));
    },
  };
}
