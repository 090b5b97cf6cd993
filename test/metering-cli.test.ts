/**
 * The export CLI as a child process (`node bin/ledger.js … --data <dir>`): price book from a file, FOCUS CSV and
 * JSON Lines, digests, determinism, closed periods fixed byte for byte, corrections in the next export, and a full
 * replay of the log into a new data directory giving the same digests.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import { FOCUS_COLUMNS } from '../projections/metering/focus.ts';
import { parseCsv } from '../projections/metering/csv.ts';
import { addDecimals, testLedger, vmHost, type TestLedger } from '../projections/metering/testing.ts';
import '../schema/index.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'ledger.js');
const run = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((ok) => {
  execFile(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20, env: { ...process.env, LEDGER_LOG_LEVEL: 'silent' } }, (error, stdout, stderr) => {
    ok({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
  });
});
const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

const book = {
  effectiveFrom: '2025-01-01T00:00:00Z', currency: 'EUR', provider: 'Test Cloud',
  meters: {
    'cpu.core-hours': { price: '0.04', stateWeights: { provisioning: '0', stopped: '0.5' } },
    'ram.gib-hours': { price: '0.005' },
    'disk.gib-hours': { price: '0.0002' },
  },
};

let t: TestLedger;
let work: string;
test.before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ledger-metering-cli-'));
  t = await testLedger();
  await vmHost(t, 'h_1', '2024-12-20T00:00:00Z');
  await vmHost(t, 'h_2', '2024-12-20T00:00:00Z');
  await t.res('SliceXNode', { hostId: 'h_2', xnodeId: 'xn_3', size: { cpuCores: 1, ramMiB: 1024, diskGiB: 10 } }, '2025-01-20T00:00:00Z');
  const x = { hostId: 'h_1', xnodeId: 'xn_1' };
  await t.res('SliceXNode', { ...x, size: { cpuCores: 2, ramMiB: 2048, diskGiB: 20 } }, '2025-01-31T12:00:00Z');
  await t.res('ReportXNodeObserved', { ...x, observed: 'running', generation: 1, observedAt: '2025-01-31T12:00:00Z' }, '2025-01-31T12:00:00Z');
  await t.res('SliceXNode', { hostId: 'h_1', xnodeId: 'xn_2', size: { cpuCores: 1, ramMiB: 1024, diskGiB: 10 } }, '2025-01-10T00:00:00Z');
  await t.res('ReportXNodeObserved', { hostId: 'h_1', xnodeId: 'xn_2', observed: 'running', generation: 1, observedAt: '2025-01-10T00:00:00Z' }, '2025-01-10T00:00:00Z');
  await t.res('PowerOffXNode', { hostId: 'h_1', xnodeId: 'xn_2', reason: 'quote "this", and a comma' }, '2025-01-10T00:00:00Z');
  await t.stop();
});
test.after(() => {
  t.dispose();
  rmSync(work, { recursive: true, force: true });
});

test('--help, and bad input is refused with a clear message (nothing written)', async () => {
  const help = await run(['export', '--help']);
  assert.is(help.code, 0);
  assert.match(help.stdout, /--period <YYYY-MM>/);
  assert.match(help.stdout, /focus-csv/);
  const bad = await run(['export', '--period', '2025-13', '--data', t.dir]);
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, /--period must be YYYY-MM/);
  const fmt = await run(['export', '--period', '2025-01', '--format', 'xml', '--data', t.dir]);
  assert.is.not(fmt.code, 0);
  assert.match(fmt.stderr, /focus-csv/);
  const nowhere = await run(['export', '--period', '2025-01', '--data', join(work, 'nothing-here')]);
  assert.is.not(nowhere.code, 0);
  assert.match(nowhere.stderr, /no ledger in/);
  const unpriced = await run(['export', '--period', '2025-01', '--out', join(work, 'x.csv'), '--data', t.dir]);
  assert.is.not(unpriced.code, 0);
  assert.match(unpriced.stderr, /no price book was in effect/);
  assert.not.ok(existsSync(join(work, 'x.csv')));
  assert.equal(readdirSync(work).filter((f) => f.endsWith('.tmp')), []);
});

test('price book from a file; FOCUS CSV with every column; the digest is of the bytes; the same log gives the same bytes', async () => {
  writeFileSync(join(work, 'book.json'), JSON.stringify(book));
  const pub = await run(['pricebook', 'publish', '--file', join(work, 'book.json'), '--json', '--data', t.dir]);
  assert.is(pub.code, 0, pub.stderr);
  assert.is(JSON.parse(pub.stdout).version, 1);
  const badBook = join(work, 'bad.json');
  writeFileSync(badBook, JSON.stringify({ ...book, meters: { 'cpu.core-hours': { price: 0.04 } } }));
  const refused = await run(['pricebook', 'publish', '--file', badBook, '--data', t.dir]);
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, /meters\.cpu\.core-hours\.price/);

  const out = join(work, 'jan.csv');
  const a = await run(['export', '--period', '2025-01', '--format', 'focus-csv', '--out', out, '--json', '--data', t.dir]);
  assert.is(a.code, 0, a.stderr);
  const summary = JSON.parse(a.stdout.trim().split('\n').pop()!);
  const bytes = readFileSync(out);
  assert.is(summary.sha256, sha(bytes));
  assert.is(summary.status, 'open');
  const rows = parseCsv(bytes.toString('utf8'));
  assert.is(rows.length, summary.rows);
  assert.equal(Object.keys(rows[0]), [...FOCUS_COLUMNS]);
  for (const r of rows) {
    for (const c of ['BilledCost', 'BillingAccountId', 'BillingCurrency', 'BillingPeriodEnd', 'BillingPeriodStart', 'ChargeCategory', 'ChargeDescription', 'ChargePeriodEnd', 'ChargePeriodStart', 'ContractedCost', 'EffectiveCost', 'InvoiceIssuerName', 'ListCost', 'PricingQuantity', 'PricingUnit', 'ProviderName', 'PublisherName', 'ServiceCategory', 'ServiceName']) {
      assert.ok(r[c] !== '', `${c} is empty in ${JSON.stringify(r)}`);
    }
    assert.match(r.ChargePeriodStart, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.is(r.BillingPeriodStart, '2025-01-01T00:00:00Z');
    assert.is(r.BillingPeriodEnd, '2025-02-01T00:00:00Z');
    assert.match(r.BilledCost, /^-?\d+(\.\d+)?$/);
    JSON.parse(r.Tags);
  }
  // xn_1 runs from Jan 31 12:00 to the end of January: 12 h × 2 cores × 0.04 = 0.96; 24 GiB-h × 0.005 = 0.12; 240 GiB-h × 0.0002 = 0.048
  // xn_2 is stopped from Jan 10 00:00: 22 days = 528 h; 528 core-h at weight 0.5 × 0.04 = 10.56; 528 GiB-h × 0.005 = 2.64; 5280 GiB-h × 0.0002 = 1.056
  assert.is(addDecimals(rows.filter((r) => r.ResourceId === 'xn_1').map((r) => r.BilledCost)), '1.128');
  assert.is(addDecimals(rows.filter((r) => r.ResourceId === 'xn_2').map((r) => r.BilledCost)), '14.256');

  const twoThreads = await run(['export', '--period', '2025-01', '--threads', '2', '--json', '--out', join(work, 'jan2.csv'), '--data', t.dir]);
  assert.is(twoThreads.code, 0, twoThreads.stderr);
  assert.is(JSON.parse(twoThreads.stdout).sha256, summary.sha256, 'two threads (a worker running under bin/ledger.js) give the same bytes');
  assert.ok(rows.some((r) => r.ResourceId === 'xn_3') && rows.some((r) => r.ResourceId === 'xn_1'), 'both halves of the split have rows');

  const again = await run(['export', '--period', '2025-01', '--data', t.dir]);
  assert.is(again.code, 0, again.stderr);
  assert.is(again.stdout, bytes.toString('utf8'), 'stdout export = file export');
  assert.match(again.stderr, new RegExp(`sha256:${summary.sha256}`));

  const jsonl = await run(['export', '--period', '2025-01', '--format', 'jsonl', '--json', '--data', t.dir]);
  assert.is(jsonl.code, 0, jsonl.stderr);
  const lines = jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.is(lines.length, rows.length);
  assert.equal(Object.keys(lines[0]), [...FOCUS_COLUMNS]);
  assert.is(lines[0].ChargeClass, null);
  assert.is(JSON.parse(jsonl.stderr.trim()).sha256, sha(jsonl.stdout));
});

test('closing fixes the export byte for byte; late usage becomes corrections next period; a replayed log gives the same digests', async () => {
  const close = await run(['period', 'close', '--period', '2025-01', '--at', '2025-02-01T03:00:00Z', '--json', '--data', t.dir]);
  assert.is(close.code, 0, close.stderr);
  const exp = async (p: string, dir = t.dir) => {
    const r = await run(['export', '--period', p, '--json', '--out', join(work, `${p}.csv`), '--data', dir]);
    assert.is(r.code, 0, r.stderr);
    return { ...JSON.parse(r.stdout), text: readFileSync(join(work, `${p}.csv`), 'utf8') };
  };
  const jan = await exp('2025-01');
  assert.is(jan.status, 'closed');
  // late: xn_1 was stopped at 18:00 on January 31st; recorded after the close
  const store = new SqliteEventStore({ path: join(t.dir, 'events.sqlite') });
  const { uuidv7 } = await import('../core/ids.ts');
  const tail = (await store.readStream('Host-h_1', { direction: 'backwards', maxCount: 50 })).find((e) => (e.data as any).xnodeId === 'xn_1')!;
  const d = tail.data as any;
  await store.append('Host-h_1', [{
    type: 'XNodePoweredOff',
    data: { hostId: 'h_1', zoneId: d.zoneId, regionId: d.regionId, xnodeId: 'xn_1', kind: 'VNode', size: d.size, state: 'stopped', generation: d.generation + 1, from: 'running', cause: 'observed' },
    metadata: { eventId: uuidv7(), occurredAt: '2025-01-31T18:00:00Z', actor: { kind: 'agent', id: 'h_1' }, correlationId: 'late', version: 1 },
  }]);
  await store.close();

  const janAgain = await exp('2025-01');
  assert.is(janAgain.sha256, jan.sha256);
  assert.is(janAgain.text, jan.text);
  const feb = await exp('2025-02');
  const corr = parseCsv(feb.text).filter((r) => r.ChargeClass === 'Correction');
  // 6 h of January moved from running to stopped: cores 12 core-h × 0.04 → 12 × 0.5 × 0.04: −0.48 + 0.24; RAM and disk unchanged in price
  assert.is(addDecimals(corr.map((r) => r.BilledCost)), '-0.24');
  assert.ok(corr.every((r) => r.x_CorrectedPeriod === '2025-01' && r.BillingPeriodStart === '2025-02-01T00:00:00Z'));
  assert.is(feb.correctionRows, corr.length);

  // full replay: every event, in order, into a new data directory → the same exports, byte for byte
  const replayDir = mkdtempSync(join(tmpdir(), 'ledger-metering-replay-'));
  try {
    const src = new SqliteEventStore({ path: join(t.dir, 'events.sqlite'), readonly: true });
    const dst = new SqliteEventStore({ path: join(replayDir, 'events.sqlite') });
    let after = 0;
    for (;;) {
      const batch = await src.readAll({ after, maxCount: 1000 });
      if (!batch.length) break;
      for (const e of batch) {
        const { hash: _h, recordedAt: _r, ...metadata } = e.metadata;
        await dst.append(e.streamId, [{ type: e.type, data: e.data, metadata }]);
      }
      after = batch[batch.length - 1].position;
    }
    await src.close();
    await dst.close();
    const janReplay = await exp('2025-01', replayDir);
    const febReplay = await exp('2025-02', replayDir);
    assert.is(janReplay.sha256, jan.sha256);
    assert.is(febReplay.sha256, feb.sha256);
  } finally {
    rmSync(replayDir, { recursive: true, force: true });
  }
  const list = await run(['period', 'list', '--json', '--data', t.dir]);
  assert.is(JSON.parse(list.stdout).closedThrough, '2025-01');
});

test.run();
