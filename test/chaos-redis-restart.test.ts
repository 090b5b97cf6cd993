/**
 * Chaos: redis-server dies (SIGKILL) and comes back EMPTY (no persistence: a lost Redis) while tenants create
 * projects through two API instances.
 *
 * Real processes: nats-server (the projector's lease), redis-server, `ledger projector` (writes the shared registers
 * into Redis) and two `ledger serve` (read them from Redis), one SQLite log. Eight clients create projects with
 * idempotency keys, alternating between the instances, for about seven seconds; 1.5 s in, Redis is killed, and started
 * again (empty) two seconds later. Meanwhile a watcher asks both instances /healthz and a Redis-backed query.
 *
 * Asserted: while Redis is away both instances keep answering — /healthz is HTTP 200 (`degraded`), the query
 * answers with data or a clear UNAVAILABLE error, never a 5xx or a timeout; after it is back the registers are
 * rebuilt from the log (the projector folds from zero into the empty Redis) and each instance lists exactly the
 * acknowledged projects (nothing lost, nothing duplicated; retried keys give the first id); the log holds one
 * ProjectCreated per command. Prints acknowledged, lost, duplicated, the outage answers, and the recovery time
 * (Redis back → both instances list every project).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { issueToken } from '../api/auth/tokens.ts';
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts';
import { startRedisServer, type RedisServerHandle } from './harness/redis-server.ts';
import { gql, sleep, startRole, until, type RoleProcess } from './harness/roles.ts';

const guard = setTimeout(() => { console.error('chaos-redis-restart.test.ts: over 90 s, aborting'); process.exit(1); }, 90_000);
guard.unref();

const SECRET = 'chaos-redis-secret-0123456789abcdef0123456789';
const dir = mkdtempSync(join(tmpdir(), 'ledger-chaos-redis-'));
let nats: NatsServerHandle | undefined;
let redis: RedisServerHandle | undefined;
const procs: RoleProcess[] = [];
let watching = true;
test.after(async () => {
  watching = false;
  for (const p of procs) await p.kill();
  await redis?.stop();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const CREATE = 'mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { project { id } userErrors { code message } } }';
const LIST = 'query($after: String) { viewer { projects(first: 100, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } } }';

test('redis-server lost mid-storm: the API stays up (degraded), the registers are rebuilt from the log, nothing lost or doubled', async () => {
  nats = await startNatsServer();
  redis = await startRedisServer({ persistence: false });
  const env = { LEDGER_DATA_DIR: dir, LEDGER_NATS_URL: nats.url, LEDGER_REDIS_URL: redis.url, LEDGER_TOKEN_SECRET: SECRET, LEDGER_MODE: 'production', LEDGER_LOG_LEVEL: 'warn', LEDGER_API_RATE_LIMIT: '0' };
  procs.push(await startRole('projector', [], { env, ready: /leading with fencing token/ }));
  const apis = [await startRole('serve', ['--port', '0'], { env, ready: /GraphQL: (http:\/\/\S+\/graphql)/ }), await startRole('serve', ['--port', '0'], { env, ready: /GraphQL: (http:\/\/\S+\/graphql)/ })];
  procs.push(...apis);
  const urls = apis.map((a) => a.match![1]);
  const secret = new TextEncoder().encode(SECRET);
  const operator = await issueToken(secret, { kind: 'operator', name: 'chaos' });
  const user = await gql(urls[0], 'mutation { userCreate(input: { name: "redis chaos", idempotencyKey: "redis-chaos" }) { user { id } } }', undefined, operator);
  const userId: string = user.body.data.userCreate.user.id;
  const tenant = await issueToken(secret, { kind: 'tenant', userId });

  /** What Redis and the log hold (for failure messages). */
  const redisState = async () => {
    const r = new Redis(redis!.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await r.connect();
      const show = async (k: string) => {
        const t = await r.type(k);
        const v = t === 'string' ? await r.get(k) : t === 'hash' ? (k.includes(':t:') ? `${await r.hlen(k)} rows` : JSON.stringify(await r.hgetall(k))) : t === 'zset' ? `${await r.zcard(k)} members` : t;
        return `${k}=${v}`;
      };
      const keys = (await r.keys('ledger:rm:projects:*')).filter((k) => !k.includes(':i:') && !k.includes(':s:')).sort();
      const meta = keys.length ? (await Promise.all(keys.map(show))).join('; ') : '(no projects keys)';
      const db = new Database(join(dir, 'events.sqlite'), { readonly: true });
      const head = (db.prepare('SELECT max(position) AS p FROM events').get() as { p: number }).p;
      db.close();
      return `log head ${head}; redis: ${meta}`;
    } catch (error) { return `redis state unknown: ${error}`; } finally { r.disconnect(); }
  };
  const acked = new Map<string, string>();
  const unanswered = new Set<string>();
  const changedId: string[] = [];
  let lastRefusal = '';
  const send = async (key: string, url: string) => {
    try {
      const r = await gql(url, CREATE, { input: { name: `p ${key}`, idempotencyKey: key } }, tenant, 15_000);
      const p = r.body.data?.projectCreate;
      if (p?.project?.id && !p.userErrors.length) {
        if (acked.has(key) && acked.get(key) !== p.project.id) changedId.push(key);
        acked.set(key, p.project.id); unanswered.delete(key);
      } else if (!acked.has(key)) { unanswered.add(key); lastRefusal = JSON.stringify(r.body).slice(0, 400); } // e.g. UNAVAILABLE: the client does not know; it retries later
    } catch (e) { if (!acked.has(key)) { unanswered.add(key); lastRefusal = String(e); } }
  };

  // the watcher: what each instance answers while Redis comes and goes
  const answers = { healthOk: 0, healthDegraded: 0, healthBad: [] as string[], queryData: 0, queryUnavailable: 0, queryBad: [] as string[] };
  const watcher = (async () => {
    while (watching) {
      for (const url of urls) {
        try {
          const h = await fetch(url.replace('/graphql', '/healthz'), { signal: AbortSignal.timeout(5000) });
          const body = await h.json() as { status: string };
          if (h.status !== 200) answers.healthBad.push(`HTTP ${h.status}`);
          else if (body.status === 'degraded') answers.healthDegraded++; else answers.healthOk++;
        } catch (e) { answers.healthBad.push(String(e)); }
        try {
          const q = await gql(url, 'query { viewer { projects(first: 5) { nodes { id } } } }', undefined, tenant, 5000);
          if (q.status >= 500) answers.queryBad.push(`HTTP ${q.status}`);
          else if (q.body.errors?.length) {
            if (q.body.errors.every((e) => e.extensions?.code === 'UNAVAILABLE')) answers.queryUnavailable++;
            else answers.queryBad.push(JSON.stringify(q.body.errors).slice(0, 200));
          } else answers.queryData++;
        } catch (e) { answers.queryBad.push(String(e)); }
      }
      await sleep(100);
    }
  })();

  let next = 0;
  let storming = true;
  const clients = Array.from({ length: 8 }, async (_, c) => {
    while (storming) { await send(`k${next++}`, urls[c % 2]); await sleep(20); }
  });
  await sleep(1500);
  await redis.kill();
  await sleep(2000);
  await redis.start();
  const backAt = Date.now();
  await sleep(3500);
  storming = false;
  await Promise.all(clients);
  // the clients retry what was not acknowledged (and some of what was) until answered
  await until('every mutation answered once Redis is back', async () => {
    for (const key of [...unanswered]) await send(key, urls[0]);
    return unanswered.size === 0;
  }, 30_000, 500).catch(async (e) => { throw new Error(`${e.message}: ${unanswered.size} left; last answer ${lastRefusal}\n${await redisState()}\n--- projector:\n${procs[0].output().slice(-2500)}`); });
  for (const key of [...acked.keys()].slice(-10)) await send(key, urls[1]);

  const list = async (url: string) => {
    const ids: string[] = [];
    let after: string | null = null;
    for (;;) {
      const r: any = await gql(url, LIST, { after }, tenant);
      const page = r.body.data.viewer.projects;
      ids.push(...page.nodes.map((n: { id: string }) => n.id));
      if (!page.pageInfo.hasNextPage) return ids;
      after = page.pageInfo.endCursor;
    }
  };
  const expected = [...new Set(acked.values())].sort();
  await until('both instances list every acknowledged project', async () => {
    for (const url of urls) if (JSON.stringify((await list(url)).sort()) !== JSON.stringify(expected)) return false;
    return true;
  }, 30_000, 200).catch(async (e) => { throw new Error(`${e.message}: ${(await list(urls[0]).catch(() => [])).length} and ${(await list(urls[1]).catch(() => [])).length} listed, ${expected.length} acknowledged\n--- projector:\n${procs[0].output().slice(-2000)}`); });
  const recovery = (Date.now() - backAt) / 1000;
  watching = false;
  await watcher;

  const db = new Database(join(dir, 'events.sqlite'), { readonly: true });
  const rows = db.prepare("SELECT json_extract(body, '$.metadata.commandId') AS c, count(*) AS n FROM events WHERE type = 'ProjectCreated' GROUP BY c").all() as { c: string; n: number }[];
  db.close();
  const prefix = `tenant:${userId}:projectCreate:`;
  const inLog = new Set(rows.map((r) => r.c.slice(prefix.length)));
  const lost = [...acked.keys()].filter((k) => !inLog.has(k));
  const duplicated = rows.filter((r) => r.n > 1);
  const finalList = await list(urls[1]);
  console.log(`  Redis killed and restarted empty: ${acked.size} acknowledged, ${rows.length} ProjectCreated, lost ${lost.length}, duplicated ${duplicated.length}, ids changed on retry ${changedId.length}; `
    + `during the run: healthz ok ${answers.healthOk} / degraded ${answers.healthDegraded} / bad ${answers.healthBad.length}, queries data ${answers.queryData} / UNAVAILABLE ${answers.queryUnavailable} / bad ${answers.queryBad.length}; `
    + `registers rebuilt, both instances complete ${recovery.toFixed(1)} s after Redis came back`);
  assert.equal(lost, [], 'every acknowledged project is in the log');
  assert.equal(duplicated, [], 'one ProjectCreated per command');
  assert.equal(changedId, [], 'a retried key gives the first id');
  assert.is(rows.length, acked.size, 'every project in the log was acknowledged in the end');
  assert.is(new Set(finalList).size, finalList.length, 'no project listed twice');
  assert.equal(answers.healthBad, [], '/healthz always answered 200');
  assert.equal(answers.queryBad.slice(0, 3), [], 'queries answered data or a clear UNAVAILABLE, nothing else');
  assert.ok(answers.healthDegraded > 0, 'the outage was seen: degraded');
  for (const p of procs) assert.not.ok(p.exited, `ledger ${p.role} survived the Redis outage`);
});

test.run();
