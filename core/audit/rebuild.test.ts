/**
 * Rebuilds on two threads give every read model the digest of the one-thread rebuild, of the runner's event-by-event
 * rebuild (whole events, SQL `apply`) and of the live model, over a log holding every discovered read model's events
 * (the benchmark's fleet, the Resources demo, component types and flat pools, users and projects, and events whose
 * strings look like the body's own structure); `ledger replay` on two threads writes the side files and swaps them in.
 * And the partial decoders (metadata only; data and times) equal the store's full decode on every event of that log
 * and on bodies built to mislead them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../schema/index.ts';
import { loadConfig } from '../config.ts';
import { openLedger } from '../ledger.ts';
import { canonicalBody } from '../hash-chain.ts';
import { z } from 'zod';
import { defineCategory, defineEvent } from '../../schema/registry.ts';
import { decodeRow, SqliteEventStore } from '../event-store/sqlite.ts';
import { openReadModelDb, rebuildProjection, digestOf } from '../../projections/runner.ts';
import { seedDemo } from '../../layers/resources/seed/demo.ts';
import { seedComponentTypes } from '../../layers/components/seed.ts';
import { userDecider } from '../../layers/projects/user/decider.ts';
import { generateLog } from '../../bench/replay.ts';
import { discoverProjections } from './projections.ts';
import { decodeDataAndTimes, decodeMetadataOnly, metadataAt, metadataFromText, planThreads, prepareRebuildThread, preparedRebuildThread, rebuildAllFromZero, type BulkCapable } from './rebuild.ts';
import { replayProjections } from './replay.ts';

const dir = mkdtempSync(join(tmpdir(), 'ledger-rebuild-threads-'));
const path = join(dir, 'events.sqlite');
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Strings shaped like the body's own structure, for data and metadata alike. */
const TRICKY = 'a "metadata":{"actor":{"id":"x","kind":"y"}} \\ \u2028 é 🙂 {"actor":{"id":';

let projections: BulkCapable[] = [];
let live: Record<string, string> = {};
let head = 0;

test.before(async () => {
  await generateLog(path, 3_000, () => {}, { processes: 1, inFlight: 50 });
  ({ projections } = await discoverProjections());
  const ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir, LEDGER_LOG_LEVEL: 'silent' }), { projections });
  try {
    await seedDemo(ledger);
    await seedComponentTypes(ledger);
    for (let i = 0; i < 3; i++) {
      await ledger.execute(userDecider, `User-u_odd${i}`, { type: 'CreateUser', data: { userId: `u_odd${i}`, name: TRICKY.slice(i) } } as any, {
        actor: { kind: 'operator', id: `ops ${TRICKY}`.slice(0, 200 - i) }, correlationId: TRICKY, causationId: 'c'.repeat(200), commandId: 'm'.repeat(200),
      });
    }
    await ledger.settle();
    head = await ledger.store.headPosition();
    await ledger.projections.waitFor(head);
    live = Object.fromEntries(projections.map((p) => [p.name, ledger.projections.digest(p.name)]));
  } finally {
    await ledger.close();
  }
});

test('the log holds every read model\'s events, and the rebuild splits them over two threads', async () => {
  const names = projections.map((p) => p.name);
  for (const n of ['audit', 'cregister', 'projects', 'rregister']) assert.ok(names.includes(n), `${n} discovered (found ${names.join(', ')})`);
  const plan = planThreads(projections);
  assert.ok(plan && plan.size > 0 && plan.size < projections.length, 'some read models go to the second thread, some stay');
  assert.ok(plan!.has('audit'), 'the audit index (metadata only) goes to the second thread');
});

test('a second thread prepared ahead of its job boots, waits, and rebuilds what a fresh one would', async () => {
  const store = new SqliteEventStore({ path, readonly: true });
  try {
    const fresh = await rebuildAllFromZero(store, projections, { threads: 2 });
    const bootMs = await prepareRebuildThread();
    assert.ok(bootMs > 0 && bootMs < 30_000, `booted in ${bootMs} ms`);
    assert.is(await prepareRebuildThread() >= bootMs, true, 'preparing again gives the same thread');
    await new Promise((r) => setTimeout(r, 50)); // booted and idle: it waits for its job
    assert.type(preparedRebuildThread(), 'number');
    const warm = await rebuildAllFromZero(store, projections, { threads: 2 });
    assert.is(preparedRebuildThread(), undefined, 'the rebuild took the prepared thread');
    for (let i = 0; i < projections.length; i++) {
      assert.is(warm[i].digest, fresh[i].digest, `${projections[i].name}: prepared thread = fresh thread`);
      assert.is(warm[i].events, fresh[i].events);
      warm[i].db.close(); fresh[i].db.close();
    }
    // taken: the next rebuild starts a thread of its own (and the one after a prepared one again)
    const again = await rebuildAllFromZero(store, projections, { threads: 2 });
    for (let i = 0; i < projections.length; i++) { assert.is(again[i].digest, live[projections[i].name]); again[i].db.close(); }
  } finally {
    await store.close();
  }
});

