/**
 * `ledger export --period YYYY-MM --format focus-csv|jsonl [--by …] [--out FILE]`: a billing period as FOCUS 1.2 CSV
 * or JSON Lines, with its sha256; and `ledger period close|rerate|list`: closing billing periods (their exports are
 * fixed from then on) and re-rating closed ones. See docs/metering.md.
 */
import { Option, type Command } from 'commander';
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';
import { isPeriod, periodEnd, floorHour, parseUtc } from '../../layers/metering/period.ts';
import { BillingService } from '../../layers/metering/service.ts';
import { EXPORT_BY, EXPORT_FORMATS, type ExportBy, type ExportFormat, type ExportOutput, type ExportSummary } from '../../projections/metering/export.ts';
import { GRANULARITIES, type Granularity } from '../../projections/metering/rating.ts';
import { exportPeriodParallel as exportPeriod } from '../../projections/metering/parallel.ts';
import { withDataDir, withJson } from '../options.ts';
import { cliActor, withStore } from './pricebook.ts';

const period = (v: string) => {
  if (!isPeriod(v)) throw new Error(`--period must be YYYY-MM (a UTC calendar month); got ${JSON.stringify(v)}`);
  return v;
};
const utc = (name: string) => (v: string) => {
  try { return parseUtc(v); } catch { throw new Error(`${name} must be a UTC ISO 8601 time such as 2025-02-01T00:00:00Z; got ${JSON.stringify(v)}`); }
};

function summaryText(s: ExportSummary, out?: string): string {
  const status = s.status === 'closed' ? `closed at ${s.closedAt}` : `open, usage counted until ${s.until}`;
  return `sha256:${s.sha256}  ${s.rows} rows, ${s.correctionRows} correction rows, ${s.bytes} bytes${out ? ` → ${out}` : ''}\n`
    + `period ${s.period} (${status}; log position ${s.cut}); ${s.format}, by ${s.by}, granularity ${s.granularity}; ${s.resources} resources from ${s.events} events\n`;
}

/** Writes to stdout, waiting for the pipe to drain. */
const stdoutOutput: ExportOutput = {
  write: (chunk) => new Promise<void>((ok, fail) => {
    process.stdout.write(chunk, (error) => (error ? fail(error) : ok()));
  }),
};

