/** Small helpers for benchmarks: medians of repeated runs, rates, percentiles, a temp directory. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Runs `fn` and returns operations per second for `ops` operations. */
export async function rate(ops: number, fn: () => Promise<void> | void): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return ops / (Number(process.hrtime.bigint() - t0) / 1e9);
}

export function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

export interface BenchOptions {
  /** Smaller sizes for a smoke run. */
  quick?: boolean;
  /** Progress lines go here (stderr by default), never to stdout when --json is set. */
  log: (line: string) => void;
}
export type BenchResult = Record<string, unknown>;
