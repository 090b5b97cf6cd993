import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import '../core/testing/example-account.ts';
import { newEvent } from '../core/testing/events.ts';
import { digestOf, openReadModelDb, ProjectionRunner, rebuildProjection } from './runner.ts';
import { auditBulkLoader, auditKeys, auditProjection, CHUNK, correlationBucket, CORRELATION_BUCKETS } from './audit.ts';
import { rebuildFromZero } from '../core/audit/rebuild.ts';

/** ~1500 events: hot keys (one category, one actor) cross many chunks; many small correlations and tenants. */
async function fill(store: SqliteEventStore, n = 1500) {
  for (let i = 0; i < n; i += 3) {
    const tenant = i % 4 === 0 ? undefined : `u_t${i % 7}`;
    const extra = { actor: { kind: (['operator', 'system', 'agent', 'tenant'] as const)[i % 4], id: `a${i % 5}` }, correlationId: `corr_${Math.floor(i / 9)}`, ...(tenant && { tenantId: tenant }) };
    await store.append(`Account-x${i % 11}`, i % 33 === 0
      ? [newEvent('AccountOpened', { owner: 'o' }, extra), newEvent('Deposited', { amount: 1 }, extra), newEvent('Deposited', { amount: 2 }, extra)]
      : [newEvent('Deposited', { amount: 1 }, extra), newEvent('Deposited', { amount: 2 }, extra), newEvent('Withdrawn', { amount: 1 }, extra)]);
  }
}

test('keys: category, actor, correlation bucket, tenant', () => {
  const e = { streamId: 'Host-h_1', position: 1, revision: 0, type: 'X', data: {}, metadata: { actor: { kind: 'agent', id: 'h_1' }, correlationId: 'c1', tenantId: 'u_1' } } as any;
  const keys = auditKeys(e);
  assert.equal(keys.slice(0, 2), ['c:Host', 'a:agent:h_1']);
  assert.match(keys[2], /^r:[0-9a-f]{3}$/);
  assert.is(keys[3], 't:u_1');
  assert.is(correlationBucket('c1'), correlationBucket('c1'));
  const spread = new Set(Array.from({ length: 2000 }, (_, i) => correlationBucket(`corr-${i}`)));
  assert.ok(spread.size > 1000 && [...spread].every((b) => b >= 0 && b < CORRELATION_BUCKETS));
});

test('the live path, the bulk loader (also when it spills) and the runner give the same rows and digest', async () => {
  const store = new SqliteEventStore({ path: ':memory:' });
  await fill(store);
  const head = await store.headPosition();
  const live = await rebuildProjection(store, auditProjection, { batchSize: 97 }); // event by event, SQL path
  const bulk = await rebuildFromZero(store, auditProjection, { batchSize: 250 });
  assert.is(bulk.digest, live.digest);
  assert.is(bulk.position, head);
  // a bulk loader with a tiny memory bound spills its open chunks and continues from the rows
  const db = new Database(':memory:');
  auditProjection.setup(db);
  const loader = auditBulkLoader(db, 5);
  const events = await store.readAll({ maxCount: 1e9 });
  db.transaction(() => { for (const e of events) loader.apply(e); loader.flush(); })();
  assert.is(digestOf(db, auditProjection), live.digest);
  // hot keys really crossed chunks
  const chunks = live.db.prepare("SELECT count(*) FROM audit_postings WHERE key = 'c:Account'").pluck().get() as number;
  assert.is(chunks, Math.ceil(head / CHUNK));
  // and the runner (live, in batches, with a restart) agrees
  const rm = openReadModelDb(':memory:');
  const runner = new ProjectionRunner({ store, db: rm, projections: [auditProjection], batchSize: 64 });
  runner.start();
  await runner.waitFor(head);
  await runner.stop();
  assert.is(runner.digest('audit'), live.digest);
  live.db.close(); bulk.db.close(); db.close(); rm.close();
  await store.close();
});

test('apply is idempotent: events seen again change nothing', async () => {
  const store = new SqliteEventStore({ path: ':memory:' });
  await fill(store, 600);
  const events = await store.readAll({ maxCount: 1e9 });
  const db = new Database(':memory:');
  auditProjection.setup(db);
  db.transaction(() => { for (const e of events.slice(0, 400)) auditProjection.apply(db, e); })();
  db.transaction(() => { for (const e of events.slice(100)) auditProjection.apply(db, e); })(); // overlap 100..399
  db.transaction(() => { for (const e of events.slice(250, 300)) auditProjection.apply(db, e); })();
  const once = await rebuildProjection(store, auditProjection);
  assert.is(digestOf(db, auditProjection), once.digest);
  // the bulk loader skips repeats too
  const db2 = new Database(':memory:');
  auditProjection.setup(db2);
  const loader = auditBulkLoader(db2);
  db2.transaction(() => { for (const e of [...events.slice(0, 300), ...events.slice(200)]) loader.apply(e); loader.flush(); })();
  assert.is(digestOf(db2, auditProjection), once.digest);
  db.close(); db2.close(); once.db.close();
  await store.close();
});

test('time chunks hold every event with the range of their recorded times', async () => {
  const store = new SqliteEventStore({ path: ':memory:' });
  await fill(store, 900);
  const r = await rebuildFromZero(store, auditProjection);
  const rows = r.db.prepare('SELECT first_position, last_position, count, min_recorded_at, max_recorded_at FROM audit_time ORDER BY first_position').all() as any[];
  assert.is(rows.reduce((n, x) => n + x.count, 0), 900);
  assert.ok(rows.every((x) => x.count <= CHUNK && x.min_recorded_at <= x.max_recorded_at));
  assert.is(rows[0].first_position, 1);
  assert.is(rows[rows.length - 1].last_position, 900);
  r.db.close();
  await store.close();
});

test.run();
