/**
 * Rating: the usage of one resource in one billing period, as known at one log position, priced.
 *
 * Each segment is clipped to the half-open period [start, end) and to the time open segments are counted until;
 * cut where the price book in effect changes; cut into hourly or daily windows when rows are per window; cut into
 * the bands of tiered meters. Every piece adds quantity × milliseconds to the row it belongs to — rows are keyed by
 * meter, state, template, tier, price book version and window. Quantities are rounded once per row.
 */
import { METERS, stateIndex, type MeterDef } from '../../layers/metering/meters.ts';
import { DAY_MS, HOUR_MS, ceilHour, floorHour } from '../../layers/metering/period.ts';
import { ONE, ZERO_DEC, type Dec, type RatedBook, type RatedTier } from '../../layers/metering/pricebook.ts';
import { formatScaled, isZero, microUnitHours, mulInt, subInt, UnitMs, type Int } from './fixed.ts';
import type { MeteredResource } from './segments.ts';

export type Granularity = 'period' | 'day' | 'hour';
export const GRANULARITIES: readonly Granularity[] = ['period', 'day', 'hour'];

/** From `from` on (until the next epoch), `book` prices usage; null: no book in effect (unpriced). */
export interface Epoch { from: number; book: RatedBook | null }

export interface RateParams {
  /** Period bounds [ps, pe). */
  ps: number;
  pe: number;
  /** Log position: segments are taken as known at this position. */
  cut: number;
  /** Open segments count until this time (≤ pe). */
  until: number;
  epochs: Epoch[];
  granularity: Granularity;
}

export interface RatedRow {
  /** Identity of the row within a resource and period (meter, state, template, tier, version, window), packed in a number. */
  key: number;
  meter: MeterDef;
  state: string;
  template: string | null;
  tier: number;
  tierFrom: number;
  tierUpTo: number | null;
  tiered: boolean;
  book: RatedBook | null;
  chargeStart: number;
  chargeEnd: number;
  consumedMicro: Int;
  pricingMicro: Int;
  unitPrice: Dec;
  /** unitPrice.int as an exact Int (Number when it fits). */
  unitPriceInt: Int;
  /** unitPrice as decimal text. */
  unitPriceText: string;
  /** cost = pricingMicro × unitPrice.int / 10^(6 + unitPrice.scale) */
  cost: Int;
  costScale: number;
}

const FREE: RatedTier[] = [{ from: 0, upTo: null, price: ZERO_DEC }];

/**
 * Epochs of the price books eligible at `maxPos` (published at or before it): from each book's effective time on,
 * the highest version already in effect prices usage. `rerate` (a PeriodRerated book) prices the whole period.
 */
export function epochsOf(books: { pos: number; book: RatedBook }[], maxPos: number, rerate?: RatedBook): Epoch[] {
  if (rerate) return [{ from: -Infinity, book: rerate }];
  const eligible = books.filter((b) => b.pos <= maxPos).map((b) => b.book);
  const times = [...new Set(eligible.map((b) => b.effectiveFrom))].sort((a, b) => a - b);
  const epochs: Epoch[] = [{ from: -Infinity, book: null }];
  for (const t of times) {
    let best: RatedBook | null = null;
    for (const b of eligible) if (b.effectiveFrom <= t && (!best || b.version > best.version)) best = b;
    if (best !== epochs[epochs.length - 1].book) epochs.push({ from: t, book: best });
  }
  return epochs;
}

interface Acc {
  m: number; state: string; template: string | null; tier: number; book: RatedBook | null; window: number;
  hullStart: number; hullEnd: number; ums: UnitMs;
}

/** Small indexes of templates for the packed row keys (null = 0). */
const templateIndexes = new Map<string, number>();
const templateIndex = (t: string | null): number => {
  if (t === null) return 0;
  let i = templateIndexes.get(t);
  if (i === undefined) { i = templateIndexes.size + 1; templateIndexes.set(t, i); }
  return i;
};
/**
 * Row key: meter (3 bits), state (3), template (5), tier (4), price book version (20), window index in the
 * period (10): 45 bits, an exact Number.
 */
