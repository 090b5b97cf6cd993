/**
 * Bad input at the GraphQL edge: every mutation, given malformed input, answers with a userErrors entry (pointing at
 * the field) or a GraphQL validation error, and appends nothing (the store's head position does not move).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startApi, type ApiHarness } from './harness/api.ts';

let api: ApiHarness;
let userId: string, tenant: string, projectId: string;

test.before(async () => {
  api = await startApi();
  userId = await api.createUser('Ivan');
  tenant = await api.tenantToken(userId);
  projectId = await api.createProject(tenant, 'inputs');
});
test.after(async () => { await api?.close(); });

const long = (n: number) => 'x'.repeat(n);

type Case = { input: string | Record<string, unknown>; expect: 'userError' | 'validation'; field?: string[] };

/** Mutation → its selection and the token to call it with, and a list of malformed inputs. */
const mutations: Record<string, { select: string; token: () => string; cases: Case[] }> = {
  userCreate: {
    select: 'user { id } userErrors { field message code }', token: () => api.operatorToken,
    cases: [
      { input: { name: '' }, expect: 'userError', field: ['input', 'name'] },
      { input: { name: '    ' }, expect: 'userError', field: ['input', 'name'] },
      { input: { name: long(101) }, expect: 'userError', field: ['input', 'name'] },
      { input: { name: 'a\u0000b' }, expect: 'userError', field: ['input', 'name'] },
      { input: { name: 'ok', idempotencyKey: 'has spaces' }, expect: 'userError', field: ['input', 'idempotencyKey'] },
      { input: { name: 'ok', idempotencyKey: long(201) }, expect: 'userError', field: ['input', 'idempotencyKey'] },
      { input: { name: 5 }, expect: 'validation' },
      { input: {}, expect: 'validation' },
      { input: { name: 'ok', admin: true }, expect: 'validation' },
      { input: '{ name: null }', expect: 'validation' },
    ],
  },
  userRename: {
    select: 'user { id } userErrors { field message code }', token: () => api.operatorToken,
    cases: [
      { input: { userId: 'p_abc', name: 'x' }, expect: 'userError', field: ['input', 'userId'] },
      { input: { userId: 'u_a-b', name: 'x' }, expect: 'userError', field: ['input', 'userId'] },
      { input: { userId: '', name: 'x' }, expect: 'userError', field: ['input', 'userId'] },
      { input: { userId: 'USER', name: 'x' }, expect: 'userError', field: ['input', 'userId'] },
      { input: { userId: '__USER__', name: '' }, expect: 'userError', field: ['input', 'name'] },
      { input: { userId: '__USER__', name: long(101) }, expect: 'userError', field: ['input', 'name'] },
      { input: { userId: '__USER__' }, expect: 'validation' },
      { input: { userId: ['u_a'], name: 'x' }, expect: 'validation' },
    ],
  },
  userSuspend: {
    select: 'user { id } userErrors { field message code }', token: () => api.operatorToken,
    cases: [
      { input: { userId: 'u_a.b' }, expect: 'userError', field: ['input', 'userId'] },
      { input: { userId: '__USER__', reason: long(1001) }, expect: 'userError', field: ['input', 'reason'] },
      { input: { reason: 'x' }, expect: 'validation' },
    ],
  },
  userReactivate: {
    select: 'user { id } userErrors { field message code }', token: () => api.operatorToken,
    cases: [
      { input: { userId: 'u_' }, expect: 'userError', field: ['input', 'userId'] },
      { input: { userId: `u_${long(61)}` }, expect: 'userError', field: ['input', 'userId'] },
      { input: { userId: 7 }, expect: 'userError', field: ['input', 'userId'] }, // an Int literal is a valid ID in GraphQL
      { input: {}, expect: 'validation' },
    ],
  },
  projectCreate: {
    select: 'project { id } userErrors { field message code }', token: () => tenant,
    cases: [
      { input: { name: '' }, expect: 'userError', field: ['input', 'name'] },
      { input: { name: long(101) }, expect: 'userError', field: ['input', 'name'] },
      { input: { name: 'tab\there' }, expect: 'userError', field: ['input', 'name'] },
      { input: { name: 'ok', description: long(1001) }, expect: 'userError', field: ['input', 'description'] },
      { input: { name: 'ok', idempotencyKey: '' }, expect: 'userError', field: ['input', 'idempotencyKey'] },
      { input: { name: 'ok', ownerId: 'u_other' }, expect: 'validation' },
      { input: { name: true }, expect: 'validation' },
    ],
  },
  projectRename: {
    select: 'project { id } userErrors { field message code }', token: () => tenant,
    cases: [
      { input: { projectId: 'u_abc', name: 'x' }, expect: 'userError', field: ['input', 'projectId'] },
      { input: { projectId: 'p_a b', name: 'x' }, expect: 'userError', field: ['input', 'projectId'] },
      { input: { projectId: '__PROJECT__', name: '' }, expect: 'userError', field: ['input', 'name'] },
      { input: { projectId: '__PROJECT__', name: long(101) }, expect: 'userError', field: ['input', 'name'] },
      { input: { projectId: '__PROJECT__' }, expect: 'validation' },
    ],
  },
  projectArchive: {
    select: 'project { id } userErrors { field message code }', token: () => tenant,
    cases: [
      { input: { projectId: 'p_a.b' }, expect: 'userError', field: ['input', 'projectId'] },
      { input: { projectId: '__PROJECT__', reason: long(1001) }, expect: 'userError', field: ['input', 'reason'] },
      { input: { projectId: null }, expect: 'validation' },
    ],
  },
  projectSetQuotas: {
    select: 'project { id } userErrors { field message code }', token: () => tenant,
    cases: [
      { input: { projectId: '__PROJECT__', quotas: { cpuCores: -1 } }, expect: 'userError', field: ['input', 'quotas', 'cpuCores'] },
      { input: { projectId: '__PROJECT__', quotas: { components: 1_000_000_001 } }, expect: 'userError', field: ['input', 'quotas', 'components'] },
      { input: { projectId: '__PROJECT__', quotas: { ramMiB: 2 ** 31 } }, expect: 'validation' },
      { input: { projectId: '__PROJECT__', quotas: { diskGiB: 1.5 } }, expect: 'validation' },
      { input: { projectId: '__PROJECT__', quotas: { gpus: 1 } }, expect: 'validation' },
      { input: { projectId: '__PROJECT__' }, expect: 'validation' },
      { input: { projectId: 'x', quotas: {} }, expect: 'userError', field: ['input', 'projectId'] },
    ],
  },
};

