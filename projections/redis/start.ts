/**
 * The projector role's Redis part (distributed profile): the shared registers (projects, RRegister, CRegister) folded
 * into Redis, and — once a batch is committed there — the GraphQL change messages published on Redis pub/sub, so
 * every API instance relays them to its subscribers. Exactly one projector should run per projection: pass the
 * lease's fencing token (`fence`, or one per projection in `fences`) and a stale one is refused by Redis itself.
 *
 *   const running = await startRedisProjections(store, 'redis://127.0.0.1:6379', { fence: { name: 'projector', token } });
 *   await running.rebuild('rregister');   // fold from zero into a new generation, then swap
 *   await running.stop();
 */
import { Redis } from 'ioredis';
import type { EventStore } from '../../core/event-store/port.ts';
import { startChangeFeeds, type ChangeFeed, type RunningFeeds } from '../../api/pubsub/change-feed.ts';
import { RedisPubSub } from '../../api/pubsub/redis.ts';
import { cregisterProjection } from '../cregister.ts';
import { projectsProjection } from '../projects.ts';
import { rregisterProjection } from '../rregister.ts';
import type { SqliteProjection } from '../runner.ts';
import { DEFAULT_ROOT } from './layout.ts';
import { RedisProjector, type Fence, type RedisProjectionStatus } from './projector.ts';

/** The registers the distributed profile keeps in Redis (the API reads them through readers.ts). */
export const REDIS_PROJECTIONS: SqliteProjection[] = [projectsProjection, rregisterProjection, cregisterProjection];
export const REDIS_PROJECTION_NAMES = new Set(REDIS_PROJECTIONS.map((p) => p.name));

export interface StartRedisProjectionsOptions {
  /** Fencing token for every projection (from the projector's lease). */
  fence?: Fence;
  /** Per-projection tokens (when each projection has its own lease); falls back to `fence`. */
  fences?: Record<string, Fence>;
  projections?: SqliteProjection[];
  /** Change feeds of the GraphQL modules (api/graphql/modules/*): published to Redis pub/sub after each commit. */
  changeFeeds?: ChangeFeed[];
  root?: string;
  batchSize?: number;
  graceMs?: number;
  log?: { info?(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** A projection's write was refused by its fence: the projector stopped it (the caller should exit). */
  onFenced?: (projection: string, error: Error) => void;
}

export interface RunningRedisProjections {
  redis: Redis;
  projectors: RedisProjector[];
  statuses(): RedisProjectionStatus[];
  /** Resolves once every projection's live generation holds the log up to `position`. */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  rebuild(name: string): ReturnType<RedisProjector['rebuild']>;
  digest(name: string): string;
  stop(): Promise<void>;
}

export async function startRedisProjections(store: EventStore, redisUrl: string, options: StartRedisProjectionsOptions = {}): Promise<RunningRedisProjections> {
  const log = options.log ?? { warn: (o: object, m: string) => console.warn(m, o), error: (o: object, m: string) => console.error(m, o) };
  // The projector waits for Redis rather than failing its writes while it is away (commands queue, then retry).
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null, connectionName: 'ledger-projector' });
  redis.on('error', (error) => log.warn({ err: error }, 'redis connection error (reconnecting)'));
  const projectors = (options.projections ?? REDIS_PROJECTIONS).map((projection) => new RedisProjector({
    store, redis, projection, root: options.root ?? DEFAULT_ROOT, batchSize: options.batchSize, graceMs: options.graceMs,
    fence: options.fences?.[projection.name] ?? options.fence,
    onError: (name, error) => log.error({ projection: name, err: error }, 'redis projection failed a batch (retrying)'),
    onFenced: (name, error) => {
      log.error({ projection: name, err: error }, 'redis projection fenced off: a newer projector holds the lease; stopped');
      options.onFenced?.(name, error);
    },
  }));
  const byName = (name: string) => {
    const p = projectors.find((x) => x.name === name);
    if (!p) throw new Error(`unknown redis projection ${name}; known: ${projectors.map((x) => x.name).join(', ')}`);
    return p;
  };
  const waitFor = async (position: number, timeoutMs = 10_000) => { await Promise.all(projectors.map((p) => p.waitFor(position, timeoutMs))); };
  try {
    for (const p of projectors) await p.start();
  } catch (error) {
    for (const p of projectors) await p.stop();
    redis.disconnect();
    throw error;
  }

  let feeds: RunningFeeds | null = null;
  let pubsub: RedisPubSub | null = null;
  if (options.changeFeeds?.length) {
    pubsub = new RedisPubSub(redisUrl, { onError: (error) => log.warn({ err: error }, 'redis pubsub error') });
    feeds = await startChangeFeeds({ store, feeds: options.changeFeeds, pubsub, log, readModelsAt: waitFor });
  }

  return {
    redis,
    projectors,
    statuses: () => projectors.map((p) => p.status()),
    waitFor,
    rebuild: (name) => byName(name).rebuild(),
    digest: (name) => byName(name).digest(),
    async stop() {
      await feeds?.close();
      await pubsub?.close();
      for (const p of projectors) await p.stop();
      redis.disconnect();
    },
  };
}
