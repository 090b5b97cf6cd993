/**
 * FOCUS 1.2 records. Every mandatory column of the FOCUS 1.2 cost-and-usage dataset, plus the columns billing asks
 * for (consumed quantity, resource, region, zone, SKU, list unit price, sub-account, tags) and a few custom `x_`
 * columns. Dates are UTC `YYYY-MM-DDTHH:mm:ssZ`; decimals are exact decimal text; nulls are empty in CSV and null
 * in JSON Lines.
 */
import { formatMicro, formatScaled } from './fixed.ts';
import { isoSeconds } from '../../layers/metering/period.ts';
import type { RatedRow } from './rating.ts';
import type { ResourceKind } from './segments.ts';

export const FOCUS_COLUMNS = [
  'AvailabilityZone', 'BilledCost', 'BillingAccountId', 'BillingAccountName', 'BillingCurrency', 'BillingPeriodEnd',
  'BillingPeriodStart', 'ChargeCategory', 'ChargeClass', 'ChargeDescription', 'ChargeFrequency', 'ChargePeriodEnd',
  'ChargePeriodStart', 'ConsumedQuantity', 'ConsumedUnit', 'ContractedCost', 'ContractedUnitPrice', 'EffectiveCost',
  'InvoiceIssuerName', 'ListCost', 'ListUnitPrice', 'PricingCategory', 'PricingQuantity', 'PricingUnit', 'ProviderName',
  'PublisherName', 'RegionId', 'RegionName', 'ResourceId', 'ResourceName', 'ResourceType', 'ServiceCategory',
  'ServiceName', 'SkuId', 'SkuPriceId', 'SubAccountId', 'SubAccountName', 'Tags',
  'x_CorrectedPeriod', 'x_Meter', 'x_PriceBookVersion', 'x_State',
] as const;
export type FocusColumn = (typeof FOCUS_COLUMNS)[number];
export type FocusRecord = Record<FocusColumn, string | null>;

export const SERVICE: Record<ResourceKind | 'CContract' | 'Project' | 'RContract' | 'User', { name: string; category: string }> = {
  VNode: { name: 'XNode', category: 'Compute' },
  CNode: { name: 'XNode', category: 'Compute' },
  BNode: { name: 'XNode', category: 'Compute' },
  XNetwork: { name: 'XNetwork', category: 'Networking' },
  XImage: { name: 'XImage', category: 'Storage' },
  CContract: { name: 'Component', category: 'Compute' },
  Project: { name: 'Project', category: 'Compute' },
  RContract: { name: 'RContract', category: 'Compute' },
  User: { name: 'User', category: 'Compute' },
};

/** Constant fields of every row of one resource (or group) in one export. */
export interface RowSubject {
  billingPeriodStart: string;
  billingPeriodEnd: string;
  billingAccountId: string;
  billingAccountName: string | null;
  subAccountId: string | null;
  subAccountName: string | null;
  resourceId: string;
  resourceName: string | null;
  resourceType: string;
  kind: ResourceKind;
  serviceName: string;
  serviceCategory: string;
  regionId: string | null;
  regionName: string | null;
  zone: string | null;
  /** Tags other than meter/state/template (sorted into the JSON object with them). */
  tags: Record<string, string>;
}

const KIND_NOUN: Record<string, string> = { VNode: 'VNode', CNode: 'CNode', BNode: 'BNode', XNetwork: 'virtual network', XImage: 'checkpoint quota' };

export function describe(row: RatedRow, s: RowSubject, correctedPeriod: string | null): string {
  const tier = row.tiered ? `, tier ${row.tier + 1} (${row.tierFrom}${row.tierUpTo === null ? '+' : `–${row.tierUpTo}`})` : '';
  const tpl = row.template ? `, ${row.template}` : '';
  const what = `${row.meter.label} of ${KIND_NOUN[s.resourceType] ?? s.resourceType} ${s.resourceId} (${row.state}${tpl}${tier})`;
  return correctedPeriod ? `Correction of ${correctedPeriod}: ${what}` : what;
}

