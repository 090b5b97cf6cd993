import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spec } from '../../core/spec.ts';
import { validateCommand, validateEvent } from '../../schema/registry.ts';
import { ClosePeriod, PublishPriceBook } from './commands.ts';
import { billingDecider } from './decider.ts';
import type { BillingEvent } from './events.ts';
import { periodEnd, periodOf, periodStart, nextPeriod, previousPeriod, parseUtc } from './period.ts';
import { EXAMPLE_PRICE_BOOK, PriceBookInput, ratedBook } from './pricebook.ts';

const billing = spec(billingDecider);
const book = PriceBookInput.parse(EXAMPLE_PRICE_BOOK);
const v1: BillingEvent = { type: 'PriceBookPublished', data: { ...book, version: 1 } };
const janClosed: BillingEvent = { type: 'PeriodClosed', data: { period: '2025-01', closedAt: '2025-02-01T02:00:00Z' } };

test('period helpers: half-open UTC months', () => {
  assert.is(periodStart('2025-01'), Date.parse('2025-01-01T00:00:00Z'));
  assert.is(periodEnd('2025-01'), Date.parse('2025-02-01T00:00:00Z'));
  assert.is(periodEnd('2024-12'), Date.parse('2025-01-01T00:00:00Z'));
  assert.is(periodOf(Date.parse('2025-02-01T00:00:00Z') - 1), '2025-01');
  assert.is(nextPeriod('2024-12'), '2025-01');
  assert.is(previousPeriod('2025-01'), '2024-12');
  assert.is(parseUtc('2025-01-01T00:00:00.123456Z'), Date.parse('2025-01-01T00:00:00.123Z'));
});

test('publish: versions count up; the currency stays', () => {
  billing.given([]).when({ type: 'PublishPriceBook', data: { book } }).then([v1]);
  billing.given([v1]).when({ type: 'PublishPriceBook', data: { book: { ...book, effectiveFrom: '2025-02-01T00:00:00Z' }, reason: 'new prices' } })
    .then([{ type: 'PriceBookPublished', data: { ...book, effectiveFrom: '2025-02-01T00:00:00Z', version: 2, reason: 'new prices' } }]);
  billing.given([v1]).when({ type: 'PublishPriceBook', data: { book: { ...book, currency: 'USD' } } }).thenThrows('CURRENCY_MISMATCH', 'EUR');
});

test('a price book never takes effect inside a closed period', () => {
  billing.given([v1, janClosed]).when({ type: 'PublishPriceBook', data: { book: { ...book, effectiveFrom: '2025-01-20T00:00:00Z' } } })
    .thenThrows('EFFECTIVE_IN_CLOSED_PERIOD', '2025-02');
  billing.given([v1, janClosed]).when({ type: 'PublishPriceBook', data: { book: { ...book, effectiveFrom: '2025-02-01T00:00:00Z' } } })
    .then((events) => assert.is(events[0].type, 'PriceBookPublished'));
});

test('close: only after the period ended; in order; closing again does nothing', () => {
  billing.given([v1]).when({ type: 'ClosePeriod', data: { period: '2025-01', closedAt: '2025-01-31T23:59:59Z' } }).thenThrows('PERIOD_NOT_ENDED');
  billing.given([v1]).when({ type: 'ClosePeriod', data: { period: '2025-01', closedAt: '2025-02-01T02:00:00Z' } }).then([janClosed]);
  billing.given([v1, janClosed]).when({ type: 'ClosePeriod', data: { period: '2025-01', closedAt: '2025-02-03T00:00:00Z' } }).thenNothing();
  billing.given([v1, janClosed]).when({ type: 'ClosePeriod', data: { period: '2025-03', closedAt: '2025-04-01T00:00:00Z' } })
    .then([{ type: 'PeriodClosed', data: { period: '2025-03', closedAt: '2025-04-01T00:00:00Z', previous: '2025-01' } }]);
});

test('re-rate: a closed period, a published version, a reason', () => {
  billing.given([v1]).when({ type: 'ReratePeriod', data: { period: '2025-01', version: 1, reason: 'x' } }).thenThrows('PERIOD_NOT_CLOSED');
  billing.given([v1, janClosed]).when({ type: 'ReratePeriod', data: { period: '2025-01', version: 2, reason: 'x' } }).thenThrows('PRICE_BOOK_NOT_FOUND');
  billing.given([v1, janClosed]).when({ type: 'ReratePeriod', data: { period: '2025-01', version: 1, reason: 'disk price was wrong' } })
    .then([{ type: 'PeriodRerated', data: { period: '2025-01', version: 1, reason: 'disk price was wrong' } }]);
  assert.throws(() => validateCommand(ClosePeriod, 'ClosePeriod', { period: '2025-13', closedAt: '2026-01-01T00:00:00Z' }), /period/);
});

test('price book schema: decimals as text, hour-aligned effective time, tiers ordered', () => {
  const bad = (b: unknown, re: RegExp) => assert.throws(() => validateCommand(PublishPriceBook, 'PublishPriceBook', { book: b }), re);
  bad({ ...EXAMPLE_PRICE_BOOK, effectiveFrom: '2025-01-01T00:30:00Z' }, /effectiveFrom/);
  bad({ ...EXAMPLE_PRICE_BOOK, meters: { 'cpu.core-hours': { price: 0.03 } } }, /price/);
  bad({ ...EXAMPLE_PRICE_BOOK, meters: { 'cpu.core-hours': { price: '1e-3' } } }, /price/);
  bad({ ...EXAMPLE_PRICE_BOOK, meters: { 'cpu.flops': { price: '1' } } }, /meters/);
  bad({ ...EXAMPLE_PRICE_BOOK, meters: { 'image.gib-hours': { tiers: [{ upTo: 100, price: '1' }, { upTo: 50, price: '1' }, { price: '1' }] } } }, /grow/);
  bad({ ...EXAMPLE_PRICE_BOOK, meters: { 'image.gib-hours': { tiers: [{ upTo: 100, price: '1' }, { upTo: 500, price: '1' }] } } }, /upper bound/);
  bad({ ...EXAMPLE_PRICE_BOOK, meters: { 'cpu.core-hours': { price: '1', tiers: [{ price: '1' }] } } }, /either/);
  assert.equal(validateEvent('PriceBookPublished', v1.data).data, v1.data);
  const rated = ratedBook(1, book);
  assert.equal(rated.meters['image.gib-hours']!.tiers.map((t) => [t.from, t.upTo]), [[0, 100], [100, 1000], [1000, null]]);
  assert.equal(rated.templateWeights.standard, { int: 125n, scale: 2 });
});

test.run();
