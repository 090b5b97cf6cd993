import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteEventStore } from '../event-store/sqlite.ts';
import '../testing/example-account.ts';
import { newEvent } from '../testing/events.ts';
import { digestOf, openReadModelDb, ProjectionRunner, rebuildProjection, type SqliteProjection } from '../../projections/runner.ts';
import { auditProjection } from '../../projections/audit.ts';
import { positionAtTime, replayProjection } from './replay.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'ledger-replay-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A plain (not idempotent, not bulk) read model, like most. */
const balances: SqliteProjection = {
  name: 'balances', version: 1, filter: { categories: ['Account'] },
  tables: [{ name: 'balances', orderBy: 'account' }],
  setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, balance INTEGER NOT NULL, events INTEGER NOT NULL)'),
  apply(db, e) {
    if (e.type === 'AccountOpened') db.prepare('INSERT INTO balances VALUES (?, 0, 1)').run(e.streamId);
    else db.prepare('UPDATE balances SET balance = balance + ?, events = events + 1 WHERE account = ?').run((e.data as any).amount, e.streamId);
  },
};

async function fill(store: SqliteEventStore, from: number, to: number) {
  for (let a = from; a < to; a++) await store.append(`Account-r${a}`, [newEvent('AccountOpened', { owner: 'o' }), ...Array.from({ length: 9 }, (_, i) => newEvent('Deposited', { amount: i + 1 }))]);
}

test('rebuilt beside the live model, equal digests, swapped while the projector runs, appends go on and readers read', async () => {
  const data = join(dir, 'd1');
  const store = new SqliteEventStore({ path: join(data, 'events.sqlite'), pollIntervalMs: 5 });
  await fill(store, 0, 150);
  const live = openReadModelDb(join(data, 'readmodels.sqlite'));
  const runner = new ProjectionRunner({ store, db: live, projections: [balances, auditProjection], batchSize: 50, onError: () => {} });
  runner.start();
  await runner.waitFor(await store.headPosition());
  // an API reader in another process, reading all the time (its own connection and prepared statements)
  const reader = spawn(process.execPath, ['-e', `
    const Database = require('better-sqlite3');
    const db = new Database(${JSON.stringify(join(data, 'readmodels.sqlite'))}, { readonly: true });
    db.pragma('busy_timeout = 10000');
    const q = db.prepare('SELECT count(*) AS n FROM balances');
    let reads = 0, errors = 0, last = '';
    setInterval(() => console.log(reads + ' ' + errors + ' ' + last), 20);
    (function loop() { for (let i = 0; i < 50; i++) { try { q.get(); reads++; } catch (e) { errors++; last = e.message; } } setImmediate(loop); })();
  `], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let readerLine = '';
  reader.stdout.on('data', (b) => { const lines = String(b).trim().split('\n'); readerLine = lines[lines.length - 1]; });
  while (!readerLine) await new Promise((r) => setTimeout(r, 10));
  // writers keep appending during the replay
  let writing = true;
  const writer = (async () => { let a = 1000; while (writing) { await fill(store, a, a + 1); a++; await new Promise((r) => setTimeout(r, 2)); } })();

  const reports = [];
  for (const p of [balances, auditProjection]) reports.push(await replayProjection(store, live, p, { dataDir: data, batchSize: 97 }));
  writing = false;
  await writer;
  await new Promise((r) => setTimeout(r, 50));
  reader.kill();
  const [reads, readErrors, lastError] = readerLine.split(' ');
  for (const r of reports) {
    assert.ok(r.live, `${r.name}: a live model existed`);
    assert.is(r.equal, true, `${r.name}: rebuilt digest equals the live one at position ${r.position}`);
    assert.ok(r.swapped && r.swapped.position >= r.position, `${r.name}: swapped`);
    assert.is(r.file, null);
  }
  assert.equal(readdirSync(join(data, 'replay')), [], 'side files removed after the swap');
  // the projector went on after the swap: nothing skipped, nothing applied twice
  const head = await store.headPosition();
  await runner.waitFor(head);
  for (const p of [balances, auditProjection]) {
    const fresh = await rebuildProjection(store, p, { until: head });
    assert.is(digestOf(live, p), fresh.digest, `${p.name} after the swap equals a rebuild from zero`);
    fresh.db.close();
  }
  assert.is(Number(readErrors), 0, `the reader failed: ${lastError}`);
  assert.ok(Number(reads) > 100, `the reader read (${reads})`);
  await runner.stop(); live.close(); await store.close();
});

test('a drifted live model shows a different digest and the swap repairs it', async () => {
  const data = join(dir, 'd2');
  const store = new SqliteEventStore({ path: join(data, 'events.sqlite') });
  await fill(store, 0, 20);
  const live = openReadModelDb(join(data, 'readmodels.sqlite'));
  const runner = new ProjectionRunner({ store, db: live, projections: [balances] });
  runner.start();
  await runner.waitFor(await store.headPosition());
  await runner.stop();
  live.prepare("UPDATE balances SET balance = -1 WHERE account = 'Account-r3'").run();
  const r1 = await replayProjection(store, live, balances, { dataDir: data });
  assert.is(r1.equal, false);
  assert.ok(r1.swapped);
  const r2 = await replayProjection(store, live, balances, { dataDir: data, swap: false });
  assert.is(r2.equal, true);
  assert.is(r2.swapped, null);
  assert.ok(r2.file && existsSync(r2.file), 'kept when not swapped');
  live.close(); await store.close();
});

test('--until stops at a position and never swaps; a read model never projected is built to the head', async () => {
  const data = join(dir, 'd3');
  const store = new SqliteEventStore({ path: join(data, 'events.sqlite') });
  await fill(store, 0, 10);
  const live = openReadModelDb(join(data, 'readmodels.sqlite'));
  const first = await replayProjection(store, live, balances, { dataDir: data });
  assert.is(first.live, null);
  assert.is(first.position, 100);
  assert.equal(live.prepare("SELECT position FROM projection_checkpoints WHERE name = 'balances'").get(), { position: 100 });
  const until = await replayProjection(store, live, balances, { dataDir: data, until: 35 });
  assert.is(until.position, 35);
  assert.is(until.events, 35);
  assert.is(until.swapped, null);
  assert.ok(until.file && existsSync(until.file));
  assert.equal(live.prepare('SELECT sum(events) AS n FROM balances').get(), { n: 100 }, 'the live model is untouched');
  live.close(); await store.close();
});

test('position at a recorded time', async () => {
  const store = new SqliteEventStore({ path: ':memory:' });
  const marks: string[] = [];
  for (let i = 0; i < 5; i++) {
    await store.append(`Account-t${i}`, [newEvent('AccountOpened', { owner: 'o' }), newEvent('Deposited', { amount: 1 })]);
    marks.push((await store.readAll({ after: (await store.headPosition()) - 1 }))[0].metadata.recordedAt);
    await new Promise((r) => setTimeout(r, 3));
  }
  assert.is(await positionAtTime(store, '2000-01-01T00:00:00.000Z'), 0);
  assert.is(await positionAtTime(store, marks[2]), 6);
  assert.is(await positionAtTime(store, '2999-01-01T00:00:00.000Z'), 10);
  await store.close();
});

test.run();
