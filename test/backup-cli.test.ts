/**
 * `ledger backup <file>` while a writer process keeps appending to the same log: the copy is a consistent snapshot
 * (a prefix of the log by position, byte-identical events, no half-written batch, every chain verifies), it is one
 * self-contained file, and the command refuses what it must refuse.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import '../core/testing/example-account.ts';
import { newEvent } from '../core/testing/events.ts';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';

const guard = setTimeout(() => { console.error('backup-cli.test.ts: over 55 s, aborting'); process.exit(1); }, 55_000);
guard.unref();

const dir = mkdtempSync(join(tmpdir(), 'ledger-backup-'));
const data = join(dir, 'data');
const cli = (args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
  const child = spawn(process.execPath, ['bin/ledger.js', 'backup', ...args], { env: { ...process.env, LEDGER_DATA_DIR: data }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = ''; let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  child.on('close', (status) => resolve({ status, stdout, stderr }));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('--help names the file argument, --verify and how to restore', () => {
  const r = spawnSync(process.execPath, ['bin/ledger.js', 'backup', '--help'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /<file>/);
  assert.match(r.stdout, /--verify/);
  assert.match(r.stdout, /To restore/);
});

test('an online copy under a concurrent append storm is a consistent, verified snapshot', async () => {
  // some history first, so the copy takes several backup steps
  const store = new SqliteEventStore({ path: join(data, 'events.sqlite') });
  for (let i = 0; i < 300; i++) {
    await store.append(`Account-seed${i % 30}`, Array.from({ length: 20 }, (_, k) => newEvent('AccountOpened', { owner: `owner ${k} ${'x'.repeat(200)}` }, { commandId: `seed_${i}` })));
  }
  await store.close();
  const storm = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/append-storm.ts', join(data, 'events.sqlite'), 'bk'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let acked = 0;
  storm.stdout.on('data', (d) => { acked += String(d).split('\n').filter((l) => l.startsWith('ack ')).length; });
  try {
    while (acked < 200) await new Promise((r) => setTimeout(r, 20));
    const target = join(dir, 'copy.sqlite');
    const before = acked;
    const r = await cli([target, '--verify', '--json']);
    assert.is(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.ok(acked > before, 'the writer kept appending during the backup');
    assert.ok(summary.events >= 6000 && summary.streams >= 30, JSON.stringify(summary));
    assert.equal(summary.broken, []);
    assert.ok(existsSync(target) && !existsSync(`${target}.partial`) && !existsSync(`${target}-wal`), 'one self-contained file');

    storm.kill('SIGKILL');
    await new Promise((r) => storm.once('close', r));
    const copy = new Database(target, { readonly: true });
    const live = new Database(join(data, 'events.sqlite'), { readonly: true });
    assert.is(copy.pragma('journal_mode', { simple: true }), 'delete');
    const copied = copy.prepare('SELECT position, stream, revision, hash FROM events ORDER BY position').all() as { position: number; stream: string; revision: number; hash: string }[];
    const original = live.prepare('SELECT position, stream, revision, hash FROM events WHERE position <= ? ORDER BY position').all(summary.headPosition) as typeof copied;
    assert.is(copied.length, summary.events);
    assert.equal(copied, original, 'the copy is exactly the log up to its head position');
    // no half-written batch: each storm batch (one commandId) holds 1 + (seq % 5) events, all or none
    const batches = copy.prepare("SELECT json_extract(body, '$.metadata.commandId') AS c, count(*) AS n FROM events WHERE stream LIKE 'Account-bk%' GROUP BY c").all() as { c: string; n: number }[];
    assert.ok(batches.length > 0, 'the copy caught some of the storm');
    for (const b of batches) assert.is(b.n, 1 + (Number(b.c.split('_').pop()) + 1) % 5, `batch ${b.c} is whole`);
    console.log(`  backup: ${summary.events} events, ${summary.streams} streams, ${summary.bytes} bytes in ${summary.seconds.toFixed(2)} s while ${acked - before} batches were appended; ${batches.length} storm batches in the copy, all whole`);
    copy.close(); live.close();
  } finally {
    storm.kill('SIGKILL');
  }
});

test('refuses an existing file without --force, a missing log, and a missing directory, appending nothing', async () => {
  const existing = join(dir, 'exists.sqlite');
  writeFileSync(existing, 'not a backup');
  let r = await cli([existing]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /exists: pass --force/);
  r = await cli([join(dir, 'nope', 'x.sqlite')]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /directory .* does not exist/);
  r = await cli([join(dir, 'x.sqlite'), '--data', join(dir, 'empty')]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /no event log at/);
  r = await cli([existing, '--force']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^backup: \d+ events in \d+ streams/);
});

test.run();
