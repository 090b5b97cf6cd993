/**
 * Exact integer arithmetic for metering. Usage accumulates as integer unit-milliseconds (cores × ms, MiB × ms…);
 * quantities are rounded once, half to even, to micro-units (6 decimal places of the unit-hour); money is the exact
 * product of such a quantity and a decimal unit price. No binary floating point touches a quantity or an amount.
 */

/** An exact integer: a Number while it is a safe integer, a BigInt beyond 2^53 (hot paths stay in Numbers). */
export type Int = number | bigint;
const safe = Number.isSafeInteger;
export const big = (v: Int): bigint => (typeof v === 'bigint' ? v : BigInt(v));
/** Back to a Number when it fits. */
export const norm = (v: bigint): Int => (v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v);
export function addInt(a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number') { const s = a + b; if (safe(s)) return s; }
  return norm(big(a) + big(b));
}
export function subInt(a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number') { const s = a - b; if (safe(s)) return s; }
  return norm(big(a) - big(b));
}
export function mulInt(a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number') { const p = a * b; if (safe(p)) return p; }
  return norm(big(a) * big(b));
}
export const isZero = (v: Int): boolean => (typeof v === 'number' ? v === 0 : v === 0n);

/** Sum of products q × ms: a Number while exact, spilling into a BigInt beyond 2^53. */
export class UnitMs {
  small = 0;
  big = 0n;
  add(q: number, ms: number): void {
    const p = q * ms;
    const s = this.small + p;
    if (safe(p) && safe(s)) this.small = s;
    else this.big += BigInt(q) * BigInt(ms);
  }
  value(): Int { return this.big === 0n ? this.small : norm(BigInt(this.small) + this.big); }
}

/** n / d rounded half to even, n ≥ 0 and d > 0 safe Numbers (exact: see divHalfEven). */
function divHalfEvenNumber(n: number, d: number): number {
  // For n, d < 2^53 the float quotient rounds correctly, so its floor is the integer quotient.
  const q = Math.floor(n / d);
  const r2 = (n - q * d) * 2;
  return r2 > d || (r2 === d && q % 2 === 1) ? q + 1 : q;
}

/** n / d rounded half to even (d > 0). */
export function divHalfEven(n: bigint, d: bigint): bigint {
  const neg = n < 0n;
  const a = neg ? -n : n;
  let q = a / d;
  const r2 = (a - q * d) * 2n;
  if (r2 > d || (r2 === d && (q & 1n) === 1n)) q += 1n;
  return neg ? -q : q;
}

export const MICRO = 1_000_000n;
const MS_PER_HOUR = 3_600_000n;

/**
 * unit-milliseconds → micro-units-hours, weighted: round(unitMs × weight / (divisor × 3,600,000) × 10^6), half even.
 * `weight` is int / 10^scale. (10^6 / 3,600,000 = 10 / 36.)
 */
export function microUnitHours(unitMs: Int, divisor: number, weightInt: bigint = 1n, weightScale = 0): Int {
  if (typeof unitMs === 'number' && unitMs >= 0 && weightScale <= 12) {
    const w = Number(weightInt);
    const n = unitMs * 10 * w;
    const d = 36 * divisor * 10 ** weightScale;
    if (safe(n) && safe(d) && safe(w)) return divHalfEvenNumber(n, d);
  }
  return norm(divHalfEven(big(unitMs) * MICRO * weightInt, BigInt(divisor) * MS_PER_HOUR * 10n ** BigInt(weightScale)));
}

/** The decimal text of int / 10^scale, without trailing zeros ("2.5", "-0.0003", "12"). */
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);
export function formatScaled(int: Int, scale: number): string {
  if (scale === 0) return int.toString();
  if (typeof int === 'number' && scale < 16) {
    // exact for safe integers: the quotient of two integers below 2^53 floors correctly, the remainder is exact
    const neg = int < 0;
    const a = neg ? -int : int;
    const p = POW10[scale];
    const ip = Math.floor(a / p);
    let frac = a - ip * p;
    if (frac === 0) return neg && ip !== 0 ? `-${ip}` : String(ip);
    let sc = scale;
    while (frac % 10 === 0) { frac /= 10; sc--; }
    const f = String(frac);
    const text = `${ip}.${f.length < sc ? '0'.repeat(sc - f.length) + f : f}`;
    return neg ? `-${text}` : text;
  }
  const neg = int < 0;
  let digits = (neg ? -int : int).toString();
  if (digits.length <= scale) digits = '0'.repeat(scale - digits.length + 1) + digits;
  let intPart = digits.slice(0, digits.length - scale);
  let frac = digits.slice(digits.length - scale);
  let end = frac.length;
  while (end > 0 && frac.charCodeAt(end - 1) === 48) end--;
  frac = frac.slice(0, end);
  if (intPart === '') intPart = '0';
  const text = frac ? `${intPart}.${frac}` : intPart;
  return neg && text !== '0' ? `-${text}` : text;
}
export const formatMicro = (micro: Int): string => formatScaled(micro, 6);

/** Parses a decimal text into int / 10^scale. */
export function parseScaled(text: string): { int: bigint; scale: number } {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) throw new Error(`not a decimal: ${JSON.stringify(text)}`);
  const frac = m[3] ?? '';
  const int = BigInt(m[2] + frac);
  return { int: m[1] ? -int : int, scale: frac.length };
}

/** Adds decimal texts exactly. */
export function addDecimals(values: string[]): string {
  let scale = 0;
  const parsed = values.map(parseScaled);
  for (const p of parsed) scale = Math.max(scale, p.scale);
  let sum = 0n;
  for (const p of parsed) sum += p.int * 10n ** BigInt(scale - p.scale);
  return formatScaled(sum, scale);
}