test('two threads = one thread = event by event = live, for every read model', async () => {
  const store = new SqliteEventStore({ path, readonly: true });
  try {
    const progress: number[] = [];
    const two = await rebuildAllFromZero(store, projections, { threads: 2, batchSize: 97, onProgress: (position) => progress.push(position) });
    const one = await rebuildAllFromZero(store, projections, { threads: 1, batchSize: 500 });
    assert.equal(two.map((r) => r.name), projections.map((p) => p.name), 'results in the order asked');
    for (let i = 0; i < projections.length; i++) {
      const p = projections[i];
      const slow = await rebuildProjection(store, p);
      assert.ok(one[i].events > 0, `${p.name}: the log holds its events`);
      assert.is(two[i].digest, one[i].digest, `${p.name}: two threads = one thread`);
      assert.is(two[i].events, one[i].events, `${p.name}: same events folded`);
      assert.is(two[i].position, head);
      assert.is(two[i].digest, slow.digest, `${p.name}: = event by event, whole events, SQL apply`);
      assert.is(two[i].digest, live[p.name], `${p.name}: = live`);
      assert.is(digestOf(two[i].db, p), two[i].digest, `${p.name}: the database handed back holds the rows`);
      slow.db.close(); one[i].db.close(); two[i].db.close();
    }
    assert.is(progress[progress.length - 1], head, 'progress ends at the head');
    // each read model up to its own position, on two threads as on one
    const until = Object.fromEntries(projections.map((p, i) => [p.name, Math.floor(head / (i + 2))]));
    const partTwo = await rebuildAllFromZero(store, projections, { threads: 2, until });
    const partOne = await rebuildAllFromZero(store, projections, { threads: 1, until });
    for (let i = 0; i < projections.length; i++) {
      assert.is(partTwo[i].position, until[projections[i].name]);
      assert.is(partTwo[i].digest, partOne[i].digest, `${projections[i].name}: up to ${until[projections[i].name]}`);
      partTwo[i].db.close(); partOne[i].db.close();
    }
  } finally {
    await store.close();
  }
});

test('ledger replay on two threads: side files written by the second thread, equal to live, swapped in', async () => {
  const store = new SqliteEventStore({ path, readonly: true });
  const db = openReadModelDb(join(dir, 'readmodels.sqlite'));
  try {
    const seen: number[] = [];
    const reports = await replayProjections(store, db, projections, { dataDir: dir, threads: 2, onProgress: (p) => seen.push(p) });
    for (const r of reports) {
      assert.is(r.equal, true, `${r.name}: rebuilt digest = live digest at ${r.position}`);
      assert.ok(r.swapped, `${r.name}: swapped`);
      assert.is(digestOf(db, projections.find((p) => p.name === r.name)!), live[r.name], `${r.name}: the swapped tables hold the live rows`);
    }
    assert.is(seen[seen.length - 1], head);
  } finally {
    db.close();
    await store.close();
  }
});

test('partial decoders = the full decode, on every event of the log', () => {
  const db = new Database(path, { readonly: true });
  try {
    let n = 0;
    for (const r of db.prepare('SELECT position, stream, revision, type, body, hash FROM events ORDER BY position').iterate() as Iterable<any>) {
      const full = decodeRow(r);
      assert.is(metadataAt(r.body), r.body.lastIndexOf('"metadata":'), `metadata found in ${r.body}`);
      const meta = decodeMetadataOnly(r.position, r.stream, r.revision, r.type, r.body, r.hash);
      assert.equal(meta.metadata, full.metadata, `metadata of ${r.position}`);
      assert.is(meta.data, undefined);
      assert.equal([meta.streamId, meta.revision, meta.position, meta.type], [full.streamId, full.revision, full.position, full.type]);
      const fast = metadataFromText(r.body, metadataAt(r.body));
      if (r.body.includes('\\')) assert.is(fast, null, 'an escape: left to JSON.parse');
      else assert.equal(fast, JSON.parse(r.body).metadata, `metadata of ${r.position} read off its text`);
      const dt = decodeDataAndTimes(r.position, r.stream, r.revision, r.type, r.body, r.hash)!;
      assert.ok(dt, `data and times of ${r.position}`);
      assert.equal(dt.data, full.data, `data of ${r.position}`);
      const m = full.metadata;
      assert.equal(dt.metadata, { occurredAt: m.occurredAt, recordedAt: m.recordedAt, version: m.version, hash: m.hash }, `times of ${r.position}`);
      n++;
    }
    assert.is(n, head);
    const odd = db.prepare("SELECT body FROM events WHERE stream LIKE 'User-u_odd%'").pluck().all() as string[];
    assert.is(odd.length, 3);
    for (const b of odd) assert.ok(b.includes('\\"metadata\\":{\\"actor\\":{\\"id\\":'), 'the tricky strings are in the log');
  } finally {
    db.close();
  }
});

