/**
 * Test fixtures for metering: a ledger in a temporary directory, commands sent through the real deciders at
 * explicit times (CommandContext.occurredAt), and exports collected as text. Used by the tests beside the code and
 * in test/metering-*.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../core/config.ts';
import { uuidv7 } from '../../core/ids.ts';
import { openLedger, type Ledger } from '../../core/ledger.ts';
import type { SqliteProjection } from '../runner.ts';
import { resourceCommand } from '../../layers/resources/index.ts';
import { billingDecider } from '../../layers/metering/decider.ts';
import { BILLING_STREAM } from '../../layers/metering/ids.ts';
import type { PriceBookInput } from '../../layers/metering/pricebook.ts';
import { exportPeriod, type ExportOptions, type ExportSummary } from './export.ts';
import { parseCsv } from './csv.ts';

export const operator = { kind: 'operator', id: 'test_operator' } as const;

export interface TestLedger {
  dir: string;
  ledger: Ledger;
  /** Sends a Resources command at `at` (UTC ISO). */
  res(type: string, data: Record<string, unknown>, at: string): Promise<void>;
  publish(book: PriceBookInput, at: string, reason?: string): Promise<void>;
  close(period: string, at: string): Promise<void>;
  rerate(period: string, version: number, reason: string, at: string): Promise<void>;
  /** Appends well-formed events of another layer directly (e.g. a CContract's ComponentRequested). */
  append(stream: string, type: string, data: unknown, at: string): Promise<void>;
  export(options: Partial<ExportOptions> & { period: string }): Promise<{ text: string; summary: ExportSummary; rows: Record<string, string>[] }>;
  /** Closes the ledger, keeping its directory (for child processes reading it). */
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

export async function testLedger(projections: SqliteProjection[] = []): Promise<TestLedger> {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-metering-'));
  const ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir, LEDGER_LOG_LEVEL: 'silent' }), { projections });
  let stopped = false;
  const billing = (command: any, at: string) => ledger.execute(billingDecider, BILLING_STREAM, command, { actor: operator, occurredAt: at });
  return {
    dir, ledger,
    async res(type, data, at) {
      const { stream, decider, command } = resourceCommand(type, data);
      await ledger.execute(decider, stream, command, { actor: operator, occurredAt: at });
    },
    async publish(book, at, reason) { await billing({ type: 'PublishPriceBook', data: { book, ...(reason && { reason }) } }, at); },
    async close(period, at) { await billing({ type: 'ClosePeriod', data: { period, closedAt: at } }, at); },
    async rerate(period, version, reason, at) { await billing({ type: 'ReratePeriod', data: { period, version, reason } }, at); },
    async append(stream, type, data, at) {
      await ledger.store.append(stream, [{ type, data, metadata: { eventId: uuidv7(), occurredAt: at, actor: operator, correlationId: 'test', version: 1 } }]);
    },
    async export(options) {
      const chunks: string[] = [];
      const summary = await exportPeriod(ledger.store, { format: 'focus-csv', ...options }, { write: (c) => { chunks.push(c.toString("utf8")); } });
      const text = chunks.join('');
      return { text, summary, rows: (options.format ?? 'focus-csv') === 'focus-csv' ? parseCsv(text) : text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
    },
    async stop() { if (!stopped) { stopped = true; await ledger.close(); } },
    async dispose() {
      if (!stopped) { stopped = true; await ledger.close(); }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Registers a VM host h in zone z_a of region r_eu (8 × the sizes the tests use). */
export async function vmHost(t: TestLedger, hostId: string, at: string): Promise<void> {
  await t.res('RegisterHost', {
    hostId, zoneId: 'z_a', regionId: 'r_eu', name: `host ${hostId}`, type: 'VM', area: 'dc1/row1/rack1',
    resources: { cpuCores: 64, cpuMHz: 150_000, ramMiB: 262_144, diskGiB: 4_000, diskIops: 100_000 },
  }, at);
}

/** Sum of a column over rows (exact). */
export { addDecimals } from './fixed.ts';