const rowKey = (m: number, stateAndTemplate: number, tier: number, version: number, windowIndex: number): number =>
  (((m * 256 + stateAndTemplate) * 16 + tier) * 1_048_576 + version) * 1024 + windowIndex;

export function rateResource(res: MeteredResource, p: RateParams): RatedRow[] {
  const accs = new Map<number, Acc>();
  const W = p.granularity === 'hour' ? HOUR_MS : p.granularity === 'day' ? DAY_MS : 0;
  const limit = Math.min(p.pe, p.until);
  for (const seg of res.segments) {
    if (seg.posStart > p.cut) break; // segments are in log order
    const closed = seg.posEnd !== -1 && seg.posEnd <= p.cut;
    const a0 = seg.start > p.ps ? seg.start : p.ps;
    const b0 = closed ? (seg.end < limit ? seg.end : limit) : limit;
    if (a0 >= b0) continue;
    let any = false;
    for (let i = 0; i < seg.q.length; i++) if (seg.q[i] !== 0) { any = true; break; }
    if (!any) continue;
    // price book epochs
    const ep = p.epochs;
    for (let e = 0; e < ep.length; e++) {
      const ea = ep[e].from;
      const eb = e + 1 < ep.length ? ep[e + 1].from : Infinity;
      if (eb <= a0 || ea >= b0) continue;
      const a1 = ea > a0 ? ea : a0;
      const b1 = eb < b0 ? eb : b0;
      const book = ep[e].book;
      const st = stateIndex(seg.state) * 32 + templateIndex(seg.template);
      if (W === 0) addPiece(accs, seg.state, st, seg.q, seg.template, book, p.ps, 0, a1, b1);
      else {
        for (let w = Math.floor(a1 / W) * W; w < b1; w += W) {
          const a2 = w > a1 ? w : a1;
          const b2 = w + W < b1 ? w + W : b1;
          addPiece(accs, seg.state, st, seg.q, seg.template, book, w, (w - p.ps) / W, a2, b2);
        }
      }
    }
  }
  const rows: RatedRow[] = [];
  for (const [key, acc] of accs) {
    const row = finish(key, acc, W, p);
    if (row) rows.push(row);
  }
  return rows.sort(compareRows);
}

function addPiece(accs: Map<number, Acc>, state: string, st: number, q: number[], template: string | null, book: RatedBook | null, window: number, windowIndex: number, a: number, b: number) {
  const dur = b - a;
  for (let m = 0; m < q.length; m++) {
    const qty = q[m];
    if (qty === 0) continue;
    const tiers = book?.meters[METERS[m].id]?.tiers ?? FREE;
    for (let t = 0; t < tiers.length; t++) {
      const tier = tiers[t];
      const band = (tier.upTo === null || qty < tier.upTo ? qty : tier.upTo) - tier.from;
      if (band <= 0) break;
      const key = rowKey(m, st, t, book ? book.version : 0, windowIndex);
      let acc = accs.get(key);
      if (!acc) {
        acc = { m, state, template, tier: t, book, window, hullStart: a, hullEnd: b, ums: new UnitMs() };
        accs.set(key, acc);
      } else {
        if (a < acc.hullStart) acc.hullStart = a;
        if (b > acc.hullEnd) acc.hullEnd = b;
      }
      acc.ums.add(band, dur);
    }
  }
}

/** The unit price of a (tier) price and a template weight, with its text, made once. */
const unitPrices = new WeakMap<Dec, WeakMap<Dec, { dec: Dec; int: Int; text: string }>>();
function unitPriceOf(price: Dec, weight: Dec): { dec: Dec; int: Int; text: string } {
  let byWeight = unitPrices.get(price);
  if (!byWeight) { byWeight = new WeakMap(); unitPrices.set(price, byWeight); }
  let v = byWeight.get(weight);
  if (!v) {
    const dec: Dec = weight === ONE ? price : { int: price.int * weight.int, scale: price.scale + weight.scale };
    const int = dec.int <= 9007199254740991n ? Number(dec.int) : dec.int;
    v = { dec, int, text: formatScaled(int, dec.scale) };
    byWeight.set(weight, v);
  }
  return v;
}

