/**
 * Quantities of the Resources layer: integers in named units, never floating point.
 *
 *   cpuCores (cores) · cpuMHz (MHz, total clock capacity) · ramMiB · diskGiB · diskIops · bandwidthMbps
 *
 * Capacity of a host follows OpenStack Placement: capacity = floor((total − reserved) × allocationRatio), per resource.
 * Ratios are decimals with at most 3 places; the product is computed in integer thousandths, so it is exact.
 */
import { z } from 'zod';

export const RESOURCE_KEYS = ['cpuCores', 'cpuMHz', 'ramMiB', 'diskGiB', 'diskIops'] as const;
export type ResourceKey = (typeof RESOURCE_KEYS)[number];
export type Resources = Record<ResourceKey, number>;

const MAX = 1_000_000_000; // 1e9 of any unit: far beyond one machine, far below 2^53 / 1000
export const Quantity = z.number().int('a whole number').min(0, 'not negative').max(MAX, `at most ${MAX}`);
export const PositiveQuantity = z.number().int('a whole number').min(1, 'at least 1').max(MAX, `at most ${MAX}`);

/** What a host has. Every key is required (diskIops and cpuMHz may be 0 when not metered). */
export const ResourcesSchema = z.object({
  cpuCores: PositiveQuantity,
  cpuMHz: Quantity,
  ramMiB: PositiveQuantity,
  diskGiB: PositiveQuantity,
  diskIops: Quantity,
}).strict();

/** Reserved (System overhead) or optional partial resources: missing keys are 0. */
export const PartialResourcesSchema = z.object({
  cpuCores: Quantity.optional(),
  cpuMHz: Quantity.optional(),
  ramMiB: Quantity.optional(),
  diskGiB: Quantity.optional(),
  diskIops: Quantity.optional(),
}).strict();
export type PartialResources = z.infer<typeof PartialResourcesSchema>;

/** A slice's size as requested: cores, RAM and disk always; a guaranteed clock (MHz) and IOPS when asked for. */
export const SizeInputSchema = z.object({
  cpuCores: PositiveQuantity,
  ramMiB: PositiveQuantity,
  diskGiB: PositiveQuantity,
  cpuMHz: Quantity.optional(),
  diskIops: Quantity.optional(),
}).strict();
export type SizeInput = z.infer<typeof SizeInputSchema>;

/** A size as recorded in events: all five keys, 0 meaning "no guarantee". */
export const SizeSchema = z.object({
  cpuCores: Quantity,
  cpuMHz: Quantity,
  ramMiB: Quantity,
  diskGiB: Quantity,
  diskIops: Quantity,
}).strict();
export type Size = Resources;

const ratio = z.number().positive('greater than 0').max(1000, 'at most 1000')
  .refine((r) => Math.abs(Math.round(r * 1000) - r * 1000) < 1e-6, 'at most 3 decimal places');
export const AllocationRatiosSchema = z.object({
  cpuCores: ratio, cpuMHz: ratio, ramMiB: ratio, diskGiB: ratio, diskIops: ratio,
}).strict();
export const PartialAllocationRatiosSchema = z.object({
  cpuCores: ratio.optional(), cpuMHz: ratio.optional(), ramMiB: ratio.optional(), diskGiB: ratio.optional(), diskIops: ratio.optional(),
}).strict();
export type AllocationRatios = Record<ResourceKey, number>;

export const ZERO: Readonly<Resources> = Object.freeze({ cpuCores: 0, cpuMHz: 0, ramMiB: 0, diskGiB: 0, diskIops: 0 });
export const ONE_TO_ONE: Readonly<AllocationRatios> = Object.freeze({ cpuCores: 1, cpuMHz: 1, ramMiB: 1, diskGiB: 1, diskIops: 1 });

export const full = (p: PartialResources | undefined): Resources => ({
  cpuCores: p?.cpuCores ?? 0, cpuMHz: p?.cpuMHz ?? 0, ramMiB: p?.ramMiB ?? 0, diskGiB: p?.diskGiB ?? 0, diskIops: p?.diskIops ?? 0,
});
export const sizeOf = (s: SizeInput): Size => ({
  cpuCores: s.cpuCores, cpuMHz: s.cpuMHz ?? 0, ramMiB: s.ramMiB, diskGiB: s.diskGiB, diskIops: s.diskIops ?? 0,
});
export const add = (a: Resources, b: Resources): Resources => map((k) => a[k] + b[k]);
export const sub = (a: Resources, b: Resources): Resources => map((k) => a[k] - b[k]);
export const map = (f: (k: ResourceKey) => number): Resources => ({
  cpuCores: f('cpuCores'), cpuMHz: f('cpuMHz'), ramMiB: f('ramMiB'), diskGiB: f('diskGiB'), diskIops: f('diskIops'),
});
export const isZero = (r: Resources): boolean => RESOURCE_KEYS.every((k) => r[k] === 0);
export const sameResources = (a: Resources, b: Resources): boolean => RESOURCE_KEYS.every((k) => a[k] === b[k]);

/** capacity = floor((total − reserved) × ratio), in exact integer arithmetic (ratios have ≤ 3 decimals). */
export const capacityOf = (total: Resources, reserved: Resources, ratios: AllocationRatios): Resources =>
  map((k) => Math.floor((Math.max(0, total[k] - reserved[k]) * Math.round(ratios[k] * 1000)) / 1000));

/** Resources a change would push over capacity: [key, requested increase, free before] for each one. */
export function shortfalls(capacity: Resources, used: Resources, increase: Resources): { key: ResourceKey; requested: number; free: number; capacity: number }[] {
  const out: { key: ResourceKey; requested: number; free: number; capacity: number }[] = [];
  for (const k of RESOURCE_KEYS) {
    if (increase[k] > 0 && used[k] + increase[k] > capacity[k]) out.push({ key: k, requested: increase[k], free: Math.max(0, capacity[k] - used[k]), capacity: capacity[k] });
  }
  return out;
}

export const formatResources = (r: Resources): string =>
  `${r.cpuCores} cpuCores, ${r.cpuMHz} cpuMHz, ${r.ramMiB} ramMiB, ${r.diskGiB} diskGiB, ${r.diskIops} diskIops`;
