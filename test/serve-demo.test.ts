/**
 * The seeded demo, end to end, through `ledger serve` as a real child process on the embedded defaults (a fresh data
 * directory, port 0): the first start seeds the topology, a demo tenant and the built-in component types and prints
 * a tenant token; with that token the tenant requests a cloud host through GraphQL; the embedded scheduler places it
 * and a simulated agent runs it, so it reaches RUNNING — seen through `viewer { projects { components … } }` and
 * pushed by the `componentChanged` subscription.
 *
 * Then the request is followed by its correlation id (issue 8 item 1), through `ledger audit log --correlation` and
 * the `auditLog` GraphQL query: the Projects and Components events the API wrote, the scheduler's decision, the slice
 * on the host (Resources) and the agent's report through the command gateway, every event but the request's own
 * naming an event of the chain as its cause.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphQLWsClient } from './harness/api-ws.ts';

const BIN = join(process.cwd(), 'bin', 'ledger.js');
const dir = mkdtempSync(join(tmpdir(), 'ledger-demo-'));
const env = { ...process.env, LEDGER_LOG_LEVEL: 'warn', LEDGER_TOKEN_SECRET: '', FORCE_COLOR: '0' };
const CORRELATION = `demo-request-${process.pid}-${Date.now()}`;
let server: ChildProcess | undefined;
let stdout = '';
let stderr = '';
let url = '';
let tenantToken = '';
let operatorToken = '';
let projectId = '';
let componentId = '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gql = async (query: string, token: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ query, ...(variables && { variables }) }),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as any, text, headers: res.headers };
};
async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) assert.unreachable(`${what}: not within ${timeoutMs} ms\n--- serve stderr ---\n${stderr.slice(-4000)}`);
    await sleep(100);
  }
}

test.after(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await Promise.race([new Promise((r) => server!.once('exit', r)), sleep(10_000)]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

test('ledger serve on an empty data dir seeds the demo and prints the tenant token and project', async () => {
  server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (d) => { stdout += d; });
  server.stderr!.on('data', (d) => { stderr += d; });
  await until('serve printed its banner', async () => /^More tokens:/m.test(stdout) || server!.exitCode !== null, 90_000);
  assert.is(server.exitCode, null, `serve exited: ${stdout}\n${stderr}`);
  url = /^GraphQL: (http:\/\/\S+)$/m.exec(stdout)![1];
  tenantToken = /^\s+tenant token\s+(\S+)$/m.exec(stdout)![1];
  operatorToken = /^\s+operator token\s+(\S+)$/m.exec(stdout)![1];
  projectId = /with project (p_\w+)/.exec(stdout)![1];
  assert.match(stdout, /component types cloud-host, cloud-disk, cache, rdbms, object-store/);
  const types = await gql('{ componentTypes { name } viewer { projects { nodes { id } } } }', tenantToken);
  assert.equal(types.body.data.componentTypes.map((t: { name: string }) => t.name).sort(), ['cache', 'cloud-disk', 'cloud-host', 'object-store', 'rdbms']);
  assert.equal(types.body.data.viewer.projects.nodes, [{ id: projectId }], 'the printed token is the demo tenant\'s, owner of the printed project');
});

test('the demo tenant requests a cloud host: RUNNING through the embedded scheduler and sim agents, pushed by componentChanged', async () => {
  const ws = await GraphQLWsClient.open(url.replace(/^http/, 'ws'));
  try {
    assert.is((await ws.init({ authorization: `Bearer ${tenantToken}` })).type, 'connection_ack');
    ws.subscribe('changes', 'subscription($p: ID!) { componentChanged(projectId: $p) { componentId eventType component { id state replicas { state host zone region } } } }', { p: projectId });
    await sleep(200); // the subscription is registered before the request
    const r = await gql(
      'mutation($p: ID!) { componentRequest(input: { projectId: $p, type: "cloud-host", template: NORMAL, access: ZONE, zoneId: "z_euw_a" }) { component { id type state } userErrors { field message code } } }',
      tenantToken, { p: projectId }, { 'x-correlation-id': CORRELATION });
    assert.equal(r.body.data.componentRequest.userErrors, [], r.text);
    assert.is(r.headers.get('x-correlation-id'), CORRELATION);
    componentId = r.body.data.componentRequest.component.id;
    assert.is(r.body.data.componentRequest.component.type, 'cloud-host');

    // through the read side: viewer { projects { components { replicas { state host zone region } } } }
    const component = await until('the cloud host is RUNNING in viewer { projects { components } }', async () => {
      const v = await gql('{ viewer { projects { nodes { id components { nodes { id state replicas { state host zone region } } } } } } }', tenantToken);
      const c = v.body.data?.viewer.projects.nodes.find((p: { id: string }) => p.id === projectId)?.components.nodes.find((x: { id: string }) => x.id === componentId);
      return c?.state === 'RUNNING' ? c : null;
    }, 30_000);
    assert.is(component.replicas.length, 1, 'a cloud host has one instance');
    const [replica] = component.replicas;
    assert.is(replica.state, 'RUNNING');
    assert.match(replica.host, /^h_euw_a_vm\d$/, 'a VM host of the requested zone');
    assert.equal([replica.zone, replica.region], ['z_euw_a', 'r_eu_west']);

    // and pushed to the console: the status change to RUNNING, with the replica where it runs
    const pushed = await ws.next((m) => m.id === 'changes' && m.payload?.data?.componentChanged?.component?.state === 'RUNNING', 15_000);
    const change = pushed.payload.data.componentChanged;
    assert.is(change.componentId, componentId);
    assert.equal(change.component.replicas, [replica]);
  } finally { ws.close(); }
});

interface Traced { eventId: string; causationId?: string | null; type: string; streamId: string; actor: { kind: string; id: string }; correlationId: string }

/** The chain of one cloud-host request, as both the CLI and the GraphQL query must show it. */
function assertWholeChain(events: Traced[], where: string) {
  assert.ok(events.every((e) => e.correlationId === CORRELATION), `${where}: only the request's correlation`);
  const types = (category: string) => events.filter((e) => e.streamId.startsWith(`${category}-`)).map((e) => e.type);
  // Projects layer and Components layer: what the API wrote for the tenant
  assert.ok(types('Project').includes('ProjectComponentLinked'), `${where}: the project link: ${JSON.stringify(events.map((e) => e.type))}`);
  const ccontract = types('CContract');
  for (const t of ['ComponentRequested', 'PlacementDecided', 'ReplicaObserved', 'ComponentStatusChanged']) assert.ok(ccontract.includes(t), `${where}: CContract ${t}: ${ccontract}`);
  // Resources layer: the slice the scheduler cut on the chosen host, and the agent's report through the gateway
  const host = events.filter((e) => e.streamId.startsWith('Host-'));
  assert.ok(host.some((e) => e.type === 'XNodeSliced' && e.actor.kind === 'system'), `${where}: the slice: ${JSON.stringify(host)}`);
  assert.ok(host.some((e) => e.type === 'XNodeProvisioned' && e.actor.kind === 'agent'), `${where}: the agent's report: ${JSON.stringify(host)}`);
  // one tree: the API's events start it, everything else names an event of the chain as its cause
  const ids = new Set(events.map((e) => e.eventId));
  for (const e of events) {
    if (e.actor.kind === 'tenant') continue;
    assert.ok(e.causationId && ids.has(e.causationId), `${where}: ${e.type} on ${e.streamId} (by ${e.actor.kind}) is caused by ${e.causationId}, not an event of the chain`);
  }
  const byId = new Map(events.map((e) => [e.eventId, e]));
  const causeOf = (type: string) => byId.get(events.find((e) => e.type === type)!.causationId!)!.type;
  assert.is(causeOf('PlacementDecided'), 'ComponentRequested', `${where}: the decision answers the request`);
  assert.is(causeOf('XNodeSliced'), 'PlacementDecided', `${where}: the slice carries out the decision`);
  assert.is(causeOf('XNodeProvisioned'), 'XNodeSliced', `${where}: the agent reports on the slice it was given`);
}

