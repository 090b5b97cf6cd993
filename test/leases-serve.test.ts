/**
 * The distributed profile's read side, as real processes: `ledger projector` writes <data>/readmodels.sqlite, two
 * `ledger serve` instances on the same data directory only read it. A mutation through one instance is read back at
 * once through it (it waits on the projector's checkpoint) and through the other; with the projector stopped the
 * instances still answer but nothing new reaches the read models (the API does not project); a projector started
 * again catches up.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from './harness/nats-server.ts';
import { startRole, type RoleProcess } from './harness/roles.ts';

const BIN = join(process.cwd(), 'bin', 'ledger.js');

test('two API instances read what the projector writes; neither projects itself', async () => {
  const nats = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'ledger-leases-serve-'));
  const env = {
    LEDGER_NATS_URL: nats.url, LEDGER_DATA_DIR: dir, LEDGER_LEASE_TTL_MS: '1500', LEDGER_LOG_LEVEL: 'warn',
    LEDGER_TOKEN_SECRET: 'leases-serve-test-secret-0123456789abcdef', LEDGER_PORT: '0', LEDGER_REDIS_URL: '', FORCE_COLOR: '0',
  };
  const roles: RoleProcess[] = [];
  try {
    let projector = await startRole('projector', [], { env });
    roles.push(projector);
    await projector.waitFor(/leading with fencing token \d+/);
    const api = [await startRole('serve', [], { env }), await startRole('serve', [], { env })];
    roles.push(...api);
    const urls = await Promise.all(api.map(async (s) => (await s.waitFor(/^GraphQL: (http:\/\/\S+)$/m, { timeoutMs: 60_000 }))[1]));
    const issued = spawnSync(process.execPath, [BIN, 'token', 'issue', '--operator', '--json'], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
    assert.is(issued.status, 0, issued.stderr);
    const lines = issued.stdout.trim().split('\n');
    const { token } = JSON.parse(lines[lines.length - 1]);
    const gql = async (url: string, query: string) => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
      return await res.json() as any;
    };
    const userName = async (url: string, id: string) => (await gql(url, `{ user(id: "${id}") { name } }`)).data?.user?.name ?? null;

    // Read-your-writes on the instance that took the mutation, and the same answer on the other one.
    const created = await gql(urls[0], 'mutation { userCreate(input: { name: "Ann" }) { user { id name } userErrors { code } } }');
    assert.equal(created.data.userCreate.userErrors, [], JSON.stringify(created));
    const ann = created.data.userCreate.user.id;
    assert.is(created.data.userCreate.user.name, 'Ann');
    assert.is(await userName(urls[0], ann), 'Ann');
    assert.is(await userName(urls[1], ann), 'Ann');
    const renamed = await gql(urls[1], `mutation { userRename(input: { userId: "${ann}", name: "Ann B" }) { user { name } userErrors { code } } }`);
    assert.is(renamed.data?.userRename?.user?.name, 'Ann B', JSON.stringify(renamed));
    assert.is(await userName(urls[0], ann), 'Ann B');

    // Projector stopped: the API still appends and answers, but no instance folds the event into the read models.
    assert.is(await projector.stop(), 0, projector.output());
    const started = Date.now();
    const bob = await gql(urls[0], 'mutation { userCreate(input: { name: "Bob" }) { user { id } userErrors { code } } }');
    const bobId = bob.data?.userCreate?.user?.id ?? null;
    console.log(`  mutation without a projector answered in ${Date.now() - started} ms (waits for the read model, then answers with what it holds)`);
    const head = await (await fetch(urls[1].replace(/\/graphql$/, '/readyz'))).json() as any;
    assert.ok(head.head >= 3, JSON.stringify(head));
    const lagging = head.projections.find((p: any) => p.name === 'projects');
    assert.ok(lagging.position < head.head, `projects follows the projector's checkpoint: ${JSON.stringify(head)}`);

    // A projector again: it catches up, both instances see Bob.
    projector = await startRole('projector', [], { env });
    roles.push(projector);
    await projector.waitFor(/leading with fencing token \d+/);
    const users = async (url: string) => (await gql(url, '{ users(first: 50) { edges { node { name } } } }'));
    const deadline = Date.now() + 15_000;
    let names: string[] = [];
    while (Date.now() < deadline) {
      const r = await users(urls[1]);
      names = (r.data?.users?.edges ?? []).map((e: any) => e.node.name);
      if (names.includes('Bob')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(names.includes('Bob'), `Bob after the projector came back: ${JSON.stringify(names)}`);
    if (bobId) assert.is(await userName(urls[0], bobId), 'Bob');
    for (const s of api) assert.is(await s.stop(), 0, s.output());
    assert.is(await projector.stop(), 0, projector.output());
  } finally {
    for (const r of roles) await r.stop(2000);
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
