/**
 * IPv4 addresses and CIDR blocks as unsigned 32-bit integers. Pure, exact, no dependencies.
 * (IPv6 pools are not modelled yet: public IPv4 is the scarce resource an operator must hand out once.)
 */
import { z } from 'zod';

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IP_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const CIDR_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}/(3[0-2]|[12]?\\d)$`);

export const Ipv4 = z.string().regex(IP_RE, 'an IPv4 address like 203.0.113.7');
export const Cidr = z.string().regex(CIDR_RE, 'an IPv4 CIDR block like 203.0.113.0/24')
  .refine((c) => { const [ip, prefix] = c.split('/'); return (ipToInt(ip) & ~maskOf(Number(prefix))) >>> 0 === 0; }, 'the address must be the first of its block (no host bits set)');

export const ipToInt = (ip: string): number => ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
export const intToIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

export function parseCidr(cidr: string): { base: number; prefix: number; first: number; last: number; size: number } {
  const [ip, p] = cidr.split('/');
  const prefix = Number(p);
  const base = (ipToInt(ip) & maskOf(prefix)) >>> 0;
  const size = 2 ** (32 - prefix);
  return { base, prefix, first: base, last: base + size - 1, size };
}

/** Host addresses of a block: without the network and broadcast addresses when the block has them (prefix ≤ 30). */
export function usableRange(cidr: string): [number, number] {
  const { first, last, prefix } = parseCidr(cidr);
  return prefix <= 30 ? [first + 1, last - 1] : [first, last];
}

export const inCidr = (ip: string, cidr: string): boolean => {
  const { first, last } = parseCidr(cidr);
  const n = ipToInt(ip);
  return n >= first && n <= last;
};

export type Range = readonly [number, number];
/** Sorted, merged ranges. */
export function mergeRanges(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const prev = out[out.length - 1];
    if (prev && a <= prev[1] + 1) prev[1] = Math.max(prev[1], b);
    else out.push([a, b]);
  }
  return out;
}
export const rangesSize = (ranges: readonly Range[]): number => ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
export const inRanges = (n: number, ranges: readonly Range[]): boolean => ranges.some(([a, b]) => n >= a && n <= b);

/** The lowest `count` addresses of `ranges` for which `taken` says no; fewer when the ranges run out. */
export function lowestFree(ranges: readonly Range[], count: number, taken: (ip: string) => boolean): string[] {
  const out: string[] = [];
  for (const [a, b] of ranges) {
    for (let n = a; n <= b && out.length < count; n++) {
      const ip = intToIp(n);
      if (!taken(ip)) out.push(ip);
    }
    if (out.length >= count) break;
  }
  return out;
}
