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
import { ProjectionFollower, type ReadModelProjections } from '../projections/follower.ts';
import type { Bus } from './bus/port.ts';
import { openBus } from './bus/open.ts';
import { startRelay, type Relay } from './relay.ts';
import { MemoryCheckpointStore, SqliteCheckpointStore, type CheckpointStore } from './checkpoint.ts';

export interface Ledger {
  config: Config;
  store: EventStore;
  readModels: Database.Database;
  /** The projections this process runs, or (`project: 'follow'`) follows while `ledger projector` runs them. */
  projections: ReadModelProjections;
  /** The bus (in-process, or NATS when LEDGER_NATS_URL is set), when opened with `bus: true`. */
  bus?: Bus;
  /** The relay feeding the bus from the log, when opened with `relay: true`. */
  relay?: Relay;
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
  /**
   * Start projections (default true). `'follow'`: another process (`ledger projector`, distributed profile) writes
   * the read models; this one only reads them and waits on the projector's checkpoints for read-your-writes.
   */
  project?: boolean | 'follow';
  store?: EventStore;
  /** Open the bus of the profile (in-process, or NATS when LEDGER_NATS_URL is set). */
  bus?: boolean;
  /** Run the relay in this process (embedded profile): in-process bus from the head of the log; NATS from its checkpoint. */
  relay?: boolean;
  /** Name shown by nats-server for this process's connection. */
  role?: string;
}

export async function openLedger(config: Config, options: OpenLedgerOptions = {}): Promise<Ledger> {
  mkdirSync(config.dataDir, { recursive: true });
  const store = options.store ?? await openEventStore(config);
  const readModels = openReadModelDb(join(config.dataDir, 'readmodels.sqlite'));
  const projections: ReadModelProjections = options.project === 'follow'
    ? new ProjectionFollower({ store, db: readModels, projections: options.projections ?? [] })
    : new ProjectionRunner({ store, db: readModels, projections: options.projections ?? [] });
  if (options.project !== false) projections.start();
  const bus = options.bus || options.relay ? await openBus({ natsUrl: config.LEDGER_NATS_URL, name: `ledger-${options.role ?? 'process'}` }) : undefined;
  let relay: Relay | undefined;
  let checkpoints: CheckpointStore | undefined;
  if (options.relay && bus) {
    if (bus.kind === 'in-process') {
      // A volatile bus holds nothing from before this process: feed it live events only.
      checkpoints = new MemoryCheckpointStore();
      await checkpoints.save('relay', await store.headPosition());
    } else {
      checkpoints = new SqliteCheckpointStore(join(config.dataDir, 'checkpoints.sqlite'));
    }
    relay = await startRelay({ store, bus, checkpoints });
  }
  const handlers = new Map<Decider<any, any, any>, CommandHandler<any, any, any>>();
  const handlerFor = (decider: Decider<any, any, any>) => {
    let h = handlers.get(decider);
    if (!h) { h = new CommandHandler(store, decider); handlers.set(decider, h); }
    return h;
  };
  return {
    config, store, readModels, projections, bus, relay,
    execute: (decider, streamId, command, ctx) => handlerFor(decider).handle(streamId, command, ctx),
    load: (decider, streamId) => handlerFor(decider).state(streamId),
    async settle(timeoutMs = 10_000) { await projections.waitFor(await store.headPosition(), timeoutMs); },
    async close() {
      await relay?.stop();
      await checkpoints?.close();
      await bus?.close();
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
  return new SqliteEventStore({ path: join(config.dataDir, 'events.sqlite'), synchronous: config.LEDGER_SQLITE_SYNCHRONOUS, busyWait: config.LEDGER_SQLITE_BUSY_WAIT });
}
