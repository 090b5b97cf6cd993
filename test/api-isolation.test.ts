/**
 * Tenant isolation: tenant B walks EVERY query, mutation and subscription of the schema with A's ids, and gets
 * exactly what it gets for ids that do not exist (same data, same error text once the id itself is masked);
 * nothing of A's (names, ids it did not send) appears anywhere in B's answers, and nothing is appended to A's streams.
 * The walk is checked against the schema: a new root field without a case here fails this test.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startApi, type ApiHarness } from './harness/api.ts';
import { GraphQLWsClient } from './harness/api-ws.ts';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

let api: ApiHarness;
let alice: string, bob: string, aliceToken: string, bobToken: string;
let aliceProject: string, aliceArchived: string, bobProject: string;
const ALICE_NAME = 'Alice Secretname';
const ALICE_PROJECT = 'alpha-confidential';

test.before(async () => {
  api = await startApi();
  alice = await api.createUser(ALICE_NAME);
  bob = await api.createUser('Bob');
  aliceToken = await api.tenantToken(alice);
  bobToken = await api.tenantToken(bob);
  aliceProject = await api.createProject(aliceToken, ALICE_PROJECT);
  aliceArchived = await api.createProject(aliceToken, `${ALICE_PROJECT}-old`);
  await api.gql(`mutation { projectArchive(input: { projectId: "${aliceArchived}" }) { userErrors { code } } }`, undefined, aliceToken);
  bobProject = await api.createProject(bobToken, 'bob project');
});
test.after(async () => { await api?.close(); });

/** Alice's secrets that must never show up in Bob's answers (unless Bob sent them himself). */
const secrets = () => [ALICE_NAME, ALICE_PROJECT, alice, aliceProject, aliceArchived];

function assertNoLeak(text: string, sent: string[], what: string) {
  for (const s of secrets()) {
    if (sent.includes(s)) continue;
    assert.not.ok(text.includes(s), `${what}: answer reveals ${JSON.stringify(s)}: ${text}`);
  }
}
const mask = (text: string, id: string) => text.split(id).join('<ID>');

/**
 * Runs `query` as Bob with `$id` = Alice's id and with an id of the same shape that does not exist; the two answers
 * must be identical once the id is masked, and must not reveal anything else of Alice's.
 */
async function probe(name: string, query: string, aliceId: string, ghostId: string, extra: Record<string, unknown> = {}) {
  const headBefore = await api.head();
  const real = await api.gql(query, { id: aliceId, ...extra }, bobToken);
  const ghost = await api.gql(query, { id: ghostId, ...extra }, bobToken);
  assert.equal(real.status, ghost.status, `${name}: HTTP status differs`);
  assert.equal(mask(real.text, aliceId), mask(ghost.text, ghostId), `${name}: answers differ for a foreign id and a missing one`);
  assertNoLeak(real.text, [aliceId], name);
  assert.equal(await api.head(), headBefore, `${name}: something was appended`);
  return real;
}

