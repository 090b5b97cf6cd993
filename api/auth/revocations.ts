/**
 * Revoked API tokens, as every API instance must know them: a catch-up subscription on the `Token` streams (from the
 * start of the log: revocations are few) keeps the set of revoked token ids. `ledger token revoke` records a
 * `TokenRevoked` event; each API process learns of it from the log (no shared memory needed, distributed or not).
 *
 *   const revocations = await watchRevocations(ledger.store);
 *   new TokenVerifier(secret, { isRevoked: (id) => revocations.has(id) });
 */
import type { EventStore } from '../../core/event-store/port.ts';

export interface Revocations {
  has(tokenId: string): boolean;
  /** Calls `listener` with each token id revoked from now on (to cut the connections that use it); returns its removal. */
  onRevoked(listener: (tokenId: string) => void): () => void;
  /** Resolves once revocations up to `position` are known. */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function watchRevocations(store: EventStore, onError: (error: unknown) => void = () => {}): Promise<Revocations> {
  const revoked = new Set<string>();
  const listeners = new Set<(tokenId: string) => void>();
  let caughtUp!: () => void;
  const ready = new Promise<void>((r) => { caughtUp = r; });
  const sub = store.subscribe({
    filter: { categories: ['Token'] },
    onBatch: (events) => {
      for (const e of events) {
        if (e.type !== 'TokenRevoked') continue;
        const { tokenId } = e.data as { tokenId: string };
        if (revoked.has(tokenId)) continue;
        revoked.add(tokenId);
        for (const listener of listeners) {
          try { listener(tokenId); } catch (error) { onError(error); }
        }
      }
    },
    onCaughtUp: () => caughtUp(),
    onError,
  });
  await ready; // a revoked token must not slip through while the history is still being read
  return {
    has: (tokenId) => revoked.has(tokenId),
    onRevoked: (listener) => { listeners.add(listener); return () => { listeners.delete(listener); }; },
    waitFor: (position, timeoutMs) => sub.waitFor(position, timeoutMs),
    close: () => sub.close(),
  };
}
