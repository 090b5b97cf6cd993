/**
 * `ledger projector --rebuild-redis`: the Redis registers are rebuilt from the log on demand, into a fresh generation
 * that replaces the live one, and the rebuilt registers equal a rebuild from zero of the same log (same digest).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedisServer } from './harness/redis-server.ts';
import { startRole } from './harness/roles.ts';
import { loadConfig } from '../core/config.ts';
import { openLedger } from '../core/ledger.ts';
import '../schema/index.ts';
import { ProjectsService } from '../layers/projects/service.ts';
import { rebuildProjection } from '../projections/runner.ts';
import { REDIS_PROJECTIONS } from '../projections/redis/start.ts';
import { redisDigest } from '../projections/redis/projector.ts';

test('--rebuild-redis: every register folded again into a new generation, equal to a rebuild from zero', async () => {
  const redisServer = await startRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'ledger-projector-rebuild-'));
  const ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir } as NodeJS.ProcessEnv), { project: false });
  const redis = new Redis(redisServer.url);
  const env = { LEDGER_DATA_DIR: dir, LEDGER_REDIS_URL: redisServer.url };
  const roles: { kill(): Promise<void> }[] = [];
  try {
    const projects = new ProjectsService(ledger);
    const operator = { kind: 'operator' as const, id: 'rebuild-test' };
    for (let i = 0; i < 20; i++) {
      const { id } = await projects.createUser(operator, { name: `user ${i}` });
      if (i % 2) await projects.renameUser(operator, { userId: id, name: `user ${i} renamed` });
    }
    const head = await ledger.store.headPosition();

    // A first projector folds the registers into generation g.
    const first = await startRole('projector', [], { env });
    roles.push(first);
    await first.waitFor(/leading with fencing token/);
    const until = Date.now() + 20_000;
    let before = await Promise.all(REDIS_PROJECTIONS.map((p) => redisDigest(redis, p)));
    while (Date.now() < until && !before.every((b) => b.position === head)) {
      await new Promise((r) => setTimeout(r, 50));
      before = await Promise.all(REDIS_PROJECTIONS.map((p) => redisDigest(redis, p)));
    }
    assert.ok(before.every((b) => b.position === head), 'the live registers caught up');
    assert.is(await first.stop(), 0, first.output());

    // On demand: the same registers rebuilt from the log, each into a newer generation.
    const second = await startRole('projector', ['--rebuild-redis'], { env });
    roles.push(second);
    for (const p of REDIS_PROJECTIONS) {
      const [, gen, digest] = await second.waitFor(new RegExp(`rebuilt ${p.name} from the log: generation (\\d+), .* digest (\\S+)`));
      const was = before[REDIS_PROJECTIONS.indexOf(p)];
      assert.ok(Number(gen) > was.gen, `${p.name}: a new generation (${gen} after ${was.gen})`);
      const live = await redisDigest(redis, p);
      assert.is(live.gen, Number(gen), `${p.name}: readers now see the rebuilt generation`);
      const zero = await rebuildProjection(ledger.store, p, { until: live.position });
      assert.is(live.digest, zero.digest, `${p.name}: the rebuilt register equals a rebuild from zero`);
      assert.is(digest, live.digest, `${p.name}: the printed digest is the live one`);
      assert.is(live.digest, was.digest, `${p.name}: the same log gives the same register`);
    }
    assert.is(await second.stop(), 0, second.output());
  } finally {
    // a failed check must not leave a projector running (its handle would keep this process alive until the runner's timeout)
    await Promise.all(roles.map((r) => r.kill()));
    redis.disconnect();
    await ledger.close();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
