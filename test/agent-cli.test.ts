/** `ledger agent` configured by environment only, as in the distributed profile: wrong values are one clear line each. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(process.cwd(), 'bin', 'ledger.js');
const agent = (env: NodeJS.ProcessEnv) => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LEDGER_')));
  return spawnSync(process.execPath, [BIN, 'agent'], { env: { ...clean, ...env }, encoding: 'utf8', timeout: 60_000 });
};

test('environment only: an unknown driver or a missing NATS URL is refused with a clear message, nothing created', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-agent-cli-'));
  const stateDir = join(dir, 'state');
  try {
    const driver = agent({ LEDGER_AGENT_HOST: 'h_1', LEDGER_AGENT_DRIVER: 'bogus', LEDGER_AGENT_STATE_DIR: stateDir, LEDGER_NATS_URL: 'nats://127.0.0.1:1' });
    assert.is.not(driver.status, 0);
    assert.match(driver.stderr, /value 'bogus' from env 'LEDGER_AGENT_DRIVER' is invalid\. Allowed choices are libvirt, oci, ipmi, sim/);

    const nats = agent({ LEDGER_AGENT_HOST: 'h_1', LEDGER_AGENT_DRIVER: 'sim', LEDGER_AGENT_STATE_DIR: stateDir });
    assert.is.not(nats.status, 0);
    assert.match(nats.stderr, /LEDGER_NATS_URL/);
    assert.not.match(nats.stderr, /at .*\.ts:\d+/, 'a message, not a stack trace');
    assert.is(existsSync(stateDir), false, 'no agent state created for a refused start');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
