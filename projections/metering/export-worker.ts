/** The second thread of a parallel export (parallel.ts): exports one range of streams into a file, reports its summary. */
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteEventStore } from '../../core/event-store/sqlite.ts';
// the schemas of the events an export reads (metered slices and the context), as the main thread knows them
import '../../layers/resources/index.ts';
import '../../layers/components/ccontract/events.ts';
import '../../layers/projects/project/events.ts';
import '../../layers/projects/user/events.ts';
import '../../layers/metering/events.ts';
import { exportPeriod, type ExportOptions } from './export.ts';
import { SqliteStreamSource, type StreamRange } from './source.ts';

export interface WorkerInput { path: string; options: ExportOptions; head: number; ranges: StreamRange[]; file: string }

export async function runWorker(): Promise<void> {
  const { path, options, head, ranges, file } = workerData as WorkerInput;
  const store = new SqliteEventStore({ path, readonly: true });
  const fd = openSync(file, 'w');
  try {
    const summary = await exportPeriod(store, options, { write: (chunk) => { writeSync(fd, chunk); } }, {
      head, header: false, hash: createHash('sha256'), source: new SqliteStreamSource(path, ranges),
    });
    parentPort!.postMessage({ summary });
  } catch (error) {
    const e = error as Error & { code?: string };
    parentPort!.postMessage({ error: { name: e.name, code: e.code, message: e.message } });
  } finally {
    closeSync(fd);
    await store.close();
  }
}
