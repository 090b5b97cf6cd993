import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteEventStore } from './event-store/sqlite.ts';
import './testing/example-account.ts';
import { newEvent } from './testing/events.ts';

const dir = mkdtempSync(join(tmpdir(), 'ledger-chain-'));

async function fixture(name: string) {
  const path = join(dir, name);
  const store = new SqliteEventStore({ path });
  await store.append('Account-a1', [newEvent('AccountOpened', { owner: 'ann' }), ...[1, 2, 3, 4].map((amount) => newEvent('Deposited', { amount }))]);
  await store.close();
  return path;
}

test('an intact chain verifies', async () => {
  const store = new SqliteEventStore({ path: await fixture('ok.sqlite') });
  assert.is(await store.verifyStream('Account-a1'), null);
  await store.close();
});

test('one altered byte in a stored event is found and named', async () => {
  const path = await fixture('altered.sqlite');
  const raw = new Database(path);
  raw.prepare("UPDATE events SET body = replace(body, '\"amount\":3', '\"amount\":9') WHERE stream = 'Account-a1' AND revision = 3").run();
  raw.close();
  const store = new SqliteEventStore({ path });
  const broken = await store.verifyStream('Account-a1');
  assert.ok(broken);
  assert.is(broken!.revision, 3);
  assert.match(broken!.reason, /hash mismatch/);
  assert.ok(broken!.eventId);
  await store.close();
});

test('a removed event and reordered events are found', async () => {
  const path = await fixture('removed.sqlite');
  let raw = new Database(path);
  raw.prepare("DELETE FROM events WHERE stream = 'Account-a1' AND revision = 2").run();
  raw.close();
  let store = new SqliteEventStore({ path });
  assert.is((await store.verifyStream('Account-a1'))!.revision, 3);
  await store.close();

  const path2 = await fixture('reordered.sqlite');
  raw = new Database(path2);
  raw.exec("UPDATE events SET revision = -1 WHERE revision = 1; UPDATE events SET revision = 1 WHERE revision = 2; UPDATE events SET revision = 2 WHERE revision = -1;");
  raw.close();
  store = new SqliteEventStore({ path: path2 });
  const broken = await store.verifyStream('Account-a1');
  assert.is(broken!.revision, 1);
  await store.close();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
