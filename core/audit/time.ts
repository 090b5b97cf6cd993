/** Time and position arguments of the audit tools: UTC ISO 8601 in, canonical `toISOString()` form out. */

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * Parses a time given by an operator: `2025-03-01` (midnight UTC), `2025-03-01T09:30Z`, `2025-03-01T09:30:00.123Z`,
 * or with an explicit offset (`+02:00`, converted to UTC). Returns the canonical form `YYYY-MM-DDTHH:MM:SS.mmmZ`,
 * which orders as text like the stored `recordedAt` times.
 */
export function parseTime(input: string, what = 'time'): string {
  const s = input.trim();
  if (!ISO.test(s)) throw new Error(`${what} ${JSON.stringify(input)}: expected an ISO 8601 time such as 2025-03-01T09:30:00Z or a date such as 2025-03-01`);
  const ms = Date.parse(s.length === 10 ? `${s}T00:00:00Z` : s);
  if (Number.isNaN(ms)) throw new Error(`${what} ${JSON.stringify(input)}: not a valid date or time`);
  return new Date(ms).toISOString();
}

/** A position (a positive integer) or a time. */
export function parsePositionOrTime(input: string, what: string): { position: number } | { time: string } {
  const s = input.trim();
  if (/^\d+$/.test(s)) {
    const position = Number(s);
    if (!Number.isSafeInteger(position) || position < 1) throw new Error(`${what} ${JSON.stringify(input)}: a position is an integer ≥ 1`);
    return { position };
  }
  return { time: parseTime(s, what) };
}

/** A non-negative integer option (`--limit`, `--at-revision`). */
export function parseCount(input: string, what: string, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
  const s = String(input).trim();
  if (!/^\d+$/.test(s)) throw new Error(`${what} ${JSON.stringify(input)}: expected a whole number`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`${what} ${JSON.stringify(input)}: must be between ${min} and ${max}`);
  return n;
}
