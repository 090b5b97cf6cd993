/**
 * Redis read models (distributed profile) against a real redis-server: for the same log, the projects, RRegister and
 * CRegister models in Redis hold exactly the rows of the embedded SQLite models (equal digests, live and after more
 * events, including deletes); a batch and its checkpoint commit together (a batch refused midway leaves nothing);
 * a restarted projector resumes from Redis's checkpoint; a version bump and `rebuild()` build a new generation and
 * swap it in while readers keep the old one; a projector with an older fencing token is refused and stops.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { seedAll } from '../cli/commands/seed.ts';
import { loadConfig } from '../core/config.ts';
import { openLedger, type Ledger } from '../core/ledger.ts';
import { startScheduler } from '../layers/components/scheduler/scheduler.ts';
import { grid, needs, registerHosts, requestComponent, until } from '../layers/components/testing/fleet.ts';
import { ProjectsService } from '../layers/projects/service.ts';
import { cregisterProjection } from '../projections/cregister.ts';
import { projectsProjection } from '../projections/projects.ts';
import { memberOf, RedisLayout } from '../projections/redis/layout.ts';
import { RedisProjector, redisDigest } from '../projections/redis/projector.ts';
import { REDIS_PROJECTIONS, startRedisProjections } from '../projections/redis/start.ts';
import { rregisterProjection } from '../projections/rregister.ts';
import { startRedisServer, type RedisServerHandle } from './harness/redis-server.ts';

const OP = { kind: 'operator' as const, id: 'ops' };
let server: RedisServerHandle;
let dir: string;
let ledger: Ledger;
let redis: Redis;

async function sqliteDigests(): Promise<Record<string, string>> {
  await ledger.settle();
  return Object.fromEntries(REDIS_PROJECTIONS.map((p) => [p.name, ledger.projections.digest(p.name)]));
}
async function redisDigests(root?: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const p of REDIS_PROJECTIONS) out[p.name] = (await redisDigest(redis, p, { root })).digest;
  return out;
}

test.before(async () => { try {
  server = await startRedisServer();
  redis = new Redis(server.url);
  dir = mkdtempSync(join(tmpdir(), 'ledger-redis-proj-'));
  ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir, LEDGER_LOG_LEVEL: 'silent' }), { projections: REDIS_PROJECTIONS });
  // a log with all three registers in it: the demo topology and tenant, component types, placed components
  const summary = await seedAll(ledger);
  await registerHosts(ledger, grid(1, 3, 2, 1)); // region r_0, where the test components go
  const scheduler = await startScheduler(ledger, { bus: null, sweepIntervalMs: 100, log: () => undefined });
  try {
    for (let i = 0; i < 4; i++) await requestComponent(ledger, needs(`c_redis${i}`, { projectId: summary.tenant.projectId, tenantId: summary.tenant.userId }));
    await until('placed', async () => {
      await ledger.settle();
      const n = ledger.readModels.prepare(`SELECT count(*) FROM cregister_replicas WHERE component_id LIKE 'c_redis%' AND host_id IS NOT NULL`).pluck().get() as number;
      return n >= 4;
    }, 20_000);
    await scheduler.idle();
  } finally {
    await scheduler.stop();
  }
  } catch (error) { console.error('setup failed', error); throw error; }
});

test.after(async () => {
  redis?.disconnect();
  await ledger?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the Redis models equal the SQLite models for the same log, live and after more changes', async () => {
  const running = await startRedisProjections(ledger.store, server.url, { root: 'eq' });
  try {
    await running.waitFor(await ledger.store.headPosition());
    const sqlite = await sqliteDigests();
    assert.equal(await redisDigests('eq'), sqlite);
    for (const p of REDIS_PROJECTIONS) assert.is(running.digest(p.name), sqlite[p.name], `${p.name}: projector copy`);
    const hosts = await redis.hlen('eq:rregister:g1:t:rr_hosts');
    assert.ok(hosts >= 16, `hosts in Redis: ${hosts}`);

    // more events: renames, quotas, a new user and project, component link/unlink (a row delete), a released component
    const projects = new ProjectsService(ledger);
    const u = await projects.createUser(OP, { name: 'redis-user' });
    const tenant = { kind: 'tenant' as const, id: u.id };
    const p = await projects.createProject(tenant, { name: 'redis-project' });
    await projects.renameProject(tenant, { projectId: p.id, name: 'renamed' });
    await projects.setProjectQuotas(tenant, { projectId: p.id, quotas: { cpuCores: 8 } });
    await projects.linkComponent(OP, { projectId: p.id, componentId: 'c_x1' }).catch(() => {});
    await projects.unlinkComponent(OP, { projectId: p.id, componentId: 'c_x1' }).catch(() => {});
    await projects.archiveProject(tenant, { projectId: p.id });
    await running.waitFor(await ledger.store.headPosition());
    assert.equal(await redisDigests('eq'), await sqliteDigests());
    assert.ok(await redis.hexists('eq:projects:g1:t:projects_projects', p.id));
    assert.is(await redis.zscore(`eq:projects:g1:i:projects_members:user_id:${u.id}`, memberOf([u.id, p.id])), String((JSON.parse((await redis.hget('eq:projects:g1:t:projects_projects', p.id))!) as { seq: number }).seq));
  } finally {
    await running.stop();
  }
});

test('a restarted projector resumes from the Redis checkpoint and applies nothing twice', async () => {
  const head = await ledger.store.headPosition();
  const first = await startRedisProjections(ledger.store, server.url, { root: 'resume', projections: [projectsProjection] });
  await first.waitFor(head);
  await first.stop();
  const at = Number(await redis.hget('resume:projects:g1:cp', 'position'));
  assert.is(at, head);
  const projects = new ProjectsService(ledger);
  await projects.createUser(OP, { name: 'after-restart' });
  const second = await startRedisProjections(ledger.store, server.url, { root: 'resume', projections: [projectsProjection] });
  try {
    await second.waitFor(await ledger.store.headPosition());
    assert.is(second.statuses()[0].gen, 1, 'same generation');
    assert.is((await redisDigest(redis, projectsProjection, { root: 'resume' })).digest, (await sqliteDigests()).projects);
  } finally {
    await second.stop();
  }
});

test('a batch and its checkpoint commit together: a batch that fails in apply leaves Redis unchanged, then goes through', async () => {
  const failing = { ...projectsProjection, apply: projectsProjection.apply };
  let fail = true;
  failing.apply = (db, e) => {
    projectsProjection.apply(db, e);
    if (fail && e.type === 'UserRenamed') throw new Error('injected failure after part of the batch was applied');
  };
  const projects = new ProjectsService(ledger);
  const u = await projects.createUser(OP, { name: 'before-crash' });
  await projects.renameUser(OP, { userId: u.id, name: 'after-crash' });
  const errors: unknown[] = [];
  const projector = new RedisProjector({ store: ledger.store, redis, projection: failing, root: 'crash', batchSize: 100_000, onError: (_n, e) => errors.push(e) });
  await projector.start();
  try {
    await until('the failing batch was tried', () => errors.length > 0, 10_000, 20);
    // nothing of the failing batch is in Redis: neither the user created before the failing event nor a checkpoint
    const cp = await redis.hget('crash:projects:g1:cp', 'position');
    assert.is(cp, null, 'no checkpoint moved');
    assert.is(await redis.hexists('crash:projects:g1:t:projects_users', u.id), 0, 'no row of the batch');
    fail = false;
    await projector.waitFor(await ledger.store.headPosition());
    assert.is(JSON.parse((await redis.hget('crash:projects:g1:t:projects_users', u.id))!).name, 'after-crash');
    assert.is((await redisDigest(redis, projectsProjection, { root: 'crash' })).digest, (await sqliteDigests()).projects);
  } finally {
    await projector.stop();
  }
});

test('rebuild folds into a new generation and swaps it in; the old one stays readable until the grace ends', async () => {
  const running = await startRedisProjections(ledger.store, server.url, { root: 'rb', projections: [rregisterProjection], graceMs: 300 });
  try {
    await running.waitFor(await ledger.store.headPosition());
    const layout = new RedisLayout('rregister', 'rb');
    assert.is(await redis.hget(layout.meta, 'gen'), '1');
    const before = await redisDigest(redis, rregisterProjection, { root: 'rb' });
    const result = await running.rebuild('rregister');
    assert.is(result.gen, 2);
    assert.is(await redis.hget(layout.meta, 'gen'), '2');
    const after = await redisDigest(redis, rregisterProjection, { root: 'rb' });
    assert.is(after.digest, before.digest, 'rebuild = live');
    assert.is(result.digest, before.digest);
    assert.ok(await redis.exists(layout.rows(1, 'rr_hosts')), 'old generation still there during the grace');
    await until('old generation deleted', async () => (await redis.keys(`${layout.genPrefix(1)}:*`)).length === 0, 5000, 50);
    // the new generation is live: more events land there
    await new ProjectsService(ledger).createUser(OP, { name: 'x' }); // not an rregister event: position moves anyway
    await running.waitFor(await ledger.store.headPosition());
    assert.is(Number(await redis.hget(layout.cp(2), 'position')) <= (await ledger.store.headPosition()), true);
  } finally {
    await running.stop();
  }
});

test('a version bump rebuilds from zero into a new generation', async () => {
  const v1 = await startRedisProjections(ledger.store, server.url, { root: 'vb', projections: [cregisterProjection] });
  await v1.waitFor(await ledger.store.headPosition());
  await v1.stop();
  const bumped = { ...cregisterProjection, version: cregisterProjection.version + 1 };
  const v2 = await startRedisProjections(ledger.store, server.url, { root: 'vb', projections: [bumped], graceMs: 100 });
  try {
    await v2.waitFor(await ledger.store.headPosition());
    const layout = new RedisLayout('cregister', 'vb');
    assert.is(await redis.hget(layout.meta, 'gen'), '2');
    assert.is(await redis.hget(layout.cp(2), 'version'), String(bumped.version));
    assert.is((await redisDigest(redis, cregisterProjection, { root: 'vb' })).digest, (await sqliteDigests()).cregister);
  } finally {
    await v2.stop();
  }
});

test('fencing: a projector whose token is below the stored fence is refused, writes nothing, and stops', async () => {
  const newer = await startRedisProjections(ledger.store, server.url, { root: 'fence', projections: [projectsProjection], fence: { name: 'projector', token: 7 } });
  await newer.waitFor(await ledger.store.headPosition());
  await newer.stop();
  const layout = new RedisLayout('projects', 'fence');
  assert.is(await redis.hget(layout.meta, 'fence'), '7');
  const cpBefore = await redis.hget(layout.cp(1), 'position');
  const digestBefore = (await redisDigest(redis, projectsProjection, { root: 'fence' })).digest;

  // the old leader (token 5) wakes up and tries to write a new event
  await new ProjectsService(ledger).createUser(OP, { name: 'written-while-fenced' });
  const fenced: string[] = [];
  const stale = await startRedisProjections(ledger.store, server.url, {
    root: 'fence', projections: [projectsProjection], fence: { name: 'projector', token: 5 }, onFenced: (name) => fenced.push(name),
    log: { warn: () => {}, error: () => {} },
  });
  try {
    await until('refused', () => fenced.length > 0, 10_000, 20);
    assert.equal(fenced, ['projects']);
    assert.is(stale.statuses()[0].fenced, true);
    assert.is(await redis.hget(layout.cp(1), 'position'), cpBefore, 'checkpoint unchanged');
    assert.is((await redisDigest(redis, projectsProjection, { root: 'fence' })).digest, digestBefore, 'rows unchanged');
  } finally {
    await stale.stop();
  }
  // a lease function that says "lost" (null) stops writing too
  const lost: string[] = [];
  const noLease = await startRedisProjections(ledger.store, server.url, {
    root: 'fence', projections: [projectsProjection], fence: () => null, onFenced: (name) => lost.push(name), log: { warn: () => {}, error: () => {} },
  }).catch((e: Error) => e);
  if (noLease instanceof Error) assert.match(noLease.message, /lease is lost/);
  else {
    await until('stopped', () => lost.length > 0, 10_000, 20);
    await noLease.stop();
  }
  assert.is(await redis.hget(layout.cp(1), 'position'), cpBefore);
});

test.run();
