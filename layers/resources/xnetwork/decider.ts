/**
 * XNetwork: a virtual network built on a slice of a Network. It lives in its own stream, not in the Network's:
 *   - what must be handed out once *across* virtual networks (bandwidth, public IPs, switch segments) is held by the
 *     Network stream, which allocates the slice first (NetworkSliceAllocated);
 *   - what only concerns one virtual network (its private addresses, devices, ports, firewall rules, which public IP
 *     each device or port binds) changes often and would make the Network stream a hot spot for no invariant's sake.
 * This stream protects: private addresses of the subnet handed out once (the gateway = first usable address is the
 * router's), at most one router and one DNS, at most MAX_DEVICES devices, each public IP bound to one device or port,
 * load balancer targets attached to the network.
 */
import './events.ts'; // registers the event schemas (the store validates appends against them)
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import { inCidr, intToIp, ipToInt, parseCidr, usableRange } from '../common/ipv4.ts';
import type { XNetworkCommand } from './commands.ts';
import type { DeviceConfig, XNetworkEvent } from './events.ts';

export const MAX_DEVICES = 16;
export const MIN_PREFIX = 16;
export const MAX_PREFIX = 29;

export interface XNetworkState {
  readonly status: 'none' | 'active' | 'deleted';
  readonly xnetworkId: string;
  readonly networkId: string;
  readonly regionId: string;
  readonly zoneId?: string;
  readonly contractId?: string;
  readonly cidr: string;
  readonly gateway: string;
  readonly public: boolean;
  readonly bandwidthMbps: number;
  readonly publicIps: readonly string[];
  readonly segment: number;
  readonly devices: Readonly<Record<string, { config: DeviceConfig; ip: string; publicIp?: string }>>;
  readonly ports: Readonly<Record<string, { ip: string; publicIp?: string }>>;
  /** private address → holder (`gateway`, `device:<id>`, `port:<xnodeId>`) */
  readonly ipOwner: Readonly<Record<string, string>>;
  /** public address → holder */
  readonly publicOwner: Readonly<Record<string, string>>;
}

const initial: XNetworkState = {
  status: 'none', xnetworkId: '', networkId: '', regionId: '', cidr: '', gateway: '', public: false, bandwidthMbps: 0, publicIps: [], segment: 0,
  devices: {}, ports: {}, ipOwner: {}, publicOwner: {},
};

const without = <T>(r: Readonly<Record<string, T>>, key: string | undefined): Record<string, T> => {
  if (key === undefined) return { ...r };
  const { [key]: _gone, ...rest } = r;
  return rest;
};
const withKey = <T>(r: Readonly<Record<string, T>>, key: string | undefined, value: T): Record<string, T> => (key === undefined ? { ...r } : { ...r, [key]: value });