/** A GraphQL literal for an input value (so malformed shapes reach the server as written). */
function literal(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.replace('__USER__', userId).replace('__PROJECT__', projectId));
  if (Array.isArray(v)) return `[${v.map(literal).join(', ')}]`;
  if (v && typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${literal(x)}`).join(', ')} }`;
  return String(v);
}

test('the cases cover every mutation of the projects module (other layers test their own)', () => {
  const { schema, owners } = api.app.ledgerApi.api;
  const fields = Object.keys(schema.getMutationType()!.getFields()).filter((f) => owners.get(`Mutation.${f}`) === 'projects');
  assert.ok(fields.length >= 8);
  assert.equal(fields.filter((f) => !(f in mutations)), []);
});

for (const [name, m] of Object.entries(mutations)) {
  test(`${name}: malformed input is refused and appends nothing`, async () => {
    for (const c of m.cases) {
      const input = typeof c.input === 'string' ? c.input : literal(c.input);
      const head = await api.head();
      const r = await api.gql(`mutation { ${name}(input: ${input}) { ${m.select} } }`, undefined, m.token());
      const label = `${name}(${input.slice(0, 80)})`;
      if (c.expect === 'validation') {
        assert.ok(r.body.errors?.length, `${label}: expected a GraphQL error, got ${r.text.slice(0, 300)}`);
        assert.not.ok(r.body.data?.[name], `${label}: nothing executed`);
      } else {
        assert.not.ok(r.body.errors, `${label}: unexpected errors ${r.text.slice(0, 300)}`);
        const payload = r.body.data[name];
        assert.ok(payload.userErrors.length > 0, `${label}: expected userErrors, got ${r.text.slice(0, 300)}`);
        assert.equal(payload.userErrors[0].code, 'INVALID_INPUT', label);
        assert.equal(payload.userErrors[0].field, c.field, label);
        assert.ok(payload.userErrors[0].message.length > 0);
        assert.equal(Object.values(payload).filter((v) => v !== payload.userErrors).every((v) => v === null), true, `${label}: no object returned`);
      }
      assert.equal(await api.head(), head, `${label}: the head moved`);
    }
  });
}

test('the same refusals through variables', async () => {
  const head = await api.head();
  const r = await api.gql('mutation($i: ProjectCreateInput!) { projectCreate(input: $i) { project { id } userErrors { field code } } }', { i: { name: '' } }, tenant);
  assert.equal(r.body.data.projectCreate.userErrors, [{ field: ['input', 'name'], code: 'INVALID_INPUT' }]);
  const v = await api.gql('mutation($i: ProjectCreateInput!) { projectCreate(input: $i) { project { id } } }', { i: { name: 'x', extra: 1 } }, tenant);
  assert.match(v.body.errors[0].message, /extra/);
  const w = await api.gql('mutation($i: ProjectSetQuotasInput!) { projectSetQuotas(input: $i) { project { id } } }', { i: { projectId: projectId, quotas: { cpuCores: 'many' } } }, tenant);
  assert.ok(w.body.errors.length);
  assert.equal(await api.head(), head);
});

test.run();
