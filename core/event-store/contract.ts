/**
 * The event store contract: one suite every adapter must pass. Streams get a per-run unique id so the suite also
 * runs against a shared server (KurrentDB) that already holds other data.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import '../testing/example-account.ts';
import { newEvent } from '../testing/events.ts';
import { WrongExpectedRevisionError, type EventStore, type StoredEvent } from './port.ts';

export function eventStoreContract(name: string, open: () => Promise<EventStore>) {
  const test = suite<{ store: EventStore; run: string }>(`event store contract: ${name}`);
  let n = 0;
  const stream = (ctx: { run: string }, category = 'Account') => `${category}-${ctx.run}_${++n}`;

  test.before.each(async (ctx) => {
    ctx.store = await open();
    ctx.run = `r${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  });
  test.after.each(async (ctx) => { await ctx.store.close(); });

  test('append to a new stream returns revisions from 0 and growing positions', async ({ store, ...ctx }) => {
    const s = stream(ctx);
    const r1 = await store.append(s, [newEvent('AccountOpened', { owner: 'ann' })], { expected: 'no_stream' });
    assert.is(r1.nextExpectedRevision, 0);
    const r2 = await store.append(s, [newEvent('Deposited', { amount: 5 }), newEvent('Deposited', { amount: 7 })], { expected: 0 });
    assert.is(r2.nextExpectedRevision, 2);
    assert.ok(r2.position > r1.position);
    assert.is(await store.streamRevision(s), 2);
    assert.is(await store.streamRevision(stream(ctx)), -1);
    assert.ok((await store.headPosition()) >= r2.position);
  });

  test('a wrong expected revision throws a typed error carrying stream, expected and actual', async ({ store, ...ctx }) => {
    const s = stream(ctx);
    await store.append(s, [newEvent('AccountOpened', { owner: 'ann' })], { expected: 'no_stream' });
    for (const [expected, actual] of [[5, 0], ['no_stream', 0]] as const) {
      try {
        await store.append(s, [newEvent('Deposited', { amount: 1 })], { expected });
        assert.unreachable('append should have been refused');
      } catch (e) {
        assert.instance(e, WrongExpectedRevisionError);
        const err = e as WrongExpectedRevisionError;
        assert.is(err.streamId, s); assert.is(err.expected, expected); assert.is(err.actual, actual);
      }
    }
    try {
      await store.append(stream(ctx), [newEvent('Deposited', { amount: 1 })], { expected: 'stream_exists' });
      assert.unreachable('stream_exists on a missing stream should be refused');
    } catch (e) { assert.instance(e, WrongExpectedRevisionError); assert.is((e as WrongExpectedRevisionError).actual, -1); }
    const ok = await store.append(s, [newEvent('Deposited', { amount: 1 })], { expected: 'any' });
    assert.is(ok.nextExpectedRevision, 1);
    const ok2 = await store.append(s, [newEvent('Deposited', { amount: 1 })], { expected: 'stream_exists' });
    assert.is(ok2.nextExpectedRevision, 2);
  });

  test('of two racing appends with the same expected revision exactly one wins', async ({ store, ...ctx }) => {
    const s = stream(ctx);
    await store.append(s, [newEvent('AccountOpened', { owner: 'ann' })]);
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => store.append(s, [newEvent('Deposited', { amount: 1 })], { expected: 0 })));
    assert.is(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    for (const o of outcomes) if (o.status === 'rejected') assert.instance(o.reason, WrongExpectedRevisionError);
    assert.is(await store.streamRevision(s), 1);
  });

  test('readStream forwards, backwards, from a revision, with a max count', async ({ store, ...ctx }) => {
    const s = stream(ctx);
    await store.append(s, [newEvent('AccountOpened', { owner: 'ann' }), ...[1, 2, 3, 4, 5].map((amount) => newEvent('Deposited', { amount }))]);
    const all = await store.readStream(s);
    assert.equal(all.map((e) => e.revision), [0, 1, 2, 3, 4, 5]);
    assert.equal((await store.readStream(s, { fromRevision: 2, maxCount: 2 })).map((e) => (e.data as any).amount), [2, 3]);
    assert.equal((await store.readStream(s, { direction: 'backwards', maxCount: 2 })).map((e) => e.revision), [5, 4]);
    assert.equal((await store.readStream(s, { direction: 'backwards', fromRevision: 1 })).map((e) => e.revision), [1, 0]);
    assert.equal(await store.readStream(stream(ctx)), []);
  });

  test('stored events keep data and metadata, and gain recordedAt and a chain hash', async ({ store, ...ctx }) => {
    const s = stream(ctx);
    const e = newEvent('AccountOpened', { owner: 'ann' }, { tenantId: 'u_1', commandId: 'cmd-1', causationId: 'cause-1', actor: { kind: 'tenant', id: 'u_1' } });
    await store.append(s, [e]);
    const [stored] = await store.readStream(s);
    assert.equal(stored.data, { owner: 'ann' });
    assert.is(stored.type, 'AccountOpened');
    assert.is(stored.streamId, s);
    for (const k of ['eventId', 'occurredAt', 'tenantId', 'commandId', 'causationId', 'correlationId'] as const) assert.is(stored.metadata[k], e.metadata[k]);
    assert.equal(stored.metadata.actor, { kind: 'tenant', id: 'u_1' });
    assert.match(stored.metadata.recordedAt, /^\d{4}-\d\d-\d\dT.*Z$/);
    assert.match(stored.metadata.hash, /^[0-9a-f]{64}$/);
    assert.is(await store.verifyStream(s), null);
  });

  test('events that fail their schema, bad metadata and bad stream names are refused and nothing is written', async ({ store, ...ctx }) => {
    const s = stream(ctx);
    const bad = [
      () => store.append(s, [newEvent('AccountOpened', { owner: '' })]),
      () => store.append(s, [newEvent('AccountOpened', { owner: 'ann', extra: 1 })]),
      () => store.append(s, [newEvent('NoSuchEvent', {})]),
      () => store.append(s, [newEvent('AccountOpened', { owner: 'ann' }), newEvent('Deposited', { amount: -1 })]),
      () => store.append(s, [{ ...newEvent('AccountOpened', { owner: 'ann' }), metadata: { eventId: 'nope' } as any }]),
      () => store.append('no dash here', [newEvent('AccountOpened', { owner: 'ann' })]),
      () => store.append('Account-a-b', [newEvent('AccountOpened', { owner: 'ann' })]),
    ];
    for (const attempt of bad) {
      let refused = false;
      try { await attempt(); } catch { refused = true; }
      assert.ok(refused, 'a bad append was accepted');
    }
    assert.is(await store.streamRevision(s), -1);
  });

  test('readAll reads after a position, with category, prefix and type filters', async ({ store, ...ctx }) => {
    const start = await store.headPosition();
    const a = stream(ctx);
    const b = stream(ctx);
    await store.append(a, [newEvent('AccountOpened', { owner: 'a' }), newEvent('Deposited', { amount: 1 })]);
    await store.append(b, [newEvent('AccountOpened', { owner: 'b' }), newEvent('Withdrawn', { amount: 1 })]);
    const mine = (es: StoredEvent[]) => es.filter((e) => e.streamId === a || e.streamId === b);
    const all = mine(await store.readAll({ after: start, maxCount: 10_000 }));
    assert.equal(all.map((e) => e.type), ['AccountOpened', 'Deposited', 'AccountOpened', 'Withdrawn']);
    for (let i = 1; i < all.length; i++) assert.ok(all[i].position > all[i - 1].position);
    const afterFirst = mine(await store.readAll({ after: all[0].position, maxCount: 10_000 }));
    assert.is(afterFirst.length, 3);
    assert.equal(mine(await store.readAll({ after: start, filter: { streamPrefixes: [b] }, maxCount: 10_000 })).map((e) => e.type), ['AccountOpened', 'Withdrawn']);
    assert.equal(mine(await store.readAll({ after: start, filter: { eventTypes: ['Deposited', 'Withdrawn'] }, maxCount: 10_000 })).map((e) => e.type), ['Deposited', 'Withdrawn']);
    assert.is(mine(await store.readAll({ after: start, filter: { categories: ['Account'] }, maxCount: 10_000 })).length, 4);
    assert.is(mine(await store.readAll({ after: start, filter: { categories: ['Host'] }, maxCount: 10_000 })).length, 0);
    assert.is((await store.readAll({ after: start, maxCount: 2 })).length, 2);
  });

  test('a catch-up subscription reads history then live events with no gap and no duplicate while writers race', async ({ store, ...ctx }) => {
    const prefix = `Account-${ctx.run}_sub`;
    const start = await store.headPosition();
    const writers = 4;
    const perWriter = 150;
    const written: string[] = [];
    const write = async (w: number) => {
      for (let i = 0; i < perWriter; i++) {
        const s = `${prefix}${w}x${i % 7}`;
        const r = await store.append(s, [newEvent(i < 7 ? 'AccountOpened' : 'Deposited', i < 7 ? { owner: `w${w}` } : { amount: i })]);
        written.push(r.events[0].metadata.eventId);
        if (i % 25 === 0) await new Promise((res) => setTimeout(res, 1));
      }
    };
    // History first: half the writers run to completion before the subscription starts.
    await Promise.all([0, 1].map(write));
    const seen: StoredEvent[] = [];
    let caughtUpAt = -1;
    const sub = store.subscribe({
      after: start, filter: { streamPrefixes: [prefix] }, batchSize: 37,
      onBatch: async (batch) => { seen.push(...batch); if (Math.random() < 0.2) await new Promise((r) => setTimeout(r, 2)); },
      onCaughtUp: (p) => { caughtUpAt = p; },
    });
    // The rest race the switch from history to live.
    await Promise.all([2, 3].map(write));
    const head = await store.headPosition();
    await sub.waitFor(head, 30_000);
    await sub.close();
    assert.ok(caughtUpAt >= 0, 'the subscription never reported catching up');
    const ids = seen.map((e) => e.metadata.eventId);
    assert.is(new Set(ids).size, ids.length, 'an event was delivered twice');
    assert.is(ids.length, writers * perWriter, 'an event was missed');
    assert.equal(new Set(ids), new Set(written));
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].position > seen[i - 1].position, 'events out of order');
  });

  test('many concurrent appends to different streams all succeed (group commit keeps each check)', async ({ store, ...ctx }) => {
    const streams = Array.from({ length: 300 }, () => stream(ctx));
    const results = await Promise.all(streams.map((s) => store.append(s, [newEvent('AccountOpened', { owner: 'x' })], { expected: 'no_stream' })));
    assert.is(new Set(results.map((r) => r.position)).size, 300);
    const again = await Promise.allSettled(streams.map((s, i) => store.append(s, [newEvent('Deposited', { amount: 1 })], { expected: i % 2 ? 0 : 'no_stream' })));
    assert.is(again.filter((o) => o.status === 'fulfilled').length, 150);
    assert.is(again.filter((o) => o.status === 'rejected' && o.reason instanceof WrongExpectedRevisionError).length, 150);
  });

  return test;
}
