/** Opening what the audit tools read: the event store (read-only for the embedded profile) and the audit index. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { Config } from '../config.ts';
import type { EventStore } from '../event-store/port.ts';
import { SqliteEventStore } from '../event-store/sqlite.ts';
import { openEventStore } from '../ledger.ts';
import { openReadModelDb, ProjectionRunner } from '../../projections/runner.ts';
import { auditProjection } from '../../projections/audit.ts';
import { auditIndexPosition } from './log.ts';
import { replayProjection } from './replay.ts';

export const eventsPath = (config: Pick<Config, 'dataDir'>) => join(config.dataDir, 'events.sqlite');
export const readModelsPath = (config: Pick<Config, 'dataDir'>) => join(config.dataDir, 'readmodels.sqlite');

/** The event store without creating anything: KurrentDB when configured, else <data>/events.sqlite read-only. */
export async function openStoreReadOnly(config: Config): Promise<EventStore> {
  if (config.LEDGER_EVENTSTORE_URL) return openEventStore(config);
  const path = eventsPath(config);
  if (!existsSync(path)) throw new Error(`no event store at ${path}: nothing has been recorded in this data directory (check --data / LEDGER_DATA_DIR)`);
  return new SqliteEventStore({ path, readonly: true });
}

/** Backlogs larger than this are indexed by a bulk rebuild (replay + swap) rather than event by event. */
export const BULK_CATCH_UP = 20_000;

/**
 * Brings the `audit` index of the read-model database up to the head of the log: a large backlog through a bulk
 * replay and swap (safe beside a running `ledger serve`), then the rest through the projection runner.
 */
export async function catchUpAuditIndex(store: EventStore, db: Database.Database, dataDir: string, log: (line: string) => void = () => {}): Promise<number> {
  const head = await store.headPosition();
  const indexed = auditIndexPosition(db);
  if (head - indexed > BULK_CATCH_UP) {
    log(`indexing ${head - indexed} events for the audit log (once; later queries only index what is new)...`);
    await replayProjection(store, db, auditProjection, { dataDir, upTo: 'head' });
  }
  const errors: unknown[] = [];
  const runner = new ProjectionRunner({ store, db, projections: [auditProjection], onError: (_p, e) => errors.push(e) });
  runner.start();
  try {
    await runner.waitFor(head, 120_000);
  } finally {
    await runner.stop();
  }
  return head;
}

export const openReadModels = (config: Config): Database.Database => openReadModelDb(readModelsPath(config));