test('ledger audit log --correlation follows the request through Projects, Components, Resources and the agent', async () => {
  await until('the running replica is recorded', async () => {
    const r = spawnSync(process.execPath, [BIN, 'audit', 'log', '--correlation', CORRELATION, '--json', '--limit', '1000', '--data', dir], { env, encoding: 'utf8', timeout: 60_000 });
    assert.is(r.status, 0, r.stderr);
    const entries = (JSON.parse(r.stdout.trim().split('\n').pop()!) as { entries: Traced[] }).entries;
    return entries.some((e) => e.type === 'ComponentStatusChanged' && e.streamId === `CContract-${componentId}` && JSON.stringify(e).includes('running')) ? entries : null;
  }, 20_000).then((entries) => assertWholeChain(entries, 'ledger audit log'));
  const text = spawnSync(process.execPath, [BIN, 'audit', 'log', '--correlation', CORRELATION, '--data', dir], { env, encoding: 'utf8', timeout: 60_000 });
  assert.is(text.status, 0, text.stderr);
  assert.match(text.stdout, /indented by causation/);
  assert.match(text.stdout, /agent:h_euw_a_vm\d .*XNodeProvisioned/);
});

test('the auditLog GraphQL query shows the same chain (operators only)', async () => {
  const q = `query($c: String!) { auditLog(filter: { correlationId: $c }, first: 100) { nodes { eventId causationId correlationId type stream actor { kind id } } pageInfo { hasNextPage } } }`;
  const r = await gql(q, operatorToken, { c: CORRELATION });
  assert.is(r.body.errors, undefined, r.text);
  const nodes = r.body.data.auditLog.nodes.map((n: { stream: string; actor: { kind: string; id: string } }) => ({ ...n, streamId: n.stream, actor: { ...n.actor, kind: n.actor.kind.toLowerCase() } }));
  assertWholeChain(nodes, 'auditLog');
  const cli = spawnSync(process.execPath, [BIN, 'audit', 'log', '--correlation', CORRELATION, '--json', '--limit', '1000', '--data', dir], { env, encoding: 'utf8', timeout: 60_000 });
  const viaCli = (JSON.parse(cli.stdout.trim().split('\n').pop()!) as { entries: Traced[] }).entries.map((e) => e.eventId);
  assert.equal(nodes.map((n: Traced) => n.eventId).sort(), viaCli.sort(), 'the CLI and the API show the same events');
  const tenant = await gql(q, tenantToken, { c: CORRELATION });
  assert.is(tenant.body.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'a tenant cannot read the audit log');
});

test('SIGTERM: serve stops cleanly', async () => {
  const exited = new Promise<number | null>((r) => server!.once('exit', (code) => r(code)));
  server!.kill('SIGTERM');
  assert.is(await Promise.race([exited, sleep(15_000).then(() => 'timeout')]), 0, stderr.slice(-2000));
});

test.run();
