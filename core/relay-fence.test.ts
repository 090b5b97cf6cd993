/**
 * The relay under a lease: once its lease is no longer valid it publishes nothing more and stops for good; a
 * checkpoint store that refuses its token (a newer leader wrote it) stops it too. `stopped` says why.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import '../core/testing/example-account.ts';
import { newEvent } from './testing/events.ts';
import { SqliteEventStore } from './event-store/sqlite.ts';
import { InProcessBus } from './bus/in-process.ts';
import { MemoryCheckpointStore } from './checkpoint.ts';
import { startRelay } from './relay.ts';
import { FencedError } from './fence.ts';
import { LeaseLostError } from './lease.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a relay whose lease lapsed publishes nothing more and stops with LeaseLostError', async () => {
  const store = new SqliteEventStore({ path: ':memory:', pollIntervalMs: 10 });
  const bus = new InProcessBus();
  const got: string[] = [];
  await bus.subscribe('ledger.>', (m) => { got.push(m.subject); });
  let valid = true;
  const relay = await startRelay({ store, bus, checkpoints: new MemoryCheckpointStore(), log: () => {}, fence: { token: 7, isValid: () => valid } });
  await store.append('Account-f1', [newEvent('AccountOpened', { owner: 'ann' })]);
  await relay.waitFor(1, 5_000);
  valid = false;
  await store.append('Account-f1', [newEvent('Deposited', { amount: 1 })]);
  const why = await Promise.race([relay.stopped, sleep(5_000).then(() => null)]);
  assert.ok(why instanceof LeaseLostError, String(why));
  await store.append('Account-f1', [newEvent('Deposited', { amount: 2 })]);
  await sleep(100);
  assert.equal(got, ['ledger.test.Account.f1.AccountOpened']);
  assert.is(relay.stats.position, 1);
  await relay.stop();
  await store.close();
});

test('a relay whose checkpoint write is refused by the fence stops with FencedError and does not retry', async () => {
  const store = new SqliteEventStore({ path: ':memory:', pollIntervalMs: 10 });
  const bus = new InProcessBus();
  let saves = 0;
  const checkpoints = new MemoryCheckpointStore();
  const fenced = Object.assign(Object.create(checkpoints), {
    async save() { saves++; throw new FencedError('checkpoint relay', 3, 4); },
  });
  const relay = await startRelay({ store, bus, checkpoints: fenced, log: () => {}, fence: { token: 3, isValid: () => true } });
  await store.append('Account-f2', [newEvent('AccountOpened', { owner: 'bob' })]);
  const why = await Promise.race([relay.stopped, sleep(5_000).then(() => null)]);
  assert.ok(why instanceof FencedError, String(why));
  await sleep(300); // a retry would come after 100 ms
  assert.is(saves, 1);
  await relay.stop();
  await store.close();
});

test.run();
