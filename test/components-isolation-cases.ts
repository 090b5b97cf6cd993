/**
 * Tenant isolation cases for every root field of the Components GraphQL module, for the schema-wide walk of
 * test/api-isolation.test.ts: the probing tenant (Bob) aims every query, mutation and the subscription at the victim's
 * (Alice's) component and project, and gets exactly what it gets for ids that do not exist (same data, same error text
 * once the id is masked), sees none of her ids anywhere, and appends nothing. The shared catalogue (componentTypes)
 * answers Bob the same before and after Alice carves an object-store bucket: a Flat pool's usage, which sums every
 * tenant's instances, is for operators only.
 *
 * The fixture is made on first use: a small fleet, the built-in types, and two components of Alice's (an rdbms,
 * left REQUESTED since no scheduler runs here, and an object-store bucket carved in the Flat pool at once).
 */
import * as assert from 'uvu/assert';
import { seedComponentTypes } from '../layers/components/seed.ts';
import { grid, registerHosts } from '../layers/components/testing/fleet.ts';
import { GraphQLWsClient } from './harness/api-ws.ts';
import type { ApiHarness, GqlResponse } from './harness/api.ts';

export interface ComponentsIsolationEnv {
  api(): ApiHarness;
  /** The probing tenant's (Bob's) token. */
  tenantToken(): string;
  /** The victim (Alice): her token and an active project of hers. */
  victimToken(): string;
  victimProject(): string;
  /** Runs `query` as Bob with `$id` = a real id and a ghost id: identical answers, no leak, nothing appended. */
  probe(name: string, query: string, realId: string, ghostId: string, extra?: Record<string, unknown>): Promise<GqlResponse>;
  assertNoLeak(text: string, sent: string[], what: string): void;
}

interface Fixture { db: string; bucket: string; bobProject: string }

const GHOST_COMPONENT = 'c_00000000000000000000';
const GHOST_PROJECT = 'p_00000000000000000000';
const SIZE = { cpuCores: 2, ramMiB: 2048, diskGiB: 20 };
const TYPES = '{ componentTypes { name version description distribution access defaultAccess ha { writers replicas } maxReplicas singleRunning hostTypes pool retired sizes { normal { cpuCores } } flatPool { componentId size { cpuCores diskGiB } used { cpuCores diskGiB } replicas access } } }';

