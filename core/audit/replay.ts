/**
 * `ledger replay`: rebuild read models from zero beside the live ones, compare digests, and swap the rebuilt tables
 * in without stopping the API.
 *
 * Side by side: the rebuild writes into its own file (<data>/replay/<name>-<time>.sqlite, no journal: it is scratch
 * until swapped). It goes up to the position the live read model had applied when the replay started (read with its
 * digest in one snapshot), so the two digests are taken at the same position and must be equal; a read model that
 * was never projected is rebuilt up to the head.
 *
 * The swap happens inside the live read-model database (the file every process already has open), in ONE write
 * transaction: drop the projection's tables, recreate them (setup), copy the rebuilt rows in, apply the events the
 * live projector committed meanwhile (its checkpoint moved on during the rebuild), and set the checkpoint to where the
 * live projector is. So:
 *   - API readers never wait: in WAL mode they keep reading the previous tables until the commit, then the new ones
 *     (the connections and prepared statements of `ledger serve` stay valid; SQLite re-prepares them);
 *   - the live projector in the server only waits for the commit (its batch blocks on the write lock, or fails with
 *     SQLITE_BUSY and is retried by its subscription from its checkpoint), then continues from its in-memory
 *     position, which is exactly where the swapped tables are: nothing applied twice, nothing skipped;
 *   - the events applied during the swap are read before taking the lock; if the projector moved on again between
 *     the read and the lock, the transaction is abandoned and retried.
 * A replay `--until` a position or time stops there and never swaps (the live model is further); its file is kept.
 */
import Database from 'better-sqlite3';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { EventStore, StoredEvent } from '../event-store/port.ts';
import { digestOf, type SqliteProjection } from '../../projections/runner.ts';
import { rebuildAllFromZero, type BulkCapable } from './rebuild.ts';

export interface LiveSnapshot { version: number; position: number; digest: string | null }

export interface ReplayReport {
  name: string;
  version: number;
  /** Events the projection folded (its filter may skip some of the log). */
  events: number;
  seconds: number;
  eventsPerSec: number;
  /** Position the rebuild went up to. */
  position: number;
  digest: string;
  /** The live read model when the replay started (null: never projected in this data directory). */
  live: LiveSnapshot | null;
  /** rebuilt digest = live digest at the same position (null: not comparable — no live model, other version, --until elsewhere). */
  equal: boolean | null;
  swapped: { position: number; appliedDuringSwap: number } | null;
  /** The rebuilt file, when kept. */
  file: string | null;
}

export interface ReplayOptions {
  /** The data directory (the side file goes to <data>/replay/). */
  dataDir: string;
  /** Last position to fold; implies no swap. */
  until?: number;
  /** Swap the rebuilt tables into the live read-model database (default true unless `until`). */
  swap?: boolean;
  /** Keep the rebuilt file (always kept with `until`). */
  keep?: boolean;
  /**
   * 'live' (default): rebuild up to the live model's position, so the digests compare; 'head': up to the head of the
   * log (catching up a lagging or never-run read model; the swap then needs an idempotent projection if the live
   * projector is behind).
   */
  upTo?: 'live' | 'head';
  batchSize?: number;
  /** Threads of the rebuild (rebuildAllFromZero's `threads`; default: two on 2+ cores for large logs). */
  threads?: 1 | 2;
  onProgress?: (position: number, until: number, events: number) => void;
}

const CHECKPOINTS = `CREATE TABLE IF NOT EXISTS projection_checkpoints (
  name TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL, updated_at TEXT NOT NULL)`;

const tableExists = (db: Database.Database, name: string, schema = 'main') =>
  !!db.prepare(`SELECT 1 FROM ${schema}.sqlite_master WHERE type = 'table' AND name = ?`).get(name);

/** The live read model's checkpoint and digest, read in one snapshot (null when it was never projected). */
export function liveSnapshot(db: Database.Database, p: SqliteProjection): LiveSnapshot | null {
  db.exec(CHECKPOINTS);
  return db.transaction(() => {
    const row = db.prepare('SELECT version, position FROM projection_checkpoints WHERE name = ?').get(p.name) as { version: number; position: number } | undefined;
    if (!row) return null;
    const complete = p.tables.every((t) => tableExists(db, t.name));
    return { version: row.version, position: row.position, digest: complete && row.version === p.version ? digestOf(db, p) : null };
  })();
}

const checkpointOf = (db: Database.Database, name: string) =>
  db.prepare('SELECT version, position FROM projection_checkpoints WHERE name = ?').get(name) as { version: number; position: number } | undefined;

/** Events of `p` in (after, through], in order. */
async function eventsBetween(store: EventStore, p: SqliteProjection, after: number, through: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let from = after;
  while (from < through) {
    const batch = await store.readAll({ after: from, maxCount: 1000, filter: p.filter });
    for (const e of batch) if (e.position <= through) out.push(e);
    if (batch.length < 1000 || batch[batch.length - 1].position >= through) break;
    from = batch[batch.length - 1].position;
  }
  return out;
}

/**
 * Replaces the live tables of `p` with those of the rebuilt file (at `rebuiltPosition`) in one write transaction,
 * applying what the live projector committed since. Returns the position the swapped model is at.
 */