const cases: Record<string, () => Promise<void>> = {
  // ── queries ──
  'Query.node': async () => {
    await probe('node(project)', 'query($id: ID!) { node(id: $id) { __typename id ... on Project { name owner { id name } } } }', aliceProject, 'p_00000000000000000000');
    await probe('node(archived project)', 'query($id: ID!) { node(id: $id) { id } }', aliceArchived, 'p_00000000000000000001');
    await probe('node(user)', 'query($id: ID!) { node(id: $id) { __typename id ... on User { name projects { totalCount } } } }', alice, 'u_00000000000000000000');
  },
  'Query.viewer': async () => {
    const r = await api.gql('{ viewer { id name projects(first: 100, includeArchived: true) { totalCount edges { node { id name owner { id } } } } } }', undefined, bobToken);
    assert.equal(r.body.data.viewer.id, bob);
    assert.equal(r.body.data.viewer.projects.edges.map((e: any) => e.node.id), [bobProject]);
    assertNoLeak(r.text, [], 'viewer');
  },
  'Query.user': async () => {
    const r = await probe('user', 'query($id: ID!) { user(id: $id) { id name status projects { totalCount } } }', alice, 'u_00000000000000000000');
    assert.equal(r.body.data.user, null);
  },
  'Query.users': async () => {
    const r = await api.gql('{ users(first: 100) { totalCount nodes { id name } } }', undefined, bobToken);
    assert.equal(r.body.errors[0].extensions.code, 'FORBIDDEN');
    assertNoLeak(r.text, [], 'users');
  },
  'Query.project': async () => {
    const r = await probe('project', 'query($id: ID!) { project(id: $id) { id name status owner { id name } quotas { cpuCores } } }', aliceProject, 'p_00000000000000000000');
    assert.equal(r.body.data.project, null);
    await probe('project(archived)', 'query($id: ID!) { project(id: $id) { id } }', aliceArchived, 'p_00000000000000000000');
  },
  // ── mutations: operator-only ones are refused outright for tenants ──
  'Mutation.userCreate': async () => {
    const head = await api.head();
    const r = await api.gql('mutation { userCreate(input: { name: "Mallory" }) { user { id } userErrors { code } } }', undefined, bobToken);
    assert.equal(r.body.data.userCreate, null);
    assert.equal(r.body.errors[0].extensions.code, 'FORBIDDEN');
    assert.equal(await api.head(), head);
  },
  'Mutation.userRename': async () => {
    const r = await probe('userRename', 'mutation($id: ID!) { userRename(input: { userId: $id, name: "Pwned" }) { user { id name } userErrors { field message code } } }', alice, 'u_00000000000000000000');
    assert.equal(r.body.errors[0].extensions.code, 'FORBIDDEN');
  },
  'Mutation.userSuspend': async () => {
    const r = await probe('userSuspend', 'mutation($id: ID!) { userSuspend(input: { userId: $id }) { user { id status } userErrors { code } } }', alice, 'u_00000000000000000000');
    assert.equal(r.body.errors[0].extensions.code, 'FORBIDDEN');
  },
  'Mutation.userReactivate': async () => {
    const r = await probe('userReactivate', 'mutation($id: ID!) { userReactivate(input: { userId: $id }) { user { id } userErrors { code } } }', alice, 'u_00000000000000000000');
    assert.equal(r.body.errors[0].extensions.code, 'FORBIDDEN');
  },
  // ── mutations on projects: another tenant's project is "does not exist" ──
  'Mutation.projectCreate': async () => {
    // no ids to aim at: it always creates in the caller's own scope
    const r = await api.gql('mutation { projectCreate(input: { name: "bob two" }) { project { id owner { id } } userErrors { code } } }', undefined, bobToken);
    assert.equal(r.body.data.projectCreate.project.owner.id, bob);
    assertNoLeak(r.text, [], 'projectCreate');
    const seen = await api.gql(`{ project(id: "${r.body.data.projectCreate.project.id}") { id } }`, undefined, aliceToken);
    assert.equal(seen.body.data.project, null, 'and Alice does not see Bob\'s new project either');
  },
  'Mutation.projectRename': async () => {
    const r = await probe('projectRename', 'mutation($id: ID!) { projectRename(input: { projectId: $id, name: "pwned" }) { project { id name } userErrors { field message code } } }', aliceProject, 'p_00000000000000000000');
    assert.equal(r.body.data.projectRename.userErrors[0].code, 'PROJECT_NOT_FOUND');
    await probe('projectRename(archived)', 'mutation($id: ID!) { projectRename(input: { projectId: $id, name: "pwned" }) { userErrors { field message code } } }', aliceArchived, 'p_00000000000000000000');
  },
  'Mutation.projectArchive': async () => {
    const r = await probe('projectArchive', 'mutation($id: ID!) { projectArchive(input: { projectId: $id }) { project { id status } userErrors { field message code } } }', aliceProject, 'p_00000000000000000000');
    assert.equal(r.body.data.projectArchive.userErrors[0].code, 'PROJECT_NOT_FOUND');
    await probe('projectArchive(archived)', 'mutation($id: ID!) { projectArchive(input: { projectId: $id }) { userErrors { field message code } } }', aliceArchived, 'p_00000000000000000000');
  },
  'Mutation.projectSetQuotas': async () => {
    const q = 'mutation($id: ID!, $c: Int) { projectSetQuotas(input: { projectId: $id, quotas: { components: $c } }) { project { id quotas { components } } userErrors { field message code } } }';
    const r = await probe('projectSetQuotas', q, aliceProject, 'p_00000000000000000000', { c: 0 });
    assert.equal(r.body.data.projectSetQuotas.userErrors[0].code, 'PROJECT_NOT_FOUND');
    await probe('projectSetQuotas(bad value)', q, aliceProject, 'p_00000000000000000000', { c: -1 });
  },
  // ── subscriptions ──
  'Subscription.projectChanged': async () => {
    const ws = await GraphQLWsClient.open(api.wsUrl);
    try {
      assert.equal((await ws.init({ authorization: `Bearer ${bobToken}` })).type, 'connection_ack');
      const q = 'subscription($id: ID!) { projectChanged(projectId: $id) { eventType project { id name } } }';
      ws.subscribe('real', q, { id: aliceProject });
      ws.subscribe('ghost', q, { id: 'p_00000000000000000000' });
      const real = await ws.next((m) => m.id === 'real');
      const ghost = await ws.next((m) => m.id === 'ghost');
      assert.equal(real.type, 'error');
      assert.equal(mask(JSON.stringify(real.payload), aliceProject), mask(JSON.stringify(ghost.payload), 'p_00000000000000000000'));
      assertNoLeak(JSON.stringify(real), [aliceProject], 'projectChanged');
      // and a change to Alice's project reaches no subscription of Bob's
      ws.subscribe('own', q, { id: bobProject });
      await new Promise((r) => setTimeout(r, 100));
      await api.gql(`mutation { projectRename(input: { projectId: "${aliceProject}", name: "${ALICE_PROJECT}" }) { userErrors { code } } }`, undefined, aliceToken);
      await api.gql(`mutation { projectSetQuotas(input: { projectId: "${aliceProject}", quotas: { cpuCores: 2 } }) { userErrors { code } } }`, undefined, aliceToken);
      await new Promise((r) => setTimeout(r, 300));
      for (const m of ws.pending()) assertNoLeak(JSON.stringify(m), [aliceProject], 'projectChanged stream');
    } finally { ws.close(); }
  },
};

