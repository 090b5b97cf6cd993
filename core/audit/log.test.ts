import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SqliteEventStore } from '../event-store/sqlite.ts';
import '../testing/example-account.ts';
import { newEvent } from '../testing/events.ts';
import { auditProjection } from '../../projections/audit.ts';
import { rebuildFromZero } from './rebuild.ts';
import { causalDepths, queryAuditLog, type AuditFilter } from './log.ts';

const KINDS = ['operator', 'system', 'agent', 'tenant'] as const;
const store = new SqliteEventStore({ path: ':memory:' });
const times: string[] = [];

test.before(async () => {
  for (let i = 0; i < 600; i++) {
    const kind = KINDS[i % 4];
    const meta = {
      actor: { kind, id: kind === 'tenant' ? `u_${i % 3}` : `x${i % 5}` },
      correlationId: `c_${Math.floor(i / 6)}`,
      ...(i % 3 !== 0 && { tenantId: `u_${i % 3}` }),
    };
    await store.append(`Account-a${i % 13}`, [newEvent(i < 13 ? 'AccountOpened' : 'Deposited', i < 13 ? { owner: 'o' } : { amount: 1 + (i % 9) }, meta)]);
    if (i % 50 === 0) { times.push(new Date().toISOString()); await new Promise((r) => setTimeout(r, 3)); }
  }
});
test.after(() => store.close());

/** Every page of a query, concatenated. */
async function all(db: Parameters<typeof queryAuditLog>[1], filter: AuditFilter, limit: number, maxScan?: number) {
  const positions: number[] = [];
  let after = 0;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await queryAuditLog(store, db, filter, { limit, after, maxScan });
    positions.push(...page.entries.map((e) => e.position));
    if (page.nextCursor === null) return positions;
    assert.ok(page.nextCursor > after, 'the cursor moves forward');
    after = page.nextCursor;
  }
  throw new Error('too many pages');
}

const FILTERS: AuditFilter[] = [
  {}, { stream: 'Account-a3' }, { category: 'Account' }, { category: 'Nothing' }, { tenant: 'u_1' }, { tenant: 'u_9' },
  { actor: 'system:x2' }, { actor: 'u_2' }, { actor: 'x1' }, { correlation: 'c_17' }, { correlation: 'c_nope' },
  { tenant: 'u_2', actor: 'agent:x1' }, { stream: 'Account-a5', tenant: 'u_1' }, { correlation: 'c_40', tenant: 'u_1' }, { actor: 'u_1' },
];

test('index-driven pages equal a scan of the log, for every filter and page size, with the index complete or lagging', async () => {
  const head = await store.headPosition();
  const full = await rebuildFromZero(store, auditProjection);
  const half = await rebuildFromZero(store, auditProjection, { until: Math.floor(head / 2) });
  const filters = [...FILTERS, { from: times[3], to: times[7] }, { from: times[5] }, { to: times[2], category: 'Account' }, { actor: 'x1', from: times[4] }];
  for (const f of filters) {
    const expected = (await store.readAll({ maxCount: 1e9 })).filter((e) => {
      const m = e.metadata;
      return (!f.stream || e.streamId === f.stream) && (!f.category || e.streamId.startsWith(`${f.category}-`)) && (!f.tenant || m.tenantId === f.tenant)
        && (!f.correlation || m.correlationId === f.correlation) && (!f.from || m.recordedAt >= f.from) && (!f.to || m.recordedAt < f.to)
        && (!f.actor || (f.actor.includes(':') ? `${m.actor.kind}:${m.actor.id}` === f.actor : m.actor.id === f.actor));
    }).map((e) => e.position);
    for (const limit of [4, 50]) {
      assert.equal(await all(null, f, limit), expected, `scan ${JSON.stringify(f)} limit ${limit}`);
      assert.equal(await all(full.db, f, limit), expected, `index ${JSON.stringify(f)} limit ${limit}`);
      assert.equal(await all(half.db, f, limit), expected, `half index ${JSON.stringify(f)} limit ${limit}`);
    }
    assert.equal(await all(full.db, f, 10, 37), expected, `bounded scan ${JSON.stringify(f)}`);
  }
  full.db.close(); half.db.close();
});

async function rejects(fn: () => Promise<unknown>, re: RegExp) {
  try { await fn(); } catch (error) { assert.match(String((error as Error).message), re); return; }
  assert.unreachable(`expected a rejection matching ${re}`);
}

test('the most selective filter drives; reports how', async () => {
  const idx = await rebuildFromZero(store, auditProjection);
  const page = await queryAuditLog(store, idx.db, { correlation: 'c_3' }, { limit: 50 });
  assert.is(page.via, 'index');
  assert.equal(page.entries.map((e) => e.correlationId), Array(6).fill('c_3'));
  assert.ok(page.examined < 50, `examined ${page.examined}`);
  assert.is((await queryAuditLog(store, idx.db, { stream: 'Account-a1' }, {})).via, 'stream');
  assert.is((await queryAuditLog(store, null, { tenant: 'u_1' }, {})).via, 'log');
  assert.is((await queryAuditLog(store, idx.db, { from: times[2] }, {})).via, 'time-index');
  idx.db.close();
});

test('entries carry who, what, where and why; bad filters and limits are refused', async () => {
  const [e] = (await queryAuditLog(store, null, {}, { limit: 1 })).entries;
  assert.equal(Object.keys(e).sort(), ['actor', 'correlationId', 'data', 'eventId', 'occurredAt', 'position', 'recordedAt', 'revision', 'streamId', 'summary', 'type']);
  await rejects(() => queryAuditLog(store, null, { stream: 'nope' }), /stream/);
  await rejects(() => queryAuditLog(store, null, { actor: 'robot:1' }), /actor/);
  await rejects(() => queryAuditLog(store, null, { from: '2025-02-01T00:00:00.000Z', to: '2025-01-01T00:00:00.000Z' }), /empty/);
  await rejects(() => queryAuditLog(store, null, {}, { limit: 0 }), /limit/);
});

test('causal depths nest a request\'s events under their causes', () => {
  const mk = (eventId: string, causationId?: string) => ({ eventId, causationId } as any);
  assert.equal(causalDepths([mk('a', 'cmd'), mk('b', 'a'), mk('c', 'b'), mk('d', 'a'), mk('e', 'zz')]), [0, 1, 2, 1, 0]);
});

test.run();