export async function swapIn(store: EventStore, live: Database.Database, p: SqliteProjection, sidePath: string, rebuiltPosition: number): Promise<{ position: number; appliedDuringSwap: number }> {
  live.exec(CHECKPOINTS);
  live.prepare('ATTACH DATABASE ? AS replay_side').run(sidePath);
  try {
    for (let attempt = 0; attempt < 20; attempt++) {
      const seen = checkpointOf(live, p.name);
      const sameVersion = seen !== undefined && seen.version === p.version;
      let target = sameVersion ? seen.position : rebuiltPosition;
      if (target < rebuiltPosition && (p as { idempotent?: boolean }).idempotent) {
        // the live projector is behind: it will re-apply (its position, rebuiltPosition] and change nothing
        target = rebuiltPosition;
      }
      if (target < rebuiltPosition) {
        throw new Error(`the live read model "${p.name}" is at position ${target}, behind the rebuilt one (${rebuiltPosition}): its checkpoint went back during the replay; run the replay again`);
      }
      const missed = await eventsBetween(store, p, rebuiltPosition, target);
      const done = live.transaction(() => {
        const now = checkpointOf(live, p.name);
        if ((now?.version ?? -1) !== (seen?.version ?? -1) || (now?.position ?? -1) !== (seen?.position ?? -1)) return false;
        for (const t of p.tables) live.exec(`DROP TABLE IF EXISTS main."${t.name}"`);
        p.setup(live);
        for (const t of p.tables) live.exec(`INSERT INTO main."${t.name}" SELECT * FROM replay_side."${t.name}"`);
        for (const e of missed) p.apply(live, e);
        live.prepare(`INSERT INTO projection_checkpoints (name, version, position, updated_at) VALUES (?, ?, ?, ?)
          ON CONFLICT(name) DO UPDATE SET version = excluded.version, position = excluded.position, updated_at = excluded.updated_at`)
          .run(p.name, p.version, target, new Date().toISOString());
        return true;
      }).immediate();
      if (done) return { position: target, appliedDuringSwap: missed.length };
    }
    throw new Error(`the live projector of "${p.name}" kept moving during the swap; run the replay again`);
  } finally {
    live.prepare('DETACH DATABASE replay_side').run();
  }
}

/** Rebuilds one projection beside the live one; compares digests; swaps (see the module comment). */
export async function replayProjection(store: EventStore, live: Database.Database, p: BulkCapable, options: ReplayOptions): Promise<ReplayReport> {
  const [report] = await replayProjections(store, live, [p], options);
  return report;
}

/**
 * Rebuilds several projections beside the live ones in ONE pass over the log (reading and decoding the log once;
 * each projection up to its own position: its live model's, or the head, or `until`), or in two passes at once on
 * two threads (`rebuildAllFromZero`: each thread writes its read models' side files), then compares each digest with
 * its live one and swaps each in, one after the other, as `replayProjection` does for one.
 */
export async function replayProjections(store: EventStore, live: Database.Database, projections: BulkCapable[], options: ReplayOptions): Promise<ReplayReport[]> {
  const head = await store.headPosition();
  const swap = options.until === undefined && options.swap !== false;
  const dir = join(options.dataDir, 'replay');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '');
  const plans = projections.map((p) => {
    const snapshot = liveSnapshot(live, p);
    const comparable = snapshot !== null && snapshot.version === p.version && snapshot.digest !== null;
    const until = options.until ?? (comparable && options.upTo !== 'head' ? Math.min(snapshot.position, head) : head);
    const file = join(dir, `${p.name}-${stamp}-${process.pid}.sqlite`);
    const target = new Database(file);
    target.pragma('journal_mode = OFF');
    target.pragma('synchronous = OFF');
    return { p, snapshot, comparable, until, file, target };
  });
  let results;
  try {
    results = await rebuildAllFromZero(store, projections, {
      targets: Object.fromEntries(plans.map((x) => [x.p.name, x.target])),
      until: Object.fromEntries(plans.map((x) => [x.p.name, x.until])),
      batchSize: options.batchSize,
      threads: options.threads,
      onProgress: options.onProgress,
    });
  } finally {
    for (const x of plans) x.target.close();
  }
  const reports: ReplayReport[] = [];
  for (let i = 0; i < plans.length; i++) {
    const { p, snapshot, comparable, file } = plans[i];
    const result = results[i];
    const equal = comparable && snapshot!.position === result.position ? snapshot!.digest === result.digest : null;
    let swapped: ReplayReport['swapped'] = null;
    if (swap) swapped = await swapIn(store, live, p, file, result.position);
    const keep = options.keep || !swap;
    if (!keep) rmSync(file, { force: true });
    reports.push({
      name: p.name, version: p.version, events: result.events, seconds: result.seconds,
      eventsPerSec: result.seconds > 0 ? Math.round(result.events / result.seconds) : 0,
      position: result.position, digest: result.digest, live: snapshot, equal, swapped, file: keep ? file : null,
    });
  }
  return reports;
}

/** The last position recorded at or before `time` (0 when none): binary search over positions, then a walk forward. */
export async function positionAtTime(store: EventStore, time: string): Promise<number> {
  const head = await store.headPosition();
  /** The first event at or after position p. */
  const at = async (p: number) => (await store.readAll({ after: p - 1, maxCount: 1 }))[0];
  let lo = 0;
  let hi = head;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const e = await at(mid);
    if (e && e.metadata.recordedAt <= time) lo = mid; else hi = mid - 1;
  }
  let position = lo === 0 ? 0 : (await at(lo))?.position ?? 0;
  // recorded times are nearly, not strictly, monotonic across writer processes: include stragglers just after
  for (;;) {
    const [next] = await store.readAll({ after: position, maxCount: 1 });
    if (!next || next.metadata.recordedAt > time) return position;
    position = next.position;
  }
}
