/**
 * Billing exports over HTTP, for billing systems (operator bearer token):
 *
 *   GET /billing/exports/:period?format=focus-csv|jsonl&by=resource|project|ccontract|rcontract|user&granularity=period|day|hour
 *       → the export (the same bytes as `ledger export`), headers x-ledger-sha256 (and ETag), x-ledger-period-status
 *         (closed|open), x-ledger-cut (log position), x-ledger-rows
 *   GET /billing/periods → the billing book: price book versions, closed periods, re-ratings
 *
 * The export is written to a temporary file first (memory stays bounded, and the digest is known before the first
 * byte is sent), then streamed.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { createReadStream, closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Ledger } from '../../core/ledger.ts';
import { floorHour, isPeriod, parseUtc, periodEnd } from '../../layers/metering/period.ts';
import { BillingService } from '../../layers/metering/service.ts';
import { EXPORT_BY, EXPORT_FORMATS, ExportError, type ExportBy, type ExportFormat } from '../../projections/metering/export.ts';
import { exportPeriodParallel } from '../../projections/metering/parallel.ts';
import { GRANULARITIES, type Granularity } from '../../projections/metering/rating.ts';
import { bearerToken, InvalidTokenError, type TokenVerifier } from '../auth/tokens.ts';
import { ClientError } from '../graphql/errors.ts';

export interface BillingPluginOptions { ledger: Ledger; verifier: TokenVerifier }
export const BILLING_PREFIX = '/billing';

async function requireOperator(request: FastifyRequest, verifier: TokenVerifier, reply: { header(k: string, v: string): unknown }) {
  const token = bearerToken(request.headers.authorization);
  if (!token) {
    reply.header('www-authenticate', 'Bearer realm="ledger"');
    throw new ClientError('UNAUTHENTICATED', 'a bearer token is required: send "Authorization: Bearer <operator token>" (see `ledger token issue --operator`)', 401);
  }
  let principal;
  try { principal = await verifier.verify(token); } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
    reply.header('www-authenticate', 'Bearer realm="ledger", error="invalid_token"');
    throw new ClientError('UNAUTHENTICATED', error.message, 401);
  }
  if (principal.kind !== 'operator') throw new ClientError('FORBIDDEN', 'billing exports need an operator token', 403);
  return principal;
}

const oneOf = <T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T => {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw new ClientError('BAD_USER_INPUT', `${name} must be one of ${allowed.join(', ')}`, 400);
  return value as T;
};

export const billingPlugin: FastifyPluginAsync<BillingPluginOptions> = async (app, { ledger, verifier }) => {
  app.get<{ Params: { period: string }; Querystring: Record<string, string | undefined> }>(`${BILLING_PREFIX}/exports/:period`, async (request, reply) => {
    await requireOperator(request, verifier, reply);
    const { period } = request.params;
    if (!isPeriod(period)) throw new ClientError('BAD_USER_INPUT', 'the period must be YYYY-MM (a UTC calendar month), e.g. /billing/exports/2025-01', 400);
    const q = request.query;
    const format = oneOf<ExportFormat>('format', q.format, EXPORT_FORMATS, 'focus-csv');
    const by = oneOf<ExportBy>('by', q.by, EXPORT_BY, 'resource');
    const granularity = oneOf<Granularity>('granularity', q.granularity, GRANULARITIES, 'period');
    let asOf = Math.min(periodEnd(period), floorHour(Date.now()));
    if (q.asOf !== undefined) {
      try { asOf = parseUtc(q.asOf); } catch { throw new ClientError('BAD_USER_INPUT', 'asOf must be a UTC ISO 8601 time such as 2025-02-01T00:00:00Z', 400); }
    }
    const dir = mkdtempSync(join(tmpdir(), 'ledger-billing-'));
    const file = join(dir, 'export');
    const fd = openSync(file, 'w');
    let summary;
    try {
      summary = await exportPeriodParallel(ledger.store, { period, format, by, granularity, asOf }, { write: (chunk) => { writeSync(fd, chunk); } });
      closeSync(fd);
    } catch (error) {
      try { closeSync(fd); } catch { /* closed */ }
      rmSync(dir, { recursive: true, force: true });
      if (error instanceof ExportError) throw new ClientError(error.code, error.message, error.code === 'UNPRICED_USAGE' ? 409 : 400);
      throw error;
    }
    const stream = createReadStream(file);
    stream.on('close', () => rmSync(dir, { recursive: true, force: true }));
    const ext = format === 'focus-csv' ? 'csv' : 'jsonl';
    return reply
      .header('content-type', format === 'focus-csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="focus-${period}${by === 'resource' ? '' : `-by-${by}`}.${ext}"`)
      .header('content-length', String(summary.bytes))
      .header('etag', `"${summary.sha256}"`)
      .header('x-ledger-sha256', summary.sha256)
      .header('x-ledger-period-status', summary.status)
      .header('x-ledger-cut', String(summary.cut))
      .header('x-ledger-rows', String(summary.rows + summary.correctionRows))
      .send(stream);
  });

  app.get(`${BILLING_PREFIX}/periods`, async (request, reply) => {
    await requireOperator(request, verifier, reply);
    return new BillingService(ledger.store).book();
  });
};
