/**
 * Checkpoints: how far a reader of the event log (the relay, a projector) has durably got, by name.
 * Positions are global event-store positions; 0 means "from the start".
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface CheckpointStore {
  /** The saved position of `name`, 0 when none. */
  load(name: string): Promise<number>;
  /** Saves `position` for `name`; durable once the promise resolves. */
  save(name: string, position: number): Promise<void>;
  close(): Promise<void>;
}

/** For tests and single-process runs where losing the checkpoint only means re-reading. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly positions = new Map<string, number>();
  async load(name: string): Promise<number> { return this.positions.get(name) ?? 0; }
  async save(name: string, position: number): Promise<void> { this.positions.set(name, assertPosition(position)); }
  async close(): Promise<void> {}
}

/**
 * Checkpoints in a SQLite file (WAL; survives a killed process). Several names share one file, e.g.
 * `<data>/checkpoints.sqlite`. Pass an open better-sqlite3 database instead of a path to keep checkpoints in the
 * same file (and transaction) as a read model.
 */
export class SqliteCheckpointStore implements CheckpointStore {
  readonly db: Database.Database;
  private readonly owned: boolean;
  private readonly get: Database.Statement;
  private readonly put: Database.Statement;

  constructor(target: string | Database.Database, options: { synchronous?: 'NORMAL' | 'FULL' } = {}) {
    if (typeof target === 'string') {
      if (target !== ':memory:') mkdirSync(dirname(target), { recursive: true });
      this.db = new Database(target);
      this.db.pragma('busy_timeout = 10000');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
      this.owned = true;
    } else {
      this.db = target;
      this.owned = false;
    }
    this.db.exec(`CREATE TABLE IF NOT EXISTS checkpoints (
      name       TEXT PRIMARY KEY,
      position   INTEGER NOT NULL,
      updated_at TEXT    NOT NULL
    )`);
    this.get = this.db.prepare('SELECT position FROM checkpoints WHERE name = ?').pluck();
    this.put = this.db.prepare(`INSERT INTO checkpoints (name, position, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`);
  }

  async load(name: string): Promise<number> {
    return (this.get.get(name) as number | undefined) ?? 0;
  }

  /** Synchronous variant, for use inside a caller's own transaction. */
  saveSync(name: string, position: number): void {
    this.put.run(name, assertPosition(position), new Date().toISOString());
  }

  async save(name: string, position: number): Promise<void> {
    this.saveSync(name, position);
  }

  async close(): Promise<void> {
    if (this.owned && this.db.open) this.db.close();
  }
}

function assertPosition(position: number): number {
  if (!Number.isSafeInteger(position) || position < 0) throw new Error(`invalid checkpoint position ${position}`);
  return position;
}