test('partial decoders on bodies built to mislead them (structure in data keys and strings, long metadata)', () => {
  const metas = [
    { actor: { kind: 'operator', id: 'o' }, correlationId: 'c', eventId: '0190f5c2-7a4b-7cc3-8000-000000000001', occurredAt: '2026-01-01T00:00:00.000Z', recordedAt: '2026-01-01T00:00:00.001Z', version: 1 },
    { actor: { kind: 'tenant', id: TRICKY.repeat(2).slice(0, 200) }, tenantId: TRICKY, correlationId: TRICKY.repeat(3).slice(0, 200), causationId: '"'.repeat(200),
      commandId: '\\'.repeat(200), eventId: '0190f5c2-7a4b-7cc3-8000-000000000002', occurredAt: '2026-01-01T00:00:00Z', recordedAt: '2026-01-01T00:00:00.002Z', version: 3 },
    { actor: { kind: 'agent', id: 'é🙂\u2028 {actor:{id: ,kind: }' }, causationId: ',commandId:x}', tenantId: 'u_t', correlationId: 'version:7}}',
      eventId: '0190f5c2-7a4b-7cc3-8000-000000000003', occurredAt: '2026-01-01T00:00:00.5Z', recordedAt: '2026-01-01T00:00:00.003Z', version: 12 },
  ];
  const datas: unknown[] = [
    { actor: { id: 'x', kind: 'y' }, 'k"metadata': { actor: { id: 1 } }, metadata: { actor: { id: 'z' } }, s: '"metadata":{"actor":{"id":', t: TRICKY },
    { nested: [{ metadata: { actor: { id: '{"actor":{"id":' } } }], n: 1.5, b: true, z: null },
    'just a string with "metadata":{"actor":{"id":"',
    [],
  ];
  for (const metadata of metas) {
    for (const data of datas) {
      const body = canonicalBody(data, metadata as any);
      const at = metadataAt(body);
      // the member '"metadata":' + the metadata's text + the body's closing brace end the body
      assert.is(at, body.length - 1 - canonicalMetaLength(body) - '"metadata":'.length, 'the metadata member found');
      const fast = metadataFromText(body, at);
      if (JSON.stringify(metadata).includes('\\')) assert.is(fast, null); else assert.equal(fast, JSON.parse(body).metadata);
      const meta = decodeMetadataOnly(7, 'User-u_x', 0, 'UnknownType', body, 'h');
      assert.equal(meta.metadata, { ...JSON.parse(body).metadata, hash: 'h' });
      const dt = decodeDataAndTimes(7, 'User-u_x', 0, 'UnknownType', body, 'h')!;
      assert.equal(dt.data, JSON.parse(body).data);
      assert.equal(dt.metadata, { occurredAt: metadata.occurredAt, recordedAt: metadata.recordedAt, version: metadata.version, hash: 'h' });
    }
  }
});

test('every decoder upcasts data and version as the store does', () => {
  defineCategory('Probe', 'test', 'events of the rebuild test');
  defineEvent({ type: 'ProbeRecorded', version: 1, category: 'Probe', description: 'v1', schema: z.object({ n: z.number() }) });
  defineEvent({ type: 'ProbeRecorded', version: 2, category: 'Probe', description: 'v2', schema: z.object({ n: z.number(), twice: z.number() }),
    upcast: (d: { n: number }) => ({ n: d.n, twice: 2 * d.n }) });
  const metadata = { actor: { kind: 'system', id: 's' }, correlationId: 'c', eventId: '0190f5c2-7a4b-7cc3-8000-000000000009',
    occurredAt: '2026-01-01T00:00:00Z', recordedAt: '2026-01-01T00:00:00.001Z', version: 1 };
  const body = canonicalBody({ n: 21 }, metadata as any);
  const full = decodeRow({ position: 3, stream: 'Probe-p', revision: 0, type: 'ProbeRecorded', body, hash: 'h' });
  assert.equal(full.data, { n: 21, twice: 42 });
  assert.is(full.metadata.version, 2);
  assert.equal(decodeMetadataOnly(3, 'Probe-p', 0, 'ProbeRecorded', body, 'h').metadata, full.metadata);
  const dt = decodeDataAndTimes(3, 'Probe-p', 0, 'ProbeRecorded', body, 'h')!;
  assert.equal(dt.data, full.data);
  assert.is(dt.metadata.version, 2);
});

/** The length of the metadata object's text in a canonical body (what follows '"metadata":', without the final '}'). */
function canonicalMetaLength(body: string): number {
  return JSON.stringify(JSON.parse(body).metadata).length;
}

test.run();
