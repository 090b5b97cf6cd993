/**
 * Per-token rate limit (@fastify/rate-limit) keyed by the token's subject (`tenant:<userId>` / `operator:<name>`),
 * so one tenant's burst does not eat another's budget; requests without a principal are keyed by address.
 * Must be registered after the auth plugin and before the GraphQL routes of the same scope.
 */
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import { ClientError } from '../graphql/errors.ts';

export interface RateLimitOptions {
  /** Requests per window and token. */
  max: number;
  /** Window in milliseconds (default one minute). */
  timeWindowMs?: number;
}

export const rateLimitPlugin = fp<RateLimitOptions>(async (app, { max, timeWindowMs = 60_000 }) => {
  await app.register(rateLimit, {
    global: true,
    max,
    timeWindow: timeWindowMs,
    keyGenerator: (request) => request.principal?.subject ?? `ip:${request.ip}`,
    errorResponseBuilder: (_request, context) =>
      new ClientError('RATE_LIMITED', `rate limit exceeded: at most ${context.max} requests per ${context.after}; retry later`, 429),
  });
}, { name: 'ledger-rate-limit' });
