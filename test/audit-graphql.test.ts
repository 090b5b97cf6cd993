/**
 * GraphQL `auditLog(filter)` against a real server (buildServer over a fresh ledger): operators page through the
 * timeline and follow one request by its correlation id; tenants are refused; bad filters are BAD_USER_INPUT.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startApi, type ApiHarness } from './harness/api.ts';
import { auditIsolationCases } from './audit-isolation-cases.ts';

let api: ApiHarness;
let alice: string, aliceToken: string, project: string;
const CORRELATION = 'audit-graphql-request-1';

test.before(async () => {
  api = await startApi();
  alice = await api.createUser('Alice');
  aliceToken = await api.tenantToken(alice);
  const r = await api.gql(`mutation { projectCreate(input: { name: "audited" }) { project { id } userErrors { code } } }`, undefined, aliceToken, { 'x-correlation-id': CORRELATION });
  project = r.body.data.projectCreate.project.id;
  await api.gql(`mutation { projectRename(input: { projectId: "${project}", name: "audited 2" }) { userErrors { code } } }`, undefined, aliceToken);
});
test.after(async () => { await api?.close(); });

const Q = `query($filter: AuditLogFilter, $first: Int, $after: String) {
  auditLog(filter: $filter, first: $first, after: $after) {
    nodes { eventId type stream category revision actor { kind id } tenantId correlationId causationId summary data recordedAt }
    pageInfo { hasNextPage endCursor }
  } }`;

test('an operator sees the whole timeline, oldest first, with who, what and where', async () => {
  const r = await api.gql(Q, { first: 100 });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  const nodes = r.body.data.auditLog.nodes;
  assert.equal(nodes.map((n: any) => n.type), ['UserCreated', 'ProjectCreated', 'ProjectRenamed']);
  assert.equal(nodes[0].actor.kind, 'OPERATOR');
  assert.equal(nodes[1].actor, { kind: 'TENANT', id: alice });
  assert.is(nodes[1].stream, `Project-${project}`);
  assert.is(nodes[1].category, 'Project');
  assert.is(nodes[1].tenantId, alice);
  assert.is(JSON.parse(nodes[2].data).name, 'audited 2');
  assert.ok(nodes[2].summary.includes('audited 2'), nodes[2].summary);
  assert.is(r.body.data.auditLog.pageInfo.hasNextPage, false);
});

test('pages follow with first/after and opaque cursors', async () => {
  const seen: string[] = [];
  let after: string | null = null;
  for (let i = 0; i < 5; i++) {
    const r: any = await api.gql(Q, { first: 1, after });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    seen.push(...r.body.data.auditLog.nodes.map((n: any) => n.type));
    if (!r.body.data.auditLog.pageInfo.hasNextPage) break;
    after = r.body.data.auditLog.pageInfo.endCursor;
    assert.not.match(after!, /^\d+$/, 'cursors do not show positions');
  }
  assert.equal(seen, ['UserCreated', 'ProjectCreated', 'ProjectRenamed']);
});

test('filters: tenant, actor, stream, category, correlation, time window', async () => {
  const types = async (filter: Record<string, unknown>) => {
    const r = await api.gql(Q, { filter, first: 100 });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    return r.body.data.auditLog.nodes.map((n: any) => n.type);
  };
  assert.equal(await types({ tenantId: alice }), ['ProjectCreated', 'ProjectRenamed']);
  assert.equal(await types({ actor: `tenant:${alice}` }), ['ProjectCreated', 'ProjectRenamed']);
  assert.equal(await types({ actor: alice }), ['ProjectCreated', 'ProjectRenamed']);
  assert.equal(await types({ stream: `User-${alice}` }), ['UserCreated']);
  assert.equal(await types({ category: 'Project' }), ['ProjectCreated', 'ProjectRenamed']);
  const all = (await api.gql(Q, { first: 100 })).body.data.auditLog.nodes;
  assert.is(all[1].correlationId, CORRELATION, 'the request\'s x-correlation-id is the correlation id of what it wrote');
  assert.equal(await types({ correlationId: CORRELATION }), ['ProjectCreated']);
  assert.equal(await types({ from: all[1].recordedAt, to: all[2].recordedAt }).then((t: string[]) => t.includes('UserCreated')), false);
  assert.equal(await types({ from: '2999-01-01T00:00:00Z' }), []);
});

test('bad filters are BAD_USER_INPUT; nothing is appended', async () => {
  const head = await api.head();
  for (const filter of [{ stream: 'not a stream' }, { actor: 'robot:x' }, { from: '2025-02-01T00:00:00Z', to: '2025-01-01T00:00:00Z' }]) {
    const r = await api.gql(Q, { filter });
    assert.is(r.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(r.body));
  }
  const big = await api.gql(Q, { first: 1000 });
  assert.is(big.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  assert.is(await api.head(), head);
});

const isolation = auditIsolationCases({
  api: () => api, tenantToken: () => aliceToken,
  probe: async (name, query, realId, ghostId, extra = {}) => {
    const real = await api.gql(query, { id: realId, ...extra }, aliceToken);
    const ghost = await api.gql(query, { id: ghostId, ...extra }, aliceToken);
    assert.equal(real.text.split(realId).join('<ID>'), ghost.text.split(ghostId).join('<ID>'), `${name}: answers differ`);
    return real;
  },
});
for (const [name, run] of Object.entries(isolation)) test(`tenants are refused: ${name}`, run);

test.run();
