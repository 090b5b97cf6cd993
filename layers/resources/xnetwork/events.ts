import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { LocalId, NetworkId, RContractId, RegionId, XNetworkId, XNodeId, ZoneId } from '../common/ids.ts';
import { Cidr, Ipv4 } from '../common/ipv4.ts';

const Port = z.number().int().min(1).max(65_535);
export const DeviceConfig = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('dns'), domain: z.string().regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a DNS domain like internal.example') }).strict(),
  z.object({ kind: z.literal('router'), routes: z.array(z.object({ cidr: Cidr, via: Ipv4 }).strict()).max(64).default([]) }).strict(),
  z.object({
    kind: z.literal('loadBalancer'),
    listeners: z.array(z.object({ port: Port, protocol: z.enum(['tcp', 'udp', 'http', 'https']), targetPort: Port, targets: z.array(XNodeId).max(256) }).strict()).min(1).max(32),
  }).strict(),
  z.object({
    kind: z.literal('firewall'),
    rules: z.array(z.object({
      direction: z.enum(['ingress', 'egress']), protocol: z.enum(['tcp', 'udp', 'icmp', 'any']),
      ports: z.object({ from: Port, to: Port }).strict().optional(), cidr: Cidr, action: z.enum(['allow', 'deny']),
    }).strict()).max(200),
  }).strict(),
]);
export type DeviceConfig = z.infer<typeof DeviceConfig>;
export type DeviceKind = DeviceConfig['kind'];

const ref = { xnetworkId: XNetworkId, networkId: NetworkId, regionId: RegionId, zoneId: ZoneId.optional(), contractId: RContractId.optional() };

export const XNetworkCreated = defineEvent({
  type: 'XNetworkCreated', version: 1, category: 'XNetwork',
  description: 'A virtual network was created on a slice of a Network: a subnet (gateway = first usable address), its switch segment, bandwidth and, when public, public IPs.',
  schema: z.object({
    ...ref, cidr: Cidr, gateway: Ipv4, public: z.boolean(), bandwidthMbps: z.number().int().min(0), publicIps: z.array(Ipv4), segment: z.number().int().min(1),
  }).strict(),
});
export const XNetworkDeviceAdded = defineEvent({
  type: 'XNetworkDeviceAdded', version: 1, category: 'XNetwork', description: 'A virtual device (DNS, router, load balancer, firewall) was added to a virtual network.',
  schema: z.object({ ...ref, deviceId: LocalId, config: DeviceConfig, ip: Ipv4, publicIp: Ipv4.optional() }).strict(),
});
export const XNetworkDeviceRemoved = defineEvent({
  type: 'XNetworkDeviceRemoved', version: 1, category: 'XNetwork', description: 'A virtual device was removed; its addresses are free again.',
  schema: z.object({ ...ref, deviceId: LocalId, kind: z.enum(['dns', 'router', 'loadBalancer', 'firewall']), ip: Ipv4, publicIp: Ipv4.optional() }).strict(),
});
export const XNetworkPortAttached = defineEvent({
  type: 'XNetworkPortAttached', version: 1, category: 'XNetwork', description: 'An XNode got a port (a private address, and a public one if asked) on the virtual network.',
  schema: z.object({ ...ref, xnodeId: XNodeId, ip: Ipv4, publicIp: Ipv4.optional() }).strict(),
});
export const XNetworkPortDetached = defineEvent({
  type: 'XNetworkPortDetached', version: 1, category: 'XNetwork', description: 'An XNode\'s port was removed.',
  schema: z.object({ ...ref, xnodeId: XNodeId, ip: Ipv4, publicIp: Ipv4.optional() }).strict(),
});
export const XNetworkAllocationChanged = defineEvent({
  type: 'XNetworkAllocationChanged', version: 1, category: 'XNetwork', description: 'The Network slice under the virtual network changed (bandwidth, public IPs).',
  schema: z.object({ ...ref, bandwidthMbps: z.number().int().min(0), publicIps: z.array(Ipv4) }).strict(),
});
export const XNetworkDeleted = defineEvent({
  type: 'XNetworkDeleted', version: 1, category: 'XNetwork', description: 'A virtual network was deleted with its devices and ports. Final; the Network slice under it is released next.',
  schema: z.object({ ...ref, detachedXNodeIds: z.array(XNodeId), removedDeviceIds: z.array(LocalId), reason: z.string().max(1000).optional() }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type XNetworkEvent =
  | { type: 'XNetworkCreated'; data: D<typeof XNetworkCreated> }
  | { type: 'XNetworkDeviceAdded'; data: D<typeof XNetworkDeviceAdded> }
  | { type: 'XNetworkDeviceRemoved'; data: D<typeof XNetworkDeviceRemoved> }
  | { type: 'XNetworkPortAttached'; data: D<typeof XNetworkPortAttached> }
  | { type: 'XNetworkPortDetached'; data: D<typeof XNetworkPortDetached> }
  | { type: 'XNetworkAllocationChanged'; data: D<typeof XNetworkAllocationChanged> }
  | { type: 'XNetworkDeleted'; data: D<typeof XNetworkDeleted> };