export function componentsIsolationCases(env: ComponentsIsolationEnv): Record<string, () => Promise<void>> {
  let fixture: Promise<Fixture> | undefined;
  const setup = () => fixture ??= (async (): Promise<Fixture> => {
    const api = env.api();
    await registerHosts(api.ledger, grid(1, 3, 2, 1, { cpuCores: 16, ramMiB: 65536, diskGiB: 4000 }).map((h) => ({ ...h, hostId: `${h.hostId}iso`, regionId: 'r_iso', zoneId: h.zoneId.replace('z_0', 'z_iso') })));
    await seedComponentTypes(api.ledger);
    const request = async (input: Record<string, unknown>) => {
      const r = await api.gql('mutation($input: ComponentRequestInput!) { componentRequest(input: $input) { component { id } userErrors { code message } } }', { input }, env.victimToken());
      const id = r.body.data?.componentRequest?.component?.id;
      if (!id) throw new Error(`fixture componentRequest failed: ${r.text}`);
      return id as string;
    };
    const db = await request({ projectId: env.victimProject(), type: 'rdbms', size: SIZE, replicas: 3, access: 'REGION', regionId: 'r_iso' });
    const bobProject = (await api.gql('mutation { projectCreate(input: { name: "bob components" }) { project { id } } }', undefined, env.tenantToken())).body.data.projectCreate.project.id;
    return { db, bucket: '', bobProject };
  })();
  const f = () => setup();

  /** Alice's ids (the project and the user are checked by the walk itself). */
  const noLeak = async (text: string, sent: string[], what: string) => {
    const x = await f();
    env.assertNoLeak(text, sent, what);
    for (const s of [x.db, x.bucket].filter(Boolean)) if (!sent.includes(s)) assert.not.ok(text.includes(s), `${what}: reveals ${s}: ${text}`);
  };
  /** A mutation aimed at Alice's component and at a ghost: the same COMPONENT_NOT_FOUND, nothing appended. */
  const notFound = async (name: string, query: string, extra?: Record<string, unknown>) => {
    const x = await f();
    const r = await env.probe(name, query, x.db, GHOST_COMPONENT, extra);
    assert.equal(Object.values(r.body.data as Record<string, { component: unknown; userErrors: { code: string }[] }>)[0].userErrors.map((e) => e.code), ['COMPONENT_NOT_FOUND'], `${name}: ${r.text}`);
    await noLeak(r.text, [x.db], name);
  };
  const forbidden = async (name: string, query: string, variables?: Record<string, unknown>) => {
    const api = env.api();
    const head = await api.head();
    const r = await api.gql(query, variables, env.tenantToken());
    assert.is(r.body.errors?.[0]?.extensions?.code, 'FORBIDDEN', `${name}: ${r.text}`);
    await noLeak(r.text, [], name);
    assert.is(await api.head(), head, `${name}: something was appended`);
  };

  return {
    // ── queries ──
    'Query.componentTypes': async () => {
      const api = env.api();
      await f();
      const before = await api.gql(TYPES, undefined, env.tenantToken());
      assert.is(before.body.errors, undefined, before.text);
      const store = before.body.data.componentTypes.find((t: { name: string }) => t.name === 'object-store');
      assert.ok(store.flatPool, 'a tenant sees the pool\'s type-level facts (its HA)');
      assert.is(store.flatPool.used, null, 'not what every tenant together holds in it');
      // Alice carves a bucket: Bob's view of the catalogue does not move
      const carved = await api.gql('mutation($p: ID!) { componentRequest(input: { projectId: $p, type: "object-store", template: NORMAL, access: FULL }) { component { id } userErrors { code message } } }', { p: env.victimProject() }, env.victimToken());
      assert.equal(carved.body.data.componentRequest.userErrors, [], carved.text);
      (await f()).bucket = carved.body.data.componentRequest.component.id;
      await api.ledger.settle();
      const after = await api.gql(TYPES, undefined, env.tenantToken());
      assert.is(after.text, before.text, 'the catalogue answers a tenant the same whatever other tenants hold');
      await noLeak(after.text, [], 'componentTypes');
      // (an operator does see the usage)
      const op = await api.gql(TYPES);
      assert.ok(op.body.data.componentTypes.find((t: { name: string }) => t.name === 'object-store').flatPool.used.diskGiB > 0, op.text);
    },
    'Query.component': async () => {
      const x = await f();
      const q = 'query($id: ID!) { component(id: $id) { id type state power project { id name } replicas { state host } size { cpuCores } lastDecision { why } } }';
      const r = await env.probe('component', q, x.db, GHOST_COMPONENT);
      assert.equal(r.body.data, { component: null });
      if (x.bucket) assert.equal((await env.probe('component(bucket)', q, x.bucket, GHOST_COMPONENT)).body.data, { component: null });
      // and Alice herself does see it (the id probed is real)
      assert.is((await env.api().gql(q, { id: x.db }, env.victimToken())).body.data.component.id, x.db);
    },
    'Query.node(components)': async () => {
      const x = await f();
      const r = await env.probe('node(component)', 'query($id: ID!) { node(id: $id) { __typename id ... on Component { state } } }', x.db, GHOST_COMPONENT);
      assert.equal(r.body.data, { node: null });
    },
    'Query.components': async () => { await f(); await forbidden('components', '{ components(first: 100) { totalCount nodes { id type } } }'); },
    // ── mutations ──
    'Mutation.componentRequest': async () => {
      const x = await f();
      const q = 'mutation($id: ID!, $type: String!) { componentRequest(input: { projectId: $id, type: $type, size: { cpuCores: 2, ramMiB: 2048, diskGiB: 20 }, access: REGION, regionId: "r_iso", idempotencyKey: "same-key" }) { component { id } userErrors { field message code } } }';
      for (const type of ['rdbms', 'object-store', 'no-such-type']) {
        const r = await env.probe(`componentRequest(${type})`, q, env.victimProject(), GHOST_PROJECT, { type });
        assert.equal(r.body.data.componentRequest.userErrors.map((e: { code: string }) => e.code), ['PROJECT_NOT_FOUND'], r.text);
        await noLeak(r.text, [env.victimProject()], 'componentRequest');
      }
      // in his own project Bob gets his own component, whatever key Alice used
      const own = await env.api().gql(q, { id: x.bobProject, type: 'rdbms' }, env.tenantToken());
      assert.equal(own.body.data.componentRequest.userErrors, [], own.text);
      assert.not.equal(own.body.data.componentRequest.component.id, x.db);
      await noLeak(own.text, [], 'componentRequest(own)');
    },
    'Mutation.componentPower': () => notFound('componentPower', 'mutation($id: ID!) { componentPower(input: { componentId: $id, action: OFF }) { component { id power } userErrors { field message code } } }'),
    'Mutation.componentResize': async () => {
      await notFound('componentResize', 'mutation($id: ID!) { componentResize(input: { componentId: $id, template: ENHANCED }) { component { id size { cpuCores } } userErrors { field message code } } }');
      // an impossible size says nothing either: the component is not found before the size is looked at
      await notFound('componentResize(huge)', 'mutation($id: ID!) { componentResize(input: { componentId: $id, size: { cpuCores: 4096, ramMiB: 1, diskGiB: 1 } }) { userErrors { field message code } } }');
    },
    'Mutation.componentRelease': () => notFound('componentRelease', 'mutation($id: ID!) { componentRelease(input: { componentId: $id, reason: "mine now" }) { component { id state } userErrors { field message code } } }'),
    'Mutation.componentTypeDefine': async () => {
      await f();
      await forbidden('componentTypeDefine', `mutation { componentTypeDefine(input: { name: "rdbms", description: "hijacked", distribution: CELL, access: [ZONE], defaultAccess: ZONE, writers: 1, replicas: 1, maxReplicas: 1, hostTypes: [VM],
        sizes: { normal: { cpuCores: 1, ramMiB: 1, diskGiB: 1 }, standard: { cpuCores: 1, ramMiB: 1, diskGiB: 1 }, enhanced: { cpuCores: 1, ramMiB: 1, diskGiB: 1 } } }) { componentType { name version } userErrors { code } } }`);
    },
    // ── subscription ──
    'Subscription.componentChanged': async () => {
      const x = await f();
      const api = env.api();
      const ws = await GraphQLWsClient.open(api.wsUrl);
      try {
        assert.is((await ws.init({ authorization: `Bearer ${env.tenantToken()}` })).type, 'connection_ack');
        const q = 'subscription($id: ID!) { componentChanged(projectId: $id) { componentId eventType component { id state } } }';
        ws.subscribe('real', q, { id: env.victimProject() });
        ws.subscribe('ghost', q, { id: GHOST_PROJECT });
        const real = await ws.next((m) => m.id === 'real');
        const ghost = await ws.next((m) => m.id === 'ghost');
        assert.is(real.type, 'error');
        const mask = (m: unknown, id: string) => JSON.stringify(m).split(id).join('<ID>');
        assert.is(mask(real.payload, env.victimProject()), mask(ghost.payload, GHOST_PROJECT));
        await noLeak(JSON.stringify(real), [env.victimProject()], 'componentChanged');
        // Bob's own project: Alice's changes never reach it, his own do
        ws.subscribe('own', q, { id: x.bobProject });
        await new Promise((r) => setTimeout(r, 150));
        const off = await api.gql(`mutation { componentPower(input: { componentId: "${x.db}", action: OFF }) { userErrors { code } } }`, undefined, env.victimToken());
        assert.equal(off.body.data.componentPower.userErrors, [], off.text);
        const mine = await api.gql(`mutation { componentRequest(input: { projectId: "${x.bobProject}", type: "rdbms", size: { cpuCores: 2, ramMiB: 2048, diskGiB: 20 }, access: REGION, regionId: "r_iso" }) { component { id } userErrors { code } } }`, undefined, env.tenantToken());
        const mineId = mine.body.data.componentRequest.component.id;
        const pushed = await ws.next((m) => m.id === 'own', 10_000);
        assert.is(pushed.payload.data.componentChanged.componentId, mineId, 'the first change Bob hears of is his own');
        await new Promise((r) => setTimeout(r, 300));
        for (const m of ws.pending()) await noLeak(JSON.stringify(m), [], 'componentChanged stream');
      } finally { ws.close(); }
    },
  };
}
