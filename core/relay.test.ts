import { test } from 'uvu';
import * as assert from 'uvu/assert';
import '../core/testing/example-account.ts';
import { newEvent } from './testing/events.ts';
import { SqliteEventStore } from './event-store/sqlite.ts';
import { InProcessBus } from './bus/in-process.ts';
import { MemoryCheckpointStore, SqliteCheckpointStore } from './checkpoint.ts';
import { busHighWater, categorySubjects, eventFromMessage, RELAY_HEADERS, startRelay, streamSubjects, subjectFor } from './relay.ts';
import { defineCategory } from '../schema/registry.ts';
import type { Delivery } from './bus/port.ts';
import type { StoredEvent } from './event-store/port.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function collect(bus: InProcessBus, pattern = 'ledger.>') {
  const got: Delivery[] = [];
  const sub = await bus.subscribe(pattern, (m) => { got.push(m); });
  return { got, close: () => sub.close() };
}

async function seed(store: SqliteEventStore, n: number, stream = 'Account-a1') {
  await store.append(stream, [newEvent('AccountOpened', { owner: 'ann' })]);
  for (let i = 1; i < n; i++) await store.append(stream, [newEvent('Deposited', { amount: i })]);
}

test('subjects: ledger.<layer>.<Category>.<id>.<EventType>, and patterns for one stream or category', () => {
  assert.is(subjectFor({ streamId: 'Account-a_1', type: 'Deposited' }), 'ledger.test.Account.a_1.Deposited');
  assert.is(streamSubjects('Account-a_1'), 'ledger.test.Account.a_1.>');
  assert.is(categorySubjects('Account'), 'ledger.test.Account.>');
  // A type that is not one safe token still gives a valid subject.
  assert.is(subjectFor({ streamId: 'Account-a1', type: 'odd.type v2' }), 'ledger.test.Account.a1.odd_type_v2');
});

test('the relay publishes every event in order with msgId, headers and the stored event as payload, and checkpoints', async () => {
  const store = new SqliteEventStore({ path: ':memory:', pollIntervalMs: 10 });
  const bus = new InProcessBus();
  const checkpoints = new MemoryCheckpointStore();
  await seed(store, 5);
  const { got, close } = await collect(bus);
  const relay = await startRelay({ store, bus, checkpoints, log: () => {} });
  await relay.waitFor(await store.headPosition(), 5_000);
  await store.append('Account-a2', [newEvent('AccountOpened', { owner: 'bob' })]);
  await relay.waitFor(await store.headPosition(), 5_000);
  await sleep(50);
  await relay.stop();
  await close();
  const events = await store.readAll();
  assert.is(got.length, 6);
  got.forEach((m, i) => {
    const e = events[i];
    assert.is(m.subject, subjectFor(e));
    assert.is(m.msgId, e.metadata.eventId);
    assert.is(m.headers[RELAY_HEADERS.position], String(e.position));
    assert.is(m.headers[RELAY_HEADERS.stream], e.streamId);
    assert.is(m.headers[RELAY_HEADERS.revision], String(e.revision));
    assert.is(m.headers[RELAY_HEADERS.type], e.type);
    assert.equal(eventFromMessage(m), JSON.parse(JSON.stringify(e)) as StoredEvent);
  });
  assert.is(await checkpoints.load('relay'), events[5].position);
  assert.is(relay.stats.published, 6);
  await bus.close(); await store.close();
});

test('a restarted relay resumes after its checkpoint and publishes nothing twice', async () => {
  const store = new SqliteEventStore({ path: ':memory:', pollIntervalMs: 10 });
  const bus = new InProcessBus({ duplicateWindowMs: 0 }); // no de-dup safety net: the relay alone must get it right
  const checkpoints = new SqliteCheckpointStore(':memory:');
  await seed(store, 3);
  const r1 = await startRelay({ store, bus, checkpoints, log: () => {} });
  await r1.waitFor(await store.headPosition());
  await r1.stop();
  await seed(store, 2, 'Account-b1');
  const r2 = await startRelay({ store, bus, checkpoints, log: () => {} });
  await r2.waitFor(await store.headPosition());
  await r2.stop();
  const { got, close } = await collect(bus);
  await sleep(100);
  await close();
  assert.is(got.length, 5);
  assert.is(new Set(got.map((m) => m.msgId)).size, 5);
  assert.is(r2.stats.startedAfter, 3);
  await bus.close(); await store.close(); await checkpoints.close();
});

test('a lost checkpoint never sends the relay back past what the bus already holds', async () => {
  const store = new SqliteEventStore({ path: ':memory:', pollIntervalMs: 10 });
  const bus = new InProcessBus({ duplicateWindowMs: 0 });
  await seed(store, 4);
  const r1 = await startRelay({ store, bus, checkpoints: new MemoryCheckpointStore(), log: () => {} });
  await r1.waitFor(await store.headPosition());
  await r1.stop();
  assert.is(await busHighWater(bus), 4);
  // As if the relay died after its publishes were acknowledged but before it saved the checkpoint.
  const lines: string[] = [];
  const checkpoints = new MemoryCheckpointStore();
  await seed(store, 1, 'Account-c1');
  const r2 = await startRelay({ store, bus, checkpoints, log: (l) => lines.push(l) });
  await r2.waitFor(await store.headPosition());
  await r2.stop();
  assert.is(r2.stats.startedAfter, 4);
  assert.is(r2.stats.published, 1);
  assert.is(await checkpoints.load('relay'), 5);
  assert.match(lines.join('\n'), /already on the bus/);
  await bus.close(); await store.close();
});

test('a bus fed from another store (its position beyond our head) is not trusted', async () => {
  const store = new SqliteEventStore({ path: ':memory:', pollIntervalMs: 10 });
  const bus = new InProcessBus();
  await bus.publish('ledger.test.Account.zz.Deposited', {}, { headers: { [RELAY_HEADERS.position]: '999' } });
  await seed(store, 2);
  const lines: string[] = [];
  const relay = await startRelay({ store, bus, checkpoints: new MemoryCheckpointStore(), log: (l) => lines.push(l) });
  await relay.waitFor(2);
  await relay.stop();
  assert.is(relay.stats.published, 2);
  assert.match(lines.join('\n'), /not the store it was fed from/);
  await bus.close(); await store.close();
});

test('an event of a category no schema defines stops the relay there, with a clear report, until the schema is loaded', async () => {
  const store = new SqliteEventStore({ path: ':memory:', pollIntervalMs: 10 });
  const bus = new InProcessBus();
  await seed(store, 2);
  await store.append('Mystery-m1', [newEvent('AccountOpened', { owner: 'x' })]);
  await seed(store, 1, 'Account-a9');
  const lines: string[] = [];
  const relay = await startRelay({ store, bus, checkpoints: new MemoryCheckpointStore(), log: (l) => lines.push(l) });
  await sleep(300);
  assert.is(relay.stats.published, 2);
  assert.match(lines.join('\n'), /category Mystery, which no loaded schema defines/);
  assert.is(lines.length, 1, 'reported once, not on every retry');
  defineCategory('Mystery', 'test', 'A category loaded late, for the relay test');
  await relay.waitFor(await store.headPosition(), 5_000);
  await relay.stop();
  assert.is(relay.stats.published, 4);
  assert.is((await bus.lastMessage('ledger.test.Mystery.>'))?.subject, 'ledger.test.Mystery.m1.AccountOpened');
  await bus.close(); await store.close();
});

test.run();
