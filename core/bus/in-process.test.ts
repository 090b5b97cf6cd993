import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { busContract, until } from './contract.ts';
import { InProcessBus } from './in-process.ts';
import { openBus } from './open.ts';

busContract('in-process', async () => new InProcessBus()).run();

test('retention drops the oldest messages; a consumer behind it skips to the oldest kept', async () => {
  const bus = new InProcessBus({ maxMessages: 100 });
  for (let i = 1; i <= 250; i++) await bus.publish('ledger.t.x', { i });
  const got: number[] = [];
  const sub = await bus.subscribe('ledger.t.>', (m) => { got.push(m.json<{ i: number }>().i); });
  await until(() => got.length > 0 && got[got.length - 1] === 250, 5_000, 'the newest message');
  await sub.close();
  assert.ok(got.length <= 100 && got.length >= 99, `kept ${got.length}`);
  assert.equal(got, Array.from({ length: got.length }, (_, k) => 251 - got.length + k));
  await bus.close();
});

test('a msgId is forgotten after the duplicate window', async () => {
  const bus = new InProcessBus({ duplicateWindowMs: 50 });
  assert.is((await bus.publish('ledger.t.x', 1, { msgId: 'm' })).duplicate, false);
  assert.is((await bus.publish('ledger.t.x', 1, { msgId: 'm' })).duplicate, true);
  await new Promise((r) => setTimeout(r, 80));
  assert.is((await bus.publish('ledger.t.x', 1, { msgId: 'm' })).duplicate, false);
  await bus.close();
});

test('openBus without a NATS URL is the in-process bus; a closed bus refuses work', async () => {
  const bus = await openBus({});
  assert.is(bus.kind, 'in-process');
  await bus.close();
  try { await bus.publish('ledger.t.x', 1); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /closed/); }
});

test.run();
