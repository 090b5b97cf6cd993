import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config.ts';
import { openLedger } from './ledger.ts';

test('defaults give the embedded profile on ./data and port 4000', () => {
  const c = loadConfig({});
  assert.is(c.LEDGER_PORT, 4000);
  assert.ok(c.dataDir.endsWith('/data'));
  assert.is(c.LEDGER_EVENTSTORE_URL, undefined);
});

test('overrides from flags win over the environment', () => {
  assert.is(loadConfig({ LEDGER_PORT: '5000' }, { LEDGER_PORT: '6000' }).LEDGER_PORT, 6000);
});

test('every wrong value is named on its own line', () => {
  try {
    loadConfig({ LEDGER_PORT: 'eighty', LEDGER_NATS_URL: 'http://x', LEDGER_MODE: 'prod' });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, ConfigError);
    const lines = (e as ConfigError).message.split('\n').slice(1);
    assert.is(lines.length, 3);
    assert.ok(lines.some((l) => l.includes('LEDGER_PORT="eighty"')));
    assert.ok(lines.some((l) => l.includes('LEDGER_NATS_URL') && l.includes('nats://')));
    assert.ok(lines.some((l) => l.includes('LEDGER_MODE')));
  }
});

test('the embedded store waits for another process\'s write lock as configured (sleep by default, or yield)', async () => {
  assert.is(loadConfig({}).LEDGER_SQLITE_BUSY_WAIT, 'sleep');
  assert.is(loadConfig({ LEDGER_SQLITE_BUSY_WAIT: 'yield' }).LEDGER_SQLITE_BUSY_WAIT, 'yield');
  assert.throws(() => loadConfig({ LEDGER_SQLITE_BUSY_WAIT: 'spin' }), (e: Error) => e instanceof ConfigError && /LEDGER_SQLITE_BUSY_WAIT/.test(e.message));
  const dir = mkdtempSync(join(tmpdir(), 'ledger-config-'));
  try {
    const ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir, LEDGER_SQLITE_BUSY_WAIT: 'yield' }), { project: false, role: 'test' } as never);
    try { assert.ok((ledger.store as unknown as { busyYield?: unknown }).busyYield !== undefined, 'the store was opened with busyWait yield'); } finally { await ledger.close(); }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test.run();
