/**
 * busyWait 'yield': a store whose write transaction finds another connection's write lock does not sleep in SQLite's
 * busy handler (blocking its event loop) but requeues the batch and retries from the event loop; order, expected
 * revisions and the hash chain hold, and it gives up after busyWaitMs as the default does. Also two real writer
 * processes on one file, appending to one stream with expected revisions.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { SqliteEventStore } from './sqlite.ts';
import { WrongExpectedRevisionError } from './port.ts';
import { uuidv7 } from '../ids.ts';
import '../testing/example-account.ts';

const actor = { kind: 'system', id: 'test' } as const;
const deposit = (amount: number) => {
  const id = uuidv7();
  return [{ type: 'Deposited', data: { amount }, metadata: { eventId: id, occurredAt: new Date().toISOString(), actor, correlationId: id, version: 1 } }];
};
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child writer: appends `n` deposits to Account-shared, each at the revision it last read (re-read on conflict). */
async function childWriter(path: string, n: number, who: number) {
  const store = new SqliteEventStore({ path, busyWait: 'yield' });
  let conflicts = 0;
  for (let i = 0; i < n; i++) {
    const expected = await store.streamRevision('Account-shared');
    // alone in its tick: the lone-append path; its own stream too, in the same tick: the queued path. Both are
    // awaited to the end: a refused shared append may come back while the own one still waits for the lock.
    const [shared, own] = await Promise.allSettled([
      store.append('Account-shared', deposit(who * 100_000 + i), { expected: expected < 0 ? 'no_stream' : expected }),
      store.append(`Account-w${who}`, deposit(i + 1), { expected: i === 0 ? 'no_stream' : i - 1 }),
    ]);
    if (own.status === 'rejected') throw own.reason; // its own stream has one writer: never refused
    if (shared.status === 'fulfilled') continue;
    if (!(shared.reason instanceof WrongExpectedRevisionError)) throw shared.reason;
    conflicts++;
    await appendShared(store, who, i);
  }
  await store.close();
  return { conflicts, retries: store.busyRetriesTotal };
}
async function appendShared(store: SqliteEventStore, who: number, i: number) {
  for (;;) {
    const expected = await store.streamRevision('Account-shared');
    try { await store.append('Account-shared', deposit(who * 100_000 + i), { expected: expected < 0 ? 'no_stream' : expected }); return; }
    catch (error) { if (!(error instanceof WrongExpectedRevisionError)) throw error; }
  }
}

