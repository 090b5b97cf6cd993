import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fold } from '../../../core/decider.ts';
import { spec } from '../../../core/spec.ts';
import { validateEvent } from '../../../schema/registry.ts';
import type { XNetworkCommand } from './commands.ts';
import { xnetworkDecider, type XNetworkState } from './decider.ts';
import type { XNetworkEvent } from './events.ts';

const xnet = spec(xnetworkDecider);
const X = 'xnet_web';
function run(given: XNetworkEvent[], ...commands: XNetworkCommand[]): XNetworkEvent[] {
  const events = [...given];
  let state = fold<XNetworkState, XNetworkEvent>(xnetworkDecider, given);
  for (const c of commands) for (const e of xnetworkDecider.decide(c, state)) { validateEvent(e.type, e.data); state = xnetworkDecider.evolve(state, e); events.push(e); }
  return events;
}
const stateOf = (events: XNetworkEvent[]) => fold<XNetworkState, XNetworkEvent>(xnetworkDecider, events);
const create: XNetworkCommand = {
  type: 'CreateXNetwork',
  data: { xnetworkId: X, networkId: 'n_pub', regionId: 'r_eu', zoneId: 'z_a', contractId: 'rc_1', cidr: '10.1.0.0/29', public: true, bandwidthMbps: 500, publicIps: ['203.0.113.2', '203.0.113.3'], segment: 4 },
};
const base = run([], create);
const attach = (xnodeId: string, extra: Record<string, unknown> = {}): XNetworkCommand => ({ type: 'AttachXNodePort', data: { xnetworkId: X, xnodeId, ...extra } }) as XNetworkCommand;
const device = (deviceId: string, config: unknown, extra: Record<string, unknown> = {}): XNetworkCommand => ({ type: 'AddXNetworkDevice', data: { xnetworkId: X, deviceId, config, ...extra } }) as XNetworkCommand;

test('create: the gateway is the first usable address', () => {
  xnet.given([]).when(create).then([{
    type: 'XNetworkCreated',
    data: { xnetworkId: X, networkId: 'n_pub', regionId: 'r_eu', zoneId: 'z_a', contractId: 'rc_1', cidr: '10.1.0.0/29', gateway: '10.1.0.1', public: true, bandwidthMbps: 500, publicIps: ['203.0.113.2', '203.0.113.3'], segment: 4 },
  }]);
  xnet.given(base).when(create).thenNothing();
  xnet.given([]).when({ ...create, data: { ...create.data, cidr: '10.0.0.0/8' } } as XNetworkCommand).thenThrows('SUBNET_SIZE');
  xnet.given([]).when({ ...create, data: { ...create.data, public: false } } as XNetworkCommand).thenThrows('XNETWORK_NOT_PUBLIC');
});

test('ports get the lowest free private address; each address once; the subnet runs out', () => {
  const s = stateOf(run(base, attach('xn_1'), attach('xn_2', { publicIp: '203.0.113.2' })));
  assert.equal([s.ports.xn_1.ip, s.ports.xn_2.ip, s.ports.xn_2.publicIp], ['10.1.0.2', '10.1.0.3', '203.0.113.2']);
  const two = run(base, attach('xn_1'), attach('xn_2', { publicIp: '203.0.113.2' }));
  xnet.given(two).when(attach('xn_3', { ip: '10.1.0.2' })).thenThrows('IP_TAKEN', 'port:xn_1');
  xnet.given(two).when(attach('xn_3', { ip: '10.1.0.7' })).thenThrows('IP_NOT_IN_SUBNET'); // broadcast
  xnet.given(two).when(attach('xn_3', { publicIp: '203.0.113.2' })).thenThrows('PUBLIC_IP_IN_USE', 'port:xn_2');
  xnet.given(two).when(attach('xn_3', { publicIp: '198.51.100.1' })).thenThrows('PUBLIC_IP_NOT_HELD');
  xnet.given(two).when(attach('xn_1')).thenNothing();
  const full = run(two, attach('xn_3'), attach('xn_4'), attach('xn_5'));
  xnet.given(full).when(attach('xn_6')).thenThrows('SUBNET_EXHAUSTED');
});

