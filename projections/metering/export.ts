/**
 * Billing exports: one billing period as FOCUS 1.2 CSV or JSON Lines, per resource (default) or rolled up per
 * project, CContract, RContract or user. Deterministic: the bytes depend only on the log up to the export's cut
 * (a closed period: its close; an open one: the head when the export starts), so the same log gives the same file,
 * and the export of a closed period never changes. The sha256 of the bytes is returned with the summary.
 */
import { createHash, type Hash } from 'node:crypto';
import type { EventStore } from '../../core/event-store/port.ts';
import { isPeriod, isoSeconds, periodEnd, periodStart } from '../../layers/metering/period.ts';
import { CONTEXT_CATEGORIES, CONTEXT_EVENTS, cutsOf, MeteringContext } from './context.ts';
import { meter, type ResourceResult } from './engine.ts';
import { addInt } from './fixed.ts';
import { csvHeader, csvRow, jsonRow, SERVICE, type RowSubject } from './focus.ts';
import { compareRows, GRANULARITIES, type Granularity, type RatedRow } from './rating.ts';
import { GenericStreamSource, readCategoriesSqlite, sourceFor, sqlitePathOf, type StreamSource } from './source.ts';

export const EXPORT_FORMATS = ['focus-csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const EXPORT_BY = ['resource', 'project', 'ccontract', 'rcontract', 'user'] as const;
export type ExportBy = (typeof EXPORT_BY)[number];
export const UNALLOCATED = 'unallocated';

export interface ExportOptions {
  period: string;
  format: ExportFormat;
  by?: ExportBy;
  granularity?: Granularity;
  /** Open periods only: count open usage until this time (ms; default the period's end). */
  asOf?: number;
}

export interface ExportSummary {
  period: string;
  status: 'closed' | 'open';
  /** Log position the export was taken at. */
  cut: number;
  closedAt?: string;
  /** Usage of open slices counted until (exclusive). */
  until: string;
  format: ExportFormat;
  by: ExportBy;
  granularity: Granularity;
  rows: number;
  correctionRows: number;
  bytes: number;
  sha256: string;
  events: number;
  resources: number;
  currency: string | null;
}

/** Where the bytes go (UTF-8 chunks of about 1 MiB, in order). */
export interface ExportOutput { write(chunk: Buffer): void | Promise<void> }

export class ExportError extends Error {
  constructor(readonly code: string, message: string) { super(message); this.name = 'ExportError'; }
}

/** Reads the context events (books, periods, contracts, components, projects, names) up to `upTo`. */
export async function loadContext(store: EventStore, upTo: number, options: { generic?: boolean } = {}): Promise<MeteringContext> {
  const ctx = new MeteringContext();
  const path = options.generic ? undefined : sqlitePathOf(store);
  if (path) {
    for (const e of readCategoriesSqlite(path, CONTEXT_CATEGORIES, CONTEXT_EVENTS, upTo)) ctx.add(e.type, e.data, e.position);
    return ctx;
  }
  let after = 0;
  for (;;) {
    const batch = await store.readAll({ after, maxCount: 5000, filter: { categories: [...CONTEXT_CATEGORIES], eventTypes: [...CONTEXT_EVENTS] } });
    let done = batch.length < 5000;
    for (const e of batch) {
      if (e.position > upTo) { done = true; break; }
      ctx.add(e.type, e.data, e.position);
    }
    if (done || batch.length === 0) break;
    after = batch[batch.length - 1].position;
  }
  return ctx;
}

export function validateExportOptions(o: ExportOptions): Required<Omit<ExportOptions, 'asOf'>> & { asOf?: number } {
  if (!isPeriod(o.period)) throw new ExportError('INVALID_PERIOD', `--period must be YYYY-MM (a UTC calendar month); got ${JSON.stringify(o.period)}`);
  if (!(EXPORT_FORMATS as readonly string[]).includes(o.format)) throw new ExportError('INVALID_FORMAT', `--format must be one of ${EXPORT_FORMATS.join(', ')}; got ${JSON.stringify(o.format)}`);
  const by = o.by ?? 'resource';
  if (!(EXPORT_BY as readonly string[]).includes(by)) throw new ExportError('INVALID_BY', `--by must be one of ${EXPORT_BY.join(', ')}; got ${JSON.stringify(by)}`);
  const granularity = o.granularity ?? 'period';
  if (!GRANULARITIES.includes(granularity)) throw new ExportError('INVALID_GRANULARITY', `--granularity must be one of ${GRANULARITIES.join(', ')}; got ${JSON.stringify(granularity)}`);
  if (o.asOf !== undefined && !Number.isFinite(o.asOf)) throw new ExportError('INVALID_AS_OF', '--as-of must be a UTC ISO 8601 time');
  return { period: o.period, format: o.format, by, granularity, asOf: o.asOf };
}

interface Group { subject: RowSubject; row: RatedRow; corrected: string | null; sort: string }

export interface ExportDeps {
  source?: StreamSource;
  /** The log position to export at (default: the head now). */
  head?: number;
  /** Read through the EventStore port only (what a KurrentDB store does), for tests of the fast paths. */
  generic?: boolean;
  /** Continue this digest instead of starting one (a part of a larger export); the summary's sha256 is then ''. */
  hash?: Hash;
  /** Write the CSV header line (default true). */
  header?: boolean;
}

export async function exportPeriod(store: EventStore, options: ExportOptions, out: ExportOutput, deps: ExportDeps = {}): Promise<ExportSummary> {
  const o = validateExportOptions(options);
  const head = deps.head ?? await store.headPosition();
  const ctx = await loadContext(store, head, { generic: deps.generic });
  const { cut, closed, correctionsAfter } = cutsOf(ctx, o.period, head);
  const ps = periodStart(o.period);
  const pe = periodEnd(o.period);
  if (closed && o.asOf !== undefined && o.asOf < pe) {
    throw new ExportError('PERIOD_CLOSED', `period ${o.period} is closed: its export is fixed as of its close; --as-of applies to open periods only`);
  }
  const until = closed ? pe : Math.min(pe, o.asOf ?? pe);
  const billingPeriodStart = isoSeconds(ps);
  const billingPeriodEnd = isoSeconds(pe);

  // Rows are encoded into a byte buffer as they are made (while their strings are young: cheap for the GC);
  // full buffers wait in `ready` until the next flush hands them to the output.
  const hash = deps.hash ?? createHash('sha256');
  const CHUNK = 1 << 20;
  let bytes = 0;
  let buf = Buffer.allocUnsafe(CHUNK + (1 << 16));
  let off = 0;
  let ready: Buffer[] = [];
  let buffered = 0;
  const emit = function emit(line: string) {
    if (off + line.length * 3 > buf.length) {
      ready.push(buf.subarray(0, off));
      buf = Buffer.allocUnsafe(Math.max(CHUNK + (1 << 16), line.length * 3));
      off = 0;
    }
    off += buf.write(line, off, 'utf8');
    buffered = off;
  };
  const flush = async function flush() {
    if (off > 0) {
      ready.push(buf.subarray(0, off));
      buf = Buffer.allocUnsafe(CHUNK + (1 << 16));
      off = 0;
      buffered = 0;
    }
    const chunks = ready;
    ready = [];
    for (const chunk of chunks) {
      hash.update(chunk);
      bytes += chunk.length;
      await out.write(chunk);
    }
  };
  const line = o.format === 'focus-csv' ? csvRow : jsonRow;
  if (o.format === 'focus-csv' && deps.header !== false) emit(csvHeader());

  let rows = 0;
  let correctionRows = 0;
  let currency: string | null = ctx.latestBook(cut)?.currency ?? null;
  const groups = new Map<string, Group>();

  const subjectOf = function subjectOf(r: ResourceResult): RowSubject {
    const { info, attribution: a } = r;
    const service = SERVICE[info.kind];
    const tags: Record<string, string> = {};
    if (info.contractId) tags['ledger/rcontract'] = info.contractId;
    if (a.componentId) tags['ledger/ccontract'] = a.componentId;
    if (info.placeId) tags[info.kind === 'XNetwork' ? 'ledger/network' : 'ledger/host'] = info.placeId;
    if (info.replica !== undefined) tags['ledger/replica'] = String(info.replica);
    if (info.epoch !== undefined) tags['ledger/epoch'] = String(info.epoch);
    return {
      billingPeriodStart, billingPeriodEnd,
      billingAccountId: a.userId ?? UNALLOCATED,
      billingAccountName: a.userId ? ctx.userName(a.userId, cut) ?? null : null,
      subAccountId: a.projectId ?? null,
      subAccountName: a.projectId ? ctx.projectName(a.projectId, cut) ?? null : null,
      resourceId: info.id,
      resourceName: a.componentId && info.replica !== undefined ? `${a.componentId} replica ${info.replica}` : null,
      resourceType: info.kind, kind: info.kind, serviceName: service.name, serviceCategory: service.category,
      regionId: info.regionId, regionName: ctx.regionName(info.regionId, cut) ?? null, zone: info.zoneId ?? null, tags,
    };
  };

  const check = function check(r: ResourceResult, row: RatedRow, period: string) {
    if (!row.book) {
      throw new ExportError('UNPRICED_USAGE', `${r.info.kind} ${r.info.id} has ${row.meter.id} usage from ${isoSeconds(row.chargeStart)} (period ${period}) but no price book was in effect then: publish one effective at or before that time (ledger pricebook publish --file …)`);
    }
    if (currency === null) currency = row.book.currency;
  };

  const groupSubject = (s: RowSubject, r: ResourceResult): RowSubject => {
    const a = r.attribution;
    let id: string | undefined;
    let type: string;
    let name: string | null = null;
    switch (o.by) {
      case 'project': id = a.projectId; type = 'Project'; name = id ? ctx.projectName(id, cut) ?? null : null; break;
      case 'ccontract': id = a.componentId; type = 'CContract'; name = id ? ctx.componentType(id) ?? null : null; break;
      case 'rcontract': id = r.info.contractId; type = 'RContract'; break;
      default: id = a.userId; type = 'User'; name = id ? ctx.userName(id, cut) ?? null : null; break;
    }
    return { ...s, resourceId: id ?? UNALLOCATED, resourceType: id ? type : 'Unallocated', resourceName: name, tags: {} };
  };

  const addGroup = (s: RowSubject, row: RatedRow, corrected: string | null) => {
    const key = [s.resourceId, s.billingAccountId, s.subAccountId ?? '', s.regionId ?? '', s.zone ?? '', s.serviceName, corrected ?? '', row.key].join('\u0000');
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { subject: s, row: { ...row }, corrected, sort: [s.resourceId, s.billingAccountId, s.subAccountId ?? '', s.regionId ?? '', s.zone ?? '', s.serviceName, corrected ?? ''].join('\u0000') });
      return;
    }
    g.row.consumedMicro = addInt(g.row.consumedMicro, row.consumedMicro);
    g.row.pricingMicro = addInt(g.row.pricingMicro, row.pricingMicro);
    g.row.cost = addInt(g.row.cost, row.cost);
    if (row.chargeStart < g.row.chargeStart) g.row.chargeStart = row.chargeStart;
    if (row.chargeEnd > g.row.chargeEnd) g.row.chargeEnd = row.chargeEnd;
  };

  const source = deps.source ?? (deps.generic ? new GenericStreamSource(store) : sourceFor(store));
  const stats = await meter(source, ctx, { period: o.period, cut, until, granularity: o.granularity, correctionsAfter }, async function onResource(r) {
    const subject = subjectOf(r);
    for (const row of r.rows) {
      check(r, row, o.period);
      if (o.by === 'resource') { emit(line(row, subject, null)); rows++; } else addGroup(groupSubject(subject, r), row, null);
    }
    for (const c of r.corrections) {
      for (const row of c.rows) {
        check(r, row, c.period);
        if (o.by === 'resource') { emit(line(row, subject, c.period)); correctionRows++; } else addGroup(groupSubject(subject, r), row, c.period);
      }
    }
    if (buffered > CHUNK || ready.length) await flush();
  });

  if (o.by !== 'resource') {
    const sorted = [...groups.values()].sort((a, b) => (a.sort < b.sort ? -1 : a.sort > b.sort ? 1 : compareRows(a.row, b.row)));
    for (const g of sorted) {
      emit(line(g.row, g.subject, g.corrected));
      if (g.corrected) correctionRows++; else rows++;
      if (buffered > CHUNK || ready.length) await flush();
    }
  }
  await flush();
  const close = closed ? ctx.closeOf(o.period) : undefined;
  return {
    period: o.period, status: closed ? 'closed' : 'open', cut, ...(close && { closedAt: close.closedAt }), until: isoSeconds(until),
    format: o.format, by: o.by, granularity: o.granularity, rows, correctionRows, bytes, sha256: deps.hash ? '' : hash.digest('hex'),
    events: stats.events, resources: stats.resources, currency,
  };
}

