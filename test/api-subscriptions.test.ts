/**
 * Subscriptions over a real WebSocket (graphql-transport-ws): `projectChanged` delivers changes made through the API
 * and by any other writer of the store (another process's command handler), after the read model applied them;
 * tokens in connection_init or on the upgrade; unauthenticated and hostile subscriptions are refused.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { CommandHandler } from '../core/command-handler.ts';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import { projectDecider } from '../layers/projects/project/decider.ts';
import { startApi, type ApiHarness } from './harness/api.ts';
import { GraphQLWsClient } from './harness/api-ws.ts';

let api: ApiHarness;
let owner: string, ownerToken: string, otherToken: string, projectId: string;
const SUB = 'subscription($id: ID!) { projectChanged(projectId: $id) { eventType revision occurredAt project { id name quotas { cpuCores } } } }';
const sockets: GraphQLWsClient[] = [];

async function connect(payload?: Record<string, unknown>, headers?: Record<string, string>) {
  const ws = await GraphQLWsClient.open(api.wsUrl, { headers });
  sockets.push(ws);
  const ack = await ws.init(payload);
  return { ws, ack };
}

test.before(async () => {
  api = await startApi();
  owner = await api.createUser('Olga');
  ownerToken = await api.tenantToken(owner);
  otherToken = await api.tenantToken(await api.createUser('Oscar'));
  projectId = await api.createProject(ownerToken, 'watched');
});
test.after(async () => {
  for (const s of sockets) s.close();
  await api?.close();
});

test('the owner receives a change made through the API, with the read model already updated', async () => {
  const { ws, ack } = await connect({ authorization: `Bearer ${ownerToken}` });
  assert.equal(ack.type, 'connection_ack');
  ws.subscribe('1', SUB, { id: projectId });
  await new Promise((r) => setTimeout(r, 100));
  await api.gql(`mutation { projectRename(input: { projectId: "${projectId}", name: "watched closely" }) { userErrors { code } } }`, undefined, ownerToken);
  const m = await ws.next((x) => x.id === '1');
  assert.equal(m.type, 'next');
  assert.equal(m.payload.data.projectChanged.eventType, 'ProjectRenamed');
  assert.equal(m.payload.data.projectChanged.project, { id: projectId, name: 'watched closely', quotas: { cpuCores: null } });
  assert.equal(m.payload.data.projectChanged.revision, 1);
  ws.complete('1');
});

test('a change written by another process (its own store handle and command handler) reaches subscribers too', async () => {
  const { ws } = await connect(undefined, { authorization: `Bearer ${ownerToken}` }); // token on the upgrade this time
  ws.subscribe('2', SUB, { id: projectId });
  await new Promise((r) => setTimeout(r, 100));
  const store = new SqliteEventStore({ path: join(api.dir, 'events.sqlite') });
  try {
    const handler = new CommandHandler(store, projectDecider);
    await handler.handle(`Project-${projectId}`, { type: 'SetProjectQuotas', data: { projectId, quotas: { cpuCores: 4, ramMiB: null, diskGiB: null, components: null } } },
      { actor: { kind: 'operator', id: 'elsewhere' }, tenantId: owner });
  } finally { await store.close(); }
  const m = await ws.next((x) => x.id === '2', 5000);
  assert.equal(m.payload.data.projectChanged.eventType, 'ProjectQuotasSet');
  assert.equal(m.payload.data.projectChanged.project.quotas, { cpuCores: 4 }, 'published after the read model applied it');
});

test('an operator may watch any project', async () => {
  const { ws } = await connect({ authorization: `Bearer ${api.operatorToken}` });
  ws.subscribe('3', SUB, { id: projectId });
  await new Promise((r) => setTimeout(r, 100));
  await api.gql(`mutation { projectRename(input: { projectId: "${projectId}", name: "by operator" }) { userErrors { code } } }`);
  const m = await ws.next((x) => x.id === '3');
  assert.equal(m.payload.data.projectChanged.project.name, 'by operator');
});

test('after complete, no more messages for that subscription', async () => {
  const { ws } = await connect({ authorization: `Bearer ${ownerToken}` });
  ws.subscribe('4', SUB, { id: projectId });
  await new Promise((r) => setTimeout(r, 100));
  ws.complete('4');
  await new Promise((r) => setTimeout(r, 100));
  await api.gql(`mutation { projectRename(input: { projectId: "${projectId}", name: "quiet" }) { userErrors { code } } }`, undefined, ownerToken);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(ws.pending().filter((m) => m.id === '4' && m.type === 'next'), []);
});

test('another tenant cannot watch the project (same answer as a project that does not exist)', async () => {
  const { ws } = await connect({ authorization: `Bearer ${otherToken}` });
  ws.subscribe('5', SUB, { id: projectId });
  const m = await ws.next((x) => x.id === '5');
  assert.equal(m.type, 'error');
  assert.equal(m.payload[0].message, `project ${projectId} does not exist`);
  assert.equal(m.payload[0].extensions.code, 'NOT_FOUND');
});

test('no token: refused at connection_init; a bad token in the payload too; a bad header refuses the upgrade', async () => {
  const none = await connect();
  assert.equal(none.ack.type, 'connection_error');
  assert.equal((await none.ws.waitClosed()).code !== undefined, true);
  const bad = await connect({ authorization: 'Bearer not.a.token' });
  assert.equal(bad.ack.type, 'connection_error');
  const forged = await GraphQLWsClient.open(api.wsUrl, { headers: { authorization: 'Bearer x.y.z' } }).then(() => null, (e) => e);
  assert.equal(forged?.statusCode, 401);
});

test('the server closes the socket of a refused upgrade even when the client keeps it open', async () => {
  const { port } = new URL(api.base);
  const socket = tcpConnect(Number(port), '127.0.0.1');
  let received = '';
  socket.on('data', (d) => { received += d; });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(['GET /graphql HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol: graphql-transport-ws', 'Authorization: Bearer forged.token.here', '', ''].join('\r\n'));
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 3000));
  assert.equal(await Promise.race([closed.then(() => 'closed'), timeout]), 'closed');
  assert.match(received, /^HTTP\/1\.1 401/);
  socket.destroy();
});

test('hostile subscription documents are validated like queries', async () => {
  const { ws } = await connect({ authorization: `Bearer ${ownerToken}` });
  let deep = 'id';
  for (let i = 0; i < 4; i++) deep = `owner { projects { edges { node { ${deep} } } } }`;
  ws.subscribe('6', `subscription { projectChanged(projectId: "${projectId}") { project { ${deep} } } }`);
  const m = await ws.next((x) => x.id === '6');
  assert.equal(m.type, 'error');
  assert.match(m.payload[0].message, /depth limit/i);
  ws.subscribe('7', `subscription { projectChanged(projectId: "${projectId}") { secret } }`);
  const n = await ws.next((x) => x.id === '7');
  assert.equal(n.type, 'error');
  assert.match(n.payload[0].message, /Cannot query field "secret"/);
});

test('the active-subscriptions gauge goes back down when sockets close', async () => {
  for (const s of sockets) s.close();
  await new Promise((r) => setTimeout(r, 300));
  const text = await (await fetch(`${api.base}/metrics`)).text();
  assert.match(text, /ledger_graphql_subscriptions_active 0/);
  assert.match(text, /ledger_changes_published_total [1-9]/);
});

test.run();
