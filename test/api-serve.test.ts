/**
 * `ledger serve` and `ledger token issue` as real processes: embedded defaults in a fresh data directory, probes,
 * tokens from the CLI (key file 0600), a GraphQL round trip, and a graceful exit on SIGTERM.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(process.cwd(), 'bin', 'ledger.js');
const dir = mkdtempSync(join(tmpdir(), 'ledger-serve-'));
const env = { ...process.env, LEDGER_LOG_LEVEL: 'warn', LEDGER_TOKEN_SECRET: '', FORCE_COLOR: '0' };
let server: ChildProcess | undefined;
let stdout = '';
let stderr = '';
let url = '';
let operatorToken = '';
let cliUser = '';

const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 60_000 });
const gql = async (query: string, token?: string) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) }, body: JSON.stringify({ query }) });
  return { status: res.status, body: await res.json() as any };
};

test.after(async () => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('ledger serve starts on the embedded defaults and prints the GraphQL URL', async () => {
  server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (d) => { stdout += d; });
  server.stderr!.on('data', (d) => { stderr += d; });
  const deadline = Date.now() + 60_000;
  while (!/^GraphQL: (http:\/\/\S+)$/m.test(stdout)) {
    if (server.exitCode !== null || Date.now() > deadline) assert.unreachable(`serve did not start: ${stdout}\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  url = /^GraphQL: (http:\/\/\S+)$/m.exec(stdout)![1];
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/graphql$/, 'LEDGER_HOST defaults to loopback');
});

test('probes: /healthz, /readyz (once projections caught up), /metrics', async () => {
  const base = url.replace(/\/graphql$/, '');
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  let ready = 0;
  for (let i = 0; i < 100 && ready !== 200; i++) {
    ready = (await fetch(`${base}/readyz`)).status;
    if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(ready, 200);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /ledger_event_store_head_position \d+/);
  assert.match(metrics, /ledger_projection_lag_events\{projection="projects"\}/);
  assert.equal((await gql('{ viewer { id } }')).status, 401);
});

test('ledger token issue: operator and tenant tokens the server accepts; the key file is 0600', async () => {
  const op = cli('token', 'issue', '--operator', '--json', '--data', dir);
  assert.equal(op.status, 0, op.stderr);
  const lines = op.stdout.trim().split('\n');
  const { token } = JSON.parse(lines[lines.length - 1]);
  assert.equal(statSync(join(dir, 'token.key')).mode & 0o777, 0o600);
  const created = await gql('mutation { userCreate(input: { name: "Cli" }) { user { id } userErrors { code } } }', token);
  const userId = created.body.data.userCreate.user.id;
  const tenant = cli('token', 'issue', '--tenant', userId, '--data', dir);
  assert.equal(tenant.status, 0, tenant.stderr);
  assert.match(tenant.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'the bare token and nothing else on stdout');
  const viewer = await gql('{ viewer { id name } }', tenant.stdout.trim());
  assert.equal(viewer.body.data.viewer, { id: userId, name: 'Cli' });
  operatorToken = token;
  cliUser = userId;
});

test('ledger token issue --tenant refuses a user the ledger does not know, or has suspended', async () => {
  const unknown = cli('token', 'issue', '--tenant', 'u_nosuchuser', '--data', dir);
  assert.ok(unknown.status !== 0);
  assert.match(unknown.stderr, /no user u_nosuchuser in the ledger in .*: create it first/);
  assert.is(unknown.stdout, '', 'no token printed');
  const suspended = await gql(`mutation { userSuspend(input: { userId: "${cliUser}", reason: "unpaid" }) { user { status } userErrors { code } } }`, operatorToken);
  assert.equal(suspended.body.data.userSuspend.user.status, 'SUSPENDED');
  const refused = cli('token', 'issue', '--tenant', cliUser, '--data', dir);
  assert.ok(refused.status !== 0);
  assert.match(refused.stderr, new RegExp(`user ${cliUser} is suspended: an operator must reactivate it`));
  assert.is(refused.stdout, '');
  await gql(`mutation { userReactivate(input: { userId: "${cliUser}" }) { userErrors { code } } }`, operatorToken);
  const again = cli('token', 'issue', '--tenant', cliUser, '--data', dir);
  assert.is(again.status, 0, again.stderr);
  assert.match(cli('token', 'issue', '--help').stdout, /refused for a user the ledger does not know or has suspended/);
});

test('ledger token issue refuses bad arguments', () => {
  const neither = cli('token', 'issue', '--data', dir);
  assert.ok(neither.status !== 0);
  assert.match(neither.stderr, /exactly one of --operator or --tenant/);
  const badId = cli('token', 'issue', '--tenant', 'u-1', '--data', dir);
  assert.ok(badId.status !== 0);
  assert.match(badId.stderr, /not a user id/);
  const badTtl = cli('token', 'issue', '--operator', '--ttl', 'soon', '--data', dir);
  assert.ok(badTtl.status !== 0);
});

test('SIGTERM: the server finishes and exits 0', async () => {
  const exited = new Promise<number | null>((resolve) => server!.on('exit', (code) => resolve(code)));
  server!.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 15_000))]);
  assert.equal(code, 0, `exit: ${code}\n${stderr.slice(-2000)}`);
});

test.run();
