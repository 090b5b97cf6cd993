/**
 * Running Components commands with state read fresh from the store.
 *
 * The ledger's command handlers cache each stream's state and trust it until an append conflicts. That is right for
 * commands whose decision an append would contradict, but a command that the (stale) cached state turns into "nothing
 * to do" appends nothing and so never learns the stream moved on: a replica reported lost against an epoch this process
 * has not seen yet would be dropped. Several schedulers write the same CContract streams, so Components commands go
 * through handlers that re-read the stream (CContract streams are short) before deciding.
 */
import { CommandHandler, type CommandContext, type HandleResult } from '../../core/command-handler.ts';
import type { Command, Decider, DomainEvent } from '../../core/decider.ts';
import type { EventStore } from '../../core/event-store/port.ts';

const handlers = new WeakMap<EventStore, Map<Decider<any, any, any>, CommandHandler<any, any, any>>>();

function handlerFor<S, C extends Command, E extends DomainEvent>(store: EventStore, decider: Decider<S, C, E>): CommandHandler<S, C, E> {
  let byDecider = handlers.get(store);
  if (!byDecider) { byDecider = new Map(); handlers.set(store, byDecider); }
  let h = byDecider.get(decider);
  if (!h) { h = new CommandHandler(store, decider, { maxRetries: 8, cacheSize: 1000 }); byDecider.set(decider, h); }
  return h as CommandHandler<S, C, E>;
}

/** load → decide → append with the stream read fresh first (then the usual conflict retries). */
export function executeFresh<S, C extends Command, E extends DomainEvent>(
  ledger: { store: EventStore }, decider: Decider<S, C, E>, streamId: string, command: C, ctx: CommandContext,
): Promise<HandleResult<S>> {
  const h = handlerFor(ledger.store, decider);
  h.forget(streamId);
  return h.handle(streamId, command, ctx);
}

/** A stream's state read fresh from the store. */
export function loadFresh<S, C extends Command, E extends DomainEvent>(ledger: { store: EventStore }, decider: Decider<S, C, E>, streamId: string): Promise<{ state: S; revision: number }> {
  const h = handlerFor(ledger.store, decider);
  h.forget(streamId);
  return h.state(streamId);
}
