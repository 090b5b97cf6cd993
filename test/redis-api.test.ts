/**
 * Distributed profile on loopback with a real redis-server: two API instances (A and B, each with its own store
 * handle, Redis readers and Redis pub/sub) and one Redis projector. A change made through A reaches a WebSocket
 * subscriber connected to B (published once, by the projector, after the read model committed it), B's queries see
 * it, tenant scope still applies to subscriptions, and with Redis down both instances keep answering (health says
 * degraded, reads that need Redis get a clear UNAVAILABLE error) and recover once it is back.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { discoverModules } from '../api/graphql/schema.ts';
import { RedisPubSub } from '../api/pubsub/redis.ts';
import { buildServer } from '../api/server.ts';
import { loadConfig } from '../core/config.ts';
import { openLedger, type Ledger } from '../core/ledger.ts';
import { until } from '../layers/components/testing/fleet.ts';
import { isConnectionError, RedisReadModels } from '../projections/redis/readers.ts';
import { startRedisProjections, type RunningRedisProjections } from '../projections/redis/start.ts';
import { startApi, type ApiHarness } from './harness/api.ts';
import { GraphQLWsClient } from './harness/api-ws.ts';
import { startRedisServer, type RedisServerHandle } from './harness/redis-server.ts';

let redis: RedisServerHandle;
let a: ApiHarness;
let b: { ledger: Ledger; app: FastifyInstance; url: string; wsUrl: string; base: string };
let projector: RunningRedisProjections;
const closers: (() => Promise<void>)[] = [];
let ownerToken: string, otherToken: string, projectId: string;

async function gql(url: string, query: string, token: string, variables?: Record<string, unknown>) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  return { status: res.status, body: await res.json() as any };
}

test.before(async () => {
  redis = await startRedisServer();
  const modules = await discoverModules();
  const shared = async () => {
    const rm = await RedisReadModels.connect(redis.url);
    const ps = new RedisPubSub(redis.url);
    closers.push(async () => { await ps.close(); await rm.close(); });
    return { redisReadModels: rm, pubsub: ps, publishChanges: false as const, responseCache: true };
  };
  a = await startApi(await shared());
  // B: another API instance over the same log (its own store handle), reading only Redis for the shared registers
  const config = loadConfig({ LEDGER_DATA_DIR: a.dir, LEDGER_LOG_LEVEL: 'silent' });
  const ledger = await openLedger(config, { projections: [] });
  const app = await buildServer(ledger, { modules, logger: false, ...(await shared()) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  b = { ledger, app, base: `http://127.0.0.1:${port}`, url: `http://127.0.0.1:${port}/graphql`, wsUrl: `ws://127.0.0.1:${port}/graphql` };
  // the one projector: folds the log into Redis and publishes the change messages there
  projector = await startRedisProjections(a.ledger.store, redis.url, { changeFeeds: modules.flatMap((m) => m.changeFeeds ?? []), log: { warn: () => {}, error: () => {} } });
  const owner = await a.createUser('Owner');
  const other = await a.createUser('Other');
  ownerToken = await a.tenantToken(owner);
  otherToken = await a.tenantToken(other);
  projectId = await a.createProject(ownerToken, 'shared');
});

test.after(async () => {
  await b?.app.close();
  await b?.ledger.close();
  await a?.close();
  await projector?.stop();
  for (const c of closers) await c();
  await redis?.stop();
});

const SUB = 'subscription($id: ID!) { projectChanged(projectId: $id) { eventType project { id name } } }';

test('a mutation through A reaches a subscriber on B, and B reads the change from Redis', async () => {
  // read-your-writes on A: the mutation answered from Redis after the projector committed it
  const created = await gql(a.url, 'query($id: ID!) { project(id: $id) { id name } }', ownerToken, { id: projectId });
  assert.equal(created.body.data.project, { id: projectId, name: 'shared' });

  const ws = await GraphQLWsClient.open(b.wsUrl);
  try {
    await ws.init({ authorization: `Bearer ${ownerToken}` });
    ws.subscribe('1', SUB, { id: projectId });
    await new Promise((r) => setTimeout(r, 200));
    const renamed = await gql(a.url, `mutation { projectRename(input: { projectId: "${projectId}", name: "renamed via A" }) { project { name } userErrors { code } } }`, ownerToken);
    assert.equal(renamed.body.data.projectRename, { project: { name: 'renamed via A' }, userErrors: [] });
    const m = await ws.next((x) => x.id === '1', 5000);
    assert.is(m.type, 'next');
    assert.equal(m.payload.data.projectChanged, { eventType: 'ProjectRenamed', project: { id: projectId, name: 'renamed via A' } });
    const onB = await gql(b.url, '{ viewer { projects(first: 5) { totalCount nodes { id name } } } }', ownerToken);
    assert.equal(onB.body.data.viewer.projects, { totalCount: 1, nodes: [{ id: projectId, name: 'renamed via A' }] });
    ws.complete('1');
  } finally { ws.close(); }
});

test('tenant scope applies to subscriptions on B: another tenant cannot watch the project', async () => {
  const ws = await GraphQLWsClient.open(b.wsUrl);
  try {
    await ws.init({ authorization: `Bearer ${otherToken}` });
    ws.subscribe('2', SUB, { id: projectId });
    const m = await ws.next((x) => x.id === '2', 5000);
    assert.is(m.type, 'error');
    assert.match(JSON.stringify(m.payload), /does not exist/);
  } finally { ws.close(); }
});

test('operator lists on B come from the Redis RRegister (pages, totalCount)', async () => {
  for (const name of ['north', 'south', 'west']) {
    const r = await gql(a.url, `mutation { regionRegister(input: { id: "r_${name}", name: "${name}" }) { region { id } userErrors { code message } } }`, a.operatorToken);
    assert.is(r.body.data.regionRegister.region.id, `r_${name}`, JSON.stringify(r.body));
  }
  const page1 = await gql(b.url, '{ regions(first: 2) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } }', a.operatorToken);
  assert.equal(page1.body.data.regions.nodes.map((n: { id: string }) => n.id), ['r_north', 'r_south']);
  assert.is(page1.body.data.regions.totalCount, 3);
  assert.is(page1.body.data.regions.pageInfo.hasNextPage, true);
  const page2 = await gql(b.url, `{ regions(first: 2, after: "${page1.body.data.regions.pageInfo.endCursor}") { nodes { id } pageInfo { hasNextPage } } }`, a.operatorToken);
  assert.equal(page2.body.data.regions, { nodes: [{ id: 'r_west' }], pageInfo: { hasNextPage: false } });
});

test('errors of the connection (not of the command) are told apart, so a read that lost Redis answers UNAVAILABLE', async () => {
  const { Redis } = await import('ioredis');
  // a real connection error: a client pointed at a closed port, no retries
  const dead = new Redis({ port: 1, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  const connectError = await dead.connect().then(() => null, (e: unknown) => e);
  assert.ok(isConnectionError(connectError), `connect to a closed port: ${String(connectError)}`);
  const closedError = await dead.get('k').then(() => null, (e: unknown) => e);
  assert.ok(isConnectionError(closedError), `a command on a closed connection: ${String(closedError)}`);
  dead.disconnect();
  // a command error on a live connection is not one
  const live = new Redis(redis.url);
  try {
    await live.set('ledger-test:string', 'x');
    const wrongType = await live.hget('ledger-test:string', 'f').then(() => null, (e: unknown) => e);
    assert.ok(wrongType instanceof Error && /WRONGTYPE/.test(wrongType.message), String(wrongType));
    assert.not.ok(isConnectionError(wrongType));
    assert.ok(isConnectionError(Object.assign(new Error('LOADING Redis is loading the dataset in memory'), {})));
  } finally { live.disconnect(); }
});

test('Redis down: both instances keep answering, degraded, with a clear error for reads that need Redis; then recover', async () => {
  await redis.kill();
  try {
    await until('B notices', async () => (await (await fetch(`${b.base}/healthz`)).json() as any).status === 'degraded', 5000, 50);
    const ready = await fetch(`${b.base}/readyz`);
    const readyBody = await ready.json() as any;
    assert.is(ready.status, 200, JSON.stringify(readyBody));
    assert.is(readyBody.status, 'degraded');
    const q = await gql(b.url, 'query($id: ID!) { project(id: $id) { id name } }', ownerToken, { id: projectId });
    assert.is(q.status, 200);
    assert.is(q.body.data.project, null);
    assert.is(q.body.errors[0].extensions.code, 'UNAVAILABLE');
    assert.match(q.body.errors[0].message, /Redis/);
    // what does not need Redis still works (token checks, the store)
    const types = await gql(a.url, '{ __typename }', ownerToken);
    assert.equal(types.body.data, { __typename: 'Query' });
  } finally {
    await redis.start();
  }
  await until('B reads again', async () => (await gql(b.url, 'query($id: ID!) { project(id: $id) { name } }', ownerToken, { id: projectId })).body.data?.project?.name === 'renamed via A', 10_000, 100);
  // the projector resumed too: a change through B is visible on A
  const r = await gql(b.url, `mutation { projectRename(input: { projectId: "${projectId}", name: "after the outage" }) { project { name } } }`, ownerToken);
  assert.is(r.body.data.projectRename.project.name, 'after the outage');
  assert.is((await gql(a.url, 'query($id: ID!) { project(id: $id) { name } }', ownerToken, { id: projectId })).body.data.project.name, 'after the outage');
  assert.is((await (await fetch(`${b.base}/healthz`)).json() as any).status, 'ok');
});

test.run();
