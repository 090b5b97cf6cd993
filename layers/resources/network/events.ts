import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { Name, NetworkId, RContractId, RegionId, XNetworkId, ZoneId } from '../common/ids.ts';
import { Cidr, Ipv4 } from '../common/ipv4.ts';

export const PublicIpPool = z.object({
  cidrs: z.array(Cidr).max(64).default([]),
  addresses: z.array(Ipv4).max(4096).default([]),
  /** Addresses of the pool never handed out (gateways, anycast…). Network and broadcast addresses of a CIDR are excluded anyway. */
  excluded: z.array(Ipv4).max(4096).default([]),
}).strict();
export type PublicIpPool = z.infer<typeof PublicIpPool>;
export const SwitchCapacity = z.object({ segments: z.number().int().min(1).max(16_777_215) }).strict();

const netRef = { networkId: NetworkId, regionId: RegionId, zoneId: ZoneId.optional() };
const sliceRef = { ...netRef, sliceId: XNetworkId, contractId: RContractId.optional() };
const Mbps = z.number().int().min(0).max(10_000_000);

export const NetworkRegistered = defineEvent({
  type: 'NetworkRegistered', version: 1, category: 'Network',
  description: 'A physical network of a zone (or a whole region) was registered: sliceable bandwidth, a public IP pool and switch segments (VLAN/VNI ids).',
  schema: z.object({ ...netRef, name: Name, bandwidthMbps: Mbps, publicIpPool: PublicIpPool, poolSize: z.number().int().min(0), switchCapacity: SwitchCapacity }).strict(),
});
export const NetworkPublicIpsAdded = defineEvent({
  type: 'NetworkPublicIpsAdded', version: 1, category: 'Network', description: 'Public IPs were added to a network\'s pool.',
  schema: z.object({ ...netRef, cidrs: z.array(Cidr), addresses: z.array(Ipv4), excluded: z.array(Ipv4), poolSize: z.number().int().min(0) }).strict(),
});
export const NetworkBandwidthAdjusted = defineEvent({
  type: 'NetworkBandwidthAdjusted', version: 1, category: 'Network', description: 'A network\'s sliceable bandwidth changed.',
  schema: z.object({ ...netRef, bandwidthMbps: Mbps, previousBandwidthMbps: Mbps }).strict(),
});
export const NetworkRetired = defineEvent({
  type: 'NetworkRetired', version: 1, category: 'Network', description: 'A network was retired (it held no slices).',
  schema: z.object({ ...netRef, reason: z.string().max(1000).optional() }).strict(),
});
export const NetworkSliceAllocated = defineEvent({
  type: 'NetworkSliceAllocated', version: 1, category: 'Network',
  description: 'A slice of a network was handed to an XNetwork: bandwidth, public IPs (each to one holder only) and a switch segment.',
  schema: z.object({ ...sliceRef, bandwidthMbps: Mbps, publicIps: z.array(Ipv4), segment: z.number().int().min(1) }).strict(),
});
export const NetworkSliceResized = defineEvent({
  type: 'NetworkSliceResized', version: 1, category: 'Network', description: 'A network slice got a new bandwidth.',
  schema: z.object({ ...sliceRef, bandwidthMbps: Mbps, previousBandwidthMbps: Mbps }).strict(),
});
export const NetworkSlicePublicIpsAdded = defineEvent({
  type: 'NetworkSlicePublicIpsAdded', version: 1, category: 'Network', description: 'More public IPs were handed to a network slice.',
  schema: z.object({ ...sliceRef, addedIps: z.array(Ipv4), publicIps: z.array(Ipv4) }).strict(),
});
export const NetworkSlicePublicIpReleased = defineEvent({
  type: 'NetworkSlicePublicIpReleased', version: 1, category: 'Network', description: 'A network slice gave one public IP back to the pool.',
  schema: z.object({ ...sliceRef, ip: Ipv4, publicIps: z.array(Ipv4) }).strict(),
});
export const NetworkSliceReleased = defineEvent({
  type: 'NetworkSliceReleased', version: 1, category: 'Network', description: 'A network slice was released: its bandwidth, public IPs and segment are free again.',
  schema: z.object({ ...sliceRef, bandwidthMbps: Mbps, publicIps: z.array(Ipv4), segment: z.number().int().min(1), reason: z.string().max(1000).optional() }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type NetworkEvent =
  | { type: 'NetworkRegistered'; data: D<typeof NetworkRegistered> }
  | { type: 'NetworkPublicIpsAdded'; data: D<typeof NetworkPublicIpsAdded> }
  | { type: 'NetworkBandwidthAdjusted'; data: D<typeof NetworkBandwidthAdjusted> }
  | { type: 'NetworkRetired'; data: D<typeof NetworkRetired> }
  | { type: 'NetworkSliceAllocated'; data: D<typeof NetworkSliceAllocated> }
  | { type: 'NetworkSliceResized'; data: D<typeof NetworkSliceResized> }
  | { type: 'NetworkSlicePublicIpsAdded'; data: D<typeof NetworkSlicePublicIpsAdded> }
  | { type: 'NetworkSlicePublicIpReleased'; data: D<typeof NetworkSlicePublicIpReleased> }
  | { type: 'NetworkSliceReleased'; data: D<typeof NetworkSliceReleased> };
