/**
 * The metering engine: folds the slices' events stream by stream into segments and rates every resource for a
 * billing period — its regular rows as known at the cut, and, when the period before is closed, the correction rows
 * of closed periods (what changed in them between that close and the cut). One resource at a time is handed on.
 */
import { periodEnd, periodOf, periodStart, periodsBetween, previousPeriod } from '../../layers/metering/period.ts';
import type { Attribution, MeteringContext } from './context.ts';
import { diffRows, rateResource, type Granularity, type RatedRow } from './rating.ts';
import { SegmentFolder, type MeteredResource, type ResourceInfo } from './segments.ts';
import type { StreamSource } from './source.ts';

export interface MeterParams {
  period: string;
  /** Log position the export is taken at. */
  cut: number;
  /** Open segments of this period count until this time (≤ the period's end). */
  until: number;
  granularity: Granularity;
  /** When the period before is closed: its close position (corrections are what was recorded after it). */
  correctionsAfter?: number;
  /** Only these resources (the tenant view). */
  resources?: ReadonlySet<string>;
}

export interface Correction { period: string; rows: RatedRow[] }
export interface ResourceResult {
  info: ResourceInfo;
  attribution: Attribution;
  rows: RatedRow[];
  corrections: Correction[];
}

export async function meter(
  source: StreamSource, ctx: MeteringContext, p: MeterParams,
  onResource: (r: ResourceResult) => void | Promise<void>,
): Promise<{ events: number; resources: number }> {
  const ps = periodStart(p.period);
  const pe = periodEnd(p.period);
  const until = Math.min(p.until, pe);
  const epochs = ctx.epochs(p.period, p.cut);
  const last = previousPeriod(p.period);
  const lastEnd = periodEnd(last);
  const reratedPeriods = p.correctionsAfter === undefined ? [] : ctx.reratesBetween(p.correctionsAfter, p.cut).map((r) => r.period);
  let folder = new SegmentFolder((c, k, pos) => ctx.templateOf(c, k, pos));
  let resources = 0;

  const rateOne = (res: MeteredResource): ResourceResult | null => {
    const rows = rateResource(res, { ps, pe, cut: p.cut, until, epochs, granularity: p.granularity });
    const corrections: Correction[] = [];
    if (p.correctionsAfter !== undefined) {
      const after = p.correctionsAfter;
      const affected = new Set<string>(reratedPeriods);
      for (const s of res.segments) {
        if (s.posStart > after && s.posStart <= p.cut && s.start < lastEnd) for (const x of periodsBetween(periodOf(s.start), last)) affected.add(x);
        if (s.posEnd > after && s.posEnd <= p.cut && s.end < lastEnd) for (const x of periodsBetween(periodOf(s.end), last)) affected.add(x);
      }
      for (const period of [...affected].sort()) {
        const bounds = { ps: periodStart(period), pe: periodEnd(period), until: periodEnd(period), granularity: p.granularity };
        const before = rateResource(res, { ...bounds, cut: after, epochs: ctx.epochs(period, after) });
        const now = rateResource(res, { ...bounds, cut: p.cut, epochs: ctx.epochs(period, p.cut) });
        const delta = diffRows(before, now);
        if (delta.length) corrections.push({ period, rows: delta });
      }
    }
    if (rows.length === 0 && corrections.length === 0) return null;
    return { info: res.info, attribution: ctx.attribution(res.info, p.cut), rows, corrections };
  };

  const { events } = await source.forEachStream(p.cut, {
    event(stream, type, data, occurredAt, position) { folder.apply(stream, type, data, occurredAt, position); },
    async endStream() {
      const list = [...folder.resources.values()].sort((a, b) => (a.info.id < b.info.id ? -1 : a.info.id > b.info.id ? 1 : 0));
      folder = new SegmentFolder((c, k, pos) => ctx.templateOf(c, k, pos));
      for (const res of list) {
        if (p.resources && !p.resources.has(res.info.id)) continue;
        const r = rateOne(res);
        if (!r) continue;
        resources++;
        await onResource(r);
      }
    },
  });
  return { events, resources };
}

