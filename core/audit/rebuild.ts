/**
 * Rebuilding a read model from zero, through the runner's `rebuildProjection` (the same reads, decoding and digest),
 * with one addition: a projection that offers a bulk loader (`bulk(db) → { apply(event), flush() }`, producing the
 * same rows as its `apply`) is loaded through it, since a rebuild writes into an empty database of its own.
 * The loader is flushed after the last batch, before the digest is taken.
 */
import Database from 'better-sqlite3';
import type { EventStore, StoredEvent } from '../event-store/port.ts';
import { rebuildProjection, type RebuildResult, type SqliteProjection } from '../../projections/runner.ts';

export interface BulkLoader { apply(event: StoredEvent): void; flush(): void }
export type BulkCapable = SqliteProjection & { bulk?: (db: Database.Database) => BulkLoader };

export interface RebuildOptions {
  /** Where to build (a fresh database); in memory by default. */
  target?: Database.Database;
  /** Last position to include (default: the head when the rebuild starts). */
  until?: number;
  batchSize?: number;
  onProgress?: (position: number, until: number, events: number) => void;
}

export async function rebuildFromZero(store: EventStore, p: BulkCapable, options: RebuildOptions = {}): Promise<RebuildResult & { db: Database.Database }> {
  const db = options.target ?? new Database(':memory:');
  const until = options.until ?? await store.headPosition();
  if (typeof p.bulk !== 'function') return rebuildProjection(store, p, { ...options, target: db, until });
  p.setup(db);
  const loader = p.bulk(db);
  const flush = db.transaction(() => loader.flush());
  const wrapped: SqliteProjection = { ...p, apply: (_db, e) => loader.apply(e) };
  return rebuildProjection(store, wrapped, {
    ...options, target: db, until,
    onProgress: (position, head, events) => {
      if (position >= head) flush();
      options.onProgress?.(position, head, events);
    },
  });
}
