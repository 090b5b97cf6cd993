/**
 * The GraphQL response cache (api/graphql/response-cache.ts) against a real server: which answers it serves, to whom,
 * and that every change of the projects read model — through the API, through a service call in the process, by
 * another writer of the read-model database — makes the next query execute again (read-your-writes included).
 * Hits and misses are read from /metrics (ledger_graphql_response_cache_total).
 */
import Database from 'better-sqlite3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProjectsService } from '../layers/projects/service.ts';
import { startApi, type ApiHarness, type GqlResponse } from './harness/api.ts';

let api: ApiHarness;
let ada: string;
let adaToken: string;
let bob: string;
let bobToken: string;
let adaProject: string;

const VIEWER = '{ viewer { id name status projects(first: 20) { totalCount edges { cursor node { id name status quotas { cpuCores } } } pageInfo { hasNextPage endCursor } } } }';

/** Hits and misses so far. */
async function counts(): Promise<{ hit: number; miss: number }> {
  const text = await (await fetch(`${api.base}/metrics`)).text();
  const of = (result: string) => Number(new RegExp(`^ledger_graphql_response_cache_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { hit: of('hit'), miss: of('miss') };
}

/** Runs `fn` and returns how many hits and misses it caused. */
async function delta(fn: () => Promise<unknown>): Promise<{ hit: number; miss: number }> {
  const before = await counts();
  await fn();
  const after = await counts();
  return { hit: after.hit - before.hit, miss: after.miss - before.miss };
}

const names = (r: { body: { data: any } }) => r.body.data.viewer.projects.edges.map((e: any) => e.node.name);

test.before(async () => {
  api = await startApi({ rateLimit: false });
  ada = await api.createUser('Ada');
  bob = await api.createUser('Bob');
  adaToken = await api.tenantToken(ada);
  bobToken = await api.tenantToken(bob);
  adaProject = await api.createProject(adaToken, 'ada one');
  await api.createProject(bobToken, 'bob one');
});
test.after(async () => { await api?.close(); });

test('a repeated query is answered from the cache with the bytes the executed answer had', async () => {
  let first!: GqlResponse<any>;
  let second!: GqlResponse<any>;
  assert.equal(await delta(async () => { first = await api.gql(VIEWER, undefined, adaToken); }), { hit: 0, miss: 1 });
  assert.equal(await delta(async () => { second = await api.gql(VIEWER, undefined, adaToken); }), { hit: 1, miss: 0 });
  assert.equal(first.status, 200);
  assert.equal(second.status, 200);
  assert.is(second.text, first.text);
  assert.equal(names(second), ['ada one']);
  assert.match(second.headers.get('content-type') ?? '', /application\/json/);
  assert.ok(second.headers.get('x-correlation-id'), 'a cached answer still carries its own correlation id');
  assert.is.not(second.headers.get('x-correlation-id'), first.headers.get('x-correlation-id'));
});

test('answers are per caller: the same query text from another tenant or an operator is executed for them', async () => {
  await api.gql(VIEWER, undefined, adaToken); // cached for Ada
  let bobs!: GqlResponse<any>;
  assert.equal(await delta(async () => { bobs = await api.gql(VIEWER, undefined, bobToken); }), { hit: 0, miss: 1 });
  assert.is(bobs.body.data.viewer.id, bob);
  assert.equal(names(bobs), ['bob one']);
  assert.not.match(bobs.text, /ada one|Ada/);
  const op = await api.gql(VIEWER);
  assert.is(op.body.data.viewer, null, 'an operator has no viewer, even with a tenant answer cached');
  // a second token of the same user is the same identity: it may share the answer (nothing in it depends on the token)
  const adaToken2 = await api.tenantToken(ada);
  assert.equal(await delta(() => api.gql(VIEWER, undefined, adaToken2)), { hit: 1, miss: 0 });
});

test('authentication runs before the cache: no token, a bad or a tampered token never gets a cached answer', async () => {
  await api.gql(VIEWER, undefined, adaToken);
  assert.is((await api.gql(VIEWER, undefined, null)).status, 401);
  assert.is((await api.gql(VIEWER, undefined, 'not-a-token')).status, 401);
  const [h, p, s] = adaToken.split('.');
  const tampered = `${h}.${p}.${s!.slice(0, -2)}${s!.endsWith('AA') ? 'BB' : 'AA'}`;
  const r = await api.gql(VIEWER, undefined, tampered);
  assert.is(r.status, 401);
  assert.not.match(r.text, /ada one/);
});

test('read-your-writes: each of the tenant\'s own mutations shows in its very next query', async () => {
  await api.gql(VIEWER, undefined, adaToken);
  assert.equal(await delta(() => api.gql(VIEWER, undefined, adaToken)), { hit: 1, miss: 0 });

  const renamed = await api.gql('mutation($id: ID!) { projectRename(input: { projectId: $id, name: "ada renamed" }) { userErrors { code } } }', { id: adaProject }, adaToken);
  assert.equal(renamed.body.data.projectRename.userErrors, []);
  let after!: GqlResponse<any>;
  assert.equal(await delta(async () => { after = await api.gql(VIEWER, undefined, adaToken); }), { hit: 0, miss: 1 });
  assert.equal(names(after), ['ada renamed']);

  const second = await api.createProject(adaToken, 'ada two');
  const withTwo = await api.gql(VIEWER, undefined, adaToken);
  assert.is(withTwo.body.data.viewer.projects.totalCount, 2);
  assert.equal(names(withTwo), ['ada renamed', 'ada two']);

  const quotas = await api.gql('mutation($id: ID!) { projectSetQuotas(input: { projectId: $id, quotas: { cpuCores: 8 } }) { userErrors { code message } } }', { id: second }, adaToken);
  assert.equal(quotas.body.data.projectSetQuotas.userErrors, []);
  const withQuota = await api.gql(VIEWER, undefined, adaToken);
  assert.is(withQuota.body.data.viewer.projects.edges[1].node.quotas.cpuCores, 8);

  await api.gql('mutation($id: ID!) { projectArchive(input: { projectId: $id }) { userErrors { code } } }', { id: second }, adaToken);
  const archived = await api.gql(VIEWER, undefined, adaToken);
  assert.is(archived.body.data.viewer.projects.totalCount, 1);
  assert.equal(names(archived), ['ada renamed']);
});

test('another caller\'s change invalidates it too: an operator suspends the tenant', async () => {
  const before = await api.gql(VIEWER, undefined, bobToken);
  assert.is(before.body.data.viewer.status, 'ACTIVE');
  await api.gql(VIEWER, undefined, bobToken);
  const s = await api.gql('mutation($id: ID!) { userSuspend(input: { userId: $id, reason: "test" }) { userErrors { code } } }', { id: bob });
  assert.equal(s.body.data.userSuspend.userErrors, []);
  const after = await api.gql(VIEWER, undefined, bobToken);
  assert.is(after.body.data.viewer.status, 'SUSPENDED');
  await api.gql('mutation($id: ID!) { userReactivate(input: { userId: $id }) { userErrors { code } } }', { id: bob });
  assert.is((await api.gql(VIEWER, undefined, bobToken)).body.data.viewer.status, 'ACTIVE');
});

test('a change that does not come through the API (a service call in the process) invalidates it once projected', async () => {
  await api.gql(VIEWER, undefined, adaToken);
  const svc = new ProjectsService(api.ledger);
  await svc.renameProject({ kind: 'tenant', id: ada }, { projectId: adaProject, name: 'renamed from the CLI' });
  await api.ledger.settle();
  assert.equal(names(await api.gql(VIEWER, undefined, adaToken)), ['renamed from the CLI']);
});

test('another writer of the read-model database (a projector process) invalidates it within the read model\'s check interval', async () => {
  await api.gql(VIEWER, undefined, adaToken);
  assert.equal(await delta(() => api.gql(VIEWER, undefined, adaToken)), { hit: 1, miss: 0 });
  const other = new Database(api.ledger.readModels.name);
  try {
    other.prepare('UPDATE projects_projects SET name = ? WHERE project_id = ?').run('written elsewhere', adaProject);
  } finally { other.close(); }
  await new Promise((r) => setTimeout(r, 40)); // ProjectsReadModel looks at PRAGMA data_version at most every 20 ms
  const r = await api.gql(VIEWER, undefined, adaToken);
  assert.equal(names(r), ['written elsewhere']);
});

test('variables and the operation name are part of the key', async () => {
  await api.createProject(adaToken, 'ada three');
  const Q = 'query Page($first: Int) { viewer { projects(first: $first) { edges { node { name } } } } }';
  const one = await api.gql(Q, { first: 1 }, adaToken);
  const two = await api.gql(Q, { first: 2 }, adaToken);
  assert.is(one.body.data.viewer.projects.edges.length, 1);
  assert.is(two.body.data.viewer.projects.edges.length, 2);
  assert.equal(await delta(() => api.gql(Q, { first: 1 }, adaToken)), { hit: 1, miss: 0 });
  const res = await fetch(api.url, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adaToken}` },
    body: JSON.stringify({ query: `${Q} query Other { viewer { id } }`, operationName: 'Other' }),
  });
  assert.equal((await res.json() as any).data, { viewer: { id: ada } });
});

