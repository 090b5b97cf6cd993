/**
 * KurrentDB adapter. The event store contract runs against a real server when LEDGER_EVENTSTORE_URL names one
 * (e.g. `kurrentdb://127.0.0.1:2113?tls=false`); otherwise it is reported as skipped by name. The unit tests below
 * need no server: translation of expected revisions and conflicts, positions, filters, the stored body and its hash
 * (byte-identical to the SQLite adapter's), chain verification, and that bad input is refused before any I/O.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { NO_STREAM, WrongExpectedVersionError, type Filter } from '@kurrent/kurrentdb-client';
import '../testing/example-account.ts';
import { newEvent } from '../testing/events.ts';
import { defineCategory, defineEvent, SchemaError } from '../../schema/registry.ts';
import { eventStoreContract } from './contract.ts';
import { KurrentEventStore } from './kurrentdb.ts';
import {
  actualRevisionOf, chainEvents, comparePositions, decodeRecord, encodeEvent, eventTypeRegex, numberToPosition,
  planFilter, PositionOutOfRangeError, positionToNumber, recordBody, streamReadPosition, streamStateFor, toEventData,
  translateConflict, verifyRecords, type ChainedEvent, type RawRecord,
} from './kurrentdb-codec.ts';
import { InvalidStreamNameError, matchesFilter, WrongExpectedRevisionError, type ReadFilter } from './port.ts';
import { SqliteEventStore } from './sqlite.ts';

const url = process.env.LEDGER_EVENTSTORE_URL;
if (url) {
  eventStoreContract('kurrentdb', async () => KurrentEventStore.connect(url, { pollIntervalMs: 50 })).run();
} else {
  console.log('SKIPPED: event store contract: kurrentdb (LEDGER_EVENTSTORE_URL is not set)');
}

/** What the server hands back for an event the adapter stored: data and metadata through JSON, as the client does. */
function roundTrip(e: ChainedEvent, streamId: string, position = 100 + e.revision): RawRecord {
  const data = toEventData(e);
  return {
    streamId, id: data.id, revision: e.revision, position, type: data.type, isJson: data.contentType === 'application/json',
    data: JSON.parse(JSON.stringify(data.data)), metadata: JSON.parse(JSON.stringify(data.metadata)),
  };
}

const RECORDED_AT = '2026-03-01T10:00:00.000Z';
function chain(streamId: string, count: number): ChainedEvent[] {
  const events = [newEvent('AccountOpened', { owner: 'ann' }), ...Array.from({ length: count - 1 }, (_, i) => newEvent('Deposited', { amount: i + 1 }))];
  return chainEvents(streamId, { revision: -1, hash: '' }, events.map((e) => encodeEvent(e, RECORDED_AT)));
}

const unit = suite('kurrentdb adapter (no server)');

unit('expected revisions: the adapter appends with the exact tail it read', () => {
  assert.is(streamStateFor(-1), NO_STREAM);
  assert.is(streamStateFor(0), 0n);
  assert.is(streamStateFor(41), 41n);
  assert.is(actualRevisionOf('no_stream'), -1);
  assert.is(actualRevisionOf(7n), 7);
  assert.is(actualRevisionOf(-5n), -1); // deleted
});

unit("the client's wrong-expected-version error becomes the port's typed error with the actual revision", () => {
  const s = 'Account-a1';
  const fromServer = new WrongExpectedVersionError(undefined, { streamName: s, expected: 3n, current: 5n });
  const err = translateConflict(fromServer, s, 3);
  assert.instance(err, WrongExpectedRevisionError);
  assert.is(err!.streamId, s);
  assert.is(err!.expected, 3);
  assert.is(err!.actual, 5);
  const created = translateConflict(new WrongExpectedVersionError(undefined, { streamName: s, expected: NO_STREAM, current: 0n }), s, 'no_stream');
  assert.equal([created!.expected, created!.actual], ['no_stream', 0]);
  const missing = translateConflict(new WrongExpectedVersionError(undefined, { streamName: s, expected: 'stream_exists', current: 'no_stream' }), s, 'stream_exists');
  assert.is(missing!.actual, -1);
  const own = new WrongExpectedRevisionError(s, 1, 2);
  assert.is(translateConflict(own, s, 1), own);
  assert.is(translateConflict(new Error('unavailable'), s, 1), null);
  assert.is(translateConflict(undefined, s, 1), null);
});

