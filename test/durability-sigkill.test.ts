/**
 * Durability of the embedded store: a writer process is killed with SIGKILL in the middle of an append storm,
 * many times over the same file. Every batch it acknowledged must be in the log, whole; no batch may be
 * half-written; every stream's hash chain must still verify; and the store keeps working after each crash.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';

const ROUNDS = Number(process.env.LEDGER_DURABILITY_ROUNDS ?? 12);
const dir = mkdtempSync(join(tmpdir(), 'ledger-durability-'));
const path = join(dir, 'events.sqlite');

function runAndKill(runId: string): Promise<{ acked: Map<string, number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/append-storm.ts', path, runId], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked = new Map<string, number>();
    let buffer = '';
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d) => {
      buffer += d;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), 150 + Math.random() * 400);
        const m = /^ack (\S+) (\d+) /.exec(line);
        if (m) acked.set(m[1], Number(m[2]));
      }
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer ended by itself (${signal}): ${stderr}`));
      else resolve({ acked });
    });
  });
}

test(`SIGKILL mid-storm, ${ROUNDS} times: no acknowledged append lost, no half-written batch, chains intact`, async () => {
  let totalAcked = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const { acked } = await runAndKill(`k${round}`);
    assert.ok(acked.size > 0, `round ${round}: the writer acknowledged nothing before it was killed`);
    totalAcked += acked.size;
    const db = new Database(path, { readonly: true });
    const counts = new Map<string, number>();
    for (const row of db.prepare("SELECT json_extract(body, '$.metadata.commandId') AS c FROM events WHERE substr(stream, 1, ?) = ?").iterate(`Account-k${round}_`.length, `Account-k${round}_`) as Iterable<{ c: string }>) {
      counts.set(row.c, (counts.get(row.c) ?? 0) + 1);
    }
    db.close();
    for (const [batchId, size] of acked) assert.is(counts.get(batchId), size, `round ${round}: acknowledged batch ${batchId} lost or partial`);
    for (const [batchId, n] of counts) {
      const size = 1 + (Number(batchId.split('_').pop()) + 1) % 5;
      assert.is(n, size, `round ${round}: batch ${batchId} is half-written (${n} of ${size} events)`);
    }
  }
  const store = new SqliteEventStore({ path });
  const streams = store.streams();
  for (const s of streams) assert.is(await store.verifyStream(s), null, `chain of ${s} broken`);
  console.log(`durability: ${ROUNDS} kills, ${totalAcked} acknowledged batches all present, ${streams.length} chains verified`);
  await store.close();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
