/** `ledger scheduler` as a process: starts on a real nats-server, places a contract, stops cleanly on SIGTERM; bad flags are refused. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/config.ts';
import { openLedger } from '../core/ledger.ts';
import { loadFresh } from '../layers/components/exec.ts';
import { ccontractDecider } from '../layers/components/ccontract/decider.ts';
import { stream } from '../layers/components/ids.ts';
import { seedComponentTypes } from '../layers/components/seed.ts';
import { grid, needs, registerHosts, requestComponent, until } from '../layers/components/testing/fleet.ts';
import { startNatsServer } from './harness/nats-server.ts';

test('ledger scheduler places what the relay publishes and stops on SIGTERM', async () => {
  const nats = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'ledger-sched-cli-'));
  const ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir, LEDGER_NATS_URL: nats.url }), { relay: true, project: false });
  let out = '';
  const child = spawn(process.execPath, ['bin/ledger.js', 'scheduler', '--data', dir, '--nats-url', nats.url, '--name', 'cli1', '--sweep-ms', '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  try {
    await registerHosts(ledger, grid(1, 3, 1, 1));
    await seedComponentTypes(ledger);
    await until('scheduler running', () => /scheduler cli1 running/.test(out), 20_000);
    await requestComponent(ledger, needs('c_cli'));
    await until('placed', async () => (await loadFresh(ledger, ccontractDecider, stream.ccontract('c_cli'))).state.slots.every((s) => s.state === 'provisioning'), 20_000, 100);
    const code = await new Promise<number | null>((resolve) => { child.once('exit', (c) => resolve(c)); child.kill('SIGTERM'); });
    assert.is(code, 0, out);
    assert.match(out, /stopped: \{/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await ledger.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad flags are refused with a clear message', () => {
  const r = spawnSync(process.execPath, ['bin/ledger.js', 'scheduler', '--lease-ms', 'soon'], { encoding: 'utf8' });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /--lease-ms must be an integer/);
});

test.run();
