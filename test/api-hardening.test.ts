/**
 * Hostile requests against a real server: depth, aliases, cost, nested page sizes, directives, token count, body
 * size, batching, GET mutations, per-token rate limit, and production mode (no introspection, no GraphiQL, no
 * "did you mean" hints). Each refusal happens before execution: nothing is appended.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startApi, type ApiHarness } from './harness/api.ts';

let dev: ApiHarness;
let prod: ApiHarness;
let limited: ApiHarness;
let tenant: string;

test.before(async () => {
  dev = await startApi();
  prod = await startApi({ mode: 'production' });
  limited = await startApi({ rateLimit: { max: 5, timeWindowMs: 60_000 } });
  tenant = await dev.tenantToken(await dev.createUser('Tess'));
  await dev.createProject(tenant, 'p');
});
test.after(async () => { await Promise.all([dev?.close(), prod?.close(), limited?.close()]); });

async function refused(q: string, pattern: RegExp, token: string | null = tenant, api = dev) {
  const head = await api.head();
  const r = await api.gql(q, undefined, token);
  assert.ok(r.body.errors?.length, `expected errors, got ${r.text.slice(0, 300)}`);
  assert.ok(!r.body.data || Object.values(r.body.data).every((v) => v === null), 'nothing executed');
  assert.match(r.body.errors.map((e: any) => e.message).join(' | '), pattern);
  assert.equal(await api.head(), head);
  return r;
}

test('a query nested deeper than the limit is refused', async () => {
  let q = 'id';
  for (let i = 0; i < 4; i++) q = `projects { edges { node { owner { ${q} } } } }`;
  const r = await refused(`{ viewer { ${q} } }`, /depth limit of 12 exceeded/i);
  assert.equal(r.status, 400);
  const ok = await dev.gql('{ viewer { projects { edges { node { owner { id } } } } } }', undefined, tenant);
  assert.not.ok(ok.body.errors, 'a normal depth passes');
});

test('too many aliases are refused', async () => {
  const fields = Array.from({ length: 16 }, (_, i) => `a${i}: viewer { id }`).join(' ');
  await refused(`{ ${fields} }`, /aliases limit of 15 exceeded/i);
});

test('a query costing more than the limit is refused', async () => {
  await refused(`{ viewer { ${'id '.repeat(4000)} } }`, /cost limit of 5000 exceeded/i);
});

test('nested page sizes multiply, also through variables', async () => {
  await refused('{ users(first: 100) { nodes { projects(first: 100) { nodes { owner { projects(first: 2) { nodes { id } } } } } } } }', /the limit is 10000|cost limit/i, dev.operatorToken);
  const head = await dev.head();
  const r = await dev.gql('query($n: Int) { users(first: $n) { nodes { projects(first: $n) { nodes { owner { projects(first: $n) { nodes { id } } } } } } } }', { n: 1 }, dev.operatorToken);
  assert.match(r.body.errors[0].message, /up to 1000000 items/);
  assert.equal(await dev.head(), head);
});

test('too many directives are refused', async () => {
  const fields = Array.from({ length: 11 }, () => 'id @skip(if: false)').join(' ');
  await refused(`{ viewer { ${fields} } }`, /directives limit of 10 exceeded/i);
});

test('a document with too many tokens is refused while parsing', async () => {
  await refused(`{ viewer { ${'id '.repeat(6000)} } }`, /more tha[nt] 5000 tokens/i);
});

test('fragment cycles and unknown fields are refused by validation', async () => {
  await refused('query { viewer { ...A } } fragment A on User { projects { nodes { owner { ...A } } } }', /Cannot spread fragment "A" within itself/);
  await refused('{ viewer { password } }', /Cannot query field "password"/);
});

test('a body over the limit is refused with 413 before parsing', async () => {
  const res = await fetch(dev.url, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant}` },
    body: JSON.stringify({ query: `{ viewer { id } } # ${'x'.repeat(70 * 1024)}` }),
  });
  assert.equal(res.status, 413);
  const body = await res.json() as any;
  assert.equal(body.errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
});

test('batched queries are not accepted', async () => {
  const res = await fetch(dev.url, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant}` },
    body: JSON.stringify([{ query: '{ viewer { id } }' }, { query: '{ viewer { id } }' }]),
  });
  assert.equal(res.status, 400);
  assert.not.ok(((await res.json()) as any).data);
});

test('mutations over GET are refused', async () => {
  const head = await dev.head();
  const q = encodeURIComponent('mutation { projectCreate(input: { name: "via get" }) { project { id } } }');
  const res = await fetch(`${dev.url}?query=${q}`, { headers: { authorization: `Bearer ${tenant}` } });
  assert.equal(res.status, 405);
  assert.equal(await dev.head(), head);
});

test('introspection and GraphiQL in development, neither in production; no "did you mean" hints in production', async () => {
  const op = '{ __schema { queryType { name } } }';
  const d = await dev.gql(op, undefined, tenant);
  assert.equal(d.body.data.__schema.queryType.name, 'Query');
  const prodTenant = await prod.tenantToken('u_someone');
  await refused(op, /introspection/i, prodTenant, prod);
  await refused('{ __type(name: "User") { fields { name } } }', /introspection/i, prodTenant, prod);
  const hint = await dev.gql('{ viewr { id } }', undefined, tenant);
  assert.match(hint.body.errors[0].message, /Did you mean "viewer"/);
  const noHint = await prod.gql('{ viewr { id } }', undefined, prodTenant);
  assert.equal(noHint.body.errors[0].message, 'Cannot query field "viewr" on type "Query".');
  assert.equal((await fetch(`${dev.base}/graphiql`)).status, 200);
  assert.equal((await fetch(`${prod.base}/graphiql`)).status, 404);
});

test('the rate limit counts per token: one tenant\'s burst does not stop another', async () => {
  const a = await limited.tenantToken('u_a');
  const b = await limited.tenantToken('u_b');
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await limited.gql('{ viewer { id } }', undefined, a)).status);
  assert.equal(statuses, [200, 200, 200, 200, 200, 429]);
  const last = await limited.gql('{ viewer { id } }', undefined, a);
  assert.equal(last.status, 429);
  assert.equal(last.body.errors[0].extensions.code, 'RATE_LIMITED');
  assert.ok(last.headers.get('retry-after'));
  assert.equal((await limited.gql('{ viewer { id } }', undefined, b)).status, 200);
  assert.equal((await fetch(`${limited.base}/healthz`)).status, 200, 'probes are not rate limited');
});

test.run();
