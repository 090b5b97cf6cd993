/**
 * The export on two threads: the metered streams are split at a stream boundary into two ranges of about the same
 * number of events; this thread exports the first range straight to the output while a worker thread exports the
 * second into a temporary file, which is appended afterwards. Rows are per resource and resources never span
 * streams, so the bytes are exactly those of the one-thread export (tested), with the same sha256 — in about half
 * the time on two cores. Used for the embedded store, per-resource rows, and logs large enough to be worth it.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EventStore } from '../../core/event-store/port.ts';
import { ExportError, exportPeriod, validateExportOptions, type ExportOptions, type ExportOutput, type ExportSummary } from './export.ts';
import { SqliteStreamSource, splitRanges, sqlitePathOf } from './source.ts';
import type { WorkerInput } from './export-worker.ts';

export interface ParallelOptions {
  /** Automatic (default): a second thread on a machine with 2+ cores for at least `minEvents` Host events. */
  minEvents?: number;
  /** 1: one thread; 2: two whenever the streams can be split; default automatic. */
  threads?: 1 | 2;
}

export async function exportPeriodParallel(store: EventStore, options: ExportOptions, out: ExportOutput, p: ParallelOptions = {}): Promise<ExportSummary & { threads: 1 | 2 }> {
  const o = validateExportOptions(options);
  const path = sqlitePathOf(store);
  const threads = p.threads ?? (availableParallelism() >= 2 ? 2 : 1);
  const minEvents = p.threads === 2 ? 1 : p.minEvents ?? 200_000;
  const split = path && o.by === 'resource' && threads === 2 ? splitRanges(path, minEvents) : null;
  if (!path || !split) return { ...await exportPeriod(store, o, out), threads: 1 };

  const head = await store.headPosition();
  const dir = mkdtempSync(join(tmpdir(), 'ledger-export-'));
  const file = join(dir, 'part2');
  const input: WorkerInput = { path, options: o, head, ranges: split[1], file };
  const worker = new Worker(new URL('./export-worker.mjs', import.meta.url), { workerData: input });
  const second = new Promise<ExportSummary>((resolve, reject) => {
    worker.once('message', (m: { summary?: ExportSummary; error?: { name: string; code?: string; message: string } }) => {
      if (m.summary) resolve(m.summary);
      else reject(m.error?.name === 'ExportError' ? new ExportError(m.error.code ?? 'EXPORT_FAILED', m.error.message) : new Error(m.error?.message ?? 'export worker failed'));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`export worker exited with code ${code}`)));
  });
  second.catch(() => {}); // awaited below; an early failure must not go unhandled while the first half runs
  try {
    const hash = createHash('sha256');
    const first = await exportPeriod(store, o, out, { head, hash, source: new SqliteStreamSource(path, split[0]) });
    const rest = await second;
    const fd = openSync(file, 'r');
    try {
      for (;;) {
        const chunk = Buffer.allocUnsafe(1 << 20);
        const n = readSync(fd, chunk, 0, chunk.length, null);
        if (n === 0) break;
        const part = chunk.subarray(0, n);
        hash.update(part);
        await out.write(part);
      }
    } finally {
      closeSync(fd);
    }
    return {
      ...first,
      rows: first.rows + rest.rows, correctionRows: first.correctionRows + rest.correctionRows, bytes: first.bytes + rest.bytes,
      events: first.events + rest.events, resources: first.resources + rest.resources, currency: first.currency ?? rest.currency,
      sha256: hash.digest('hex'), threads: 2,
    };
  } finally {
    await worker.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
}
