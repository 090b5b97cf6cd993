import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { Name, NetworkId, RContractId, RegionId, stream, XNetworkId, ZoneId } from '../common/ids.ts';
import { Cidr, Ipv4 } from '../common/ipv4.ts';
import { PublicIpPool, SwitchCapacity } from './events.ts';

const Mbps = z.number().int().min(0).max(10_000_000);
const onSlice = { networkId: NetworkId, sliceId: XNetworkId };

export const RegisterNetwork = defineCommand({
  type: 'RegisterNetwork', category: 'Network',
  description: 'Register a physical network (operator) of a zone, or of a region when zoneId is omitted. The handler checks the parent and reserves the name.',
  schema: z.object({
    networkId: NetworkId, regionId: RegionId, zoneId: ZoneId.optional(), name: Name, bandwidthMbps: Mbps,
    publicIpPool: PublicIpPool.optional(), switchCapacity: SwitchCapacity,
  }).strict(),
});
export const AddNetworkPublicIps = defineCommand({
  type: 'AddNetworkPublicIps', category: 'Network', description: 'Add public IPs (CIDR blocks or single addresses) to a network\'s pool (operator).',
  schema: z.object({ networkId: NetworkId, cidrs: z.array(Cidr).max(64).optional(), addresses: z.array(Ipv4).max(4096).optional(), excluded: z.array(Ipv4).max(4096).optional() }).strict(),
});
export const AdjustNetworkBandwidth = defineCommand({
  type: 'AdjustNetworkBandwidth', category: 'Network', description: 'Change a network\'s sliceable bandwidth (operator); not below what slices hold.',
  schema: z.object({ networkId: NetworkId, bandwidthMbps: Mbps }).strict(),
});
export const RetireNetwork = defineCommand({
  type: 'RetireNetwork', category: 'Network', description: 'Retire a network (operator); refused while it holds slices.',
  schema: z.object({ networkId: NetworkId, reason: z.string().max(1000).optional() }).strict(),
});
export const AllocateNetworkSlice = defineCommand({
  type: 'AllocateNetworkSlice', category: 'Network',
  description: 'Hand a slice of this network to an XNetwork: bandwidth, `publicIps` public addresses (the lowest free, or exactly `requestedIps`) and a switch segment.',
  schema: z.object({
    ...onSlice, bandwidthMbps: Mbps, publicIps: z.number().int().min(0).max(1024).default(0), requestedIps: z.array(Ipv4).max(1024).optional(),
    contractId: RContractId.optional(),
  }).strict(),
});
export const ResizeNetworkSlice = defineCommand({
  type: 'ResizeNetworkSlice', category: 'Network', description: 'Give a network slice a new bandwidth.', schema: z.object({ ...onSlice, bandwidthMbps: Mbps }).strict(),
});
export const AddSlicePublicIps = defineCommand({
  type: 'AddSlicePublicIps', category: 'Network', description: 'Hand more public IPs to a network slice (the lowest free, or exactly `requestedIps`).',
  schema: z.object({ ...onSlice, count: z.number().int().min(0).max(1024).default(0), requestedIps: z.array(Ipv4).max(1024).optional() }).strict(),
});
export const ReleaseSlicePublicIp = defineCommand({
  type: 'ReleaseSlicePublicIp', category: 'Network', description: 'Give one public IP of a network slice back to the pool.', schema: z.object({ ...onSlice, ip: Ipv4 }).strict(),
});
export const ReleaseNetworkSlice = defineCommand({
  type: 'ReleaseNetworkSlice', category: 'Network', description: 'Release a network slice; releasing a released slice does nothing.',
  schema: z.object({ ...onSlice, reason: z.string().max(1000).optional() }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type NetworkCommand =
  | { type: 'RegisterNetwork'; data: z.input<typeof RegisterNetwork> }
  | { type: 'AddNetworkPublicIps'; data: D<typeof AddNetworkPublicIps> }
  | { type: 'AdjustNetworkBandwidth'; data: D<typeof AdjustNetworkBandwidth> }
  | { type: 'RetireNetwork'; data: D<typeof RetireNetwork> }
  | { type: 'AllocateNetworkSlice'; data: z.input<typeof AllocateNetworkSlice> }
  | { type: 'ResizeNetworkSlice'; data: D<typeof ResizeNetworkSlice> }
  | { type: 'AddSlicePublicIps'; data: z.input<typeof AddSlicePublicIps> }
  | { type: 'ReleaseSlicePublicIp'; data: D<typeof ReleaseSlicePublicIp> }
  | { type: 'ReleaseNetworkSlice'; data: D<typeof ReleaseNetworkSlice> };

export const networkCommandSchemas = {
  RegisterNetwork, AddNetworkPublicIps, AdjustNetworkBandwidth, RetireNetwork, AllocateNetworkSlice, ResizeNetworkSlice,
  AddSlicePublicIps, ReleaseSlicePublicIp, ReleaseNetworkSlice,
} as const;
export const networkStreamOf = (c: NetworkCommand): string => stream.network(c.data.networkId);
