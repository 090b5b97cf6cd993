/**
 * The bus contract: one suite every adapter must pass (in-process, NATS JetStream against a real server).
 * Every test uses its own subject prefix and consumer names, so the suite also runs against a stream that
 * already holds messages of earlier tests.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BusNoRespondersError, BusRemoteError, BusTimeoutError, InvalidSubjectError,
  type Bus, type Delivery,
} from './port.ts';

export interface BusContractContext { bus: Bus; p: string; name: string }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export function busContract(name: string, open: () => Promise<Bus>) {
  const test = suite<BusContractContext>(`bus contract: ${name}`);
  let n = 0;

  test.before.each(async (ctx) => {
    ctx.bus = await open();
    const run = `r${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}${++n}`;
    ctx.p = `ledger.test.${run}`;
    ctx.name = run;
  });
  test.after.each(async (ctx) => { await ctx.bus.close(); });

  test('publish stores and acks with growing sequences; a repeated msgId is a duplicate stored once', async ({ bus, p, name }) => {
    const a = await bus.publish(`${p}.a`, { n: 1 }, { msgId: `${name}-1` });
    const b = await bus.publish(`${p}.a`, { n: 2 }, { msgId: `${name}-2` });
    assert.is(a.duplicate, false);
    assert.ok(b.seq > a.seq);
    const again = await bus.publish(`${p}.a`, { n: 1 }, { msgId: `${name}-1` });
    assert.is(again.duplicate, true);
    assert.is(again.seq, a.seq);
    const seen: number[] = [];
    const sub = await bus.subscribe(`${p}.>`, (m) => { seen.push(m.json<{ n: number }>().n); });
    await until(() => seen.length >= 2, 5_000, 'two deliveries');
    await sleep(200);
    await sub.close();
    assert.equal(seen, [1, 2]);
  });

  test('deliveries carry subject, headers, msgId, sequence and the payload (JSON or raw bytes)', async ({ bus, p, name }) => {
    const ack = await bus.publish(`${p}.x`, { hello: 'world', list: [1, 2] }, { msgId: `${name}-m`, headers: { 'Ledger-Position': '42', 'Ledger-Stream': 'Account-a1' } });
    await bus.publish(`${p}.y`, new TextEncoder().encode('raw bytes'));
    const got: Delivery[] = [];
    const sub = await bus.subscribe(`${p}.*`, (m) => { got.push(m); });
    await until(() => got.length === 2, 5_000, 'two deliveries');
    await sub.close();
    const [x, y] = got;
    assert.is(x.subject, `${p}.x`);
    assert.equal(x.json(), { hello: 'world', list: [1, 2] });
    assert.is(x.headers['Ledger-Position'], '42');
    assert.is(x.headers['Ledger-Stream'], 'Account-a1');
    assert.is(x.msgId, `${name}-m`);
    assert.is(x.seq, ack.seq);
    assert.is(x.deliveryCount, 1);
    assert.is(x.redelivered, false);
    assert.ok(x.time instanceof Date);
    assert.is(y.string(), 'raw bytes');
    assert.is(y.msgId, undefined);
  });

  test('wildcards: * matches one token, > one or more trailing tokens', async ({ bus, p }) => {
    const subjects = [`${p}.Host.h1.Sliced`, `${p}.Host.h2.Sliced`, `${p}.Host.h1.Deep.Er`, `${p}.Zone.z1.Named`, `${p}.Host`];
    for (const s of subjects) await bus.publish(s, { s });
    const star: string[] = []; const gt: string[] = []; const mixed: string[] = [];
    const subs = await Promise.all([
      bus.subscribe(`${p}.Host.*.Sliced`, (m) => { star.push(m.subject); }),
      bus.subscribe(`${p}.Host.h1.>`, (m) => { gt.push(m.subject); }),
      bus.subscribe(`${p}.*.*.>`, (m) => { mixed.push(m.subject); }),
    ]);
    await until(() => star.length === 2 && gt.length === 2 && mixed.length === 4, 5_000, 'wildcard deliveries');
    await sleep(200);
    await Promise.all(subs.map((s) => s.close()));
    assert.equal(star, [`${p}.Host.h1.Sliced`, `${p}.Host.h2.Sliced`]);
    assert.equal(gt, [`${p}.Host.h1.Sliced`, `${p}.Host.h1.Deep.Er`]);
    assert.equal(mixed, subjects.slice(0, 4));
  });

  test('a handler that throws naks: the message comes back with a higher delivery count, then stays acked', async ({ bus, p }) => {
    await bus.publish(`${p}.e`, { v: 1 });
    await bus.publish(`${p}.e`, { v: 2 });
    const log: string[] = [];
    const errors: unknown[] = [];
    const sub = await bus.subscribe(`${p}.>`, (m) => {
      log.push(`${m.json<{ v: number }>().v}#${m.deliveryCount}${m.redelivered ? 'r' : ''}`);
      if (m.json<{ v: number }>().v === 1 && m.deliveryCount < 3) throw new Error('not yet');
    }, { retryDelayMs: 50, onError: (e) => errors.push(e) });
    await until(() => log.includes('1#3r') && log.includes('2#1'), 5_000, 'redeliveries');
    await sleep(300);
    await sub.close();
    assert.is(log.filter((l) => l.startsWith('1#')).length, 3, log.join(' '));
    assert.is(log.filter((l) => l.startsWith('2#')).length, 1, log.join(' '));
    assert.is(errors.length, 2);
  });

  test('explicit nak(delay) redelivers after the delay; explicit term never redelivers', async ({ bus, p }) => {
    await bus.publish(`${p}.k`, { v: 'nak' });
    await bus.publish(`${p}.k`, { v: 'term' });
    const times: Record<string, number[]> = { nak: [], term: [] };
    const sub = await bus.subscribe(`${p}.k`, (m) => {
      const v = m.json<{ v: string }>().v;
      times[v].push(Date.now());
      if (v === 'nak' && m.deliveryCount === 1) m.nak(400);
      if (v === 'term') m.term();
    });
    await until(() => times.nak.length === 2, 5_000, 'nak redelivery');
    await sleep(300);
    await sub.close();
    assert.ok(times.nak[1] - times.nak[0] >= 300, `redelivered after ${times.nak[1] - times.nak[0]} ms`);
    assert.is(times.term.length, 1);
  });

  test('a message not acked within ackWait is delivered again', async ({ bus, p, name }) => {
    await bus.publish(`${p}.slow`, { v: 1 });
    const counts: number[] = [];
    const sub = await bus.subscribe(`${p}.slow`, async (m) => {
      counts.push(m.deliveryCount);
      if (m.deliveryCount === 1) await sleep(1_600);
    }, { durable: `${name}_aw`, ackWaitMs: 1_000 });
    await until(() => counts.includes(2), 6_000, 'redelivery after ack wait');
    await sub.close();
    await bus.deleteConsumer(`${name}_aw`);
    assert.equal(counts.slice(0, 2), [1, 2]);
  });

  test('a durable consumer resumes after the last acked message', async ({ bus, p, name }) => {
    for (let i = 1; i <= 3; i++) await bus.publish(`${p}.d`, { i });
    const first: number[] = [];
    const s1 = await bus.subscribe(`${p}.d`, (m) => { first.push(m.json<{ i: number }>().i); }, { durable: `${name}_d` });
    await until(() => first.length === 3, 5_000, 'first three');
    await s1.close();
    for (let i = 4; i <= 5; i++) await bus.publish(`${p}.d`, { i });
    const second: number[] = [];
    const s2 = await bus.subscribe(`${p}.d`, (m) => { second.push(m.json<{ i: number }>().i); }, { durable: `${name}_d` });
    await until(() => second.length === 2, 5_000, 'the two new ones');
    await sleep(300);
    await s2.close();
    assert.equal(first, [1, 2, 3]);
    assert.equal(second, [4, 5]);
    assert.is(await bus.deleteConsumer(`${name}_d`), true);
    assert.is(await bus.deleteConsumer(`${name}_d`), false);
  });

  test('closing a subscription releases what it had not handled: the next subscriber gets it at once', async ({ bus, p, name }) => {
    for (let i = 1; i <= 10; i++) await bus.publish(`${p}.r`, { i });
    const a: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const s1 = await bus.subscribe(`${p}.r`, async (m) => {
      a.push(m.json<{ i: number }>().i);
      if (a.length === 2) await gate;
    }, { durable: `${name}_r` });
    await until(() => a.length === 2, 5_000, 'two deliveries to the first subscriber');
    const closing = s1.close();
    release();
    await closing;
    const b: number[] = [];
    const started = Date.now();
    const s2 = await bus.subscribe(`${p}.r`, (m) => { b.push(m.json<{ i: number }>().i); }, { durable: `${name}_r` });
    await until(() => b.length === 8, 5_000, 'the other eight');
    const took = Date.now() - started;
    await sleep(200);
    await s2.close();
    await bus.deleteConsumer(`${name}_r`);
    assert.equal(a, [1, 2]);
    // Released messages come back as redeliveries, which JetStream may interleave with undelivered ones.
    assert.equal([...b].sort((x, y) => x - y), [3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(took < 4_000, `took ${took} ms (ack wait is 30 s)`);
  });

  test('subscriptions sharing a durable split the messages: each handled once', async ({ bus, p, name }) => {
    const seen = new Map<number, number>();
    const handler = async (m: Delivery) => { const i = m.json<{ i: number }>().i; seen.set(i, (seen.get(i) ?? 0) + 1); await sleep(2); };
    const s1 = await bus.subscribe(`${p}.q`, handler, { durable: `${name}_q` });
    const s2 = await bus.subscribe(`${p}.q`, handler, { durable: `${name}_q` });
    for (let i = 0; i < 40; i++) await bus.publish(`${p}.q`, { i });
    await until(() => seen.size === 40, 5_000, 'forty messages');
    await sleep(300);
    await Promise.all([s1.close(), s2.close()]);
    await bus.deleteConsumer(`${name}_q`);
    assert.ok([...seen.values()].every((c) => c === 1), 'a message was handled twice');
  });

  test("deliver 'new' skips what was stored before the consumer was created", async ({ bus, p }) => {
    await bus.publish(`${p}.n`, { i: 1 });
    const got: number[] = [];
    const sub = await bus.subscribe(`${p}.n`, (m) => { got.push(m.json<{ i: number }>().i); }, { deliver: 'new' });
    await bus.publish(`${p}.n`, { i: 2 });
    await until(() => got.length === 1, 5_000, 'the new message');
    await sleep(200);
    await sub.close();
    assert.equal(got, [2]);
  });

  test('a durable name already used with another filter is refused', async ({ bus, p, name }) => {
    const sub = await bus.subscribe(`${p}.one`, () => {}, { durable: `${name}_c` });
    await sub.close();
    try {
      await bus.subscribe(`${p}.two`, () => {}, { durable: `${name}_c` });
      assert.unreachable('should refuse');
    } catch (e) {
      assert.match((e as Error).message, /already exists with filter/);
    }
    await bus.deleteConsumer(`${name}_c`);
  });

  test('lastMessage returns the newest stored message matching a pattern, or null', async ({ bus, p }) => {
    assert.is(await bus.lastMessage(`${p}.>`), null);
    await bus.publish(`${p}.a.x`, { i: 1 }, { headers: { 'Ledger-Position': '1' } });
    await bus.publish(`${p}.b.x`, { i: 2 }, { headers: { 'Ledger-Position': '2' } });
    await bus.publish(`${p}.a.y.z`, { i: 3 }, { headers: { 'Ledger-Position': '3' } });
    const last = await bus.lastMessage(`${p}.*.x`);
    assert.ok(last);
    assert.is(last!.subject, `${p}.b.x`);
    assert.is(last!.headers['Ledger-Position'], '2');
    assert.equal(last!.json(), { i: 2 });
    assert.is((await bus.lastMessage(`${p}.>`))!.json<{ i: number }>().i, 3);
  });

  test('request/reply: JSON both ways, wildcards, headers', async ({ bus, name }) => {
    const srv = await bus.serve(`cmd.${name}.host.*`, (req) => ({ echo: req.json(), subject: req.subject, h: req.headers['X-Trace'] ?? null }));
    const reply = await bus.request(`cmd.${name}.host.h1`, { op: 'PowerOn' }, { timeoutMs: 2_000, headers: { 'X-Trace': 't1' } });
    assert.equal(reply.json(), { echo: { op: 'PowerOn' }, subject: `cmd.${name}.host.h1`, h: 't1' });
    await srv.close();
  });

  test('request/reply errors: remote error with its code, no responders, timeout', async ({ bus, name }) => {
    const failing = await bus.serve(`cmd.${name}.fail`, () => { throw Object.assign(new Error('stale epoch 3 < 4'), { code: 'STALE_EPOCH' }); });
    try {
      await bus.request(`cmd.${name}.fail`, {}, { timeoutMs: 2_000 });
      assert.unreachable('should throw');
    } catch (e) {
      assert.instance(e, BusRemoteError);
      assert.is((e as BusRemoteError).remoteCode, 'STALE_EPOCH');
      assert.match((e as Error).message, /stale epoch 3 < 4/);
    }
    await failing.close();
    try {
      await bus.request(`cmd.${name}.nobody`, {}, { timeoutMs: 2_000 });
      assert.unreachable('should throw');
    } catch (e) { assert.instance(e, BusNoRespondersError); }
    const slow = await bus.serve(`cmd.${name}.slow`, async () => { await sleep(1_000); return 'late'; });
    const started = Date.now();
    try {
      await bus.request(`cmd.${name}.slow`, {}, { timeoutMs: 200 });
      assert.unreachable('should time out');
    } catch (e) { assert.instance(e, BusTimeoutError); }
    assert.ok(Date.now() - started < 900);
    await slow.close();
  });

  test('servers in one queue group split requests: each answered once', async ({ bus, name }) => {
    const handled = [0, 0];
    const s1 = await bus.serve(`cmd.${name}.q`, () => { handled[0]++; return 1; }, { queue: 'gw' });
    const s2 = await bus.serve(`cmd.${name}.q`, () => { handled[1]++; return 2; }, { queue: 'gw' });
    const replies = await Promise.all(Array.from({ length: 20 }, () => bus.request(`cmd.${name}.q`, null, { timeoutMs: 2_000 })));
    assert.is(replies.length, 20);
    assert.is(handled[0] + handled[1], 20);
    await Promise.all([s1.close(), s2.close()]);
  });

  test('bad subjects are refused with a clear error', async ({ bus, p, name }) => {
    const refused = async (what: string, fn: () => Promise<unknown>) => {
      try { await fn(); assert.unreachable(`${what} should be refused`); } catch (e) { assert.instance(e, InvalidSubjectError, `${what}: ${String(e)}`); }
    };
    await refused('wildcard publish', () => bus.publish(`${p}.*`, {}));
    await refused('empty token', () => bus.publish(`${p}..x`, {}));
    await refused('space', () => bus.publish(`${p}.a b`, {}));
    await refused('outside the stream', () => bus.publish(`other.${name}`, {}));
    await refused('request inside the stream', () => bus.request(`${p}.cmd`, {}));
    await refused('serve inside the stream', () => bus.serve('ledger.>', () => 1));
    await refused('> not last', () => bus.subscribe(`${p}.>.x`, () => {}));
    await refused('partial wildcard', () => bus.subscribe(`${p}.a*`, () => {}));
    await refused('subscribe outside the stream', () => bus.subscribe(`other.${name}.>`, () => {}));
  });

  return test;
}
