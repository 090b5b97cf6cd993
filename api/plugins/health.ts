/**
 * Probes and metrics, outside authentication:
 *   GET /healthz  liveness: the process answers.
 *   GET /readyz   readiness: the event store answers and every projection has caught up (lag ≤ maxLag);
 *                 503 with the reasons otherwise, and while shutting down.
 *   GET /metrics  Prometheus text format.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Ledger } from '../../core/ledger.ts';
import type { ApiMetrics } from './metrics.ts';
import type { RedisReadModels } from '../../projections/redis/readers.ts';

export interface HealthOptions {
  ledger: Ledger;
  metrics: ApiMetrics;
  /** Largest projection lag (events) still counted as caught up. */
  maxLag: number;
  isClosing: () => boolean;
  /** Distributed profile: the shared registers in Redis. While Redis is away the API answers "degraded" (still 200). */
  redis?: RedisReadModels;
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) => new Promise<T>((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
});

export const healthPlugin: FastifyPluginAsync<HealthOptions> = async (app, { ledger, metrics, maxLag, isClosing, redis }) => {
  app.get('/healthz', async () => (redis && !redis.available ? { status: 'degraded', redis: 'unavailable' } : { status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const reasons: string[] = [];
    if (isClosing()) reasons.push('shutting down');
    let head: number | null = null;
    try {
      head = await withTimeout(ledger.store.headPosition(), 2000, 'the event store');
    } catch (error) {
      reasons.push(`event store: ${error instanceof Error ? error.message : String(error)}`);
    }
    const projections = ledger.projections.statuses().map((s) => {
      const lag = head === null ? null : Math.max(0, head - s.position);
      if (!s.caughtUp) reasons.push(`projection ${s.name} is still catching up (at ${s.position} of ${head ?? '?'})`);
      else if (lag !== null && lag > maxLag) reasons.push(`projection ${s.name} lags ${lag} events behind`);
      if (s.lastError) reasons.push(`projection ${s.name} failed: ${s.lastError}`);
      return { name: s.name, position: s.position, lag, caughtUp: s.caughtUp };
    });
    // Redis away: the instance still answers everything that does not need it, so it stays in rotation, "degraded"
    const degraded: string[] = [];
    let redisModels: { name: string; gen: number; position: number; lag: number | null }[] | undefined;
    if (redis) {
      try {
        redisModels = (await withTimeout(redis.statuses(), 2000, 'redis')).map((s) => ({ ...s, lag: head === null ? null : Math.max(0, head - s.position) }));
        for (const s of redisModels) if (s.lag !== null && s.lag > maxLag) degraded.push(`redis read model ${s.name} lags ${s.lag} events behind`);
      } catch (error) {
        degraded.push(`redis: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const ready = reasons.length === 0;
    reply.code(ready ? 200 : 503);
    const status = !ready ? 'not ready' : degraded.length ? 'degraded' : 'ready';
    return { status, head, projections, ...(redisModels && { redis: redisModels }), ...(ready ? {} : { reasons }), ...(degraded.length ? { degraded } : {}) };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
