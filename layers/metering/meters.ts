/**
 * The meter catalogue. Every meter measures one quantity of a slice held over time, in unit-hours:
 * usage = quantity (in the state the slice is in) × time. Quantities are integers in named units; a meter's
 * `divisor` turns the unit of the source into the unit it is billed in (RAM is held in MiB, billed in GiB).
 *
 * | meter                 | source                                  | resource | unit        |
 * |-----------------------|-----------------------------------------|----------|-------------|
 * | cpu.core-hours        | cpuCores the slice holds in its state   | XNode    | Core-Hours  |
 * | cpu.mhz-hours         | guaranteed cpuMHz (0: none)             | XNode    | MHz-Hours   |
 * | ram.gib-hours         | ramMiB / 1024                           | XNode    | GiB-Hours   |
 * | disk.gib-hours        | diskGiB                                 | XNode    | GiB-Hours   |
 * | disk.iops-hours       | guaranteed diskIops (0: none)           | XNode    | IOPS-Hours  |
 * | ip.ipv4-hours         | public IPv4 addresses held              | XNetwork | IP-Hours    |
 * | bandwidth.mbps-hours  | bandwidth of the network slice (Mbps)   | XNetwork | Mbps-Hours  |
 * | image.gib-hours       | GiB of checkpoints stored               | XImage   | GiB-Hours   |
 *
 * What an XNode holds in each state is `consumption()` of layers/resources/host/consumption.ts (a hibernated VNode
 * holds its disk, not its CPU or RAM): the same table the Host decider and the RRegister use.
 */
import { z } from 'zod';
import { XNODE_STATES } from '../resources/host/consumption.ts';

export const METER_IDS = [
  'cpu.core-hours', 'cpu.mhz-hours', 'ram.gib-hours', 'disk.gib-hours', 'disk.iops-hours',
  'ip.ipv4-hours', 'bandwidth.mbps-hours', 'image.gib-hours',
] as const;
export type MeterId = (typeof METER_IDS)[number];
export const MeterIdSchema = z.enum(METER_IDS);

export interface MeterDef {
  id: MeterId;
  /** Index of the quantity in a segment's quantity vector (the meter's position in METER_IDS). */
  index: number;
  unit: string;
  /** Source units per billed unit (1024 MiB per GiB). */
  divisor: number;
  label: string;
}
export const METERS: readonly MeterDef[] = [
  { id: 'cpu.core-hours', index: 0, unit: 'Core-Hours', divisor: 1, label: 'CPU cores' },
  { id: 'cpu.mhz-hours', index: 1, unit: 'MHz-Hours', divisor: 1, label: 'guaranteed CPU clock' },
  { id: 'ram.gib-hours', index: 2, unit: 'GiB-Hours', divisor: 1024, label: 'RAM' },
  { id: 'disk.gib-hours', index: 3, unit: 'GiB-Hours', divisor: 1, label: 'disk' },
  { id: 'disk.iops-hours', index: 4, unit: 'IOPS-Hours', divisor: 1, label: 'guaranteed disk IOPS' },
  { id: 'ip.ipv4-hours', index: 5, unit: 'IP-Hours', divisor: 1, label: 'public IPv4 addresses' },
  { id: 'bandwidth.mbps-hours', index: 6, unit: 'Mbps-Hours', divisor: 1, label: 'network bandwidth' },
  { id: 'image.gib-hours', index: 7, unit: 'GiB-Hours', divisor: 1, label: 'image checkpoint storage' },
];
export const METER_COUNT = METERS.length;
export const meterById = (id: string): MeterDef | undefined => METERS.find((m) => m.id === id);

/** States a segment can be in: the XNode states, and `active` for virtual networks and checkpoint quotas. */
export const METERED_STATES = [...XNODE_STATES, 'active'] as const;
export type MeteredState = (typeof METERED_STATES)[number];
export const MeteredStateSchema = z.enum(METERED_STATES);
export const stateIndex = (s: string): number => (METERED_STATES as readonly string[]).indexOf(s);

/** Size templates of component types; the price book weighs their unit prices. */
export const TEMPLATES = ['normal', 'standard', 'enhanced'] as const;
export type Template = (typeof TEMPLATES)[number];
