/**
 * The second thread of a rebuild (rebuild.ts, `rebuildOnTwoThreads`): opens the embedded store's file read-only,
 * imports the modules of its share of the read models, rebuilds them in one pass of its own (`rebuildAllFromZero`,
 * one thread) and posts each one's digest, position and events, with the database: written in place when its target
 * is a file, else serialized (`db.serialize()`) for the caller to open (`new Database(image)`).
 */
import Database from 'better-sqlite3';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteEventStore } from '../event-store/sqlite.ts';
import { latestVersion } from '../../schema/registry.ts';
import { isProjection } from './projections.ts';
import { REBUILD_THREAD_READY, rebuildAllFromZero, type BulkCapable } from './rebuild.ts';

export interface WorkerInput {
  /** The embedded store's file. */
  path: string;
  batchSize?: number;
  /** The event types this thread's caller upcasts, with their latest version (types with one version are left out). */
  upcasts: Record<string, number>;
  /** Each read model of the share: its name, the module that exports it, where it stops, its target file (null: in memory). */
  projections: { name: string; module: string; until: number; file: string | null }[];
}

export type WorkerMessage =
  | { progress: [position: number, events: number] }
  | { results: { name: string; digest: string; position: number; events: number; seconds: number; image: Uint8Array | null }[] }
  | { error: { message: string; stack?: string } };

/** How often progress is posted (the caller's bar redraws a few times per second). */
const PROGRESS_MS = 100;

export async function runRebuildWorker(): Promise<void> {
  // started with its job, or ahead of it (rebuild.ts `prepareRebuildThread`): booted, it says so and waits for the job
  const input = (workerData ?? await new Promise<unknown>((resolve) => {
    parentPort!.once('message', resolve);
    parentPort!.postMessage(REBUILD_THREAD_READY);
  })) as WorkerInput;
  const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);
  try {
    const projections: BulkCapable[] = [];
    for (const want of input.projections) {
      const mod = await import(want.module.startsWith('file:') ? want.module : pathToFileURL(want.module).href) as Record<string, unknown>;
      const p = Object.values(mod).find((v) => isProjection(v) && v.name === want.name);
      if (!p) throw new Error(`module ${want.module} exports no read model named "${want.name}"`);
      projections.push(p as BulkCapable);
    }
    // Events must decode here as on the calling thread: same upcasters, same latest versions. The read models'
    // modules register the schemas they use; when the caller upcasts a type this thread does not know as far, every
    // schema is loaded (~150 ms, so not when nothing is missing: no event type has a second version yet).
    if (Object.entries(input.upcasts).some(([type, version]) => latestVersion(type) !== version)) await import('../../schema/index.ts');
    const store = new SqliteEventStore({ path: input.path, readonly: true });
    const targets: Record<string, Database.Database> = {};
    for (const want of input.projections) {
      if (want.file === null) continue;
      const db = new Database(want.file);
      // a rebuild target is scratch until the caller uses it (ledger replay's side file): no journal, as there
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      targets[want.name] = db;
    }
    let posted = 0;
    let results;
    try {
      results = await rebuildAllFromZero(store, projections, {
        threads: 1,
        targets,
        batchSize: input.batchSize,
        until: Object.fromEntries(input.projections.map((x) => [x.name, x.until])),
        onProgress: (position, end, events) => {
          const now = performance.now();
          if (now - posted >= PROGRESS_MS || position >= end) { posted = now; post({ progress: [position, events] }); }
        },
      });
    } finally {
      await store.close();
    }
    const images: ArrayBuffer[] = [];
    const out = results.map((r) => {
      let image: Uint8Array | null = null;
      if (!targets[r.name]) {
        const buf = r.db.serialize();
        image = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
        images.push(buf.buffer as ArrayBuffer);
      }
      r.db.close();
      return { name: r.name, digest: r.digest, position: r.position, events: r.events, seconds: r.seconds, image };
    });
    post({ results: out }, images);
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    post({ error: { message: e.message, stack: e.stack } });
  }
}
