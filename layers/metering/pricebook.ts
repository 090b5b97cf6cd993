/**
 * Price books: what a unit of each meter costs, from an effective time on. Money is decimal text (never binary
 * floating point) parsed into exact scaled integers.
 *
 *   unit price of a row = (tier) price of the meter × template weight (normal / standard / enhanced)
 *   pricing quantity    = consumed quantity × state weight of the meter (default 1)
 *   cost                = pricing quantity × unit price (exact)
 *
 * Tiers make the per-unit price fall as volume grows (image storage): the quantity a slice holds at each instant is
 * cut into bands (`upTo` GiB each), every band priced at its own price; the last band has no upper bound.
 * A meter the book does not name is free (its usage is still reported, at price 0).
 */
import { z } from 'zod';
import { UtcHour } from './period.ts';
import { METER_IDS, MeteredStateSchema, MeterIdSchema, TEMPLATES, type MeterId } from './meters.ts';

/** A non-negative decimal as text: up to 12 integer and 12 fraction digits, no sign, no exponent. */
export const DecimalText = z.string().regex(/^(0|[1-9]\d{0,11})(\.\d{1,12})?$/, 'a non-negative decimal as text, e.g. "0.0425" (at most 12 digits before and after the point)');

export const Tier = z.object({
  /** Upper bound of the band in the meter's source unit (GiB for image storage); absent on the last band. */
  upTo: z.number().int().min(1).max(1_000_000_000).optional(),
  price: DecimalText,
}).strict();

export const MeterPrice = z.object({
  price: DecimalText.optional(),
  tiers: z.array(Tier).min(1).max(16).optional(),
  /** Weights of the quantity per state (e.g. a stopped slice's cores at 0.25); default 1. */
  stateWeights: z.partialRecord(MeteredStateSchema, DecimalText).optional(),
}).strict().superRefine((m, ctx) => {
  if ((m.price === undefined) === (m.tiers === undefined)) ctx.addIssue({ code: 'custom', message: 'give either price or tiers' });
  if (m.tiers) {
    m.tiers.forEach((t, i) => {
      const last = i === m.tiers!.length - 1;
      if (last && t.upTo !== undefined) ctx.addIssue({ code: 'custom', path: ['tiers', i, 'upTo'], message: 'the last tier has no upper bound' });
      if (!last && t.upTo === undefined) ctx.addIssue({ code: 'custom', path: ['tiers', i, 'upTo'], message: 'every tier but the last needs upTo' });
      if (i > 0 && !last && m.tiers![i - 1].upTo !== undefined && t.upTo! <= m.tiers![i - 1].upTo!) ctx.addIssue({ code: 'custom', path: ['tiers', i, 'upTo'], message: 'tier bounds must grow' });
    });
  }
});
export type MeterPrice = z.infer<typeof MeterPrice>;

export const TemplateWeights = z.object({ normal: DecimalText, standard: DecimalText, enhanced: DecimalText }).strict();

/** A price book as an operator writes it (`ledger pricebook publish --file book.json`). */
export const PriceBookInput = z.object({
  effectiveFrom: UtcHour,
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 currency code such as EUR'),
  /** ProviderName and PublisherName of the export rows. */
  provider: z.string().trim().min(1).max(100).default('Resource Ledger'),
  /** InvoiceIssuerName (default: the provider). */
  invoiceIssuer: z.string().trim().min(1).max(100).optional(),
  meters: z.partialRecord(MeterIdSchema, MeterPrice),
  templateWeights: TemplateWeights.default({ normal: '1', standard: '1', enhanced: '1' }),
  description: z.string().max(1000).optional(),
}).strict();
export type PriceBookInput = z.input<typeof PriceBookInput>;
export type PriceBookData = z.infer<typeof PriceBookInput>;

/** An exact decimal: value = int / 10^scale. */
export interface Dec { int: bigint; scale: number }
export function parseDec(text: string): Dec {
  const dot = text.indexOf('.');
  if (dot < 0) return { int: BigInt(text), scale: 0 };
  return { int: BigInt(text.slice(0, dot) + text.slice(dot + 1)), scale: text.length - dot - 1 };
}
export const ONE: Dec = { int: 1n, scale: 0 };
export const ZERO_DEC: Dec = { int: 0n, scale: 0 };

export interface RatedTier { from: number; upTo: number | null; price: Dec }
export interface RatedMeter { tiers: RatedTier[]; stateWeights: Partial<Record<string, Dec>> }
/** A published book, parsed for rating. */
export interface RatedBook {
  version: number;
  effectiveFrom: number;
  currency: string;
  provider: string;
  invoiceIssuer: string;
  meters: Partial<Record<MeterId, RatedMeter>>;
  templateWeights: Record<(typeof TEMPLATES)[number], Dec>;
}

export function ratedBook(version: number, book: PriceBookData): RatedBook {
  const meters: Partial<Record<MeterId, RatedMeter>> = {};
  for (const id of METER_IDS) {
    const m = book.meters[id];
    if (!m) continue;
    const tiers: RatedTier[] = [];
    if (m.tiers) {
      let from = 0;
      for (const t of m.tiers) { tiers.push({ from, upTo: t.upTo ?? null, price: parseDec(t.price) }); from = t.upTo ?? from; }
    } else {
      tiers.push({ from: 0, upTo: null, price: parseDec(m.price!) });
    }
    const stateWeights: Partial<Record<string, Dec>> = {};
    for (const [s, w] of Object.entries(m.stateWeights ?? {})) if (w !== undefined) stateWeights[s] = parseDec(w);
    meters[id] = { tiers, stateWeights };
  }
  const tw = book.templateWeights;
  return {
    version, effectiveFrom: Date.parse(book.effectiveFrom), currency: book.currency, provider: book.provider,
    invoiceIssuer: book.invoiceIssuer ?? book.provider, meters,
    templateWeights: { normal: parseDec(tw.normal), standard: parseDec(tw.standard), enhanced: parseDec(tw.enhanced) },
  };
}

/** An example book (docs, seed, tests can start from it). */
export const EXAMPLE_PRICE_BOOK: PriceBookInput = {
  effectiveFrom: '2025-01-01T00:00:00Z',
  currency: 'EUR',
  provider: 'Example Cloud',
  meters: {
    'cpu.core-hours': { price: '0.0300', stateWeights: { provisioning: '0', stopped: '0.25', failed: '0' } },
    'ram.gib-hours': { price: '0.0040', stateWeights: { provisioning: '0', stopped: '0.25', failed: '0' } },
    'disk.gib-hours': { price: '0.0001' },
    'ip.ipv4-hours': { price: '0.0050' },
    'bandwidth.mbps-hours': { price: '0.0002' },
    'image.gib-hours': { tiers: [{ upTo: 100, price: '0.00014' }, { upTo: 1000, price: '0.00010' }, { price: '0.00007' }] },
  },
  templateWeights: { normal: '1', standard: '1.25', enhanced: '1.6' },
};
