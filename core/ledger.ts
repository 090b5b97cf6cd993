/**
 * The composition root of one ledger process: the event store, the read-model database, the projection runner and
 * a command bus that routes commands to deciders through cached command handlers. Roles (serve, projector, relay,
 * scheduler, agent) open what they need from here; side effects live here and at the edges, never in deciders.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { Config } from './config.ts';
import type { Command, Decider, DomainEvent } from './decider.ts';
import { CommandHandler, type CommandContext, type HandleResult } from './command-handler.ts';
import type { EventStore } from './event-store/port.ts';
import { SqliteEventStore } from './event-store/sqlite.ts';
import { openReadModelDb, ProjectionRunner, type SqliteProjection } from '../projections/runner.ts';

export interface Ledger {
  config: Config;
  store: EventStore;
  readModels: Database.Database;
  projections: ProjectionRunner;
  /** Runs a command against one stream's decider (load → decide → append, with retries and idempotency). */
  execute<S, C extends Command, E extends DomainEvent>(decider: Decider<S, C, E>, streamId: string, command: C, ctx: CommandContext): Promise<HandleResult<S>>;
  /** Current state of a stream as folded by a decider. */
  load<S, C extends Command, E extends DomainEvent>(decider: Decider<S, C, E>, streamId: string): Promise<{ state: S; revision: number }>;
  /** Waits until every projection has processed everything appended so far (read-your-writes). */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface OpenLedgerOptions {
  projections?: SqliteProjection[];
  /** Start projections (default true). */
  project?: boolean;
  store?: EventStore;
}

export async function openLedger(config: Config, options: OpenLedgerOptions = {}): Promise<Ledger> {
  mkdirSync(config.dataDir, { recursive: true });
  const store = options.store ?? await openEventStore(config);
  const readModels = openReadModelDb(join(config.dataDir, 'readmodels.sqlite'));
  const projections = new ProjectionRunner({ store, db: readModels, projections: options.projections ?? [] });
  if (options.project !== false) projections.start();
  const handlers = new Map<Decider<any, any, any>, CommandHandler<any, any, any>>();
  const handlerFor = (decider: Decider<any, any, any>) => {
    let h = handlers.get(decider);
    if (!h) { h = new CommandHandler(store, decider); handlers.set(decider, h); }
    return h;
  };
  return {
    config, store, readModels, projections,
    execute: (decider, streamId, command, ctx) => handlerFor(decider).handle(streamId, command, ctx),
    load: (decider, streamId) => handlerFor(decider).state(streamId),
    async settle(timeoutMs = 10_000) { await projections.waitFor(await store.headPosition(), timeoutMs); },
    async close() {
      await projections.stop();
      await store.close();
      readModels.close();
    },
  };
}

/** The embedded SQLite store under the data directory, or KurrentDB when LEDGER_EVENTSTORE_URL is set. */
export async function openEventStore(config: Config): Promise<EventStore> {
  if (config.LEDGER_EVENTSTORE_URL) {
    const { KurrentEventStore } = await import('./event-store/kurrentdb.ts');
    return KurrentEventStore.connect(config.LEDGER_EVENTSTORE_URL);
  }
  return new SqliteEventStore({ path: join(config.dataDir, 'events.sqlite'), synchronous: config.LEDGER_SQLITE_SYNCHRONOUS });
}
