/**
 * The API server: fastify with one plugin per concern.
 *
 *   root            correlation ids (x-correlation-id in, out, and in every log line), error and 404 handlers,
 *                   HTTP metrics
 *   ├─ health       /healthz, /readyz, /metrics                    (no authentication)
 *   └─ api scope    auth (bearer tokens) → rate limit (per token) → billing exports (/billing, operator tokens)
 *                   → GraphQL (mercurius, subscriptions, GraphiQL in dev)
 *
 * `buildServer(ledger, options)` returns the fastify instance, not listening: tests `listen({ port: 0 })`,
 * `ledger serve` listens on LEDGER_HOST:LEDGER_PORT. Closing the server stops the change feeds and the pub/sub it
 * made; the ledger belongs to the caller.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Ledger } from '../core/ledger.ts';
import { loadTokenSecret, TokenVerifier } from './auth/tokens.ts';
import { watchRevocations } from './auth/revocations.ts';
import { correlationIdOf } from './correlation.ts';
import { DEFAULT_LIMITS, type QueryLimits } from './graphql/hardening.ts';
import type { GraphQLModule } from './graphql/module.ts';
import { CursorCodec } from './graphql/relay.ts';
import { assemble, discoverModules, type AssembledApi } from './graphql/schema.ts';
import { authPlugin } from './plugins/auth.ts';
import { billingPlugin } from './plugins/billing.ts';
import { graphqlPlugin } from './plugins/graphql.ts';
import { healthPlugin } from './plugins/health.ts';
import { createMetrics, httpMetricsPlugin, type ApiMetrics } from './plugins/metrics.ts';
import { rateLimitPlugin } from './plugins/rate-limit.ts';
import { startChangeFeeds, type RunningFeeds } from './pubsub/change-feed.ts';
import { InProcessPubSub } from './pubsub/in-process.ts';
import type { PubSub } from './pubsub/port.ts';
import { attachRedisReadModels, type RedisReadModels } from '../projections/redis/readers.ts';

export const GRAPHQL_PATH = '/graphql';

export interface ApiOptions {
  /** Default: the ledger's LEDGER_MODE. Production turns introspection, GraphiQL and "did you mean" hints off. */
  mode?: 'development' | 'production';
  /** pino options (default: level LEDGER_LOG_LEVEL), or false for no logs. */
  logger?: FastifyServerOptions['logger'];
  /** Token signing secret (default: LEDGER_TOKEN_SECRET or <data>/token.key). */
  tokenSecret?: Uint8Array;
  /** GraphQL modules (default: discovered from api/graphql/modules/). */
  modules?: GraphQLModule[];
  /** Pub/sub for subscriptions (default: in-process). */
  pubsub?: PubSub;
  /** Publish read-model changes to the pub/sub from this process (default true; off when another process does it). */
  publishChanges?: boolean;
  /** Largest request body in bytes (default 64 KiB). */
  bodyLimit?: number;
  /** Requests per window per token on /graphql (default 1200 per minute); false: no limit. */
  rateLimit?: { max: number; timeWindowMs?: number } | false;
  limits?: Partial<QueryLimits>;
  /** Largest projection lag /readyz accepts (default 1000 events). */
  readyMaxLag?: number;
  graphiql?: boolean;
  /** graphql-jit: compile a query after N executions (default 1; 0: off). */
  jit?: number;
  /** Answer repeated cacheable queries from the response cache (default true). */
  responseCache?: boolean;
  /** Collect Node's default process metrics (default true). */
  defaultMetrics?: boolean;
  /** Mutations wait this long for the read models (default 5 s). */
  settleTimeoutMs?: number;
  /**
   * Distributed profile: the shared registers (projects, RRegister, CRegister) are read from Redis, where the
   * projector keeps them; mutations wait for them there, and /readyz reports Redis (degraded while it is away).
   */
  redisReadModels?: RedisReadModels;
}

declare module 'fastify' {
  interface FastifyInstance {
    ledgerApi: { metrics: ApiMetrics; api: AssembledApi; pubsub: PubSub; isClosing(): boolean };
  }
}


export { correlationIdOf };

