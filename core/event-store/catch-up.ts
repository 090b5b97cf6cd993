/**
 * A catch-up subscription built on `readAll` and `headPosition`: read history in batches, then wait for a wake-up
 * (an append signal from this process, or a poll for other writers) and read again. Positions only grow and every
 * event at or below an observed head is already visible, so a reader that advances to max(last event, observed head)
 * after a short read never skips an event and never delivers one twice, however appends race the switch to live.
 */
import type { EventStore, StoredEvent, SubscribeOptions, Subscription } from './port.ts';

export interface WakeSource {
  /** Registers a callback for "something was appended"; returns an unregister function. */
  onAppend(listener: () => void): () => void;
}

export function catchUpSubscription(store: Pick<EventStore, 'readAll' | 'headPosition'>, wake: WakeSource, pollMs: number, options: SubscribeOptions): Subscription {
  const batchSize = options.batchSize ?? 500;
  let position = options.after ?? 0;
  let open = true;
  let caughtUp = false;
  let wakeUp: (() => void) | null = null;
  let pendingWake = false;
  const waiters: { position: number; resolve: () => void }[] = [];

  const unregister = wake.onAppend(() => {
    pendingWake = true;
    wakeUp?.();
  });

  const settleWaiters = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].position <= position) { waiters[i].resolve(); waiters.splice(i, 1); }
    }
  };

  const sleep = () => new Promise<void>((resolve) => {
    if (pendingWake || !open) { pendingWake = false; resolve(); return; }
    const timer = setTimeout(done, pollMs);
    function done() { clearTimeout(timer); wakeUp = null; pendingWake = false; resolve(); }
    wakeUp = done;
  });

  const done = (async () => {
    while (open) {
      try {
        const head = await store.headPosition();
        while (open && position < head) {
          const batch: StoredEvent[] = await store.readAll({ after: position, maxCount: batchSize, filter: options.filter });
          const last = batch.length ? batch[batch.length - 1].position : position;
          // A short batch read after observing `head` holds every matching event up to head.
          const next = batch.length < batchSize ? Math.max(last, head) : last;
          if (batch.length) await options.onBatch(batch, next);
          position = next;
          settleWaiters();
        }
        if (!caughtUp && open) { caughtUp = true; options.onCaughtUp?.(position); }
        settleWaiters();
      } catch (error) {
        if (!open) break;
        if (options.onError) options.onError(error); else console.error('subscription error', error);
        await new Promise((r) => setTimeout(r, Math.max(pollMs, 100)));
        continue;
      }
      await sleep();
    }
  })();

  return {
    get position() { return position; },
    async close() {
      open = false;
      unregister();
      wakeUp?.();
      await done;
      for (const w of waiters.splice(0)) w.resolve();
    },
    waitFor(target: number, timeoutMs = 10_000) {
      if (target <= position) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`subscription did not reach position ${target} within ${timeoutMs} ms (at ${position})`)), timeoutMs);
        waiters.push({ position: target, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    },
  };
}