test('answers with errors, mutations and fields of modules that are not cacheable are executed every time', async () => {
  const bad = 'query { viewer { projects(first: 101) { totalCount } } }';
  await api.gql(bad, undefined, adaToken);
  const again = await delta(async () => {
    const r = await api.gql(bad, undefined, adaToken);
    assert.is(r.body.errors[0].extensions.code, 'BAD_USER_INPUT');
  });
  assert.is(again.hit, 0);

  const mutation = 'mutation { projectCreate(input: { name: "m", idempotencyKey: "k1" }) { project { name } } }';
  await api.gql(mutation, undefined, adaToken);
  assert.is((await delta(() => api.gql(mutation, undefined, adaToken))).hit, 0);

  // node(id) belongs to the base module, which declares nothing cacheable
  const node = `{ node(id: "${adaProject}") { id } }`;
  await api.gql(node, undefined, adaToken);
  const n = await delta(async () => { assert.is((await api.gql(node, undefined, adaToken)).body.data.node.id, adaProject); });
  assert.is(n.hit, 0);
});

test('the cache does not bypass the per-token rate limit', async () => {
  const limited = await startApi({ rateLimit: { max: 3 } });
  try {
    const u = await limited.createUser('Cy');
    const t = await limited.tenantToken(u);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await limited.gql('{ viewer { id } }', undefined, t)).status);
    assert.equal(statuses, [200, 200, 200, 429, 429]);
  } finally {
    await limited.close();
  }
});

test('responseCache: false executes every query', async () => {
  const plain = await startApi({ responseCache: false, rateLimit: false });
  try {
    const u = await plain.createUser('Di');
    const t = await plain.tenantToken(u);
    for (let i = 0; i < 3; i++) await plain.gql('{ viewer { id } }', undefined, t);
    const text = await (await fetch(`${plain.base}/metrics`)).text();
    assert.not.match(text, /^ledger_graphql_response_cache_total\{result="hit"\} [1-9]/m);
  } finally {
    await plain.close();
  }
});

test.run();
