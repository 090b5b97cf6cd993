/**
 * The SQLite store caches each stream's tail (revision, hash) to skip the tail SELECT of an append. Another writer on
 * the same file (here: a second store instance, as a second process would be) makes that cache stale; these cases
 * show a stale tail is never written through: appends land on the real tail with an unbroken hash chain, a failed
 * expectation reports the stored revision, and an expectation that holds against the stored tail succeeds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from './sqlite.ts';
import { WrongExpectedRevisionError } from './port.ts';
import '../testing/example-account.ts';
import { newEvent } from '../testing/events.ts';

const dir = mkdtempSync(join(tmpdir(), 'ledger-tail-cache-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const deposit = (amount: number) => newEvent('Deposited', { amount });

test('a stale cached tail: appends go on from the stored tail, the chain stays whole, expectations are checked against the stored tail', async () => {
  const path = join(dir, 'two-writers.sqlite');
  const a = new SqliteEventStore({ path });
  const b = new SqliteEventStore({ path });
  try {
    assert.is((await a.append('Account-x', [newEvent('AccountOpened', { owner: 'o' })], { expected: 'no_stream' })).nextExpectedRevision, 0);
    assert.is((await a.append('Account-x', [deposit(1)])).nextExpectedRevision, 1); // a now caches revision 1
    assert.is((await b.append('Account-x', [deposit(2), deposit(3)], { expected: 1 })).nextExpectedRevision, 3);

    // 'any' from the stale writer: lands after b's events
    const r = await a.append('Account-x', [deposit(4), deposit(5)]);
    assert.equal(r.events.map((e) => e.revision), [4, 5]);
    assert.is(await a.verifyStream('Account-x'), null, 'chain unbroken');

    await b.append('Account-x', [deposit(6)], { expected: 5 });
    // an expectation that holds against the stored tail (6) but not the cached one (5): succeeds
    assert.is((await a.append('Account-x', [deposit(7)], { expected: 6 })).nextExpectedRevision, 7);
    await b.append('Account-x', [deposit(8)], { expected: 7 });
    // an expectation that held against the cached tail (7) but not the stored one (8): refused with the stored revision
    const err = await a.append('Account-x', [deposit(9)], { expected: 7 }).catch((e) => e);
    assert.instance(err, WrongExpectedRevisionError);
    assert.is((err as WrongExpectedRevisionError).actual, 8);
    assert.is(await a.streamRevision('Account-x'), 8, 'nothing appended');

    // 'no_stream' against a stream the other writer created after this one cached nothing: refused
    await b.append('Account-y', [newEvent('AccountOpened', { owner: 'o' })]);
    assert.instance(await a.append('Account-y', [deposit(1)], { expected: 'no_stream' }).catch((e) => e), WrongExpectedRevisionError);

    // group commit: several appends to a stale stream in one tick
    await b.append('Account-x', [deposit(10)]);
    const same = await Promise.all([a.append('Account-x', [deposit(11)]), a.append('Account-x', [deposit(12)]), a.append('Account-x', [deposit(13)], { expected: 11 })]);
    assert.equal(same.map((x) => x.nextExpectedRevision), [10, 11, 12]);
    assert.is(await a.verifyStream('Account-x'), null, 'chain unbroken after the batch');
    assert.is(await b.verifyStream('Account-x'), null);
    const revisions = (await b.readStream('Account-x')).map((e) => e.revision);
    assert.equal(revisions, Array.from({ length: 13 }, (_, i) => i), 'dense revisions, no gap, no duplicate');
  } finally {
    await a.close();
    await b.close();
  }
});

test('two writers racing on the same streams: every acknowledged append is stored once, chains verify', async () => {
  const path = join(dir, 'race.sqlite');
  const a = new SqliteEventStore({ path });
  const b = new SqliteEventStore({ path });
  try {
    const streams = Array.from({ length: 5 }, (_, i) => `Account-race${i}`);
    let acked = 0;
    const writer = async (s: SqliteEventStore, n: number) => {
      for (let i = 0; i < n; i++) {
        await Promise.all(streams.map(async (stream) => { await s.append(stream, [deposit(1)]); acked++; }));
        if (i % 7 === 0) await new Promise((r) => setImmediate(r));
      }
    };
    await Promise.all([writer(a, 60), writer(b, 60)]);
    assert.is(acked, 2 * 60 * streams.length);
    for (const stream of streams) {
      assert.is(await a.verifyStream(stream), null, `${stream} chain`);
      assert.is(await a.streamRevision(stream), 2 * 60 - 1, `${stream} holds every append`);
    }
  } finally {
    await a.close();
    await b.close();
  }
});

test.run();
