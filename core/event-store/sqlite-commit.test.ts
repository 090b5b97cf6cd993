/**
 * How the embedded store commits: a lone append commits at once, appends issued together share one transaction in
 * the order they were issued, and WAL checkpoints run in a background thread once the store is busy.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventEmitter } from 'node:events';
import { SqliteEventStore } from './sqlite.ts';
import { START_AFTER_COMMITS } from './sqlite-checkpointer.ts';
import { uuidv7 } from '../ids.ts';
import '../testing/example-account.ts';

const actor = { kind: 'system', id: 'test' } as const;
const deposit = (amount: number) => {
  const id = uuidv7();
  return [{ type: 'Deposited', data: { amount }, metadata: { eventId: id, occurredAt: new Date().toISOString(), actor, correlationId: id, version: 1 } }];
};
const commitsOf = (store: SqliteEventStore) => {
  let n = 0;
  (store as unknown as { emitter: EventEmitter }).emitter.on('append', () => { n++; });
  return () => n;
};

test('appends issued in one tick share one transaction after the first, and keep their order', async () => {
  const store = new SqliteEventStore({ path: ':memory:' });
  const commits = commitsOf(store);
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => store.append('Account-a1', deposit(i + 1), { expected: 'any' })));
  assert.is(commits(), 2, 'the first commits alone, the other 99 in one group commit');
  assert.equal(results.map((r) => r.nextExpectedRevision), Array.from({ length: 100 }, (_, i) => i));
  const stored = await store.readStream('Account-a1');
  assert.equal(stored.map((e) => (e.data as { amount: number }).amount), Array.from({ length: 100 }, (_, i) => i + 1));
  assert.is(await store.verifyStream('Account-a1'), null);
  await store.close();
});

test('a lone append commits at once; its refusal still arrives as a rejected promise, not a throw', async () => {
  const store = new SqliteEventStore({ path: ':memory:' });
  const commits = commitsOf(store);
  for (let i = 0; i < 5; i++) await store.append('Account-a2', deposit(1), { expected: i === 0 ? 'no_stream' : i - 1 });
  assert.is(commits(), 5);
  const refused = store.append('Account-a2', deposit(1), { expected: 0 });
  assert.instance(refused, Promise);
  try { await refused; assert.unreachable('a wrong expected revision is refused'); } catch (e) { assert.is((e as Error).name, 'WrongExpectedRevisionError'); }
  assert.is(await store.streamRevision('Account-a2'), 4, 'the refused append wrote nothing');
  await store.close();
});

async function fileFullyCheckpointed(path: string, store: SqliteEventStore, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const pages = store.db.pragma('page_count', { simple: true }) as number;
    const size = store.db.pragma('page_size', { simple: true }) as number;
    if (statSync(path).size >= pages * size) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a busy store checkpoints its WAL in a background thread; without it the tail of the log stays in the WAL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-ckpt-'));
  try {
    for (const background of [true, false]) {
      const path = join(dir, `events-${background}.sqlite`);
      const store = new SqliteEventStore({ path, backgroundCheckpoints: background });
      // more commits than the start threshold, fewer WAL pages than any automatic checkpoint left to the writer
      for (let i = 0; i < START_AFTER_COMMITS + 1_500; i++) await store.append(`Account-c${i % 50}`, deposit(1));
      const copied = await fileFullyCheckpointed(path, store, background ? 3000 : 500);
      assert.is(copied, background, background ? 'the thread copied the whole log into the database file' : 'nothing copied the tail of the log');
      await store.close();
      const reopened = new SqliteEventStore({ path, readonly: true });
      assert.is(await reopened.headPosition(), START_AFTER_COMMITS + 1_500);
      await reopened.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