unit('positions: commit positions as exact JS numbers, checkpoints back as {commit, prepare}', () => {
  assert.is(positionToNumber(0n), 0);
  assert.is(positionToNumber(1_234_567n), 1_234_567);
  assert.is(positionToNumber(BigInt(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
  assert.throws(() => positionToNumber(BigInt(Number.MAX_SAFE_INTEGER) + 1n), (e: unknown) => e instanceof PositionOutOfRangeError);
  assert.equal(numberToPosition(4096), { commit: 4096n, prepare: 4096n });
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 60]) assert.throws(() => numberToPosition(bad));
  assert.ok(comparePositions({ commit: 1n, prepare: 1n }, { commit: 2n, prepare: 0n }) < 0);
  assert.ok(comparePositions({ commit: 2n, prepare: 3n }, { commit: 2n, prepare: 1n }) > 0);
  assert.is(comparePositions(numberToPosition(9), { commit: 9n, prepare: 9n }), 0);
  // Events read from their own stream: older servers send no position, or 2^64 - 1.
  assert.is(streamReadPosition({ commit: 77n, prepare: 77n }), 77);
  assert.is(streamReadPosition(undefined), -1);
  assert.is(streamReadPosition(undefined, 12n), 12);
  assert.is(streamReadPosition({ commit: 0xffff_ffff_ffff_ffffn, prepare: 0xffff_ffff_ffff_ffffn }), -1);
});

const serverFilter = (f: Filter) => ({ filterOn: f.filterOn, ...('prefixes' in f ? { prefixes: f.prefixes } : { regex: f.regex }) });

unit('filters: stream names server-side as prefixes (category = "<Category>-"), else exact types, else no system events', () => {
  assert.equal(serverFilter(planFilter({ categories: ['Host', 'Zone'], streamPrefixes: ['Account-r1'] }).server),
    { filterOn: 'streamName', prefixes: ['Host-', 'Zone-', 'Account-r1'] });
  assert.equal(serverFilter(planFilter({ eventTypes: ['Deposited', 'Withdrawn'] }).server),
    { filterOn: 'eventType', regex: '^(?:Deposited|Withdrawn)$' });
  assert.equal(serverFilter(planFilter(undefined).server), { filterOn: 'eventType', regex: '^[^$].*' });
  assert.equal(serverFilter(planFilter({ categories: [], eventTypes: [] }).server), { filterOn: 'eventType', regex: '^[^$].*' });
  // Both: streams on the server, types checked by the adapter.
  const both = planFilter({ categories: ['Account'], eventTypes: ['Deposited'] });
  assert.is(both.server.filterOn, 'streamName');
  assert.ok(both.accepts('Account-a1', 'Deposited'));
  assert.not.ok(both.accepts('Account-a1', 'Withdrawn'));
  assert.not.ok(both.accepts('Accounts-a1', 'Deposited'));
  // The type regex is an exact match, and regex characters in a name are literal.
  const re = new RegExp(eventTypeRegex(['Deposited', 'a.b']));
  assert.ok(re.test('Deposited'));
  assert.not.ok(re.test('DepositedV2'));
  assert.not.ok(re.test('XDeposited'));
  assert.ok(re.test('a.b'));
  assert.not.ok(re.test('axb'));
});

unit('filters: the adapter accepts exactly what the SQLite adapter matches, and never a system event', () => {
  const filters: (ReadFilter | undefined)[] = [
    undefined, {}, { categories: ['Host'] }, { categories: ['Host', 'Account'] }, { streamPrefixes: ['Account-r1'] },
    { eventTypes: ['Deposited'] }, { categories: ['Account'], eventTypes: ['AccountOpened', 'Deposited'] },
    { categories: ['Host'], streamPrefixes: ['Account-r1_'], eventTypes: ['Deposited'] },
  ];
  const streams = ['Host-h1', 'Hostx-h1', 'Account-r1_1', 'Account-r2_1', 'Zone-z1'];
  const types = ['AccountOpened', 'Deposited', 'Withdrawn', 'HostRegistered'];
  for (const f of filters) {
    const plan = planFilter(f);
    for (const s of streams) for (const t of types) {
      assert.is(plan.accepts(s, t), matchesFilter(f, s, t), `${JSON.stringify(f)} on ${s} / ${t}`);
    }
    assert.not.ok(plan.accepts('$stats-127.0.0.1:2113', 'Deposited'));
    assert.not.ok(plan.accepts('Account-r1_1', '$metadata'));
    assert.not.ok(plan.accepts('$ce-Account', '$>'));
  }
});

unit('the stored body and hash are byte-identical to the SQLite adapter\'s for the same events', async () => {
  const sqlite = new SqliteEventStore({ path: ':memory:' });
  try {
    const s = 'Account-same_1';
    const events = [
      newEvent('AccountOpened', { owner: 'zoë ✓' }, { tenantId: 'u_1', commandId: 'c-1', causationId: 'x', actor: { kind: 'tenant', id: 'u_1' } }),
      newEvent('Deposited', { amount: 12 }),
      newEvent('Deposited', { amount: 9_007_199_254_740_991 }),
    ];
    await sqlite.append(s, events, { expected: 'no_stream' });
    const rows = sqlite.db.prepare('SELECT revision, type, body, hash FROM events WHERE stream = ? ORDER BY revision').all(s) as { revision: number; type: string; body: string; hash: string }[];
    const recordedAt = JSON.parse(rows[0].body).metadata.recordedAt as string;
    const chained = chainEvents(s, { revision: -1, hash: '' }, events.map((e) => encodeEvent(e, recordedAt)));
    for (let i = 0; i < rows.length; i++) {
      assert.is(chained[i].revision, rows[i].revision);
      assert.is(chained[i].body, rows[i].body, `body of revision ${i}`);
      assert.is(chained[i].hash, rows[i].hash, `hash of revision ${i}`);
      // What KurrentDB gives back re-hashes to the same body.
      assert.is(recordBody(roundTrip(chained[i], s)), rows[i].body);
    }
    assert.is(await verifyRecords(chained.map((e) => roundTrip(e, s))), null);
    assert.is(await sqlite.verifyStream(s), null);
  } finally {
    await sqlite.close();
  }
});

unit('an event is stored as JSON data + JSON metadata with the hash, under its own eventId', () => {
  const [e] = chain('Account-shape_1', 1);
  const data = toEventData(e);
  assert.is(data.id, e.metadata.eventId);
  assert.is(data.contentType, 'application/json');
  assert.is(data.type, 'AccountOpened');
  assert.equal(data.data, { owner: 'ann' });
  const metadata = data.metadata as Record<string, unknown>;
  assert.is(metadata.hash, e.hash);
  assert.is(metadata.recordedAt, RECORDED_AT);
  assert.is(metadata.version, 1);
  assert.match(e.hash, /^[0-9a-f]{64}$/);
  const stored = decodeRecord(roundTrip(e, 'Account-shape_1', 321));
  assert.equal(stored.data, { owner: 'ann' });
  assert.is(stored.position, 321);
  assert.is(stored.metadata.hash, e.hash);
  assert.is(stored.metadata.eventId, e.metadata.eventId);
});

unit('chains extend from the stored tail', () => {
  const s = 'Account-tail_1';
  const all = chain(s, 4);
  const head = chainEvents(s, { revision: -1, hash: '' }, all.slice(0, 2));
  const rest = chainEvents(s, { revision: head[1].revision, hash: head[1].hash }, all.slice(2));
  assert.equal([...head, ...rest].map((e) => [e.revision, e.hash]), all.map((e) => [e.revision, e.hash]));
});

unit('verification names the first broken event', async () => {
  const s = 'Account-verify_1';
  const records = () => chain(s, 5).map((e) => roundTrip(e, s));
  assert.is(await verifyRecords(records()), null);
  assert.is(await verifyRecords([]), null);

  const altered = records();
  (altered[2].data as { amount: number }).amount = 1000;
  (altered[4].data as { amount: number }).amount = 1000;
  const b1 = await verifyRecords(altered);
  assert.is(b1?.revision, 2);
  assert.is(b1?.eventId, (altered[2].metadata as { eventId: string }).eventId);
  assert.match(b1!.reason, /hash mismatch/);

  const metaAltered = records();
  (metaAltered[1].metadata as Record<string, unknown>).actor = { kind: 'operator', id: 'mallory' };
  assert.is((await verifyRecords(metaAltered))?.revision, 1);

  const removed = records();
  removed.splice(3, 1);
  const b2 = await verifyRecords(removed);
  assert.is(b2?.revision, 4);
  assert.match(b2!.reason, /removed or reordered/);

  const unhashed = records();
  delete (unhashed[0].metadata as Record<string, unknown>).hash;
  assert.match((await verifyRecords(unhashed))!.reason, /no JSON data/);

  const binary = records();
  binary[3] = { ...binary[3], isJson: false, data: new Uint8Array([1, 2]) };
  assert.is((await verifyRecords(binary))?.revision, 3);

  async function* streamed() { for (const r of records()) yield r; }
  assert.is(await verifyRecords(streamed()), null);
});

unit('reads upcast older stored versions; foreign records decode without crashing', () => {
  defineCategory('KdbProbe', 'test', 'Upcast probe of the KurrentDB adapter tests');
  defineEvent({ type: 'KdbProbed', version: 1, category: 'KdbProbe', description: 'v1', schema: z.object({ n: z.number() }).strict() });
  defineEvent({ type: 'KdbProbed', version: 2, category: 'KdbProbe', description: 'v2', schema: z.object({ n: z.number(), unit: z.string() }).strict(), upcast: (p: { n: number }) => ({ ...p, unit: 'MiB' }) });
  const base = { streamId: 'KdbProbe-p1', id: '0190a0b0-0000-7000-8000-000000000001', revision: 0, position: 5, type: 'KdbProbed', isJson: true };
  const up = decodeRecord({ ...base, data: { n: 3 }, metadata: { version: 1, hash: 'h' } });
  assert.equal(up.data, { n: 3, unit: 'MiB' });
  assert.is(up.metadata.version, 2);
  const foreign = decodeRecord({ ...base, type: 'Other', isJson: false, data: new Uint8Array([1]), metadata: undefined });
  assert.is(foreign.type, 'Other');
  assert.equal(foreign.metadata, {} as never);
});

unit('bad input is refused before any I/O, even with the server unreachable', async () => {
  // Nothing listens on port 1: a request that reached the network would fail as "unavailable", not as these errors.
  const store = KurrentEventStore.connect('kurrentdb://127.0.0.1:1?tls=false', { liveWake: false });
  try {
    assert.is(store.kind, 'kurrentdb');
    const refusals: [() => Promise<unknown>, (e: unknown) => boolean][] = [
      [() => store.append('Account-b1', [newEvent('AccountOpened', { owner: '' })]), (e) => e instanceof SchemaError],
      [() => store.append('Account-b1', [newEvent('AccountOpened', { owner: 'a' }), newEvent('Deposited', { amount: -1 })]), (e) => e instanceof SchemaError],
      [() => store.append('Account-b1', [newEvent('NoSuchEvent', {})]), (e) => e instanceof SchemaError],
      [() => store.append('Account-b1', [{ ...newEvent('AccountOpened', { owner: 'a' }), metadata: { eventId: 'nope' } as never }]), (e) => e instanceof SchemaError],
      [() => store.append('no dash', [newEvent('AccountOpened', { owner: 'a' })]), (e) => e instanceof InvalidStreamNameError],
      [() => store.append('Account-a-b', [newEvent('AccountOpened', { owner: 'a' })]), (e) => e instanceof InvalidStreamNameError],
      [() => store.append('$all', [newEvent('AccountOpened', { owner: 'a' })]), (e) => e instanceof InvalidStreamNameError],
      [() => store.append('Account-b1', []), (e) => e instanceof Error && /no events/.test(e.message)],
    ];
    for (const [attempt, expected] of refusals) {
      let error: unknown;
      try { await attempt(); } catch (e) { error = e; }
      assert.ok(error !== undefined, 'a bad append was accepted');
      assert.ok(expected(error), `unexpected error: ${String(error)}`);
    }
    // A valid append does reach for the server, and fails rather than hangs.
    let unreachable: unknown;
    try { await store.append('Account-b1', [newEvent('AccountOpened', { owner: 'a' })]); } catch (e) { unreachable = e; }
    assert.ok(unreachable instanceof Error);
    assert.is((unreachable as { type?: string }).type, 'unavailable');
    assert.not.instance(unreachable, WrongExpectedRevisionError);
  } finally {
    await store.close();
  }
  await store.close(); // idempotent
  let closed: unknown;
  try { await store.append('Account-b1', [newEvent('AccountOpened', { owner: 'a' })]); } catch (e) { closed = e; }
  assert.match(String(closed), /closed/);
  assert.throws(() => store.subscribe({ onBatch: () => {} }), /closed/);
});

const unavailable = (e: unknown) => (e as { type?: string })?.type === 'unavailable';

unit("every read the adapter makes passes the client's option checks (it fails only because no server answers)", async () => {
  // The client's native reader checks its options (positions, revisions, filters) before it connects, and reports
  // a wrong one as an "unknown" error; against a closed port a well-formed request fails as "unavailable".
  const store = KurrentEventStore.connect('kurrentdb://127.0.0.1:1?tls=false', { liveWake: false });
  try {
    const calls: [string, () => Promise<unknown>][] = [
      ['headPosition', () => store.headPosition()],
      ['streamRevision', () => store.streamRevision('Account-o1')],
      ['verifyStream', () => store.verifyStream('Account-o1')],
      ['readStream', () => store.readStream('Account-o1')],
      ['readStream backwards', () => store.readStream('Account-o1', { direction: 'backwards', maxCount: 2 })],
      ['readStream from a revision', () => store.readStream('Account-o1', { fromRevision: 2, maxCount: 2 })],
      ['readStream backwards from a revision', () => store.readStream('Account-o1', { direction: 'backwards', fromRevision: 1 })],
      ['readAll', () => store.readAll()],
      ['readAll after', () => store.readAll({ after: 123_456, maxCount: 10 })],
      ['readAll categories', () => store.readAll({ after: 1, filter: { categories: ['Account'], streamPrefixes: ['Host-h1'] } })],
      ['readAll types', () => store.readAll({ filter: { eventTypes: ['Deposited', 'Withdrawn'] } })],
      ['readAll both', () => store.readAll({ filter: { categories: ['Account'], eventTypes: ['Deposited'] } })],
      ['append', () => store.append('Account-o1', [newEvent('AccountOpened', { owner: 'a' })], { expected: 'no_stream' })],
    ];
    for (const [name, call] of calls) {
      let error: unknown;
      try { await call(); } catch (e) { error = e; }
      assert.ok(unavailable(error), `${name}: ${String((error as Error)?.message ?? error)}`);
    }
    // Requests the adapter never sends, to show the check is real.
    assert.equal(await store.readStream('Account-o1', { maxCount: 0 }), []);
    assert.equal(await store.readStream('Account-o1', { direction: 'backwards', fromRevision: -1 }), []);
    assert.equal(await store.readAll({ maxCount: 0 }), []);
    let bad: unknown;
    try { for await (const _ of store.client.readAll({ fromPosition: { commit: 1 } as never, maxCount: 1 })) { /* never */ } } catch (e) { bad = e; }
    assert.not.ok(unavailable(bad));
  } finally {
    await store.close();
  }
});

unit('a subscription on an unreachable server reports errors, keeps trying, and closes cleanly (live wake-up on)', async () => {
  const store = KurrentEventStore.connect('kurrentdb://127.0.0.1:1?tls=false', { pollIntervalMs: 20 });
  const errors: unknown[] = [];
  const sub = store.subscribe({ onBatch: () => { throw new Error('no events expected'); }, onError: (e) => errors.push(e) });
  const deadline = Date.now() + 5000;
  while (errors.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(errors.length >= 2, 'the subscription should keep retrying');
  assert.ok(errors.every(unavailable));
  assert.is(sub.position, 0);
  await store.close(); // closes the subscription and the wake-up feed
  await sub.close(); // idempotent after the store closed it
});

unit.run();