/**
 * Other layers' cases: every `test/<layer>-isolation-cases.ts` is loaded, and each exported function named
 * `<something>IsolationCases(env)` adds its cases (keyed `Type.field`). `env` gives the API, the probing tenant's
 * (Bob's) token, the victim tenant (Alice) with a project of hers, and `probe` / `assertNoLeak` as used above.
 */
export interface IsolationEnv {
  api(): ApiHarness;
  /** The probing tenant's (Bob's) token. */
  tenantToken(): string;
  /** The victim tenant (Alice): her token, user id and an active project of hers. */
  victimToken(): string;
  victimUser(): string;
  victimProject(): string;
  probe: typeof probe;
  /** Fails when `text` holds one of Alice's names or ids (other than those in `sent`). */
  assertNoLeak(text: string, sent: string[], what: string): void;
}
const env: IsolationEnv = {
  api: () => api, tenantToken: () => bobToken,
  victimToken: () => aliceToken, victimUser: () => alice, victimProject: () => aliceProject,
  probe, assertNoLeak,
};
const here = dirname(fileURLToPath(import.meta.url));
for (const file of readdirSync(here).filter((f) => f.endsWith('-isolation-cases.ts')).sort()) {
  const mod = await import(pathToFileURL(join(here, file)).href) as Record<string, unknown>;
  for (const [name, fn] of Object.entries(mod)) {
    if (!name.endsWith('IsolationCases') || typeof fn !== 'function') continue;
    for (const [field, run] of Object.entries((fn as (e: IsolationEnv) => Record<string, () => Promise<void>>)(env))) {
      if (field in cases) throw new Error(`${file}: ${field} already has an isolation case`);
      cases[field] = run;
    }
  }
}

test('the walk covers every root field of the schema', () => {
  const schema = api.app.ledgerApi.api.schema;
  const fields = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]
    .flatMap((t) => (t ? Object.keys(t.getFields()).map((f) => `${t.name}.${f}`) : []));
  const missing = fields.filter((f) => !(f in cases));
  assert.equal(missing, [], `root fields without an isolation case: ${missing.join(', ')}`);
});

for (const [field, run] of Object.entries(cases)) test(`tenant B cannot reach tenant A through ${field}`, run);

test('Alice\'s data is untouched and the operator still sees it (the ids probed were real)', async () => {
  const r = await api.gql(`{ user(id: "${alice}") { name status } project(id: "${aliceProject}") { name status quotas { components } } }`);
  assert.equal(r.body.data.user, { name: ALICE_NAME, status: 'ACTIVE' });
  assert.equal(r.body.data.project.name, ALICE_PROJECT);
  assert.equal(r.body.data.project.status, 'ACTIVE');
  assert.equal(r.body.data.project.quotas.components, null);
  const events = await api.ledger.store.readStream(`Project-${aliceProject}`);
  assert.ok(events.every((e) => e.metadata.actor.id === alice), 'only Alice ever wrote to her project');
});

test.run();
