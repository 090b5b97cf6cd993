/**
 * WAL checkpoints off the commit path. In WAL mode SQLite copies the log back into the database file every
 * `wal_autocheckpoint` pages, inside the COMMIT that crosses the mark, with two fsyncs (synchronous = NORMAL): every
 * ~500th single-row commit waited for them (measured: 4–5 µs per commit on average, a fifth of a sequential
 * command's time). Here a worker thread with its own connection to the same file runs PASSIVE checkpoints on a timer:
 * they copy what the log holds while the writer goes on (they never take the write lock and never wait: a busy
 * checkpoint is skipped until the next tick), on the second core.
 *
 * The writer keeps an automatic checkpoint as a bound ten times higher (`WRITER_AUTOCHECKPOINT_PAGES`): only a
 * writer can restart the log from its beginning, after a checkpoint has copied all of it, so under a steady stream of
 * commits the writer still checkpoints now and then — the little the worker has not copied yet. If the worker is
 * gone (killed, failed to open), that bound is the one SQLite applies, as before but rarer; nothing depends on it.
 *
 * The worker is plain JavaScript (evaluated, no TypeScript loader needed) and unref'ed: it never keeps a process
 * alive. A store starts it lazily, after its first `START_AFTER_COMMITS` commits, so short-lived stores (tests, CLI
 * commands) never pay for a thread.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';

/** The writer's own automatic checkpoint, in pages: the bound of the log when the worker cannot keep up. */
export const WRITER_AUTOCHECKPOINT_PAGES = 10_000;
/** Commits a store makes before it starts its checkpointer. */
export const START_AFTER_COMMITS = 500;
const INTERVAL_MS = 100;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.betterSqlite3);
let db;
try {
  db = new Database(workerData.path, { fileMustExist: true });
  db.pragma('busy_timeout = 0');
} catch (error) {
  parentPort.postMessage({ failed: String(error && error.message || error) });
  process.exit(0);
}
const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or closing: next tick */ } };
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  try { db.close(); } catch { /* already closed */ }
  parentPort.close();
});
`;

export interface Checkpointer { stop(): Promise<void> }

export function startCheckpointer(path: string, intervalMs = INTERVAL_MS): Checkpointer {
  const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, intervalMs, betterSqlite3 } });
  worker.unref();
  // A worker that could not open the file says so and ends; the writer's own bound then applies. Errors are not
  // thrown into the store's caller: checkpoints are an optimisation.
  worker.on('error', () => {});
  let exited = false;
  const exit = new Promise<void>((resolve) => worker.once('exit', () => { exited = true; resolve(); }));
  return {
    async stop() {
      if (exited) return;
      // while it stops, it holds the process open (the caller awaits this); it closes its connection and its port,
      // then exits; never wait long for it
      worker.ref();
      worker.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exit, new Promise((r) => { timer = setTimeout(r, 1000); })]);
      clearTimeout(timer);
      if (!exited) await worker.terminate();
    },
  };
}
