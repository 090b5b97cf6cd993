/**
 * Prometheus metrics of one API server (its own registry, so several servers in one process do not collide):
 * HTTP requests, GraphQL operations and errors, live subscriptions, the event store's head position and each
 * projection's position and lag. The hook that counts HTTP requests is global (fastify-plugin).
 */
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Ledger } from '../../core/ledger.ts';

export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status_code'>;
  httpDuration: Histogram<'method' | 'route'>;
  graphqlOperations: Counter<'type' | 'name' | 'outcome'>;
  graphqlDuration: Histogram<'type'>;
  graphqlErrors: Counter<'code'>;
  subscriptions: Gauge;
  changesPublished: Counter;
  responseCache: Counter<'result'>;
  /** A bounded label for a client-chosen operation name. */
  operationLabel(name: string | undefined): string;
}

export function createMetrics(ledger: Ledger, options: { defaultMetrics?: boolean } = {}): ApiMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'ledger_' });
  const seenNames = new Set<string>();
  const metrics: ApiMetrics = {
    registry,
    httpRequests: new Counter({ name: 'ledger_http_requests_total', help: 'HTTP requests answered', labelNames: ['method', 'route', 'status_code'], registers: [registry] }),
    httpDuration: new Histogram({
      name: 'ledger_http_request_duration_seconds', help: 'Time to answer HTTP requests', labelNames: ['method', 'route'], registers: [registry],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
    graphqlOperations: new Counter({ name: 'ledger_graphql_operations_total', help: 'GraphQL operations executed', labelNames: ['type', 'name', 'outcome'], registers: [registry] }),
    graphqlDuration: new Histogram({
      name: 'ledger_graphql_operation_duration_seconds', help: 'Time to execute GraphQL operations', labelNames: ['type'], registers: [registry],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    }),
    graphqlErrors: new Counter({ name: 'ledger_graphql_errors_total', help: 'GraphQL errors answered, by code', labelNames: ['code'], registers: [registry] }),
    subscriptions: new Gauge({ name: 'ledger_graphql_subscriptions_active', help: 'Live GraphQL subscriptions', registers: [registry] }),
    changesPublished: new Counter({ name: 'ledger_changes_published_total', help: 'Change messages published to subscribers', registers: [registry] }),
    responseCache: new Counter({ name: 'ledger_graphql_response_cache_total', help: 'Query answers served from the response cache (hit) or executed (miss)', labelNames: ['result'], registers: [registry] }),
    operationLabel(name) {
      if (!name) return 'anonymous';
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) return 'other';
      if (seenNames.has(name)) return name;
      if (seenNames.size >= 200) return 'other';
      seenNames.add(name);
      return name;
    },
  };
  new Gauge({
    name: 'ledger_event_store_head_position', help: 'Global position of the newest event in the store', registers: [registry],
    async collect() { this.set(await ledger.store.headPosition()); },
  });
  const status = async () => ({ head: await ledger.store.headPosition(), statuses: ledger.projections.statuses() });
  new Gauge({
    name: 'ledger_projection_position', help: 'Global position each projection has applied', labelNames: ['projection'], registers: [registry],
    async collect() { for (const s of (await status()).statuses) this.set({ projection: s.name }, s.position); },
  });
  new Gauge({
    name: 'ledger_projection_lag_events', help: 'Events between the store head and each projection (0 = caught up)', labelNames: ['projection'], registers: [registry],
    async collect() {
      const { head, statuses } = await status();
      for (const s of statuses) this.set({ projection: s.name }, Math.max(0, head - s.position));
    },
  });
  return metrics;
}

export const httpMetricsPlugin = fp<{ metrics: ApiMetrics }>(async (app, { metrics }) => {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status_code: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
}, { name: 'ledger-http-metrics' });
