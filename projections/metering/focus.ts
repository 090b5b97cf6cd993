/**
 * FOCUS 1.2 records. Every mandatory column of the FOCUS 1.2 cost-and-usage dataset, plus the columns billing asks
 * for (consumed quantity, resource, region, zone, SKU, list unit price, sub-account, tags) and a few custom `x_`
 * columns. Dates are UTC `YYYY-MM-DDTHH:mm:ssZ`; decimals are exact decimal text; nulls are empty in CSV and null
 * in JSON Lines.
 */
import { formatMicro, formatScaled } from './fixed.ts';
import { isoSeconds } from '../../layers/metering/period.ts';
import type { RatedRow } from './rating.ts';
import type { RatedBook } from '../../layers/metering/pricebook.ts';
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

export const skuPriceId = (row: RatedRow): string => `${row.meter.id}:${row.state}:${row.template ?? '-'}:t${row.tier}:v${row.book ? row.book.version : '-'}`;

/** The reference mapping of a rated row to a FOCUS record (the fast writers below must give the same text). */
export function focusRecord(row: RatedRow, s: RowSubject, correctedPeriod: string | null): FocusRecord {
  const book = row.book;
  const cost = formatScaled(row.cost, row.costScale);
  const unitPrice = row.unitPriceText;
  const tags: Record<string, string> = { ...s.tags };
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
    SkuPriceId: skuPriceId(row),
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

// ── fast writers ─────────────────────────────────────────────────────────────────────────────────────────────────
// The same text as csvLine(focusRecord(…)) / jsonLine(focusRecord(…)), built with the subject's constant fields
// escaped once per resource (a million rows a month make the difference).

const isoCache = new Map<number, string>();
function iso(ms: number): string {
  let v = isoCache.get(ms);
  if (v === undefined) {
    v = isoSeconds(ms);
    if (isoCache.size > 100_000) isoCache.clear();
    isoCache.set(ms, v);
  }
  return v;
}

/** Tags: the subject's (ccontract, epoch, host / network, rcontract, replica), then the row's template, if any. */
interface PreparedSubject { csv: Record<string, string>; json: Record<string, string>; tags: string; csvTags: string }
const prepared = { csv: new WeakMap<RowSubject, PreparedSubject>(), json: new WeakMap<RowSubject, PreparedSubject>() };
const SUBJECT_COLUMNS = ['AvailabilityZone', 'BillingAccountId', 'BillingAccountName', 'BillingPeriodEnd', 'BillingPeriodStart', 'RegionId', 'RegionName', 'ResourceId', 'ResourceName', 'ResourceType', 'ServiceCategory', 'ServiceName', 'SubAccountId', 'SubAccountName'] as const;
function prepare(s: RowSubject, format: 'csv' | 'json'): PreparedSubject {
  let p = prepared[format].get(s);
  if (p) return p;
  const values: Record<string, string | null> = {
    AvailabilityZone: s.zone, BillingAccountId: s.billingAccountId, BillingAccountName: s.billingAccountName,
    BillingPeriodEnd: s.billingPeriodEnd, BillingPeriodStart: s.billingPeriodStart, RegionId: s.regionId, RegionName: s.regionName,
    ResourceId: s.resourceId, ResourceName: s.resourceName, ResourceType: s.resourceType, ServiceCategory: s.serviceCategory,
    ServiceName: s.serviceName, SubAccountId: s.subAccountId, SubAccountName: s.subAccountName,
  };
  const csv: Record<string, string> = {};
  const json: Record<string, string> = {};
  if (format === 'csv') for (const c of SUBJECT_COLUMNS) csv[c] = csvField(values[c]);
  else for (const c of SUBJECT_COLUMNS) json[c] = JSON.stringify(values[c]);
  const keys = Object.keys(s.tags).sort();
  if (keys.some((k) => k >= 'ledger/template')) throw new Error(`tag keys ${keys.join(', ')} must sort before ledger/template`);
  const tags = keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(s.tags[k])}`).join(',');
  p = { csv, json, tags, csvTags: format === 'csv' ? csvQuoted(tags) : '' };
  prepared[format].set(s, p);
  return p;
}

const csvQuoted = (jsonText: string) => jsonText.replace(/"/g, '""');
const templateTag = new Map<string, [string, string]>();
/** [JSON text, the same quoted for CSV] of the template tag. */
function tplTag(template: string): [string, string] {
  let v = templateTag.get(template);
  if (!v) { const json = `"ledger/template":${JSON.stringify(template)}`; v = [json, csvQuoted(json)]; templateTag.set(template, v); }
  return v;
}
function tagsJson(row: RatedRow, p: PreparedSubject): string {
  return row.template ? `{${p.tags}${p.tags ? ',' : ''}${tplTag(row.template)[0]}}` : `{${p.tags}}`;
}
function tagsCsv(row: RatedRow, p: PreparedSubject): string {
  if (row.template) return `"{${p.csvTags}${p.tags ? ',' : ''}${tplTag(row.template)[1]}}"`;
  return p.tags ? `"{${p.csvTags}}"` : '{}';
}
const bookCsv = new WeakMap<RatedBook, string[]>();
const NO_BOOK = ['', '', '', ''];
function bookFields(book: RatedBook | null): string[] {
  if (!book) return NO_BOOK;
  let v = bookCsv.get(book);
  if (!v) { v = [csvField(book.currency), csvField(book.invoiceIssuer), csvField(book.provider), String(book.version)]; bookCsv.set(book, v); }
  return v;
}

export function csvRow(row: RatedRow, s: RowSubject, corrected: string | null): string {
  const p = prepare(s, 'csv');
  const c = p.csv;
  const book = row.book;
  const cost = formatScaled(row.cost, row.costScale);
  const unitPrice = row.unitPriceText;
  const bk = bookFields(book);
  const unit = row.meter.unit;
  const meter = row.meter.id;
  return `${c.AvailabilityZone},${cost},${c.BillingAccountId},${c.BillingAccountName},${bk[0]},${c.BillingPeriodEnd},${c.BillingPeriodStart},Usage,${corrected ? 'Correction' : ''},${csvField(describe(row, s, corrected))},Usage-Based,${iso(row.chargeEnd)},${iso(row.chargeStart)},${formatMicro(row.consumedMicro)},${unit},${cost},${unitPrice},${cost},${bk[1]},${cost},${unitPrice},Standard,${formatMicro(row.pricingMicro)},${unit},${bk[2]},${bk[2]},${c.RegionId},${c.RegionName},${c.ResourceId},${c.ResourceName},${c.ResourceType},${c.ServiceCategory},${c.ServiceName},${meter},${skuPriceId(row)},${c.SubAccountId},${c.SubAccountName},${tagsCsv(row, p)},${corrected ?? ''},${meter},${bk[3]},${row.state}\r\n`;
}

export function jsonRow(row: RatedRow, s: RowSubject, corrected: string | null): string {
  const p = prepare(s, 'json');
  const j = p.json;
  const book = row.book;
  const t = { desc: describe(row, s, corrected), tags: tagsJson(row, p), version: book ? String(book.version) : null };
  const provider = JSON.stringify(book?.provider ?? null);
  const cost = `"${formatScaled(row.cost, row.costScale)}"`;
  const unitPrice = `"${row.unitPriceText}"`;
  const unit = JSON.stringify(row.meter.unit);
  const meter = JSON.stringify(row.meter.id);
  return `{"AvailabilityZone":${j.AvailabilityZone},"BilledCost":${cost},"BillingAccountId":${j.BillingAccountId},"BillingAccountName":${j.BillingAccountName},"BillingCurrency":${JSON.stringify(book?.currency ?? '')},"BillingPeriodEnd":${j.BillingPeriodEnd},"BillingPeriodStart":${j.BillingPeriodStart},"ChargeCategory":"Usage","ChargeClass":${corrected ? '"Correction"' : 'null'},"ChargeDescription":${JSON.stringify(t.desc)},"ChargeFrequency":"Usage-Based","ChargePeriodEnd":"${iso(row.chargeEnd)}","ChargePeriodStart":"${iso(row.chargeStart)}","ConsumedQuantity":"${formatMicro(row.consumedMicro)}","ConsumedUnit":${unit},"ContractedCost":${cost},"ContractedUnitPrice":${unitPrice},"EffectiveCost":${cost},"InvoiceIssuerName":${JSON.stringify(book?.invoiceIssuer ?? null)},"ListCost":${cost},"ListUnitPrice":${unitPrice},"PricingCategory":"Standard","PricingQuantity":"${formatMicro(row.pricingMicro)}","PricingUnit":${unit},"ProviderName":${provider},"PublisherName":${provider},"RegionId":${j.RegionId},"RegionName":${j.RegionName},"ResourceId":${j.ResourceId},"ResourceName":${j.ResourceName},"ResourceType":${j.ResourceType},"ServiceCategory":${j.ServiceCategory},"ServiceName":${j.ServiceName},"SkuId":${meter},"SkuPriceId":${JSON.stringify(skuPriceId(row))},"SubAccountId":${j.SubAccountId},"SubAccountName":${j.SubAccountName},"Tags":${JSON.stringify(t.tags)},"x_CorrectedPeriod":${corrected === null ? 'null' : JSON.stringify(corrected)},"x_Meter":${meter},"x_PriceBookVersion":${t.version === null ? 'null' : `"${t.version}"`},"x_State":${JSON.stringify(row.state)}}\n`;
}