export async function buildServer(ledger: Ledger, options: ApiOptions = {}): Promise<FastifyInstance> {
  const mode = options.mode ?? ledger.config.LEDGER_MODE;
  const production = mode === 'production';
  const modules = options.modules ?? await discoverModules();
  const api = assemble(modules);
  const secret = options.tokenSecret ?? loadTokenSecret(ledger.config);
  // revoked tokens (`ledger token revoke`) are refused by every API instance, learnt from the log
  const revocations = await watchRevocations(ledger.store, (error) => console.error('token revocations: subscription failed', error));
  const verifier = new TokenVerifier(secret, { isRevoked: (tokenId) => revocations.has(tokenId) });
  const cursors = new CursorCodec(secret);
  const ownPubsub = !options.pubsub;
  const pubsub = options.pubsub ?? new InProcessPubSub();
  const metrics = createMetrics(ledger, { defaultMetrics: options.defaultMetrics });
  const limits: QueryLimits = { ...DEFAULT_LIMITS, introspection: !production, ...options.limits };
  let closing = false;
  const redis = options.redisReadModels;
  if (redis) attachRedisReadModels(ledger, redis);
  /** Resolves once every read model this API reads holds the log up to `position`. */
  const readModelsAt = redis
    ? async (position: number, timeoutMs: number) => { await Promise.all([ledger.projections.waitFor(position, timeoutMs), redis.waitFor(position, timeoutMs)]); }
    : (position: number, timeoutMs: number) => ledger.projections.waitFor(position, timeoutMs);

  const app = Fastify({
    logger: options.logger ?? { level: ledger.config.LEDGER_LOG_LEVEL },
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'correlationId' }),
    genReqId: (req) => correlationIdOf(req.headers['x-correlation-id']),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  app.decorate('ledgerApi', { metrics, api, pubsub, isClosing: () => closing });

  app.addHook('onRequest', async (request, reply) => { reply.header('x-correlation-id', request.id); });
  app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'unexpected error');
      return reply.code(500).send({ errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId: request.id } }] });
    }
    return reply.code(status).send({ errors: [{ message: error.message, extensions: { code: error.code ?? 'BAD_REQUEST' } }] });
  });
  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send({ errors: [{ message: `no route ${request.method} ${request.url.split('?')[0].slice(0, 200)}`, extensions: { code: 'NOT_FOUND' } }] }));

  await app.register(httpMetricsPlugin, { metrics });
  await app.register(healthPlugin, { ledger, metrics, maxLag: options.readyMaxLag ?? 1000, isClosing: () => closing, redis });
  await app.register(async (scope) => {
    await scope.register(authPlugin, { verifier, paths: [GRAPHQL_PATH] });
    if (options.rateLimit !== false) await scope.register(rateLimitPlugin, options.rateLimit ?? { max: 1200 });
    await scope.register(billingPlugin, { ledger, verifier });
    await scope.register(graphqlPlugin, {
      ledger, api, verifier, cursors, pubsub, metrics, limits, production,
      graphiql: options.graphiql ?? !production,
      path: GRAPHQL_PATH,
      // graphql-jit does not await promises held in plain fields (a connection's totalCount), which the Redis readers give
      jit: options.jit ?? (redis ? 0 : 1),
      readModelsAt,
      onTokenRevoked: (listener) => revocations.onRevoked(listener),
      isTokenRevoked: (tokenId) => revocations.has(tokenId),
      responseCache: options.responseCache ?? true,
      settleTimeoutMs: options.settleTimeoutMs ?? 5000,
    });
  });

  let feeds: RunningFeeds | null = null;
  const changeFeeds = modules.flatMap((m) => m.changeFeeds ?? []);
  if (options.publishChanges !== false && changeFeeds.length) {
    feeds = await startChangeFeeds({
      store: ledger.store,
      readModelsAt,
      feeds: changeFeeds,
      pubsub: {
        publish: async (topic, payload) => { await pubsub.publish(topic, payload); metrics.changesPublished.inc(); },
        subscribe: (topic, listener) => pubsub.subscribe(topic, listener),
        close: async () => {},
      },
      log: app.log,
    });
  }

  app.addHook('preClose', async () => { closing = true; });
  app.addHook('onClose', async () => {
    await feeds?.close();
    if (ownPubsub) await pubsub.close();
    await revocations.close();
  });
  return app;
}

/** Every read model the modules need: pass to openLedger({ projections }) before building the server. */
export const projectionsOf = (modules: GraphQLModule[]) => {
  const byName = new Map<string, NonNullable<GraphQLModule['projections']>[number]>();
  for (const m of modules) for (const p of m.projections ?? []) byName.set(p.name, p);
  return [...byName.values()];
};
