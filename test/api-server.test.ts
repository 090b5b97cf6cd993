/**
 * The server's plumbing against a real server: probes, Prometheus metrics, authentication (401s), correlation ids
 * in logs, unexpected errors answered without internals, readiness when a projection fails.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SignJWT } from 'jose';
import { discoverModules } from '../api/graphql/schema.ts';
import { defineModule } from '../api/graphql/module.ts';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, issueToken } from '../api/auth/tokens.ts';
import { startApi, type ApiHarness } from './harness/api.ts';

const boom = defineModule({
  name: 'boom',
  schema: [],
  typeDefs: 'extend type Query { boom: String }',
  resolvers: { Query: { boom: () => { throw new Error('disk /var/secret/ledger.sqlite is corrupt'); } } },
});
const brokenProjection = defineModule({
  name: 'broken',
  schema: [],
  resolvers: {},
  projections: [{ name: 'broken', version: 1, filter: { categories: ['User'] }, tables: [], setup() {}, apply() { throw new Error('cannot apply'); } }],
});

let api: ApiHarness;
let tenant: string;

test.before(async () => {
  api = await startApi({ modules: [...await discoverModules(), boom], captureLogs: true });
  tenant = await api.tenantToken(await api.createUser('Tia'));
});
test.after(async () => { await api?.close(); });

test('GET /healthz and /readyz answer without a token', async () => {
  const h = await fetch(`${api.base}/healthz`);
  assert.equal(h.status, 200);
  assert.equal(await h.json(), { status: 'ok' });
  const r = await fetch(`${api.base}/readyz`);
  assert.equal(r.status, 200);
  const body = await r.json() as any;
  assert.equal(body.status, 'ready');
  assert.equal(body.head, await api.head());
  assert.ok(body.projections.some((p: any) => p.name === 'projects'));
  assert.ok(body.projections.every((p: any) => p.caughtUp && p.lag === 0), JSON.stringify(body.projections));
});

test('/metrics: HTTP requests, GraphQL operations, store head and projection lag in Prometheus format', async () => {
  await api.gql('query Viewer { viewer { id } }', undefined, tenant);
  await api.gql('{ viewer { nope } }', undefined, tenant);
  const res = await fetch(`${api.base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /text\/plain/);
  const text = await res.text();
  assert.match(text, /ledger_http_requests_total\{method="POST",route="\/graphql",status_code="200"\} \d+/);
  assert.match(text, /ledger_graphql_operations_total\{type="query",name="Viewer",outcome="ok"\} 1/);
  assert.match(text, /ledger_graphql_errors_total\{code="GRAPHQL_VALIDATION_FAILED"\} 1/);
  assert.match(text, new RegExp(`ledger_event_store_head_position ${await api.head()}`));
  assert.match(text, /ledger_projection_lag_events\{projection="projects"\} 0/);
  assert.match(text, /ledger_projection_position\{projection="projects"\} \d+/);
  assert.match(text, /ledger_process_cpu_user_seconds_total/);
});

test('no token, a malformed header, a forged or unsigned token: 401 with a GraphQL-shaped error', async () => {
  const none = await api.gql('{ viewer { id } }', undefined, null);
  assert.equal(none.status, 401);
  assert.equal(none.body.errors[0].extensions.code, 'UNAUTHENTICATED');
  assert.match(none.headers.get('www-authenticate')!, /^Bearer/);
  const basic = await api.gql('{ viewer { id } }', undefined, null, { authorization: 'Basic dXNlcjpwYXNz' });
  assert.equal(basic.status, 401);
  const otherSecret = new TextEncoder().encode('another-secret-another-secret-0123456789');
  const forged = await issueToken(otherSecret, { kind: 'operator' });
  const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ kind: 'operator', sub: 'operator', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE })).toString('base64url')}.`;
  for (const token of [forged, unsigned, 'not.a.jwt', 'x'.repeat(5000)]) {
    const r = await api.gql('{ viewer { id } }', undefined, token);
    assert.equal(r.status, 401, token.slice(0, 30));
    assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.not.ok(r.body.data);
  }
  const head = await api.head();
  const w = await api.gql('mutation { userCreate(input: { name: "x" }) { user { id } } }', undefined, forged);
  assert.equal(w.status, 401);
  assert.equal(await api.head(), head, 'nothing appended');
});

test('an expired token of the right key is refused too', async () => {
  const { loadTokenSecret } = await import('../api/auth/tokens.ts');
  const { loadConfig } = await import('../core/config.ts');
  const secret = loadTokenSecret(loadConfig({ LEDGER_DATA_DIR: api.dir }));
  const expired = await new SignJWT({ kind: 'tenant' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE)
    .setSubject('u_abc').setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(secret);
  assert.equal((await api.gql('{ viewer { id } }', undefined, expired)).status, 401);
  const good = await new SignJWT({ kind: 'tenant' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE)
    .setSubject('u_abc').setExpirationTime('1h').sign(secret);
  assert.equal((await api.gql('{ viewer { id } }', undefined, good)).status, 200);
  const badSubject = await new SignJWT({ kind: 'tenant' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE)
    .setSubject('u-abc').setExpirationTime('1h').sign(secret);
  assert.equal((await api.gql('{ viewer { id } }', undefined, badSubject)).status, 401);
});

test('an unexpected error is logged with the correlation id and answered without internals', async () => {
  const r = await api.gql('{ boom viewer { id } }', undefined, tenant, { 'x-correlation-id': 'corr_boom_1' });
  assert.equal(r.status, 200);
  assert.equal(r.body.data.boom, null);
  assert.ok(r.body.data.viewer.id, 'the rest of the query still answers');
  assert.equal(r.body.errors, [{ message: 'Internal server error', locations: [{ line: 1, column: 3 }], path: ['boom'], extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId: 'corr_boom_1' } }]);
  assert.not.ok(r.text.includes('/var/secret'));
  const logged = api.logs.find((l) => l.correlationId === 'corr_boom_1' && l.level === 50);
  assert.ok(logged, 'logged at error level with the correlation id');
  assert.match(JSON.stringify(logged), /\/var\/secret\/ledger\.sqlite is corrupt/);
  const requestLines = api.logs.filter((l) => l.correlationId === 'corr_boom_1');
  assert.ok(requestLines.some((l) => l.msg === 'request completed'), 'fastify\'s request log lines carry it too');
});

test('unknown routes answer 404 in the same error shape', async () => {
  const r = await fetch(`${api.base}/nope`);
  assert.equal(r.status, 404);
  assert.equal(((await r.json()) as any).errors[0].extensions.code, 'NOT_FOUND');
});

test('/readyz says not ready, and why, when a projection fails; mutations still answer', async () => {
  const broken = await startApi({ modules: [...await discoverModules(), brokenProjection], settleTimeoutMs: 200 });
  const origError = console.error;
  console.error = () => {}; // the runner reports the failing projection on stderr
  try {
    const started = Date.now();
    await broken.createUser('Una');
    assert.ok(Date.now() - started < 3000, 'the mutation did not wait for the broken read model beyond its timeout');
    let body: any;
    for (let i = 0; i < 50; i++) {
      const r = await fetch(`${broken.base}/readyz`);
      body = await r.json();
      if (r.status === 503) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(body.status, 'not ready');
    assert.ok(body.reasons.some((x: string) => /projection broken failed: cannot apply/.test(x)), JSON.stringify(body));
    assert.equal((await fetch(`${broken.base}/healthz`)).status, 200, 'still alive');
  } finally {
    await broken.close();
    console.error = origError;
  }
});

test.run();