function evolve(state: XNetworkState, event: XNetworkEvent): XNetworkState {
  switch (event.type) {
    case 'XNetworkCreated': {
      const d = event.data;
      return {
        ...initial, status: 'active', xnetworkId: d.xnetworkId, networkId: d.networkId, regionId: d.regionId, ...(d.zoneId !== undefined && { zoneId: d.zoneId }),
        ...(d.contractId !== undefined && { contractId: d.contractId }), cidr: d.cidr, gateway: d.gateway, public: d.public, bandwidthMbps: d.bandwidthMbps,
        publicIps: d.publicIps, segment: d.segment, ipOwner: { [d.gateway]: 'gateway' },
      };
    }
    case 'XNetworkDeviceAdded': {
      const d = event.data;
      const holder = `device:${d.deviceId}`;
      return {
        ...state, devices: { ...state.devices, [d.deviceId]: { config: d.config, ip: d.ip, ...(d.publicIp !== undefined && { publicIp: d.publicIp }) } },
        ipOwner: d.ip === state.gateway ? state.ipOwner : { ...state.ipOwner, [d.ip]: holder }, publicOwner: withKey(state.publicOwner, d.publicIp, holder),
      };
    }
    case 'XNetworkDeviceRemoved': {
      const d = event.data;
      return {
        ...state, devices: without(state.devices, d.deviceId), ipOwner: d.ip === state.gateway ? state.ipOwner : without(state.ipOwner, d.ip),
        publicOwner: without(state.publicOwner, d.publicIp),
      };
    }
    case 'XNetworkPortAttached': {
      const d = event.data;
      const holder = `port:${d.xnodeId}`;
      return {
        ...state, ports: { ...state.ports, [d.xnodeId]: { ip: d.ip, ...(d.publicIp !== undefined && { publicIp: d.publicIp }) } },
        ipOwner: { ...state.ipOwner, [d.ip]: holder }, publicOwner: withKey(state.publicOwner, d.publicIp, holder),
      };
    }
    case 'XNetworkPortDetached': {
      const d = event.data;
      return { ...state, ports: without(state.ports, d.xnodeId), ipOwner: without(state.ipOwner, d.ip), publicOwner: without(state.publicOwner, d.publicIp) };
    }
    case 'XNetworkAllocationChanged': return { ...state, bandwidthMbps: event.data.bandwidthMbps, publicIps: event.data.publicIps };
    case 'XNetworkDeleted': return { ...state, status: 'deleted', devices: {}, ports: {}, ipOwner: {}, publicOwner: {} };
    default: return state;
  }
}

function active(state: XNetworkState, xnetworkId: string): void {
  if (state.status === 'none') throw new DomainError('XNETWORK_NOT_FOUND', `virtual network ${xnetworkId} does not exist`, ['xnetworkId']);
  if (state.xnetworkId !== xnetworkId) throw new DomainError('XNETWORK_MISMATCH', `command for ${xnetworkId} sent to the stream of ${state.xnetworkId}`, ['xnetworkId']);
  if (state.status === 'deleted') throw new DomainError('XNETWORK_DELETED', `virtual network ${xnetworkId} is deleted`, ['xnetworkId']);
}

function privateIp(state: XNetworkState, requested: string | undefined, holder: string): string {
  const [first, last] = usableRange(state.cidr);
  if (requested !== undefined) {
    if (!inCidr(requested, state.cidr) || ipToInt(requested) < first || ipToInt(requested) > last) {
      throw new DomainError('IP_NOT_IN_SUBNET', `${requested} is not a usable address of ${state.cidr}`, ['ip']);
    }
    const owner = state.ipOwner[requested];
    if (owner && owner !== holder) throw new DomainError('IP_TAKEN', `${requested} is already used by ${owner}`, ['ip']);
    return requested;
  }
  for (let n = first; n <= last; n++) {
    const ip = intToIp(n);
    if (!state.ipOwner[ip]) return ip;
  }
  throw new DomainError('SUBNET_EXHAUSTED', `subnet ${state.cidr} of ${state.xnetworkId} has no free address`, ['xnetworkId']);
}

function publicIp(state: XNetworkState, ip: string | undefined, holder: string): string | undefined {
  if (ip === undefined) return undefined;
  if (!state.public) throw new DomainError('XNETWORK_NOT_PUBLIC', `${state.xnetworkId} is not a public network: it binds no public IPs`, ['publicIp']);
  if (!state.publicIps.includes(ip)) throw new DomainError('PUBLIC_IP_NOT_HELD', `${ip} is not one of the public IPs of ${state.xnetworkId} (${state.publicIps.join(', ') || 'none'})`, ['publicIp']);
  const owner = state.publicOwner[ip];
  if (owner && owner !== holder) throw new DomainError('PUBLIC_IP_IN_USE', `${ip} is already bound to ${owner}`, ['publicIp']);
  return ip;
}

function normalise(config: Extract<XNetworkCommand, { type: 'AddXNetworkDevice' }>['data']['config']): DeviceConfig {
  return config.kind === 'router' ? { kind: 'router', routes: config.routes ?? [] } : config;
}

