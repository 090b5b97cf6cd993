import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from './event-store/sqlite.ts';
import { CommandHandler } from './command-handler.ts';
import { DomainError } from './decider.ts';
import { accountDecider } from './testing/example-account.ts';
import { spec } from './spec.ts';

const dir = mkdtempSync(join(tmpdir(), 'ledger-cmd-'));
let n = 0;
const open = () => new SqliteEventStore({ path: join(dir, `e${++n}.sqlite`) });
const operator = { actor: { kind: 'operator', id: 'op_1' } } as const;

test('given/when/then: the example decider', () => {
  spec(accountDecider).given([]).when({ type: 'Open', data: { owner: 'ann' } }).then([{ type: 'AccountOpened', data: { owner: 'ann' } }]);
  spec(accountDecider).given([{ type: 'AccountOpened', data: { owner: 'ann' } }, { type: 'Deposited', data: { amount: 3 } }])
    .when({ type: 'Withdraw', data: { amount: 4 } }).thenThrows('INSUFFICIENT_FUNDS', 'balance 3');
});

test('a command is decided on the stream state and appended with metadata', async () => {
  const store = open();
  const h = new CommandHandler(store, accountDecider);
  await h.handle('Account-a1', { type: 'Open', data: { owner: 'ann' } }, { ...operator, tenantId: 'u_9', correlationId: 'corr-1', commandId: 'c1' });
  const r = await h.handle('Account-a1', { type: 'Deposit', data: { amount: 10 } }, { ...operator, correlationId: 'corr-1', causationId: 'evt-x' });
  assert.equal(r.state, { open: true, balance: 10 });
  assert.is(r.revision, 1);
  const [opened, deposited] = await store.readStream('Account-a1');
  assert.equal(opened.metadata.actor, { kind: 'operator', id: 'op_1' });
  assert.is(opened.metadata.tenantId, 'u_9');
  assert.is(opened.metadata.correlationId, 'corr-1');
  assert.is(opened.metadata.commandId, 'c1');
  assert.is(opened.metadata.causationId, 'c1', 'causation defaults to the command');
  assert.is(deposited.metadata.causationId, 'evt-x');
  assert.match(opened.metadata.eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-7/); // UUIDv7
  assert.ok(opened.metadata.occurredAt <= opened.metadata.recordedAt);
  await store.close();
});

test('a domain error appends nothing', async () => {
  const store = open();
  const h = new CommandHandler(store, accountDecider);
  await h.handle('Account-a1', { type: 'Open', data: { owner: 'ann' } }, operator);
  try {
    await h.handle('Account-a1', { type: 'Withdraw', data: { amount: 1 } }, operator);
    assert.unreachable();
  } catch (e) { assert.instance(e, DomainError); assert.is((e as DomainError).code, 'INSUFFICIENT_FUNDS'); }
  assert.is(await store.streamRevision('Account-a1'), 0);
  await store.close();
});

test('a repeated commandId returns the first outcome and appends nothing, even from another handler instance', async () => {
  const store = open();
  const h1 = new CommandHandler(store, accountDecider);
  await h1.handle('Account-a1', { type: 'Open', data: { owner: 'ann' } }, operator);
  const first = await h1.handle('Account-a1', { type: 'Deposit', data: { amount: 5 } }, { ...operator, commandId: 'pay-1' });
  const again = await h1.handle('Account-a1', { type: 'Deposit', data: { amount: 5 } }, { ...operator, commandId: 'pay-1' });
  assert.ok(again.duplicate);
  assert.equal(again.events.map((e) => e.metadata.eventId), first.events.map((e) => e.metadata.eventId));
  const h2 = new CommandHandler(store, accountDecider); // another process: cold cache
  const third = await h2.handle('Account-a1', { type: 'Deposit', data: { amount: 5 } }, { ...operator, commandId: 'pay-1' });
  assert.ok(third.duplicate);
  assert.equal(third.events.map((e) => e.metadata.eventId), first.events.map((e) => e.metadata.eventId));
  assert.is(await store.streamRevision('Account-a1'), 1);
  assert.equal(third.state, { open: true, balance: 5 });
  await store.close();
});

test('concurrent writers through separate handlers (stale caches) retry on conflict and lose nothing', async () => {
  const store = open();
  const handlers = Array.from({ length: 4 }, () => new CommandHandler(store, accountDecider, { maxRetries: 50 }));
  await handlers[0].handle('Account-a1', { type: 'Open', data: { owner: 'ann' } }, operator);
  for (const h of handlers) await h.state('Account-a1'); // every cache now holds revision 0
  await Promise.all(Array.from({ length: 200 }, (_, i) => handlers[i % 4].handle('Account-a1', { type: 'Deposit', data: { amount: 1 } }, { ...operator, commandId: `d${i}` })));
  const fresh = new CommandHandler(store, accountDecider);
  assert.equal((await fresh.state('Account-a1')).state, { open: true, balance: 200 });
  assert.is(await store.verifyStream('Account-a1'), null);
  await store.close();
});

test('the invariant holds under conflicting concurrent withdrawals', async () => {
  const store = open();
  const handlers = Array.from({ length: 3 }, () => new CommandHandler(store, accountDecider, { maxRetries: 100 }));
  await handlers[0].handle('Account-a1', { type: 'Open', data: { owner: 'ann' } }, operator);
  await handlers[0].handle('Account-a1', { type: 'Deposit', data: { amount: 50 } }, operator);
  const outcomes = await Promise.allSettled(Array.from({ length: 120 }, (_, i) => handlers[i % 3].handle('Account-a1', { type: 'Withdraw', data: { amount: 1 } }, operator)));
  assert.is(outcomes.filter((o) => o.status === 'fulfilled').length, 50);
  for (const o of outcomes) if (o.status === 'rejected') assert.is((o.reason as DomainError).code, 'INSUFFICIENT_FUNDS');
  assert.equal((await new CommandHandler(store, accountDecider).state('Account-a1')).state.balance, 0);
  await store.close();
});

test('a refusal is never decided on a stale cache: the handler catches up before saying no', async () => {
  const store = open();
  const mine = new CommandHandler(store, accountDecider);
  const other = new CommandHandler(store, accountDecider); // another process
  await mine.handle('Account-a1', { type: 'Open', data: { owner: 'ann' } }, operator);
  await other.handle('Account-a1', { type: 'Deposit', data: { amount: 5 } }, operator); // mine's cache still says balance 0
  const r = await mine.handle('Account-a1', { type: 'Withdraw', data: { amount: 5 } }, operator);
  assert.is(r.state.balance, 0);
  try { await mine.handle('Account-a1', { type: 'Withdraw', data: { amount: 1 } }, operator); assert.unreachable(); }
  catch (e) { assert.is((e as DomainError).code, 'INSUFFICIENT_FUNDS'); }
  await store.close();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
