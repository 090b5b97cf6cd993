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

export interface HealthOptions {
  ledger: Ledger;
  metrics: ApiMetrics;
  /** Largest projection lag (events) still counted as caught up. */
  maxLag: number;
  isClosing: () => boolean;
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) => new Promise<T>((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
});

export const healthPlugin: FastifyPluginAsync<HealthOptions> = async (app, { ledger, metrics, maxLag, isClosing }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

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
    const ready = reasons.length === 0;
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not ready', head, projections, ...(ready ? {} : { reasons }) };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