export function register(program: Command): void {
  const cmd = program.command('export')
    .description('Export a billing period as FOCUS 1.2 CSV or JSON Lines; prints its sha256')
    .addOption(new Option('--period <YYYY-MM>', 'the billing period (a UTC calendar month)').argParser(period).makeOptionMandatory())
    .addOption(new Option('--format <format>', 'focus-csv or jsonl').choices(EXPORT_FORMATS).default('focus-csv'))
    .addOption(new Option('--by <level>', 'rows per resource (default), or rolled up per project, ccontract, rcontract or user').choices(EXPORT_BY).default('resource'))
    .addOption(new Option('--granularity <g>', 'one row per period (default), day or hour').choices(GRANULARITIES).default('period'))
    .option('--out <file>', 'write the export to this file (atomically) instead of stdout')
    .addOption(new Option('--as-of <time>', 'open periods: count usage until this UTC time (default: now, on the hour, or the period\'s end)').argParser(utc('--as-of')))
    .addOption(new Option('--threads <n>', 'threads for per-resource exports of the embedded store (default: 2 on 2+ cores for large logs)').choices(['1', '2']));
  withDataDir(cmd);
  withJson(cmd);
  cmd.addHelpText('after', `
The export goes to --out, or to stdout; the summary (sha256 of the bytes, rows, cut) to stdout with --out, else to
stderr — as one JSON object with --json. A closed period's export is fixed byte for byte; usage recorded after its
close appears as ChargeClass=Correction rows in the export of the next period.

Examples:
  ledger export --period 2025-01 --format focus-csv --out jan.csv
  ledger export --period 2025-01 --format jsonl --by project --json > jan.jsonl`);
  cmd.action(async (opts: { period: string; format: ExportFormat; by: ExportBy; granularity: Granularity; out?: string; asOf?: number; threads?: string; json?: boolean; data?: string }) => {
    const parallel = opts.threads ? { threads: Number(opts.threads) as 1 | 2 } : {};
    await withStore(opts, async (store) => {
      const asOf = opts.asOf ?? Math.min(periodEnd(opts.period), floorHour(Date.now()));
      const options = { period: opts.period, format: opts.format, by: opts.by, granularity: opts.granularity, asOf };
      let summary: ExportSummary;
      if (opts.out) {
        const target = resolve(opts.out);
        const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
        const fd = openSync(tmp, 'w');
        try {
          summary = await exportPeriod(store, options, { write: (chunk) => { writeSync(fd, chunk); } }, parallel);
          closeSync(fd);
          renameSync(tmp, target);
        } catch (error) {
          try { closeSync(fd); } catch { /* closed */ }
          rmSync(tmp, { force: true });
          throw error;
        }
        process.stdout.write(opts.json ? `${JSON.stringify({ ...summary, out: target })}\n` : summaryText(summary, target));
      } else {
        summary = await exportPeriod(store, options, stdoutOutput, parallel);
        process.stderr.write(opts.json ? `${JSON.stringify(summary)}\n` : summaryText(summary));
      }
    });
  });

  const periods = program.command('period').description('Billing periods: close one (its export is then fixed), re-rate a closed one, list them');

  const close = periods.command('close')
    .description('Close a billing period and every earlier one (operator)')
    .addOption(new Option('--period <YYYY-MM>', 'the period').argParser(period).makeOptionMandatory())
    .addOption(new Option('--at <time>', 'when it was closed (default: now); not before the period\'s end').argParser(utc('--at')))
    .option('--reason <text>', 'why (recorded)');
  withDataDir(close);
  withJson(close);
  close.action(async (opts: { period: string; at?: number; reason?: string; json?: boolean; data?: string }) => {
    await withStore(opts, async (store) => {
      const closedAt = new Date(opts.at ?? Date.now()).toISOString();
      const r = await new BillingService(store).close(cliActor(), { period: opts.period, closedAt, ...(opts.reason && { reason: opts.reason }) });
      process.stdout.write(opts.json ? `${JSON.stringify({ period: opts.period, closedAt, ...r })}\n`
        : r.closed ? `period ${opts.period} closed at ${closedAt} (log position ${r.position})\n` : `period ${opts.period} was already closed\n`);
    });
  });

  const rerate = periods.command('rerate')
    .description('Re-rate a closed period with a published price book version (operator); the difference is billed as corrections in the next export')
    .addOption(new Option('--period <YYYY-MM>', 'the closed period').argParser(period).makeOptionMandatory())
    .addOption(new Option('--version <n>', 'the price book version').argParser((v) => {
      if (!/^[1-9]\d*$/.test(v)) throw new Error(`--version must be a positive whole number; got ${JSON.stringify(v)}`);
      return Number(v);
    }).makeOptionMandatory())
    .requiredOption('--reason <text>', 'why (required, recorded)');
  withDataDir(rerate);
  withJson(rerate);
  rerate.action(async (opts: { period: string; version: number; reason: string; json?: boolean; data?: string }) => {
    await withStore(opts, async (store) => {
      const r = await new BillingService(store).rerate(cliActor(), { period: opts.period, version: opts.version, reason: opts.reason });
      process.stdout.write(opts.json ? `${JSON.stringify({ period: opts.period, version: opts.version, ...r })}\n`
        : `period ${opts.period} re-rated with price book v${opts.version} (log position ${r.position})\n`);
    });
  });

  const list = periods.command('list').description('Closed periods and re-ratings');
  withDataDir(list);
  withJson(list);
  list.action(async (opts: { json?: boolean; data?: string }) => {
    await withStore(opts, async (store) => {
      const book = await new BillingService(store).book();
      if (opts.json) { process.stdout.write(`${JSON.stringify({ closedThrough: book.closedThrough ?? null, closes: book.closes, rerates: book.rerates })}\n`); return; }
      process.stdout.write(book.closedThrough ? `closed through ${book.closedThrough}\n` : 'no period closed yet\n');
      for (const c of book.closes) process.stdout.write(`  closed ${c.period} at ${c.closedAt} (position ${c.position})${c.reason ? `: ${c.reason}` : ''}\n`);
      for (const r of book.rerates) process.stdout.write(`  re-rated ${r.period} with v${r.version} at ${r.at}: ${r.reason}\n`);
    });
  });
}
