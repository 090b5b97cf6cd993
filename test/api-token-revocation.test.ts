/**
 * Token revocation: `ledger token revoke` (a real CLI process on the API's data directory) records TokenRevoked, and
 * the running API refuses the token from then on — on HTTP and on a WebSocket connection_init, even though it had
 * verified (and cached) it before — while the same user's other tokens keep working. An API started later learns it
 * from the log. WebSocket connections already open with the token (authorised by connection_init or by the upgrade
 * request's header) are closed with 4403 when it is revoked; those of other tokens stay open. Revoking again appends
 * nothing; malformed input and another ledger's tokens are refused, appending nothing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { issueToken } from '../api/auth/tokens.ts';
import { buildServer } from '../api/server.ts';
import { startApi, type ApiHarness } from './harness/api.ts';
import { GraphQLWsClient } from './harness/api-ws.ts';

const BIN = join(process.cwd(), 'bin', 'ledger.js');
const env = { ...process.env, LEDGER_LOG_LEVEL: 'silent', LEDGER_TOKEN_SECRET: '', FORCE_COLOR: '0' };
let api: ApiHarness;
let ada: string, stolen: string, spare: string;

const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, 'token', ...args, '--data', api.dir], { env, encoding: 'utf8', timeout: 60_000 });
const viewer = (token: string, url = api.url) => fetch(url, {
  method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ viewer { id } }' }),
}).then(async (r) => ({ status: r.status, text: await r.text() }));

test.before(async () => {
  api = await startApi();
  ada = await api.createUser('Ada');
  stolen = await api.tenantToken(ada);
  spare = await api.tenantToken(ada);
});
test.after(async () => { await api?.close(); });

test('a revoked token is refused by the running API, over HTTP and WebSocket; the user\'s other tokens still work', async () => {
  assert.is((await viewer(stolen)).status, 200, 'verified (and cached) before the revocation');
  const r = cli('revoke', stolen, '--reason', 'laptop stolen', '--name', 'ops_ann', '--json');
  assert.is(r.status, 0, r.stderr);
  const { tokenId } = JSON.parse(r.stdout) as { tokenId: string };
  assert.match(tokenId, /^[0-9a-f]{24}$/);
  assert.equal(JSON.parse(r.stdout), { tokenId, revoked: true, already: false });

  const deadline = Date.now() + 10_000;
  let answer = await viewer(stolen);
  while (answer.status !== 401 && Date.now() < deadline) { await new Promise((res) => setTimeout(res, 50)); answer = await viewer(stolen); }
  assert.is(answer.status, 401, answer.text);
  assert.match(answer.text, /revoked/);
  assert.is((await viewer(spare)).status, 200, 'another token of the same user');

  const ws = await GraphQLWsClient.open(api.wsUrl);
  try {
    assert.is((await ws.init({ authorization: `Bearer ${stolen}` })).type !== 'connection_ack', true, 'no WebSocket session with it either');
  } finally { ws.close(); }

  const [event] = await api.ledger.store.readStream(`Token-${tokenId}`);
  assert.equal([event.type, event.data, event.metadata.actor], ['TokenRevoked', { tokenId, subject: `tenant:${ada}`, reason: 'laptop stolen' }, { kind: 'operator', id: 'ops_ann' }]);
});

test('open WebSocket connections of a revoked token are closed (4403); other tokens\' connections stay open', async () => {
  const doomed = await api.tenantToken(ada);
  const byPayload = await GraphQLWsClient.open(api.wsUrl);
  const byHeader = await GraphQLWsClient.open(api.wsUrl, { headers: { authorization: `Bearer ${doomed}` } });
  const other = await GraphQLWsClient.open(api.wsUrl);
  try {
    assert.is((await byPayload.init({ authorization: `Bearer ${doomed}` })).type, 'connection_ack');
    assert.is((await byHeader.init()).type, 'connection_ack');
    assert.is((await other.init({ authorization: `Bearer ${spare}` })).type, 'connection_ack');
    const projectId = await api.createProject(spare, 'watched while revoking');
    const sub = 'subscription($id: ID!) { projectChanged(projectId: $id) { eventType } }';
    byPayload.subscribe('1', sub, { id: projectId });
    other.subscribe('1', sub, { id: projectId });
    await new Promise((r) => setTimeout(r, 100));
    const r = cli('revoke', doomed, '--json');
    assert.is(r.status, 0, r.stderr);
    for (const ws of [byPayload, byHeader]) {
      const closed = await ws.waitClosed(10_000);
      assert.is(closed.code, 4403);
      assert.match(closed.reason, /revoked/);
    }
    await api.gql(`mutation { projectRename(input: { projectId: "${projectId}", name: "still watched" }) { userErrors { code } } }`, undefined, spare);
    const m = await other.next((x) => x.id === '1');
    assert.is(m.payload.data.projectChanged.eventType, 'ProjectRenamed', 'another token\'s subscription goes on');
    assert.is(other.closed, null);
  } finally { for (const ws of [byPayload, byHeader, other]) ws.close(); }
});

test('an API started after the revocation learns it from the log', async () => {
  const app = await buildServer(api.ledger, { logger: false, publishChanges: false });
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/graphql`;
    assert.is((await viewer(stolen, url)).status, 401);
    assert.is((await viewer(spare, url)).status, 200);
  } finally { await app.close(); }
});

test('revoking again (by id) changes nothing; bad input and foreign tokens are refused, nothing appended', async () => {
  const head = await api.head();
  const id = JSON.parse(cli('revoke', stolen, '--json').stdout).tokenId as string;
  const again = cli('revoke', id, '--json');
  assert.is(again.status, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout), { tokenId: id, revoked: true, already: true });
  const refused = (args: string[], message: RegExp) => {
    const r = cli('revoke', ...args);
    assert.ok(r.status !== 0, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, message);
  };
  refused(['not-a-token'], /give the token \(three dot-separated parts\) or its id/);
  refused([await issueToken(new TextEncoder().encode('another ledger secret, 32 chars long!'), { kind: 'tenant', userId: ada })], /not a token of this ledger/);
  refused([id, '--reason', 'x'.repeat(1001)], /--reason: at most 1000 characters/);
  refused([id, '--name', 'has spaces'], /--name: not an operator name/);
  assert.is(await api.head(), head, 'nothing appended');
  assert.match(cli('revoke', '--help').stdout, /every API instance refuses it/);
});

test('token issue --json gives the token id to revoke it by', async () => {
  const r = cli('issue', '--tenant', ada, '--json');
  assert.is(r.status, 0, r.stderr);
  const { token, tokenId } = JSON.parse(r.stdout);
  assert.match(tokenId, /^[0-9a-f]{24}$/);
  assert.is((await viewer(token)).status, 200);
  assert.is(cli('revoke', tokenId).status, 0);
  const deadline = Date.now() + 10_000;
  while ((await viewer(token)).status !== 401) {
    if (Date.now() > deadline) assert.unreachable('revoked by id: still accepted');
    await new Promise((res) => setTimeout(res, 50));
  }
});

test.run();
