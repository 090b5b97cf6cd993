import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SqliteEventStore } from '../event-store/sqlite.ts';
import '../testing/example-account.ts';
import { newEvent } from '../testing/events.ts';
import { chainHash, GENESIS_HASH } from '../hash-chain.ts';
import { checkDigest, makeDigest, rootOf } from './digest.ts';
import { compareWithDigest, walkChains } from './verify.ts';
import { randomBytes } from 'node:crypto';

async function fresh() {
  const store = new SqliteEventStore({ path: ':memory:' });
  for (let a = 0; a < 4; a++) {
    await store.append(`Account-v${a}`, [newEvent('AccountOpened', { owner: `o${a}` })]);
    for (let i = 0; i < 5; i++) await store.append(`Account-v${a}`, [newEvent('Deposited', { amount: i + 1 })]);
  }
  return store;
}
const key = randomBytes(32);
async function check(store: SqliteEventStore, digest?: ReturnType<typeof makeDigest>) {
  const walk = await walkChains(store);
  if (!digest) return walk.findings;
  const cmp = await compareWithDigest(store, walk, digest, checkDigest(JSON.parse(JSON.stringify(digest)), key));
  return [...walk.findings, ...cmp.findings];
}
async function digestOfStore(store: SqliteEventStore) {
  const w = await walkChains(store);
  return makeDigest(w.heads, { store: w.store, headPosition: w.headPosition, events: w.events }, key);
}
const rowAt = (store: SqliteEventStore, stream: string, revision: number) =>
  store.db.prepare('SELECT position, body, hash FROM events WHERE stream = ? AND revision = ?').get(stream, revision) as { position: number; body: string; hash: string };

test('an intact log: heads of every stream, nothing found, against its digest too', async () => {
  const store = await fresh();
  const walk = await walkChains(store);
  assert.is(walk.streams, 4);
  assert.is(walk.events, 24);
  assert.is(walk.heads['Account-v2'].revision, 5);
  const d = await digestOfStore(store);
  assert.equal(await check(store, d), []);
  await store.append('Account-v0', [newEvent('Deposited', { amount: 9 })]); // growth after the digest is fine
  await store.append('Account-new', [newEvent('AccountOpened', { owner: 'n' })]);
  const w2 = await walkChains(store);
  const cmp = await compareWithDigest(store, w2, d, checkDigest(d, key));
  assert.equal(cmp.findings, []);
  assert.is(cmp.newStreams, 1);
  assert.is(cmp.eventsSince, 2);
});

test('one altered byte is named (stream, revision, position, event id)', async () => {
  const store = await fresh();
  const r = rowAt(store, 'Account-v1', 3);
  store.db.prepare('UPDATE events SET body = ? WHERE position = ?').run(r.body.replace('"amount":3', '"amount":4'), r.position);
  const [f, ...rest] = await check(store);
  assert.equal(rest, []);
  assert.is(f.kind, 'altered');
  assert.equal([f.streamId, f.revision, f.position], ['Account-v1', 3, r.position]);
  assert.match(f.eventId!, /^[0-9a-f-]{36}$/);
});

test('a removed middle event is a gap; two swapped events are found', async () => {
  const store = await fresh();
  store.db.prepare("DELETE FROM events WHERE stream = 'Account-v2' AND revision = 2").run();
  const a = rowAt(store, 'Account-v3', 1), b = rowAt(store, 'Account-v3', 2);
  store.db.prepare('UPDATE events SET body = ?, hash = ? WHERE position = ?').run(b.body, b.hash, a.position);
  store.db.prepare('UPDATE events SET body = ?, hash = ? WHERE position = ?').run(a.body, a.hash, b.position);
  const found = await check(store);
  assert.equal(found.map((f) => [f.kind, f.streamId, f.revision]), [['gap', 'Account-v2', 3], ['altered', 'Account-v3', 1]]);
});

test('removing the LAST event of a stream passes the chain walk and is caught only against a digest', async () => {
  const store = await fresh();
  const d = await digestOfStore(store);
  const last = rowAt(store, 'Account-v0', 5);
  store.db.prepare('DELETE FROM events WHERE position = ?').run(last.position);
  assert.equal(await check(store), []);
  const [f] = await check(store, d);
  assert.is(f.kind, 'truncated');
  assert.equal([f.streamId, f.revision, f.position], ['Account-v0', 5, last.position]);
  // a whole stream deleted
  store.db.prepare("DELETE FROM events WHERE stream = 'Account-v1'").run();
  const kinds = (await check(store, d)).map((x) => `${x.kind} ${x.streamId}`);
  assert.equal(kinds, ['truncated Account-v0', 'truncated Account-v1']);
});

test('a rewritten stream (altered and re-chained) is caught only against a digest', async () => {
  const store = await fresh();
  const d = await digestOfStore(store);
  const rows = store.db.prepare("SELECT position, revision, type, body FROM events WHERE stream = 'Account-v2' ORDER BY revision").all() as any[];
  let prev = GENESIS_HASH;
  for (const r of rows) {
    const body = r.revision === 1 ? r.body.replace('"amount":1', '"amount":100') : r.body;
    const hash = chainHash(prev, 'Account-v2', r.revision, r.type, body);
    store.db.prepare('UPDATE events SET body = ?, hash = ? WHERE position = ?').run(body, hash, r.position);
    prev = hash;
  }
  assert.equal(await check(store), []);
  const [f] = await check(store, d);
  assert.equal([f.kind, f.streamId, f.revision], ['rewritten', 'Account-v2', 5]);
});

test('digest documents: root over sorted heads, HMAC signature, edits detected', async () => {
  const store = await fresh();
  const d = await digestOfStore(store);
  assert.is(d.root, rootOf(d.heads));
  assert.equal(Object.keys(d.heads), [...Object.keys(d.heads)].sort());
  assert.is(checkDigest(d, key).signature, 'valid');
  assert.is(checkDigest(d, randomBytes(32)).signature, 'other-key');
  assert.is(checkDigest(d, null).signature, 'no-key');
  const edited = JSON.parse(JSON.stringify(d));
  edited.heads['Account-v1'].hash = 'a'.repeat(64);
  assert.is(checkDigest(edited, key).rootValid, false);
  edited.root = rootOf(edited.heads);
  const c = checkDigest(edited, key);
  assert.is(c.rootValid, true);
  assert.is(c.signature, 'invalid');
  const findings = await compareWithDigest(store, await walkChains(store), edited, c);
  assert.is(findings.findings[0].kind, 'digest');
  assert.throws(() => checkDigest({ hello: 1 }, key), /not an audit digest/);
  assert.throws(() => checkDigest({ ...d, heads: { 'Account-v0': { revision: -1, hash: 'x' } } }, key), /malformed/);
});

test.run();
