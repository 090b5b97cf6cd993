/**
 * Correlation ids: the caller's `x-correlation-id` when it is usable, else a fresh UUIDv7 (time-ordered). Random
 * bytes come from a pooled buffer: asking the CSPRNG once per request costs more than the rest of the id.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function uuidv7(now = Date.now()): string {
  if (offset + 10 > POOL_SIZE) { randomFillSync(pool); offset = 0; }
  const r = offset;
  offset += 10;
  const t = now.toString(16).padStart(12, '0');
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${HEX[pool[r]].slice(1)}${HEX[pool[r + 1]]}-${HEX[(pool[r + 2] & 0x3f) | 0x80]}${HEX[pool[r + 3]]}-`
    + `${HEX[pool[r + 4]]}${HEX[pool[r + 5]]}${HEX[pool[r + 6]]}${HEX[pool[r + 7]]}${HEX[pool[r + 8]]}${HEX[pool[r + 9]]}`;
}

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const correlationIdOf = (header: string | string[] | undefined): string => {
  const v = Array.isArray(header) ? header[0] : header;
  return v && CORRELATION_ID.test(v) ? v : uuidv7();
};
