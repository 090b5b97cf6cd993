/** `ledger relay` as an operator runs it: help, a clear error without LEDGER_NATS_URL, a run against a real nats-server. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../core/testing/example-account.ts';
import { newEvent } from '../core/testing/events.ts';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import { connectNatsBus } from '../core/bus/nats.ts';
import { startNatsServer } from './harness/nats-server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// The CLI loads the layers' schemas itself; the example Account category of the core tests is preloaded here.
const NODE_ARGS = ['--import', 'tsx', '--import', './core/testing/example-account.ts', 'cli/main.ts', 'relay'];
const children = new Set<ChildProcess>();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

function cli(args: string[], env: NodeJS.ProcessEnv) {
  const { LEDGER_NATS_URL: _drop, ...rest } = process.env;
  return spawnSync(process.execPath, [...NODE_ARGS, ...args], { env: { ...rest, ...env }, encoding: 'utf8', timeout: 30_000 });
}

function startCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [...NODE_ARGS, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 20_000;
    const poll = setInterval(() => {
      if (/relaying .* after position \d+/.test(out)) { clearInterval(poll); resolve({ child, output: () => out }); }
      else if (child.exitCode !== null || Date.now() > deadline) { clearInterval(poll); child.kill('SIGKILL'); reject(new Error(`ledger relay did not start:\n${out}`)); }
    }, 20);
  });
}

const exited = (child: ChildProcess) => new Promise<number | null>((r) => {
  if (child.exitCode !== null) r(child.exitCode); else child.once('exit', (code) => r(code));
});

test('ledger relay --help describes the command, its subjects and LEDGER_NATS_URL', () => {
  const r = cli(['--help'], {});
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /ledger\.<layer>\.<Category>\.<id>\.<EventType>/);
  assert.match(r.stdout, /LEDGER_NATS_URL/);
  assert.match(r.stdout, /--data <dir>/);
});

test('without LEDGER_NATS_URL it refuses to start with one clear line, and touches nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-relay-cli-'));
  const r = cli(['--data', join(dir, 'data')], {});
  assert.is(r.status, 2);
  assert.match(r.stderr, /LEDGER_NATS_URL is not set/);
  const bad = cli(['--data', join(dir, 'data')], { LEDGER_NATS_URL: 'http://nats:4222' });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /LEDGER_NATS_URL="http:\/\/nats:4222": must be a URL starting with nats:\/\//);
  rmSync(dir, { recursive: true, force: true });
});

test('an unreachable NATS server is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-relay-cli-'));
  const r = cli(['--data', dir], { LEDGER_NATS_URL: 'nats://127.0.0.1:1' });
  assert.is(r.status, 1);
  assert.match(r.stderr, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
  rmSync(dir, { recursive: true, force: true });
});

test('it relays the store until SIGTERM, stops gracefully, and a restart publishes nothing again', async () => {
  const server = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'ledger-relay-cli-'));
  const store = new SqliteEventStore({ path: join(dir, 'events.sqlite') });
  const bus = await connectNatsBus({ servers: server.url });
  const env = { LEDGER_NATS_URL: server.url };
  try {
    await store.append('Account-cli1', [newEvent('AccountOpened', { owner: 'ann' }), newEvent('Deposited', { amount: 5 })]);
    const got: string[] = [];
    const sub = await bus.subscribe('ledger.test.Account.cli1.>', (m) => { got.push(m.subject); });
    const first = await startCli(['--data', dir], env);
    await store.append('Account-cli1', [newEvent('Withdrawn', { amount: 2 })]);
    const deadline = Date.now() + 10_000;
    while (got.length < 3 && Date.now() < deadline) await sleep(20);
    assert.equal(got, ['ledger.test.Account.cli1.AccountOpened', 'ledger.test.Account.cli1.Deposited', 'ledger.test.Account.cli1.Withdrawn']);
    first.child.kill('SIGTERM');
    assert.is(await exited(first.child), 0, first.output());
    assert.match(first.output(), /stopped at position 3: 3 published/);

    const second = await startCli(['--data', dir], env);
    assert.match(second.output(), /after position 3/);
    await sleep(300);
    second.child.kill('SIGINT');
    assert.is(await exited(second.child), 0, second.output());
    assert.match(second.output(), /0 published, 0 duplicates/);
    await sub.close();
    assert.is(got.length, 3);
    assert.is((await bus.streamState()).messages, 3);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await bus.close();
    await store.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
