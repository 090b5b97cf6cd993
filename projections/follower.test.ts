/**
 * The follower (what `ledger serve` runs in the distributed profile): it never writes a read model, and waitFor /
 * statuses follow the projector's checkpoints — including a filtered projection whose checkpoint stays behind the
 * head because the newest events are none of its business.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import '../core/testing/example-account.ts';
import { newEvent } from '../core/testing/events.ts';
import { openReadModelDb, ProjectionRunner, type SqliteProjection } from './runner.ts';
import { ProjectionFollower } from './follower.ts';

const dir = mkdtempSync(join(tmpdir(), 'ledger-follower-'));

// Only AccountOpened: deposits move the head, never this projection's checkpoint.
const owners: SqliteProjection = {
  name: 'owners',
  version: 1,
  filter: { eventTypes: ['AccountOpened'] },
  tables: [{ name: 'owners', orderBy: 'account' }],
  setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS owners (account TEXT PRIMARY KEY, owner TEXT)'),
  apply: (db: Database.Database, e) => { db.prepare('INSERT INTO owners VALUES (?, ?)').run(e.streamId, (e.data as any).owner); },
};

test('waitFor follows the projector\'s checkpoints; a filtered projection is at the head once nothing it wants is left', async () => {
  const store = new SqliteEventStore({ path: join(dir, 'events.sqlite'), pollIntervalMs: 10 });
  const projectorDb = openReadModelDb(join(dir, 'rm.sqlite'));
  const apiDb = openReadModelDb(join(dir, 'rm.sqlite'));
  const follower = new ProjectionFollower({ store, db: apiDb, projections: [owners], pollMs: 5 });
  follower.start();
  assert.equal(apiDb.prepare('SELECT count(*) FROM owners').pluck().get(), 0); // tables exist before the projector ran

  await store.append('Account-a1', [newEvent('AccountOpened', { owner: 'ann' })]);
  await store.append('Account-a1', [newEvent('Deposited', { amount: 1 })]);
  const opened = await store.headPosition();
  // No projector yet: the follower must not claim the read model is there.
  let timedOut = false;
  try { await follower.waitFor(opened, 150); } catch (e) { timedOut = /projector has not reached position 2/.test(String(e)); }
  assert.ok(timedOut, 'waitFor times out while no projector runs');

  const runner = new ProjectionRunner({ store, db: projectorDb, projections: [owners] });
  runner.start();
  await follower.waitFor(opened, 5000);
  assert.equal(apiDb.prepare('SELECT owner FROM owners').pluck().all(), ['ann']);
  // A deposit moves the head but not the checkpoint (no batch for this projection): proven irrelevant.
  await store.append('Account-a1', [newEvent('Deposited', { amount: 2 })]);
  await runner.waitFor(3);
  await follower.waitFor(3, 5000);
  assert.is(projectorDb.prepare("SELECT position FROM projection_checkpoints WHERE name = 'owners'").pluck().get(), 2);
  assert.equal(follower.statuses().map((s) => [s.name, s.position, s.caughtUp]), [['owners', 3, true]]);

  // Read-your-writes for a new account: waitFor returns only once the projector has applied it.
  await store.append('Account-a2', [newEvent('AccountOpened', { owner: 'bob' }), newEvent('Deposited', { amount: 3 })]);
  const head = await store.headPosition();
  await follower.waitFor(head, 5000);
  assert.equal(apiDb.prepare('SELECT owner FROM owners ORDER BY owner').pluck().all(), ['ann', 'bob']);
  assert.is(follower.digest('owners'), runner.digest('owners'));

  // The follower wrote nothing: no checkpoint rows but the projector's.
  assert.equal(apiDb.prepare('SELECT name FROM projection_checkpoints').pluck().all(), ['owners']);
  await runner.stop();
  await follower.stop();
  await store.close();
  projectorDb.close();
  apiDb.close();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
