/**
 * The Projects API end to end against a real server: users (operator), projects (tenant), viewer, node(id),
 * Relay connections (capped first, opaque cursors), suspension, idempotency keys, correlation ids in events.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startApi, type ApiHarness } from './harness/api.ts';

let api: ApiHarness;
let ada: string;
let adaToken: string;

test.before(async () => {
  api = await startApi();
  ada = await api.createUser('Ada');
  adaToken = await api.tenantToken(ada);
});
test.after(async () => { await api?.close(); });

const PROJECTS = `query($first: Int, $after: String, $all: Boolean) {
  viewer { id name status projects(first: $first, after: $after, includeArchived: $all) {
    totalCount edges { cursor node { id name status owner { id } quotas { cpuCores ramMiB diskGiB components } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`;

test('an operator creates a user; its tenant token sees itself as viewer', async () => {
  assert.match(ada, /^u_[A-Za-z0-9_]+$/);
  const r = await api.gql('{ viewer { id name status createdAt } }', undefined, adaToken);
  assert.equal(r.status, 200);
  assert.equal(r.body.data.viewer.id, ada);
  assert.equal(r.body.data.viewer.name, 'Ada');
  assert.equal(r.body.data.viewer.status, 'ACTIVE');
  assert.match(r.body.data.viewer.createdAt, /^\d{4}-\d\d-\d\dT.*Z$/);
  const op = await api.gql('{ viewer { id } }');
  assert.equal(op.body.data.viewer, null, 'operators have no viewer');
});

test('a tenant creates projects and pages through them (first/after, opaque cursors, cap of 100)', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await api.createProject(adaToken, `project ${i}`));
  const page1 = await api.gql(PROJECTS, { first: 2 }, adaToken);
  const c1 = page1.body.data.viewer.projects;
  assert.equal(c1.totalCount, 5);
  assert.equal(c1.edges.map((e: any) => e.node.id), ids.slice(0, 2));
  assert.equal(c1.edges[0].node.owner.id, ada);
  assert.equal(c1.edges[0].node.quotas, { cpuCores: null, ramMiB: null, diskGiB: null, components: null });
  assert.ok(c1.pageInfo.hasNextPage);
  assert.not.ok(c1.pageInfo.hasPreviousPage);
  assert.not.match(c1.pageInfo.endCursor, /^\d+$/, 'cursors are opaque');
  assert.equal(c1.pageInfo.endCursor, c1.edges[1].cursor);
  const page2 = await api.gql(PROJECTS, { first: 10, after: c1.pageInfo.endCursor }, adaToken);
  const c2 = page2.body.data.viewer.projects;
  assert.equal(c2.edges.map((e: any) => e.node.id), ids.slice(2));
  assert.not.ok(c2.pageInfo.hasNextPage);
  assert.ok(c2.pageInfo.hasPreviousPage);

  const tooMany = await api.gql(PROJECTS, { first: 101 }, adaToken);
  assert.equal(tooMany.body.errors[0].extensions.code, 'BAD_USER_INPUT');
  assert.match(tooMany.body.errors[0].message, /first must be between 0 and 100/);
  const negative = await api.gql(PROJECTS, { first: -1 }, adaToken);
  assert.equal(negative.body.errors[0].extensions.code, 'BAD_USER_INPUT');
  const badCursor = await api.gql(PROJECTS, { first: 1, after: 'AAAAAAAAAAAAAAAAAAAAAA' }, adaToken);
  assert.equal(badCursor.body.errors[0].extensions.code, 'BAD_USER_INPUT');
  assert.match(badCursor.body.errors[0].message, /invalid cursor/);
  // a cursor of another list (users) is refused by this one
  const users = await api.gql('{ users(first: 1) { pageInfo { endCursor } } }');
  const foreign = await api.gql(PROJECTS, { first: 1, after: users.body.data.users.pageInfo.endCursor }, adaToken);
  assert.match(foreign.body.errors[0].message, /invalid cursor/);
  const zero = await api.gql(PROJECTS, { first: 0 }, adaToken);
  assert.equal(zero.body.data.viewer.projects.edges, []);
});

test('node(id) and project(id) find the tenant\'s own objects by global id', async () => {
  const id = await api.createProject(adaToken, 'by id');
  const r = await api.gql(`query($id: ID!) { node(id: $id) { __typename id ... on Project { name } } project(id: $id) { id name status }
    user: node(id: "${ada}") { __typename id ... on User { name } } }`, { id }, adaToken);
  assert.equal(r.body.data.node, { __typename: 'Project', id, name: 'by id' });
  assert.equal(r.body.data.project, { id, name: 'by id', status: 'ACTIVE' });
  assert.equal(r.body.data.user, { __typename: 'User', id: ada, name: 'Ada' });
  const missing = await api.gql('{ node(id: "p_nope") { id } other: node(id: "zz_nope") { id } bare: node(id: "nope") { id } }', undefined, adaToken);
  assert.equal(missing.body.data, { node: null, other: null, bare: null });
});

test('rename, set quotas and archive a project; archived ones leave the default list', async () => {
  const id = await api.createProject(adaToken, 'life');
  const renamed = await api.gql(`mutation($id: ID!) { projectRename(input: { projectId: $id, name: "lifecycle" }) { project { id name } userErrors { field message code } } }`, { id }, adaToken);
  assert.equal(renamed.body.data.projectRename, { project: { id, name: 'lifecycle' }, userErrors: [] });
  const quotas = await api.gql(`mutation($id: ID!) { projectSetQuotas(input: { projectId: $id, quotas: { cpuCores: 8, ramMiB: 16384, components: 3 } }) {
    project { quotas { cpuCores ramMiB diskGiB components } } userErrors { code } } }`, { id }, adaToken);
  assert.equal(quotas.body.data.projectSetQuotas, { project: { quotas: { cpuCores: 8, ramMiB: 16384, diskGiB: null, components: 3 } }, userErrors: [] });
  const archived = await api.gql(`mutation($id: ID!) { projectArchive(input: { projectId: $id, reason: "done" }) { project { status } userErrors { code } } }`, { id }, adaToken);
  assert.equal(archived.body.data.projectArchive, { project: { status: 'ARCHIVED' }, userErrors: [] });
  const again = await api.gql(`mutation($id: ID!) { projectRename(input: { projectId: $id, name: "x" }) { project { id } userErrors { field message code } } }`, { id }, adaToken);
  assert.equal(again.body.data.projectRename.userErrors, [{ field: ['input', 'projectId'], message: `project ${id} is archived`, code: 'PROJECT_ARCHIVED' }]);
  const active = await api.gql(PROJECTS, { first: 100 }, adaToken);
  assert.not.ok(active.body.data.viewer.projects.edges.some((e: any) => e.node.id === id));
  const all = await api.gql(PROJECTS, { first: 100, all: true }, adaToken);
  assert.ok(all.body.data.viewer.projects.edges.some((e: any) => e.node.id === id && e.node.status === 'ARCHIVED'));
  // operators may administer any project
  const op = await api.gql(`mutation($id: ID!) { projectSetQuotas(input: { projectId: $id, quotas: {} }) { project { id } userErrors { code } } }`, { id });
  assert.equal(op.body.data.projectSetQuotas.userErrors[0].code, 'PROJECT_ARCHIVED');
});

test('operators manage users; a suspended user reads but cannot change anything', async () => {
  const bob = await api.createUser('Bob');
  const bobToken = await api.tenantToken(bob);
  const p = await api.createProject(bobToken, 'bob one');
  const renamed = await api.gql(`mutation($id: ID!) { userRename(input: { userId: $id, name: "Robert" }) { user { id name } userErrors { code } } }`, { id: bob });
  assert.equal(renamed.body.data.userRename, { user: { id: bob, name: 'Robert' }, userErrors: [] });
  const suspended = await api.gql(`mutation($id: ID!) { userSuspend(input: { userId: $id, reason: "unpaid" }) { user { status } userErrors { code } } }`, { id: bob });
  assert.equal(suspended.body.data.userSuspend, { user: { status: 'SUSPENDED' }, userErrors: [] });
  const create = await api.gql('mutation { projectCreate(input: { name: "nope" }) { project { id } userErrors { field code message } } }', undefined, bobToken);
  assert.equal(create.body.data.projectCreate.project, null);
  assert.equal(create.body.data.projectCreate.userErrors[0].code, 'USER_SUSPENDED');
  const rename = await api.gql(`mutation($id: ID!) { projectRename(input: { projectId: $id, name: "x" }) { userErrors { code } } }`, { id: p }, bobToken);
  assert.equal(rename.body.data.projectRename.userErrors[0].code, 'USER_SUSPENDED');
  const read = await api.gql('{ viewer { status projects { totalCount } } }', undefined, bobToken);
  assert.equal(read.body.data.viewer, { status: 'SUSPENDED', projects: { totalCount: 1 } });
  const back = await api.gql(`mutation($id: ID!) { userReactivate(input: { userId: $id }) { user { status } userErrors { code } } }`, { id: bob });
  assert.equal(back.body.data.userReactivate, { user: { status: 'ACTIVE' }, userErrors: [] });
  assert.ok(await api.createProject(bobToken, 'after reactivation'));
  const list = await api.gql('{ users(first: 100) { totalCount nodes { id name } } }');
  assert.ok(list.body.data.users.nodes.some((u: any) => u.id === bob && u.name === 'Robert'));
  const unknown = await api.gql('mutation { userRename(input: { userId: "u_nobody", name: "x" }) { user { id } userErrors { field code } } }');
  assert.equal(unknown.body.data.userRename, { user: null, userErrors: [{ field: ['input', 'userId'], code: 'USER_NOT_FOUND' }] });
});

test('idempotency keys: the same key creates once and answers with the same object', async () => {
  const q = 'mutation($k: String) { projectCreate(input: { name: "once", idempotencyKey: $k }) { project { id } userErrors { code } } }';
  const head0 = await api.head();
  const a = await api.gql(q, { k: 'order-77' }, adaToken);
  const head1 = await api.head();
  const b = await api.gql(q, { k: 'order-77' }, adaToken);
  assert.equal(head1, head0 + 1);
  assert.equal(await api.head(), head1, 'the repeat appended nothing');
  assert.equal(a.body.data.projectCreate.project.id, b.body.data.projectCreate.project.id);
  const u1 = await api.gql('mutation { userCreate(input: { name: "Key", idempotencyKey: "k1" }) { user { id } } }');
  const u2 = await api.gql('mutation { userCreate(input: { name: "Key", idempotencyKey: "k1" }) { user { id } } }');
  assert.equal(u1.body.data.userCreate.user.id, u2.body.data.userCreate.user.id);
});

test('events carry the request\'s correlation id, the actor and the tenant', async () => {
  const r = await api.gql('mutation { projectCreate(input: { name: "traced" }) { project { id } } }', undefined, adaToken, { 'x-correlation-id': 'trace_123' });
  assert.equal(r.headers.get('x-correlation-id'), 'trace_123');
  const id = r.body.data.projectCreate.project.id;
  const [event] = await api.ledger.store.readStream(`Project-${id}`);
  assert.equal(event.type, 'ProjectCreated');
  assert.equal(event.metadata.correlationId, 'trace_123');
  assert.equal(event.metadata.actor, { kind: 'tenant', id: ada });
  assert.equal(event.metadata.tenantId, ada);
  const generated = await api.gql('{ viewer { id } }', undefined, adaToken, { 'x-correlation-id': 'bad value with spaces' });
  assert.match(generated.headers.get('x-correlation-id')!, /^[0-9a-f-]{36}$/, 'an unusable header is replaced by a fresh id');
});


test('repeated queries come from the response cache until the read model changes; per caller; never stale', async () => {
  const id = await api.createProject(adaToken, 'cached');
  const q = '{ viewer { projects(first: 100) { edges { node { id name } } } } }';
  const metric = async () => {
    const text = await (await fetch(`${api.base}/metrics`)).text();
    return Number(/ledger_graphql_response_cache_total\{result="hit"\} (\d+)/.exec(text)?.[1] ?? 0);
  };
  const hits0 = await metric();
  const a = await api.gql(q, undefined, adaToken);
  const b = await api.gql(q, undefined, adaToken);
  assert.equal(a.text, b.text);
  assert.equal(await metric(), hits0 + 1, 'the second answer was a cache hit');
  await api.gql(`mutation { projectRename(input: { projectId: "${id}", name: "renamed in cache test" }) { userErrors { code } } }`, undefined, adaToken);
  const c = await api.gql(q, undefined, adaToken);
  assert.ok(c.body.data.viewer.projects.edges.some((e: any) => e.node.id === id && e.node.name === 'renamed in cache test'), 'a change invalidates');
  // another caller with the same query text gets its own answer
  const other = await api.tenantToken(await api.createUser('Other'));
  const d = await api.gql(q, undefined, other);
  assert.equal(d.body.data.viewer.projects.edges, []);
  // operations that touch fields not declared cacheable (node) are never cached
  const hits1 = await metric();
  await api.gql(`{ node(id: "${id}") { id } }`, undefined, adaToken);
  await api.gql(`{ node(id: "${id}") { id } }`, undefined, adaToken);
  assert.equal(await metric(), hits1);
});

test.run();
