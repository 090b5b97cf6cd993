/**
 * Fences: the write side of leases (core/lease.ts). A store that a leader writes to remembers, per name, the highest
 * fencing token that has written it, and refuses a write with a lower one. A leader that was paused or partitioned
 * while another took over carries an older token, so everything it tries to write after the takeover is refused —
 * even if its own lease check said "valid" a moment before it was paused.
 *
 * - `SqliteFence`: a `fences` table checked and raised by one statement inside the caller's transaction (the
 *   projection runner's batch transaction): a refused token throws and the whole batch rolls back.
 * - `KvCheckpointStore`: checkpoints in a NATS KV bucket, each value carrying the token that wrote it, updated by
 *   compare-and-set on the key's revision (the relay's checkpoint).
 */
import type Database from 'better-sqlite3';
import { Kvm, type KV } from '@nats-io/kv';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import type { CheckpointStore } from './checkpoint.ts';
import { LeaseLostError, type Fence } from './lease.ts';

export class FencedError extends Error {
  readonly code = 'FENCED';
  constructor(readonly fence: string, readonly token: number, readonly current: number) {
    super(`write to ${fence} refused: fencing token ${token} is older than ${current} (another leader took over)`);
    this.name = 'FencedError';
  }
}

/** Pure: may a writer holding `token` write where the fence stands at `current` (undefined: never written)? */
export function fenceAdmits(current: number | undefined, token: number): boolean {
  return current === undefined || token >= current;
}

/** Per-name fences in a SQLite database, for use inside the caller's transaction. */
export class SqliteFence {
  private readonly raiseStmt: Database.Statement;
  private readonly getStmt: Database.Statement;

  constructor(readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS fences (
      name TEXT PRIMARY KEY, token INTEGER NOT NULL, holder TEXT, updated_at TEXT NOT NULL)`);
    // One statement: insert, or raise to our token; a row with a higher token is left alone (0 changes = refused).
    this.raiseStmt = db.prepare(`INSERT INTO fences (name, token, holder, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET token = excluded.token, holder = excluded.holder, updated_at = excluded.updated_at
      WHERE fences.token <= excluded.token`);
    this.getStmt = db.prepare('SELECT token FROM fences WHERE name = ?').pluck();
  }

  /** The highest token that wrote `name`, or undefined. */
  current(name: string): number | undefined {
    return this.getStmt.get(name) as number | undefined;
  }

  /** Raises the fence of `name` to `token`, or throws FencedError when it stands higher. Call inside the write's transaction. */
  check(name: string, token: number, holder = ''): void {
    if (this.raiseStmt.run(name, token, holder, new Date().toISOString()).changes === 0) {
      throw new FencedError(name, token, this.current(name) ?? 0);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------

export const CHECKPOINT_BUCKET = 'ledger-checkpoints';
const KvCheckpoint = z.object({ position: z.number().int().nonnegative(), token: z.number().int().nonnegative() });

const isWrongRevision = (e: unknown) => e instanceof JetStreamApiError
  && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);

export async function openCheckpointBucket(nc: NatsConnection, bucket = CHECKPOINT_BUCKET): Promise<KV> {
  return new Kvm(nc).create(bucket, { history: 1, storage: 'file' } as any);
}

/**
 * Checkpoints in NATS KV, fenced: `save` refuses (FencedError) when the stored checkpoint was written with a higher
 * token, or when the lease is no longer valid on this process's clock. Shared by every machine that runs the role.
 */
export class KvCheckpointStore implements CheckpointStore {
  constructor(private readonly kv: KV, private readonly fence: Fence) {}

  private async read(name: string) {
    const entry = await this.kv.get(`checkpoint.${name}`);
    if (!entry || entry.operation !== 'PUT') return { revision: 0, value: undefined };
    const parsed = KvCheckpoint.safeParse(entry.json());
    if (!parsed.success) throw new Error(`checkpoint ${name} in the KV bucket is unreadable: ${entry.string()}`);
    return { revision: entry.revision, value: parsed.data };
  }

  async load(name: string): Promise<number> {
    return (await this.read(name)).value?.position ?? 0;
  }

  /** The token that wrote the checkpoint last (0 when none). */
  async token(name: string): Promise<number> {
    return (await this.read(name)).value?.token ?? 0;
  }

  async save(name: string, position: number): Promise<void> {
    if (!Number.isSafeInteger(position) || position < 0) throw new Error(`invalid checkpoint position ${position}`);
    for (let attempt = 0; ; attempt++) {
      const { revision, value } = await this.read(name);
      if (!fenceAdmits(value?.token, this.fence.token)) throw new FencedError(`checkpoint ${name}`, this.fence.token, value!.token);
      if (!this.fence.isValid()) throw new LeaseLostError(`checkpoint ${name}`, 'the lease is no longer valid on this process\'s clock');
      const body = JSON.stringify({ position, token: this.fence.token });
      try {
        if (revision === 0) await this.kv.create(`checkpoint.${name}`, body);
        else await this.kv.update(`checkpoint.${name}`, body, revision);
        return;
      } catch (error) {
        // Someone wrote between our read and our write: read again (and find out whether it was a newer leader).
        if (!isWrongRevision(error) || attempt >= 5) throw error;
      }
    }
  }

  async close(): Promise<void> {}
}
