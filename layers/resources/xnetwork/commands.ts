import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { LocalId, NetworkId, RContractId, RegionId, stream, XNetworkId, XNodeId, ZoneId } from '../common/ids.ts';
import { Cidr, Ipv4 } from '../common/ipv4.ts';
import { DeviceConfig } from './events.ts';

export const CreateXNetwork = defineCommand({
  type: 'CreateXNetwork', category: 'XNetwork',
  description: 'Create a virtual network on a Network slice already allocated (AllocateNetworkSlice → NetworkSliceAllocated gives bandwidth, public IPs and segment).',
  schema: z.object({
    xnetworkId: XNetworkId, networkId: NetworkId, regionId: RegionId, zoneId: ZoneId.optional(), contractId: RContractId.optional(),
    cidr: Cidr, public: z.boolean().default(false), bandwidthMbps: z.number().int().min(0), publicIps: z.array(Ipv4).default([]), segment: z.number().int().min(1),
  }).strict(),
});
export const AddXNetworkDevice = defineCommand({
  type: 'AddXNetworkDevice', category: 'XNetwork', description: 'Add a DNS, router, load balancer or firewall to a virtual network; routers and load balancers of a public network may bind a public IP.',
  schema: z.object({ xnetworkId: XNetworkId, deviceId: LocalId, config: DeviceConfig, ip: Ipv4.optional(), publicIp: Ipv4.optional() }).strict(),
});
export const RemoveXNetworkDevice = defineCommand({
  type: 'RemoveXNetworkDevice', category: 'XNetwork', description: 'Remove a virtual device.', schema: z.object({ xnetworkId: XNetworkId, deviceId: LocalId }).strict(),
});
export const AttachXNodePort = defineCommand({
  type: 'AttachXNodePort', category: 'XNetwork', description: 'Give an XNode a port on the virtual network: the lowest free private address (or `ip`), and a public IP on a public network if asked.',
  schema: z.object({ xnetworkId: XNetworkId, xnodeId: XNodeId, ip: Ipv4.optional(), publicIp: Ipv4.optional() }).strict(),
});
export const DetachXNodePort = defineCommand({
  type: 'DetachXNodePort', category: 'XNetwork', description: 'Remove an XNode\'s port.', schema: z.object({ xnetworkId: XNetworkId, xnodeId: XNodeId }).strict(),
});
export const SyncXNetworkAllocation = defineCommand({
  type: 'SyncXNetworkAllocation', category: 'XNetwork', description: 'Follow a change of the Network slice (bandwidth, public IPs); refused when a bound public IP would disappear.',
  schema: z.object({ xnetworkId: XNetworkId, bandwidthMbps: z.number().int().min(0), publicIps: z.array(Ipv4) }).strict(),
});
export const DeleteXNetwork = defineCommand({
  type: 'DeleteXNetwork', category: 'XNetwork', description: 'Delete a virtual network with its devices and ports; deleting a deleted one does nothing.',
  schema: z.object({ xnetworkId: XNetworkId, reason: z.string().max(1000).optional() }).strict(),
});

type D<S extends z.ZodType> = z.input<S>;
export type XNetworkCommand =
  | { type: 'CreateXNetwork'; data: D<typeof CreateXNetwork> }
  | { type: 'AddXNetworkDevice'; data: D<typeof AddXNetworkDevice> }
  | { type: 'RemoveXNetworkDevice'; data: D<typeof RemoveXNetworkDevice> }
  | { type: 'AttachXNodePort'; data: D<typeof AttachXNodePort> }
  | { type: 'DetachXNodePort'; data: D<typeof DetachXNodePort> }
  | { type: 'SyncXNetworkAllocation'; data: D<typeof SyncXNetworkAllocation> }
  | { type: 'DeleteXNetwork'; data: D<typeof DeleteXNetwork> };

export const xnetworkCommandSchemas = { CreateXNetwork, AddXNetworkDevice, RemoveXNetworkDevice, AttachXNodePort, DetachXNodePort, SyncXNetworkAllocation, DeleteXNetwork } as const;
export const xnetworkStreamOf = (c: XNetworkCommand): string => stream.xnetwork(c.data.xnetworkId);