function decide(command: XNetworkCommand, state: XNetworkState): XNetworkEvent[] {
  if (command.type === 'CreateXNetwork') {
    const d = command.data;
    if (state.status !== 'none') {
      if (state.xnetworkId === d.xnetworkId && state.networkId === d.networkId && state.cidr === d.cidr && state.status === 'active') return [];
      throw new DomainError('XNETWORK_EXISTS', `virtual network ${d.xnetworkId} already exists (${state.status})`, ['xnetworkId']);
    }
    const { prefix } = parseCidr(d.cidr);
    if (prefix < MIN_PREFIX || prefix > MAX_PREFIX) throw new DomainError('SUBNET_SIZE', `a subnet is a /${MIN_PREFIX} to /${MAX_PREFIX}, not /${prefix}`, ['cidr']);
    const isPublic = d.public ?? false;
    const ips = d.publicIps ?? [];
    if (!isPublic && ips.length > 0) throw new DomainError('XNETWORK_NOT_PUBLIC', 'only a public virtual network holds public IPs', ['publicIps']);
    return [{
      type: 'XNetworkCreated',
      data: {
        xnetworkId: d.xnetworkId, networkId: d.networkId, regionId: d.regionId, ...(d.zoneId !== undefined && { zoneId: d.zoneId }),
        ...(d.contractId !== undefined && { contractId: d.contractId }), cidr: d.cidr, gateway: intToIp(usableRange(d.cidr)[0]), public: isPublic,
        bandwidthMbps: d.bandwidthMbps, publicIps: ips, segment: d.segment,
      },
    }];
  }
  if (command.type === 'DeleteXNetwork') {
    if (state.status === 'deleted' && state.xnetworkId === command.data.xnetworkId) return [];
    active(state, command.data.xnetworkId);
  } else active(state, command.data.xnetworkId);

  const ref = {
    xnetworkId: state.xnetworkId, networkId: state.networkId, regionId: state.regionId, ...(state.zoneId !== undefined && { zoneId: state.zoneId }),
    ...(state.contractId !== undefined && { contractId: state.contractId }),
  };
  switch (command.type) {
    case 'AddXNetworkDevice': {
      const d = command.data;
      const config = normalise(d.config);
      const holder = `device:${d.deviceId}`;
      const existing = state.devices[d.deviceId];
      if (existing) {
        if (JSON.stringify(existing.config) === JSON.stringify(config) && (d.publicIp === undefined || existing.publicIp === d.publicIp)) return [];
        throw new DomainError('DEVICE_EXISTS', `${state.xnetworkId} already has a device ${d.deviceId} (${existing.config.kind})`, ['deviceId']);
      }
      if (Object.keys(state.devices).length >= MAX_DEVICES) throw new DomainError('DEVICE_QUOTA_EXCEEDED', `${state.xnetworkId} has ${MAX_DEVICES} devices, the most it may hold`, ['deviceId']);
      const same = Object.entries(state.devices).find(([, dev]) => dev.config.kind === config.kind);
      if (same && (config.kind === 'router' || config.kind === 'dns')) throw new DomainError('DEVICE_LIMIT', `${state.xnetworkId} already has a ${config.kind} (${same[0]}); one is allowed`, ['config', 'kind']);
      if (d.publicIp !== undefined && config.kind !== 'router' && config.kind !== 'loadBalancer') throw new DomainError('PUBLIC_IP_NOT_ALLOWED', `a ${config.kind} binds no public IP; routers and load balancers do`, ['publicIp']);
      if (config.kind === 'router') {
        const outside = config.routes.find((r) => !inCidr(r.via, state.cidr));
        if (outside) throw new DomainError('ROUTE_VIA_OUTSIDE', `route to ${outside.cidr} goes via ${outside.via}, outside ${state.cidr}`, ['config', 'routes']);
      }
      if (config.kind === 'loadBalancer') {
        const missing = config.listeners.flatMap((l) => l.targets).find((x) => !state.ports[x]);
        if (missing) throw new DomainError('LB_TARGET_NOT_ATTACHED', `load balancer target ${missing} has no port on ${state.xnetworkId}`, ['config', 'listeners']);
      }
      const ip = config.kind === 'router' ? state.gateway : privateIp(state, d.ip, holder);
      const pub = publicIp(state, d.publicIp, holder);
      return [{ type: 'XNetworkDeviceAdded', data: { ...ref, deviceId: d.deviceId, config, ip, ...(pub !== undefined && { publicIp: pub }) } }];
    }
    case 'RemoveXNetworkDevice': {
      const dev = state.devices[command.data.deviceId];
      if (!dev) return [];
      return [{ type: 'XNetworkDeviceRemoved', data: { ...ref, deviceId: command.data.deviceId, kind: dev.config.kind, ip: dev.ip, ...(dev.publicIp !== undefined && { publicIp: dev.publicIp }) } }];
    }
    case 'AttachXNodePort': {
      const d = command.data;
      const holder = `port:${d.xnodeId}`;
      const existing = state.ports[d.xnodeId];
      if (existing) {
        if ((d.ip === undefined || d.ip === existing.ip) && (d.publicIp === undefined || d.publicIp === existing.publicIp)) return [];
        throw new DomainError('PORT_EXISTS', `${d.xnodeId} already has a port on ${state.xnetworkId} (${existing.ip})`, ['xnodeId']);
      }
      const ip = privateIp(state, d.ip, holder);
      const pub = publicIp(state, d.publicIp, holder);
      return [{ type: 'XNetworkPortAttached', data: { ...ref, xnodeId: d.xnodeId, ip, ...(pub !== undefined && { publicIp: pub }) } }];
    }
    case 'DetachXNodePort': {
      const port = state.ports[command.data.xnodeId];
      if (!port) return [];
      const lb = Object.entries(state.devices).find(([, dev]) => dev.config.kind === 'loadBalancer' && dev.config.listeners.some((l) => l.targets.includes(command.data.xnodeId)));
      if (lb) throw new DomainError('PORT_IN_USE', `${command.data.xnodeId} is a target of load balancer ${lb[0]}; change or remove it first`, ['xnodeId']);
      return [{ type: 'XNetworkPortDetached', data: { ...ref, xnodeId: command.data.xnodeId, ip: port.ip, ...(port.publicIp !== undefined && { publicIp: port.publicIp }) } }];
    }
    case 'SyncXNetworkAllocation': {
      const d = command.data;
      if (d.bandwidthMbps === state.bandwidthMbps && d.publicIps.length === state.publicIps.length && d.publicIps.every((ip, i) => state.publicIps[i] === ip)) return [];
      if (!state.public && d.publicIps.length > 0) throw new DomainError('XNETWORK_NOT_PUBLIC', 'only a public virtual network holds public IPs', ['publicIps']);
      const lost = Object.entries(state.publicOwner).find(([ip]) => !d.publicIps.includes(ip));
      if (lost) throw new DomainError('PUBLIC_IP_IN_USE', `${lost[0]} is still bound to ${lost[1]}; unbind it before giving it back`, ['publicIps']);
      return [{ type: 'XNetworkAllocationChanged', data: { ...ref, bandwidthMbps: d.bandwidthMbps, publicIps: d.publicIps } }];
    }
    case 'DeleteXNetwork':
      return [{
        type: 'XNetworkDeleted',
        data: { ...ref, detachedXNodeIds: Object.keys(state.ports), removedDeviceIds: Object.keys(state.devices), ...(command.data.reason !== undefined && { reason: command.data.reason }) },
      }];
  }
}

export const xnetworkDecider: Decider<XNetworkState, XNetworkCommand, XNetworkEvent> = { initialState: () => initial, evolve, decide };
