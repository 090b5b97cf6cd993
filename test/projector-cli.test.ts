/** `ledger projector` as an operator runs it: help, clear errors for bad configuration, writes nothing when refused. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(process.cwd(), 'bin', 'ledger.js');
const cli = (args: string[], env: NodeJS.ProcessEnv) => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LEDGER_')));
  return spawnSync(process.execPath, [BIN, 'projector', ...args], { env: { ...clean, ...env }, encoding: 'utf8', timeout: 60_000 });
};

test('ledger projector --help names the lease, the fencing and the environment', () => {
  const r = cli(['--help'], {});
  assert.is(r.status, 0, r.stderr);
  for (const word of ['lease.projector', 'fencing token', 'LEDGER_NATS_URL', 'LEDGER_REDIS_URL', 'LEDGER_LEASE_TTL_MS', 'readmodels.sqlite']) {
    assert.ok(r.stdout.includes(word), `${word} in:\n${r.stdout}`);
  }
});

test('a wrong LEDGER_LEASE_TTL_MS or NATS URL is one clear line, and no read model is created', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-projector-cli-'));
  try {
    const ttl = cli([], { LEDGER_DATA_DIR: dir, LEDGER_NATS_URL: 'nats://127.0.0.1:1', LEDGER_LEASE_TTL_MS: '100' });
    assert.is(ttl.status, 2, ttl.stderr);
    assert.match(ttl.stderr, /LEDGER_LEASE_TTL_MS="100": must be at least 500 ms/);
    const url = cli([], { LEDGER_DATA_DIR: dir, LEDGER_NATS_URL: 'http://nats:4222' });
    assert.is(url.status, 2);
    assert.match(url.stderr, /LEDGER_NATS_URL="http:\/\/nats:4222": must be a URL starting with nats:\/\//);
    const down = cli([], { LEDGER_DATA_DIR: dir, LEDGER_NATS_URL: 'nats://127.0.0.1:1' });
    assert.is(down.status, 1);
    assert.match(down.stderr, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
    assert.is(existsSync(join(dir, 'readmodels.sqlite')), false, 'nothing written before the lease');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