if (process.argv[2] === '--busy-writer' && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // both writers start together (tsx start-up times differ)
  await new Promise<void>((resolve) => { process.once('message', () => resolve()); process.send?.('ready'); });
  const r = await childWriter(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
  process.send?.(r, () => process.exit(0));
} else {
  const dirs: string[] = [];
  const fresh = () => { const d = mkdtempSync(join(tmpdir(), 'ledger-busy-')); dirs.push(d); return join(d, 'events.sqlite'); };
  /** A yielding store whose `stream` holds one deposit, and another connection holding the file's write lock. */
  const lockedByAnother = async (stream: string, options: { busyWaitMs?: number } = {}) => {
    const path = fresh();
    const store = new SqliteEventStore({ path, busyWait: 'yield', ...options });
    await store.append(stream, deposit(1000), { expected: 'no_stream' });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    return { store, other };
  };

  test('yield: a batch that finds the write lock taken waits without blocking the event loop, then commits in order', async () => {
    const { store, other } = await lockedByAnother('Account-a');
    const results: number[] = [];
    const appends = [1, 2, 3].map((n) => store.append('Account-a', deposit(n), { expected: 'any' }).then((r) => { results.push(r.nextExpectedRevision); return r; }));
    // a lone append in a later tick: also queued behind the waiting batch
    await tick(5);
    const later = store.append('Account-a', deposit(4), { expected: 3 });
    let timerRan = false;
    setTimeout(() => { timerRan = true; }, 10);
    await tick(40);
    assert.ok(timerRan, 'the event loop kept running while the lock was held');
    assert.equal(results, [], 'nothing committed while the other connection held the lock');
    assert.ok(store.busyRetriesTotal > 1, 'it retried');
    other.exec('COMMIT');
    await Promise.all([...appends, later]);
    assert.equal(results, [1, 2, 3]);
    const stored = await store.readStream('Account-a');
    assert.equal(stored.map((e) => (e.data as { amount: number }).amount), [1000, 1, 2, 3, 4]);
    assert.is(await store.verifyStream('Account-a'), null);
    other.close();
    await store.close();
  });

  test('yield: a lone append that finds the lock taken resolves once it is free; a stale expected revision is still refused', async () => {
    const { store, other } = await lockedByAnother('Account-b');
    await tick(1);
    const lone = store.append('Account-b', deposit(1), { expected: 0 });
    await tick(1);
    const stale = store.append('Account-b', deposit(2), { expected: 0 });
    await tick(20);
    other.exec('COMMIT');
    assert.is((await lone).nextExpectedRevision, 1);
    try { await stale; assert.unreachable('a stale expected revision must be refused'); } catch (error) { assert.instance(error, WrongExpectedRevisionError); }
    other.close();
    await store.close();
  });

  test('yield: after busyWaitMs the batch fails with SQLITE_BUSY, writing nothing; the store works again afterwards', async () => {
    const { store, other } = await lockedByAnother('Account-c', { busyWaitMs: 50 });
    await tick(1);
    const t0 = performance.now();
    try { await store.append('Account-c', deposit(1), { expected: 0 }); assert.unreachable('must time out'); } catch (error) {
      assert.is((error as { code?: string }).code, 'SQLITE_BUSY');
    }
    assert.ok(performance.now() - t0 >= 50, 'it waited busyWaitMs');
    other.exec('ROLLBACK');
    assert.is((await store.append('Account-c', deposit(2), { expected: 0 })).nextExpectedRevision, 1);
    assert.equal((await store.readStream('Account-c')).map((e) => (e.data as { amount: number }).amount), [1000, 2]);
    other.close();
    await store.close();
  });

  test('two writer processes (yield) on one file: every append committed once, dense revisions, the chain holds', async () => {
    const path = fresh();
    const init = new SqliteEventStore({ path });
    await init.append('Account-x', deposit(1000), { expected: 'no_stream' });
    await init.close();
    const n = 150;
    let ready = 0;
    const children: ReturnType<typeof fork>[] = [];
    const run = (who: number) => new Promise<{ conflicts: number; retries: number }>((resolve, reject) => {
      const child = fork(fileURLToPath(import.meta.url), ['--busy-writer', path, String(n), String(who)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      let out: { conflicts: number; retries: number } | undefined;
      child.on('message', (m) => {
        if (m === 'ready') { if (++ready === 2) for (const c of children) c.send('go'); return; }
        out = m as typeof out;
      });
      child.on('exit', (code) => (code === 0 && out ? resolve(out) : reject(new Error(`writer ${who} exited with ${code}`))));
    });
    const [a, b] = await Promise.all([run(1), run(2)]);
    const store = new SqliteEventStore({ path });
    const shared = await store.readStream('Account-shared');
    assert.is(shared.length, 2 * n, 'each of the 300 deposits once');
    assert.equal(shared.map((e) => e.revision), Array.from({ length: 2 * n }, (_, i) => i));
    const amounts = shared.map((e) => (e.data as { amount: number }).amount).sort((x, y) => x - y);
    assert.equal(amounts, [...Array.from({ length: n }, (_, i) => 100_000 + i), ...Array.from({ length: n }, (_, i) => 200_000 + i)]);
    for (const s of ['Account-shared', 'Account-w1', 'Account-w2']) assert.is(await store.verifyStream(s), null, s);
    assert.is((await store.readStream('Account-w1')).length, n);
    assert.is((await store.readStream('Account-w2')).length, n);
    assert.ok(a.conflicts + b.conflicts > 0, 'the writers did race on the shared stream');
    console.log(`two writers: conflicts ${a.conflicts} + ${b.conflicts}, lock waits ${a.retries} + ${b.retries}`);
    await store.close();
  });

  test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
  test.run();
}
