import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import '../core/testing/example-account.ts';
import { newEvent } from '../core/testing/events.ts';
import { openReadModelDb, ProjectionRunner, rebuildProjection, type SqliteProjection } from './runner.ts';

const dir = mkdtempSync(join(tmpdir(), 'ledger-proj-'));
let failAt = -1; // position at which `apply` throws (a simulated crash mid-batch) until the "process" restarts

const balances: SqliteProjection = {
  name: 'balances',
  version: 1,
  filter: { categories: ['Account'] },
  tables: [{ name: 'balances', orderBy: 'account' }],
  setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, owner TEXT, balance INTEGER NOT NULL, events INTEGER NOT NULL)'),
  apply(db: Database.Database, e) {
    if (e.position === failAt) throw new Error('simulated crash');
    if (e.type === 'AccountOpened') db.prepare('INSERT INTO balances VALUES (?, ?, 0, 1)').run(e.streamId, (e.data as any).owner);
    else {
      const delta = e.type === 'Deposited' ? (e.data as any).amount : -(e.data as any).amount;
      db.prepare('UPDATE balances SET balance = balance + ?, events = events + 1 WHERE account = ?').run(delta, e.streamId);
    }
  },
};

async function fill(store: SqliteEventStore, accounts: number, deposits: number, prefix = 'a') {
  for (let a = 0; a < accounts; a++) {
    await store.append(`Account-${prefix}${a}`, [newEvent('AccountOpened', { owner: `o${a}` }), ...Array.from({ length: deposits }, (_, i) => newEvent('Deposited', { amount: i + 1 }))]);
  }
}

test('the live read model catches up and its digest equals a rebuild from zero', async () => {
  const store = new SqliteEventStore({ path: join(dir, 'e1.sqlite'), pollIntervalMs: 10 });
  const db = openReadModelDb(join(dir, 'rm1.sqlite'));
  await fill(store, 20, 10);
  const runner = new ProjectionRunner({ store, db, projections: [balances], batchSize: 17 });
  runner.start();
  await fill(store, 5, 3, 'live'); // live events after start
  const head = await store.headPosition();
  await runner.waitFor(head);
  const rebuilt = await rebuildProjection(store, balances);
  assert.is(rebuilt.position, head);
  assert.is(runner.digest('balances'), rebuilt.digest);
  const row = db.prepare("SELECT balance, events FROM balances WHERE account = 'Account-a3'").get() as any;
  assert.equal(row, { balance: 55, events: 11 });
  assert.equal(db.prepare("SELECT balance, events FROM balances WHERE account = 'Account-live3'").get(), { balance: 6, events: 4 });
  await runner.stop(); await store.close(); db.close();
});

test('a crash mid-batch rolls back events and checkpoint together: nothing applied twice, nothing skipped', async () => {
  const store = new SqliteEventStore({ path: join(dir, 'e2.sqlite'), pollIntervalMs: 10 });
  const rmPath = join(dir, 'rm2.sqlite');
  await fill(store, 10, 9); // 100 events
  const errors: unknown[] = [];
  failAt = 57;
  let db = openReadModelDb(rmPath);
  let runner = new ProjectionRunner({ store, db, projections: [balances], batchSize: 25, onError: (_, e) => errors.push(e) });
  runner.start();
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(errors.length >= 1, 'the simulated crash did not happen');
  const cp = db.prepare("SELECT position FROM projection_checkpoints WHERE name = 'balances'").get() as any;
  assert.is(cp.position, 50, 'checkpoint should stay at the last committed batch');
  await runner.stop(); db.close();
  failAt = -1;
  // "Restart the process": a new runner on the same read-model file resumes after the last committed batch.
  db = openReadModelDb(rmPath);
  runner = new ProjectionRunner({ store, db, projections: [balances], batchSize: 25 });
  runner.start();
  await runner.waitFor(await store.headPosition());
  const total = db.prepare('SELECT sum(events) AS n, sum(balance) AS b FROM balances').get() as any;
  assert.equal(total, { n: 100, b: 10 * 45 });
  assert.is(runner.digest('balances'), (await rebuildProjection(store, balances)).digest);
  await runner.stop(); await store.close(); db.close();
});

test('a projection whose version changed is rebuilt from zero', async () => {
  const store = new SqliteEventStore({ path: join(dir, 'e3.sqlite'), pollIntervalMs: 10 });
  const rmPath = join(dir, 'rm3.sqlite');
  await fill(store, 3, 2);
  let db = openReadModelDb(rmPath);
  let runner = new ProjectionRunner({ store, db, projections: [balances] });
  runner.start();
  await runner.waitFor(await store.headPosition());
  db.prepare('UPDATE balances SET balance = -999').run(); // damage the read model
  await runner.stop(); db.close();
  db = openReadModelDb(rmPath);
  runner = new ProjectionRunner({ store, db, projections: [{ ...balances, version: 2 }] });
  runner.start();
  await runner.waitFor(await store.headPosition());
  assert.is((db.prepare('SELECT min(balance) AS m FROM balances').get() as any).m, 3);
  await runner.stop(); await store.close(); db.close();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