function finish(key: number, acc: Acc, W: number, p: RateParams): RatedRow | null {
  const meter = METERS[acc.m];
  const unitMs = acc.ums.value();
  const mp = acc.book?.meters[meter.id];
  const consumedMicro = microUnitHours(unitMs, meter.divisor);
  const weight = mp?.stateWeights[acc.state] ?? ONE;
  const pricingMicro = microUnitHours(unitMs, meter.divisor, weight.int, weight.scale);
  if (isZero(consumedMicro) && isZero(pricingMicro)) return null;
  const tiers = mp?.tiers ?? FREE;
  const tier = tiers[acc.tier];
  const tw = acc.template && acc.book ? (acc.book.templateWeights as Record<string, Dec>)[acc.template] ?? ONE : ONE;
  const up = unitPriceOf(tier.price, tw);
  const unitPrice = up.dec;
  const unitPriceInt = up.int;
  const chargeStart = W === 0 ? floorHour(acc.hullStart) : acc.window;
  const chargeEnd = W === 0 ? Math.min(ceilHour(acc.hullEnd), p.pe) : Math.min(acc.window + W, p.pe);
  return {
    key, meter, state: acc.state, template: acc.template, tier: acc.tier, tierFrom: tier.from, tierUpTo: tier.upTo,
    tiered: tiers.length > 1, book: acc.book, chargeStart, chargeEnd, consumedMicro, pricingMicro, unitPrice, unitPriceInt, unitPriceText: up.text,
    cost: mulInt(pricingMicro, unitPriceInt), costScale: 6 + unitPrice.scale,
  };
}

export function compareRows(a: RatedRow, b: RatedRow): number {
  return a.meter.index - b.meter.index
    || stateIndex(a.state) - stateIndex(b.state)
    || cmp(a.template ?? '', b.template ?? '')
    || a.tier - b.tier
    || a.chargeStart - b.chargeStart
    || (a.book?.version ?? 0) - (b.book?.version ?? 0);
}
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The correction rows that turn `before` into `after` (same resource, same period): for every row key, the
 * difference of quantities and cost; keys whose rounded numbers did not change give no row.
 */
export function diffRows(before: RatedRow[], after: RatedRow[]): RatedRow[] {
  const old = new Map(before.map((r) => [r.key, r]));
  const out: RatedRow[] = [];
  for (const n of after) {
    const o = old.get(n.key);
    old.delete(n.key);
    const d = delta(n, o);
    if (d) out.push(d);
  }
  for (const o of old.values()) {
    const d = delta(undefined, o);
    if (d) out.push(d);
  }
  return out.sort(compareRows);
}

function delta(n: RatedRow | undefined, o: RatedRow | undefined): RatedRow | null {
  const base = (n ?? o)!;
  const scale = base.costScale;
  const consumedMicro = subInt(n?.consumedMicro ?? 0, o?.consumedMicro ?? 0);
  const pricingMicro = subInt(n?.pricingMicro ?? 0, o?.pricingMicro ?? 0);
  const cost = subInt(n?.cost ?? 0, o?.cost ?? 0);
  if (isZero(consumedMicro) && isZero(pricingMicro) && isZero(cost)) return null;
  return {
    ...base, consumedMicro, pricingMicro, cost, costScale: scale,
    chargeStart: Math.min(n?.chargeStart ?? Infinity, o?.chargeStart ?? Infinity),
    chargeEnd: Math.max(n?.chargeEnd ?? -Infinity, o?.chargeEnd ?? -Infinity),
  };
}
