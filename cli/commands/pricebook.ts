/**
 * `ledger pricebook publish --file book.json | list | show [--version N] | example`: the versioned price book of
 * the metering exports (events PriceBookPublished in the Billing-main stream). See docs/metering.md.
 */
import { Option, type Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { DomainError } from '../../core/decider.ts';
import { openEventStore } from '../../core/ledger.ts';
import type { EventStore } from '../../core/event-store/port.ts';
import { BillingService } from '../../layers/metering/service.ts';
import { EXAMPLE_PRICE_BOOK } from '../../layers/metering/pricebook.ts';
import type { Config } from '../../core/config.ts';
import { configFrom, withDataDir, withJson } from '../options.ts';

/** The operator a CLI command acts as (the login name). */
export function cliActor() {
  let name = 'cli';
  try { name = userInfo().username || 'cli'; } catch { /* no passwd entry */ }
  return { kind: 'operator' as const, id: name.slice(0, 100) };
}

/** The event store of the configuration; refuses to create an empty embedded ledger by accident. */
export async function openStoreFor(config: Config, options: { mustExist?: boolean } = {}): Promise<EventStore> {
  if (!config.LEDGER_EVENTSTORE_URL && options.mustExist !== false && !existsSync(join(config.dataDir, 'events.sqlite'))) {
    throw new Error(`no ledger in ${config.dataDir} (no events.sqlite): pass --data <dir> or set LEDGER_DATA_DIR`);
  }
  return openEventStore(config);
}

export async function withStore<T>(opts: { data?: string }, fn: (store: EventStore) => Promise<T>, options: { mustExist?: boolean } = {}): Promise<T> {
  const store = await openStoreFor(configFrom(opts), options);
  try {
    return await fn(store);
  } catch (error) {
    if (error instanceof DomainError) throw new Error(`${error.code}: ${error.message}`);
    throw error;
  } finally {
    await store.close();
  }
}

export function register(program: Command): void {
  const pb = program.command('pricebook').description('The price book of metering: publish a version, list versions, show one');

  const publish = pb.command('publish')
    .description('Publish the next price book version from a JSON file (operator); prints the version')
    .requiredOption('--file <path>', 'the price book as JSON (see `ledger pricebook example`)')
    .option('--reason <text>', 'why (recorded with the event)');
  withDataDir(publish);
  withJson(publish);
  publish.addHelpText('after', `
The file holds { effectiveFrom (UTC, whole hour), currency, provider?, invoiceIssuer?, meters: { <meter>: { price | tiers,
stateWeights? } }, templateWeights? }. Prices and weights are decimal strings ("0.0425"). A book never takes effect
inside a closed period: publish it from the first open period on, and re-rate a closed period with
\`ledger period rerate\`.`);
  publish.action(async (opts: { file: string; reason?: string; json?: boolean; data?: string }) => {
    let book: unknown;
    try { book = JSON.parse(readFileSync(opts.file, 'utf8')); } catch (error) {
      throw new Error(`--file ${opts.file}: ${error instanceof Error ? error.message : String(error)}`);
    }
    await withStore(opts, async (store) => {
      const r = await new BillingService(store).publish(cliActor(), { book, ...(opts.reason && { reason: opts.reason }) });
      process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `price book version ${r.version} published (position ${r.position})\n`);
    }, { mustExist: false });
  });

  const list = pb.command('list').description('Every published version with its effective time');
  withDataDir(list);
  withJson(list);
  list.action(async (opts: { json?: boolean; data?: string }) => {
    await withStore(opts, async (store) => {
      const book = await new BillingService(store).book();
      const rows = book.books.map((b) => ({ version: b.version, effectiveFrom: b.effectiveFrom, currency: b.currency, publishedAt: b.publishedAt, reason: b.reason ?? null }));
      if (opts.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
      else if (!rows.length) process.stdout.write('no price book published yet (ledger pricebook publish --file book.json)\n');
      else for (const r of rows) process.stdout.write(`v${r.version}  effective ${r.effectiveFrom}  ${r.currency}  published ${r.publishedAt}${r.reason ? `  (${r.reason})` : ''}\n`);
    });
  });

  const show = pb.command('show').description('One version as JSON (default: the newest)')
    .addOption(new Option('--version <n>', 'the version').argParser((v) => {
      if (!/^[1-9]\d*$/.test(v)) throw new Error(`--version must be a positive whole number; got ${JSON.stringify(v)}`);
      return Number(v);
    }));
  withDataDir(show);
  show.action(async (opts: { version?: number; data?: string }) => {
    await withStore(opts, async (store) => {
      const book = await new BillingService(store).book();
      const b = opts.version === undefined ? book.books[book.books.length - 1] : book.books.find((x) => x.version === opts.version);
      if (!b) throw new Error(opts.version === undefined ? 'no price book published yet' : `no price book version ${opts.version} (latest: ${book.books.length || 'none'})`);
      process.stdout.write(`${JSON.stringify(b, null, 2)}\n`);
    });
  });

  pb.command('example').description('Print an example price book to start from').action(() => {
    process.stdout.write(`${JSON.stringify(EXAMPLE_PRICE_BOOK, null, 2)}\n`);
  });
}