test('devices: one router (on the gateway), one DNS, load balancers on attached targets, firewalls', () => {
  const withPorts = run(base, attach('xn_1'), attach('xn_2'));
  const r = run(withPorts, device('gw', { kind: 'router' }, { publicIp: '203.0.113.3' }));
  const added = r[r.length - 1] as Extract<XNetworkEvent, { type: 'XNetworkDeviceAdded' }>;
  assert.equal([added.data.ip, added.data.publicIp, added.data.config], ['10.1.0.1', '203.0.113.3', { kind: 'router', routes: [] }]);
  xnet.given(r).when(device('gw2', { kind: 'router' })).thenThrows('DEVICE_LIMIT');
  xnet.given(r).when(device('dns', { kind: 'dns', domain: 'web.internal' })).then((e) => assert.is((e[0].data as { ip: string }).ip, '10.1.0.4'));
  xnet.given(r).when(device('fw', { kind: 'firewall', rules: [{ direction: 'ingress', protocol: 'tcp', ports: { from: 443, to: 443 }, cidr: '0.0.0.0/0', action: 'allow' }] }, { publicIp: '203.0.113.2' }))
    .thenThrows('PUBLIC_IP_NOT_ALLOWED');
  const lb = { kind: 'loadBalancer', listeners: [{ port: 443, protocol: 'https', targetPort: 8443, targets: ['xn_1', 'xn_2'] }] };
  xnet.given(r).when(device('lb', { ...lb, listeners: [{ ...lb.listeners[0], targets: ['xn_9'] }] })).thenThrows('LB_TARGET_NOT_ATTACHED', 'xn_9');
  xnet.given(r).when(device('lb', lb, { publicIp: '203.0.113.3' })).thenThrows('PUBLIC_IP_IN_USE', 'device:gw');
  const withLb = run(r, device('lb', lb, { publicIp: '203.0.113.2' }));
  xnet.given(withLb).when({ type: 'DetachXNodePort', data: { xnetworkId: X, xnodeId: 'xn_1' } }).thenThrows('PORT_IN_USE', 'lb');
  xnet.given(withLb).when({ type: 'RemoveXNetworkDevice', data: { xnetworkId: X, deviceId: 'lb' } }).then((e) => assert.is((e[0].data as { publicIp: string }).publicIp, '203.0.113.2'));
  xnet.given(withLb).when({ type: 'SyncXNetworkAllocation', data: { xnetworkId: X, bandwidthMbps: 500, publicIps: ['203.0.113.3'] } }).thenThrows('PUBLIC_IP_IN_USE', 'device:lb');
  xnet.given(r).when(device('gw3', { kind: 'router', routes: [{ cidr: '10.9.0.0/16', via: '10.2.0.1' }] })).thenThrows('DEVICE_LIMIT');
});

test('delete takes devices and ports with it; deleting again does nothing', () => {
  const busy = run(base, attach('xn_1'), device('dns', { kind: 'dns', domain: 'a.internal' }));
  xnet.given(busy).when({ type: 'DeleteXNetwork', data: { xnetworkId: X, reason: 'contract ended' } }).then((e) => {
    assert.equal([(e[0].data as { detachedXNodeIds: string[] }).detachedXNodeIds, (e[0].data as { removedDeviceIds: string[] }).removedDeviceIds], [['xn_1'], ['dns']]);
  });
  const deleted = run(busy, { type: 'DeleteXNetwork', data: { xnetworkId: X } });
  xnet.given(deleted).when({ type: 'DeleteXNetwork', data: { xnetworkId: X } }).thenNothing();
  xnet.given(deleted).when(attach('xn_2')).thenThrows('XNETWORK_DELETED');
  xnet.given([]).when(attach('xn_2')).thenThrows('XNETWORK_NOT_FOUND');
});

test.run();
