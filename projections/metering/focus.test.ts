import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'csv-stringify/sync';
import { METERS } from '../../layers/metering/meters.ts';
import { parseDec, ratedBook, PriceBookInput, EXAMPLE_PRICE_BOOK } from '../../layers/metering/pricebook.ts';
import { csvLine, csvRow, FOCUS_COLUMNS, focusRecord, jsonLine, jsonRow, type RowSubject } from './focus.ts';
import type { RatedRow } from './rating.ts';
import { parseCsv } from './csv.ts';

const book = ratedBook(3, PriceBookInput.parse({ ...EXAMPLE_PRICE_BOOK, provider: 'Example "Cloud", Inc.' }));
const subject = (over: Partial<RowSubject> = {}): RowSubject => ({
  billingPeriodStart: '2025-01-01T00:00:00Z', billingPeriodEnd: '2025-02-01T00:00:00Z', billingAccountId: 'u_ann', billingAccountName: 'Ann, "the" tenant',
  subAccountId: 'p_shop', subAccountName: null, resourceId: 'xn_1', resourceName: 'c_web replica 0', resourceType: 'VNode', kind: 'VNode',
  serviceName: 'XNode', serviceCategory: 'Compute', regionId: 'r_eu', regionName: 'Europe', zone: 'z_a',
  tags: { 'ledger/ccontract': 'c_web', 'ledger/host': 'h_1', 'ledger/rcontract': 'rc_1', 'ledger/replica': '0', 'ledger/epoch': '2' }, ...over,
});
const row = (over: Partial<RatedRow> = {}): RatedRow => ({
  key: 1, meter: METERS[0], state: 'running', template: 'standard', tier: 0, tierFrom: 0, tierUpTo: null, tiered: false, book,
  chargeStart: Date.parse('2025-01-03T04:00:00Z'), chargeEnd: Date.parse('2025-01-05T00:00:00Z'),
  consumedMicro: 3_500_000, pricingMicro: 875_000, unitPrice: parseDec('0.0375'), unitPriceInt: 375, unitPriceText: '0.0375', cost: 875_000 * 375, costScale: 10, ...over,
});

test('fast CSV and JSON writers give exactly the reference records', () => {
  const cases: [RatedRow, RowSubject, string | null][] = [
    [row(), subject(), null],
    [row({ template: null, state: 'stopped', consumedMicro: -2_000_000, pricingMicro: -1_000_000, cost: -375_000_000 }), subject({ subAccountId: null, zone: null, tags: {} }), '2024-12'],
    [row({ meter: METERS[7], tier: 2, tierFrom: 1000, tierUpTo: null, tiered: true, consumedMicro: 12n ** 20n, pricingMicro: 12n ** 20n, cost: 12n ** 20n * 375n }), subject({ resourceType: 'XImage', kind: 'XImage', tags: { 'ledger/network': 'n_1' } }), null],
    [row({ book: null, unitPrice: parseDec('0'), unitPriceInt: 0, unitPriceText: '0', cost: 0 }), subject(), null],
  ];
  for (const [r, s, c] of cases) {
    const rec = focusRecord(r, s, c);
    assert.is(csvRow(r, s, c), csvLine(rec));
    assert.is(jsonRow(r, s, c), jsonLine(rec));
    assert.equal(JSON.parse(jsonRow(r, s, c)), rec);
    // the CSV is RFC 4180 as csv-stringify writes it
    assert.is(csvLine(rec), stringify([FOCUS_COLUMNS.map((k) => rec[k] ?? '')], { record_delimiter: '\r\n' }));
    assert.equal(parseCsv(`${FOCUS_COLUMNS.join(',')}\r\n${csvLine(rec)}`)[0], Object.fromEntries(FOCUS_COLUMNS.map((k) => [k, rec[k] ?? ''])));
  }
  const rec = focusRecord(row(), subject(), null);
  assert.is(rec.Tags, '{"ledger/ccontract":"c_web","ledger/epoch":"2","ledger/host":"h_1","ledger/rcontract":"rc_1","ledger/replica":"0","ledger/template":"standard"}');
  assert.is(focusRecord(row({ template: null }), subject({ tags: {} }), null).Tags, '{}');
  assert.is(rec.BilledCost, '0.0328125');
  assert.is(rec.PricingQuantity, '0.875');
  assert.is(rec.ChargePeriodStart, '2025-01-03T04:00:00Z');
  assert.is(rec.SkuPriceId, 'cpu.core-hours:running:standard:t0:v3');
});

test.run();
