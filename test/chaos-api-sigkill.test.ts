/**
 * Chaos: SIGKILL of the API (`ledger serve`, a real child process) in the middle of a mutation storm, three times.
 *
 * Sixteen clients create projects through GraphQL, each mutation with its own idempotency key. A mutation counts as
 * ACKNOWLEDGED when its payload came back with a project and no userErrors. After each kill the API is started again
 * on the same data directory and every mutation whose answer was lost (the connection died) is retried with the
 * same key, as a client must; so are some acknowledged ones. Over the log at the end:
 *  - nothing lost: every acknowledged key has its ProjectCreated event, under the id the client was given;
 *  - nothing duplicated: no command id has more than one ProjectCreated (a retry returns the first outcome);
 *  - invariants: every stream's hash chain verifies, and the read model shows exactly the projects of the log.
 * Prints: acknowledged, lost, duplicated, retried, and the recovery time (kill → /readyz 200) of each restart.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { issueToken } from '../api/auth/tokens.ts';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import '../schema/index.ts';
import { gql, sleep, startRole, until, type RoleProcess } from './harness/roles.ts';

const guard = setTimeout(() => { console.error('chaos-api-sigkill.test.ts: over 90 s, aborting'); process.exit(1); }, 90_000);
guard.unref();

const ROUNDS = 3;
const CLIENTS = 16;
const SECRET = 'chaos-test-secret-0123456789abcdef0123456789';
const dir = mkdtempSync(join(tmpdir(), 'ledger-chaos-api-'));
const env = { LEDGER_DATA_DIR: dir, LEDGER_TOKEN_SECRET: SECRET, LEDGER_MODE: 'production', LEDGER_LOG_LEVEL: 'warn', LEDGER_API_RATE_LIMIT: '0' };
let api: RoleProcess | undefined;
test.after(async () => { await api?.kill(); rmSync(dir, { recursive: true, force: true }); });

const start = () => startRole('serve', ['--port', '0', '--no-roles'], { env, ready: /GraphQL: (http:\/\/\S+\/graphql)/ });
const CREATE = 'mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { project { id } userErrors { code message } } }';

test('SIGKILL of ledger serve mid-storm: every acknowledged mutation is in the log, none twice', async () => {
  const secret = new TextEncoder().encode(SECRET);
  const operator = await issueToken(secret, { kind: 'operator', name: 'chaos' });
  api = await start();
  let url = api.match![1];
  const user = await gql(url, 'mutation { userCreate(input: { name: "chaos tenant", idempotencyKey: "chaos-user" }) { user { id } userErrors { code } } }', undefined, operator);
  const userId: string = user.body.data!.userCreate.user.id;
  const tenant = await issueToken(secret, { kind: 'tenant', userId });

  const acked = new Map<string, string>();     // key → project id the client was given
  const unanswered = new Set<string>();        // keys whose answer was lost
  const refused: string[] = [];
  let next = 0;
  const send = async (key: string, target: string) => {
    try {
      const r = await gql(target, CREATE, { input: { name: `p ${key}`, idempotencyKey: key } }, tenant);
      const p = r.body.data?.projectCreate;
      if (p?.project?.id && p.userErrors.length === 0) {
        const before = acked.get(key);
        if (before && before !== p.project.id) refused.push(`${key}: first ${before}, then ${p.project.id}`);
        acked.set(key, p.project.id);
        unanswered.delete(key);
      } else refused.push(`${key}: ${JSON.stringify(r.body).slice(0, 300)}`);
    } catch {
      if (!acked.has(key)) unanswered.add(key);
    }
  };

  const recoveries: number[] = [];
  let retried = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let storming = true;
    const target = url;
    const clients = Array.from({ length: CLIENTS }, async () => {
      while (storming) {
        const key = `k${next++}`;
        await send(key, target);
        if (unanswered.has(key)) return; // the server is gone: this client stops like a real one would
      }
    });
    await sleep(700 + Math.random() * 800);
    const killedAt = Date.now();
    await api.kill();
    storming = false;
    await Promise.all(clients);
    api = await start();
    url = api.match![1];
    await until('ready after restart', async () => (await fetch(url.replace('/graphql', '/readyz'))).status === 200, 30_000, 50);
    recoveries.push((Date.now() - killedAt) / 1000);
    // the client's retry: the same keys, for the lost answers and some acknowledged ones
    const again = [...unanswered, ...[...acked.keys()].slice(-20)];
    retried += again.length;
    for (let i = 0; i < again.length; i += CLIENTS) await Promise.all(again.slice(i, i + CLIENTS).map((k) => send(k, url)));
    assert.is(unanswered.size, 0, `every retried mutation was answered after round ${round}`);
  }
  await api.stop();
  api = undefined;

  assert.equal(refused, [], 'no mutation was refused and no retry got another id');
  const db = new Database(join(dir, 'events.sqlite'), { readonly: true });
  const rows = db.prepare("SELECT stream, json_extract(body, '$.metadata.commandId') AS c, json_extract(body, '$.data.projectId') AS id FROM events WHERE type = 'ProjectCreated'").all() as { stream: string; c: string; id: string }[];
  const byCommand = new Map<string, string[]>();
  for (const r of rows) byCommand.set(r.c, [...(byCommand.get(r.c) ?? []), r.id]);
  const prefix = `tenant:${userId}:projectCreate:`;
  const lost = [...acked].filter(([key, id]) => !(byCommand.get(prefix + key) ?? []).includes(id));
  const duplicated = [...byCommand].filter(([, ids]) => ids.length > 1);
  db.close();
  const store = new SqliteEventStore({ path: join(dir, 'events.sqlite'), readonly: true });
  const broken: string[] = [];
  for (const s of store.streams()) if (await store.verifyStream(s) !== null) broken.push(s);
  await store.close();

  console.log(`  ${ROUNDS} kills of ledger serve: ${acked.size} acknowledged, ${rows.length} ProjectCreated in the log, lost ${lost.length}, duplicated ${duplicated.length}, `
    + `${retried} retried; recovery (kill → ready) ${recoveries.map((s) => `${s.toFixed(1)} s`).join(', ')}`);
  assert.ok(acked.size >= 50, `enough mutations were acknowledged (${acked.size})`);
  assert.equal(lost, [], 'every acknowledged mutation is in the log');
  assert.equal(duplicated, [], 'no command id has two ProjectCreated events');
  assert.is(rows.length, acked.size, 'every project in the log was acknowledged in the end (after retries)');
  assert.equal(broken, [], 'every hash chain verifies');

  // the read model rebuilt from the same log agrees: a fresh API lists exactly the acknowledged projects
  api = await start();
  url = api.match![1];
  await until('ready', async () => (await fetch(url.replace('/graphql', '/readyz'))).status === 200, 30_000, 50);
  const ids = new Set<string>();
  let after: string | null = null;
  for (;;) {
    const r: any = await gql(url, 'query($after: String) { viewer { projects(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }', { after }, tenant);
    const page = r.body.data.viewer.projects;
    for (const e of page.edges) ids.add(e.node.id);
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor;
  }
  assert.equal([...ids].sort(), [...acked.values()].sort(), 'the tenant sees exactly its acknowledged projects');
});

test.run();
