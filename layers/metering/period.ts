/**
 * Billing periods and UTC time helpers. A billing period is a calendar month `YYYY-MM` in UTC, the half-open window
 * [first instant of the month, first instant of the next month). Times are integer milliseconds since the epoch.
 */
import { z } from 'zod';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;
export const Period = z.string().regex(PERIOD, 'a billing period: YYYY-MM (a UTC calendar month)');

export function isPeriod(text: string): boolean { return PERIOD.test(text); }

function parts(period: string): [number, number] {
  const m = PERIOD.exec(period);
  if (!m) throw new Error(`not a billing period: ${JSON.stringify(period)} (expected YYYY-MM)`);
  return [Number(m[1]), Number(m[2])];
}
/** First instant of the period (inclusive). */
export function periodStart(period: string): number {
  const [y, mo] = parts(period);
  return Date.UTC(y, mo - 1, 1);
}
/** First instant after the period (exclusive end). */
export function periodEnd(period: string): number {
  const [y, mo] = parts(period);
  return Date.UTC(y, mo, 1);
}
export function periodOf(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getUTCFullYear()).padStart(4, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}
export const nextPeriod = (period: string): string => periodOf(periodEnd(period));
export const previousPeriod = (period: string): string => periodOf(periodStart(period) - 1);
/** Periods from `from` to `to`, both included (empty when from > to). */
export function periodsBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let p = from; p <= to; p = nextPeriod(p)) out.push(p);
  return out;
}

/** `YYYY-MM-DDTHH:mm:ssZ` (FOCUS date/time format: UTC, whole seconds). */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}
export const floorHour = (ms: number): number => Math.floor(ms / HOUR_MS) * HOUR_MS;
export const ceilHour = (ms: number): number => Math.ceil(ms / HOUR_MS) * HOUR_MS;

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
/** Milliseconds of a UTC ISO 8601 time (sub-millisecond digits are dropped). */
export function parseUtc(text: string): number {
  if (!ISO_UTC.test(text)) throw new Error(`not a UTC ISO 8601 time: ${JSON.stringify(text)}`);
  const ms = Date.parse(text.length > 24 ? `${text.slice(0, 23)}Z` : text);
  if (Number.isNaN(ms)) throw new Error(`not a valid time: ${JSON.stringify(text)}`);
  return ms;
}
/** A UTC time on a whole hour, e.g. 2025-01-15T00:00:00Z (price books take effect on hour boundaries). */
export const UtcHour = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:00:00(\.0{1,6})?Z$/, 'a UTC time on a whole hour, e.g. 2025-01-15T00:00:00Z')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'not a valid date');
export const UtcTime = z.string().regex(ISO_UTC, 'a UTC ISO 8601 time ending in Z').refine((s) => !Number.isNaN(Date.parse(s)), 'not a valid date');