export function focusRecord(row: RatedRow, s: RowSubject, correctedPeriod: string | null): FocusRecord {
  const book = row.book;
  const cost = formatScaled(row.cost, row.costScale);
  const unitPrice = formatScaled(row.unitPrice.int, row.unitPrice.scale);
  const tags: Record<string, string> = { ...s.tags, 'ledger/meter': row.meter.id, 'ledger/state': row.state };
  if (row.template) tags['ledger/template'] = row.template;
  const version = book ? String(book.version) : null;
  return {
    AvailabilityZone: s.zone,
    BilledCost: cost,
    BillingAccountId: s.billingAccountId,
    BillingAccountName: s.billingAccountName,
    BillingCurrency: book?.currency ?? '',
    BillingPeriodEnd: s.billingPeriodEnd,
    BillingPeriodStart: s.billingPeriodStart,
    ChargeCategory: 'Usage',
    ChargeClass: correctedPeriod ? 'Correction' : null,
    ChargeDescription: describe(row, s, correctedPeriod),
    ChargeFrequency: 'Usage-Based',
    ChargePeriodEnd: isoSeconds(row.chargeEnd),
    ChargePeriodStart: isoSeconds(row.chargeStart),
    ConsumedQuantity: formatMicro(row.consumedMicro),
    ConsumedUnit: row.meter.unit,
    ContractedCost: cost,
    ContractedUnitPrice: unitPrice,
    EffectiveCost: cost,
    InvoiceIssuerName: book?.invoiceIssuer ?? null,
    ListCost: cost,
    ListUnitPrice: unitPrice,
    PricingCategory: 'Standard',
    PricingQuantity: formatMicro(row.pricingMicro),
    PricingUnit: row.meter.unit,
    ProviderName: book?.provider ?? null,
    PublisherName: book?.provider ?? null,
    RegionId: s.regionId,
    RegionName: s.regionName,
    ResourceId: s.resourceId,
    ResourceName: s.resourceName,
    ResourceType: s.resourceType,
    ServiceCategory: s.serviceCategory,
    ServiceName: s.serviceName,
    SkuId: row.meter.id,
    SkuPriceId: `${row.meter.id}:${row.state}:${row.template ?? '-'}:t${row.tier}:v${version ?? '-'}`,
    SubAccountId: s.subAccountId,
    SubAccountName: s.subAccountName,
    Tags: sortedJson(tags),
    x_CorrectedPeriod: correctedPeriod,
    x_Meter: row.meter.id,
    x_PriceBookVersion: version,
    x_State: row.state,
  };
}

export function sortedJson(o: Record<string, string>): string {
  const keys = Object.keys(o).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) out += `${i ? ',' : ''}${JSON.stringify(keys[i])}:${JSON.stringify(o[keys[i]])}`;
  return `${out}}`;
}

// ── writers ──────────────────────────────────────────────────────────────────────────────────────────────────────

const NEEDS_QUOTES = /[",\r\n]/;
/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
export function csvField(v: string | null): string {
  if (v === null) return '';
  return NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}
export const csvHeader = (): string => `${FOCUS_COLUMNS.join(',')}\r\n`;
export function csvLine(r: FocusRecord): string {
  let out = '';
  for (let i = 0; i < FOCUS_COLUMNS.length; i++) out += (i ? ',' : '') + csvField(r[FOCUS_COLUMNS[i]]);
  return `${out}\r\n`;
}
export function jsonLine(r: FocusRecord): string {
  let out = '{';
  for (let i = 0; i < FOCUS_COLUMNS.length; i++) out += `${i ? ',' : ''}"${FOCUS_COLUMNS[i]}":${JSON.stringify(r[FOCUS_COLUMNS[i]])}`;
  return `${out}}\n`;
}
