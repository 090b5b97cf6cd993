/**
 * The Components GraphQL API against a real server with the scheduler running in-process (embedded profile) and
 * SIMULATED host agents (they report provisioning slices running): types, requests through placement to RUNNING with
 * replicas on distinct zones, impossible needs as userErrors, power/resize/release, Flat instances, a component built
 * on components, operator type definitions, and the componentChanged subscription. Tenant isolation of every
 * Components operation is walked in test/components-isolation-cases.ts (run by test/api-isolation.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostDecider } from '../layers/resources/index.ts';
import { startScheduler, type Scheduler } from '../layers/components/scheduler/scheduler.ts';
import { seedComponentTypes } from '../layers/components/seed.ts';
import { grid, registerHosts, sleep, until } from '../layers/components/testing/fleet.ts';
import { resourceCommand } from '../layers/resources/index.ts';
import { startApi, type ApiHarness } from './harness/api.ts';
import { GraphQLWsClient } from './harness/api-ws.ts';

let api: ApiHarness;
let scheduler: Scheduler;
let ada: string, bob: string, adaToken: string, bobToken: string, projectId: string;
let agents = true;
let agentLoop: Promise<void>;
const specs = grid(2, 3, 2, 2); // 2 regions × 3 zones × 2 areas × 2 hosts of 16 cores

test.before(async () => {
  api = await startApi();
  await registerHosts(api.ledger, specs);
  await seedComponentTypes(api.ledger);
  scheduler = await startScheduler(api.ledger, { name: 'api-sched', bus: null, sweepIntervalMs: 100, log: () => undefined });
  // SIMULATED agents: every provisioning slice is reported running
  agentLoop = (async () => {
    while (agents) {
      for (const h of specs) {
        const { state } = await api.ledger.load(hostDecider, `Host-${h.hostId}`);
        for (const s of Object.values(state.slices)) {
          if (s.state !== 'provisioning') continue;
          const { stream, decider, command } = resourceCommand('ReportXNodeObserved', { hostId: h.hostId, xnodeId: s.xnodeId, observed: 'running', generation: s.generation, observedAt: new Date().toISOString() });
          await api.ledger.execute(decider, stream, command, { actor: { kind: 'agent', id: h.hostId } }).catch(() => undefined);
        }
      }
      await sleep(30);
    }
  })();
  ada = await api.createUser('Ada');
  bob = await api.createUser('Bob');
  adaToken = await api.tenantToken(ada);
  bobToken = await api.tenantToken(bob);
  projectId = await api.createProject(adaToken, 'shop');
});
test.after(async () => {
  agents = false;
  await agentLoop;
  await scheduler?.stop();
  await api?.close();
});

const COMPONENT = 'id type state power replicaCount replicas { index epoch state host zone region } degradedReason lastDecision { candidates why top { host score } }';
const request = (input: Record<string, unknown>, token = adaToken) => api.gql(
  `mutation($input: ComponentRequestInput!) { componentRequest(input: $input) { component { ${COMPONENT} } userErrors { field message code } } }`, { input }, token);
const component = async (id: string, token = adaToken) => (await api.gql(`query($id: ID!) { component(id: $id) { ${COMPONENT} } }`, { id }, token)).body.data?.component;
const waitState = (id: string, state: string, timeoutMs = 15_000) => until(`${id} ${state}`, async () => (await component(id))?.state === state, timeoutMs, 50);
const SIZE = { cpuCores: 2, ramMiB: 4096, diskGiB: 50 };

test('componentTypes lists the built-in types', async () => {
  const r = await api.gql('{ componentTypes { name distribution access defaultAccess ha { writers replicas } maxReplicas singleRunning pool flatPool { replicas access } } }', undefined, adaToken);
  const types = r.body.data.componentTypes;
  assert.equal(types.map((t: { name: string }) => t.name).sort(), ['cache', 'cloud-disk', 'cloud-host', 'object-store', 'rdbms']);
  const host = types.find((t: { name: string }) => t.name === 'cloud-host');
  assert.equal([host.distribution, host.singleRunning, host.maxReplicas], ['CELL', true, 1]);
  assert.is(types.find((t: { name: string }) => t.name === 'cache').pool, 'component:cloud-host');
  assert.is(types.find((t: { name: string }) => t.name === 'object-store').flatPool.replicas, 2);
});

let db: string;
test('a tenant requests an rdbms: placed on 3 zones, RUNNING, visible through viewer { projects { components } }', async () => {
  const r = await request({ projectId, type: 'rdbms', size: SIZE, replicas: 3, access: 'REGION', regionId: 'r_0' });
  assert.equal(r.body.data.componentRequest.userErrors, [], r.text);
  db = r.body.data.componentRequest.component.id;
  assert.match(db, /^c_/);
  await waitState(db, 'RUNNING');
  const c = await component(db);
  assert.is(c.replicas.length, 3);
  assert.is(new Set(c.replicas.map((x: { zone: string }) => x.zone)).size, 3);
  assert.ok(c.replicas.every((x: { state: string; region: string }) => x.state === 'RUNNING' && x.region === 'r_0'));
  assert.ok(c.lastDecision.candidates > 0 && c.lastDecision.why.includes('→'));
  const v = await api.gql('{ viewer { projects { nodes { id components { totalCount nodes { id type state replicas { state host zone region } } } } } } }', undefined, adaToken);
  const p = v.body.data.viewer.projects.nodes.find((x: { id: string }) => x.id === projectId);
  assert.is(p.components.totalCount, 1);
  assert.is(p.components.nodes[0].id, db);
  const node = await api.gql(`{ node(id: "${db}") { ... on Component { id state } } }`, undefined, adaToken);
  assert.equal(node.body.data.node, { id: db, state: 'RUNNING' });
});

test('impossible needs are refused with clear userErrors, nothing appended', async () => {
  const head = await api.head();
  const code = async (input: Record<string, unknown>) => (await request(input)).body.data.componentRequest.userErrors[0]?.code;
  assert.is(await code({ projectId, type: 'mainframe', size: SIZE, access: 'REGION', regionId: 'r_0' }), 'UNKNOWN_TYPE');
  assert.is(await code({ projectId, type: 'rdbms', size: { cpuCores: 64, ramMiB: 4096, diskGiB: 10 }, access: 'REGION', regionId: 'r_0' }), 'SIZE_EXCEEDS_ANY_HOST');
  assert.is(await code({ projectId, type: 'rdbms', size: SIZE, access: 'REGION', regionId: 'r_9' }), 'NO_CAPACITY_IN_SCOPE');
  assert.is(await code({ projectId, type: 'rdbms', size: SIZE, replicas: 4, access: 'REGION', regionId: 'r_0' }), 'INSUFFICIENT_FAILURE_DOMAINS');
  assert.is(await code({ projectId, type: 'rdbms', size: SIZE, replicas: 3, access: 'FULL' }), 'INSUFFICIENT_FAILURE_DOMAINS');
  assert.is(await code({ projectId, type: 'rdbms', size: SIZE, replicas: 9, access: 'REGION', regionId: 'r_0' }), 'TOO_MANY_REPLICAS');
  assert.is(await code({ projectId, type: 'cloud-disk', size: SIZE, access: 'FULL' }), 'ACCESS_NOT_ALLOWED');
  assert.is(await code({ projectId, type: 'rdbms', size: SIZE, access: 'REGION' }), 'SCOPE_REQUIRED');
  assert.is(await code({ projectId, type: 'cloud-host', size: { cpuCores: 0, ramMiB: 1, diskGiB: 1 }, access: 'ZONE', zoneId: 'z_0_0' }), 'INVALID_INPUT');
  // The scheduler and the simulated agents may still be finishing the previous test's component in the background:
  // what must not exist is anything the refused requests wrote (the tenant is their only actor).
  const after = await api.ledger.store.readAll({ after: head, maxCount: 10_000 });
  assert.equal(after.filter((e) => e.metadata.actor.kind === 'tenant' || e.type === 'ComponentRequested').map((e) => `${e.streamId} ${e.type}`), [], 'refusals append nothing');
});

test('power off, resize (only when off), power on; subscription pushes the changes', async () => {
  const ws = await GraphQLWsClient.open(api.wsUrl);
  const ack = await ws.init({ authorization: `Bearer ${adaToken}` });
  assert.is(ack.type, 'connection_ack');
  ws.subscribe('c', 'subscription($p: ID!) { componentChanged(projectId: $p) { componentId eventType revision component { id state power } } }', { p: projectId });
  const other = await GraphQLWsClient.open(api.wsUrl);
  await other.init({ authorization: `Bearer ${bobToken}` });
  other.subscribe('x', 'subscription($p: ID!) { componentChanged(projectId: $p) { componentId } }', { p: projectId });
  const refused = await other.next((m) => m.id === 'x');
  assert.is(refused.type, 'error');
  other.close();
  await sleep(100);
  const resizeOn = await api.gql(`mutation { componentResize(input: { componentId: "${db}", size: { cpuCores: 4, ramMiB: 8192, diskGiB: 50 } }) { userErrors { code } } }`, undefined, adaToken);
  assert.is(resizeOn.body.data.componentResize.userErrors[0].code, 'COMPONENT_MUST_BE_STOPPED');
  const off = await api.gql(`mutation { componentPower(input: { componentId: "${db}", action: OFF }) { component { power } userErrors { code } } }`, undefined, adaToken);
  assert.equal(off.body.data.componentPower, { component: { power: 'OFF' }, userErrors: [] });
  const m = await ws.next((x) => x.id === 'c' && x.payload?.data?.componentChanged?.eventType === 'ComponentPowerRequested', 10_000);
  assert.is(m.payload.data.componentChanged.component.id, db);
  await until('replicas stopped', async () => (await component(db)).replicas.every((x: { state: string }) => x.state === 'STOPPED'), 10_000);
  const resized = await api.gql(`mutation { componentResize(input: { componentId: "${db}", template: STANDARD }) { component { id } userErrors { code message } } }`, undefined, adaToken);
  assert.equal(resized.body.data.componentResize.userErrors, []);
  const on = await api.gql(`mutation { componentPower(input: { componentId: "${db}", action: ON }) { userErrors { code } } }`, undefined, adaToken);
  assert.equal(on.body.data.componentPower.userErrors, []);
  await waitState(db, 'RUNNING');
  ws.close();
});

test('Flat object store: carved in the pool at once, its replicas are the pool\'s', async () => {
  await until('object-store pool placed', async () => {
    const t = (await api.gql('{ componentTypes { name flatPool { componentId } } }', undefined, api.operatorToken)).body.data.componentTypes.find((x: { name: string }) => x.name === 'object-store');
    const pool = t.flatPool?.componentId;
    return !!pool && (await component(pool, api.operatorToken))?.state === 'RUNNING';
  }, 15_000);
  const r = await request({ projectId, type: 'object-store', template: 'NORMAL', access: 'FULL' });
  assert.equal(r.body.data.componentRequest.userErrors, [], r.text);
  const c = r.body.data.componentRequest.component;
  assert.is(c.state, 'RUNNING');
  assert.is(c.replicas.length, 2);
  const bad = await request({ projectId, type: 'object-store', size: { cpuCores: 1, ramMiB: 256, diskGiB: 900 }, access: 'FULL' });
  assert.is(bad.body.data.componentRequest.userErrors[0].code, 'POOL_EXHAUSTED');
});

test('a cache is built on cloud-host components, one per replica, on distinct zones', async () => {
  const r = await request({ projectId, type: 'cache', size: SIZE, replicas: 2, access: 'REGION', regionId: 'r_1' });
  assert.equal(r.body.data.componentRequest.userErrors, [], r.text);
  const id = r.body.data.componentRequest.component.id;
  await waitState(id, 'RUNNING', 20_000);
  const c = await component(id);
  assert.is(new Set(c.replicas.map((x: { zone: string }) => x.zone)).size, 2);
  assert.ok(c.replicas.every((x: { host: string; region: string }) => x.host && x.region === 'r_1'));
});

test('operator defines a type; tenants cannot', async () => {
  const input = `{ name: "queue", description: "a message queue", distribution: CELL, access: [ZONE, REGION], defaultAccess: ZONE, writers: 1, replicas: 2, maxReplicas: 3, hostTypes: [VM],
    sizes: { normal: { cpuCores: 1, ramMiB: 1024, diskGiB: 10 }, standard: { cpuCores: 2, ramMiB: 2048, diskGiB: 20 }, enhanced: { cpuCores: 4, ramMiB: 4096, diskGiB: 40 } } }`;
  const denied = await api.gql(`mutation { componentTypeDefine(input: ${input}) { componentType { name } userErrors { code } } }`, undefined, adaToken);
  assert.is(denied.body.errors[0].extensions.code, 'FORBIDDEN');
  const ok = await api.gql(`mutation { componentTypeDefine(input: ${input}) { componentType { name version distribution ha { replicas } } userErrors { code message } } }`);
  assert.equal(ok.body.data.componentTypeDefine, { componentType: { name: 'queue', version: 1, distribution: 'CELL', ha: { replicas: 2 } }, userErrors: [] });
  const bad = await api.gql(`mutation { componentTypeDefine(input: { name: "Bad Name", description: "", distribution: CELL, access: [ZONE], defaultAccess: REGION, writers: 1, replicas: 1, maxReplicas: 1, hostTypes: [VM], sizes: { normal: { cpuCores: 1, ramMiB: 1, diskGiB: 1 }, standard: { cpuCores: 1, ramMiB: 1, diskGiB: 1 }, enhanced: { cpuCores: 1, ramMiB: 1, diskGiB: 1 } } }) { userErrors { field code } } }`);
  assert.is(bad.body.data.componentTypeDefine.userErrors[0].code, 'INVALID_INPUT');
});

test('release: every slice given back, RELEASED, unlinked from the project', async () => {
  const r = await api.gql(`mutation { componentRelease(input: { componentId: "${db}" }) { component { state } userErrors { code } } }`, undefined, adaToken);
  assert.equal(r.body.data.componentRelease.userErrors, []);
  await waitState(db, 'RELEASED');
  const c = await component(db);
  assert.ok(c.replicas.every((x: { state: string }) => x.state === 'RELEASED'));
  await until('unlinked', async () => {
    const v = await api.gql(`{ project(id: "${projectId}") { components { nodes { id } } } }`, undefined, adaToken);
    return !v.body.data.project.components.nodes.some((n: { id: string }) => n.id === db);
  }, 5000);
});

test.run();
