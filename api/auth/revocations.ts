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
  /** Resolves once revocations up to `position` are known. */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function watchRevocations(store: EventStore, onError: (error: unknown) => void = () => {}): Promise<Revocations> {
  const revoked = new Set<string>();
  let caughtUp!: () => void;
  const ready = new Promise<void>((r) => { caughtUp = r; });
  const sub = store.subscribe({
    filter: { categories: ['Token'] },
    onBatch: (events) => {
      for (const e of events) if (e.type === 'TokenRevoked') revoked.add((e.data as { tokenId: string }).tokenId);
    },
    onCaughtUp: () => caughtUp(),
    onError,
  });
  await ready; // a revoked token must not slip through while the history is still being read
  return {
    has: (tokenId) => revoked.has(tokenId),
    waitFor: (position, timeoutMs) => sub.waitFor(position, timeoutMs),
    close: () => sub.close(),
  };
}
