import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fold } from '../../../core/decider.ts';
import { spec } from '../../../core/spec.ts';
import { validateEvent } from '../../../schema/registry.ts';
import type { NetworkCommand } from './commands.ts';
import { freeBandwidthMbps, freeIpCount, networkDecider, poolAddresses, type NetworkState } from './decider.ts';
import type { NetworkEvent } from './events.ts';

const net = spec(networkDecider);
const N = 'n_pub';
function run(given: NetworkEvent[], ...commands: NetworkCommand[]): NetworkEvent[] {
  const events = [...given];
  let state = fold<NetworkState, NetworkEvent>(networkDecider, given);
  for (const c of commands) for (const e of networkDecider.decide(c, state)) { validateEvent(e.type, e.data); state = networkDecider.evolve(state, e); events.push(e); }
  return events;
}
const stateOf = (events: NetworkEvent[]) => fold<NetworkState, NetworkEvent>(networkDecider, events);
const register: NetworkCommand = {
  type: 'RegisterNetwork',
  data: {
    networkId: N, regionId: 'r_eu', zoneId: 'z_a', name: 'public uplink', bandwidthMbps: 10_000,
    publicIpPool: { cidrs: ['203.0.113.0/29'], addresses: ['198.51.100.7'], excluded: ['203.0.113.1'] }, switchCapacity: { segments: 3 },
  },
};
const base = run([], register);
const alloc = (sliceId: string, bandwidthMbps: number, publicIps = 0, extra: Record<string, unknown> = {}): NetworkCommand =>
  ({ type: 'AllocateNetworkSlice', data: { networkId: N, sliceId, bandwidthMbps, publicIps, ...extra } }) as NetworkCommand;

test('register: the pool is the usable addresses of the CIDRs plus single addresses, minus exclusions', () => {
  const s = stateOf(base);
  // 203.0.113.0/29 → .1–.6 usable, .1 excluded (gateway) → .2–.6; plus 198.51.100.7
  assert.equal(poolAddresses(s), ['198.51.100.7', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5', '203.0.113.6']);
  assert.is(s.poolSize, 6);
  assert.is((base[0].data as { poolSize: number }).poolSize, 6);
  net.given(base).when(register).thenNothing();
  net.given([]).when({ ...register, data: { ...register.data, publicIpPool: { cidrs: ['10.0.0.0/15'], addresses: [], excluded: [] } } } as NetworkCommand).thenThrows('POOL_TOO_LARGE');
});

test('allocate: lowest free IPs, a free segment, bandwidth within capacity', () => {
  net.given(base).when(alloc('xnet_a', 4_000, 2, { contractId: 'rc_1' })).then([{
    type: 'NetworkSliceAllocated',
    data: { networkId: N, regionId: 'r_eu', zoneId: 'z_a', sliceId: 'xnet_a', contractId: 'rc_1', bandwidthMbps: 4_000, publicIps: ['198.51.100.7', '203.0.113.2'], segment: 1 },
  }]);
  const two = run(base, alloc('xnet_a', 4_000, 2), alloc('xnet_b', 5_000, 1));
  const s = stateOf(two);
  assert.equal([freeBandwidthMbps(s), freeIpCount(s)], [1_000, 3]);
  net.given(two).when(alloc('xnet_c', 2_000)).thenThrows('INSUFFICIENT_BANDWIDTH', 'bandwidthMbps requested 2000, free 1000 of capacity 10000');
  net.given(two).when(alloc('xnet_c', 500, 4)).thenThrows('IP_POOL_EXHAUSTED', '3 free public IPs, 4 requested');
  net.given(run(two, alloc('xnet_c', 500))).when(alloc('xnet_d', 0)).thenThrows('NO_FREE_SEGMENT');
  net.given(two).when(alloc('xnet_a', 4_000, 2)).thenNothing();
  net.given(two).when(alloc('xnet_a', 1_000, 0)).thenThrows('NETWORK_SLICE_EXISTS');
});

test('each public IP is handed out once; exact addresses can be asked for', () => {
  const one = run(base, alloc('xnet_a', 100, 0, { requestedIps: ['203.0.113.5'] }));
  assert.equal(stateOf(one).slices.xnet_a.publicIps, ['203.0.113.5']);
  net.given(one).when(alloc('xnet_b', 100, 0, { requestedIps: ['203.0.113.5'] })).thenThrows('IP_TAKEN', 'xnet_a');
  net.given(one).when(alloc('xnet_b', 100, 0, { requestedIps: ['203.0.113.1'] })).thenThrows('IP_NOT_IN_POOL');
  net.given(one).when(alloc('xnet_b', 100, 0, { requestedIps: ['192.0.2.1'] })).thenThrows('IP_NOT_IN_POOL');
  net.given(one).when(alloc('xnet_b', 100, 0, { requestedIps: ['203.0.113.2', '203.0.113.2'] })).thenThrows('IP_DUPLICATE');
  // the lowest-free choice skips the held address
  const two = run(one, alloc('xnet_b', 100, 5));
  assert.equal(stateOf(two).slices.xnet_b.publicIps, ['198.51.100.7', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.6']);
  const all = stateOf(two);
  const holders = Object.values(all.slices).flatMap((s) => s.publicIps);
  assert.is(new Set(holders).size, holders.length, 'no IP held twice');
});

test('release gives bandwidth, IPs and the segment back; releasing again does nothing', () => {
  const two = run(base, alloc('xnet_a', 4_000, 2), alloc('xnet_b', 5_000, 1));
  const released = run(two, { type: 'ReleaseNetworkSlice', data: { networkId: N, sliceId: 'xnet_a', reason: 'contract ended' } });
  const s = stateOf(released);
  assert.equal([freeBandwidthMbps(s), freeIpCount(s), s.segmentOwner[1]], [5_000, 5, undefined]);
  net.given(released).when({ type: 'ReleaseNetworkSlice', data: { networkId: N, sliceId: 'xnet_a' } }).thenNothing();
  net.given(released).when(alloc('xnet_c', 5_000, 2)).then((e) => assert.equal((e[0].data as { publicIps: string[]; segment: number }).segment, 1));
  net.given(released).when({ type: 'RetireNetwork', data: { networkId: N } }).thenThrows('NETWORK_HAS_SLICES', 'xnet_b');
});

test('slice resize, IPs added and given back one by one', () => {
  const one = run(base, alloc('xnet_a', 4_000, 1));
  net.given(one).when({ type: 'ResizeNetworkSlice', data: { networkId: N, sliceId: 'xnet_a', bandwidthMbps: 10_001 } }).thenThrows('INSUFFICIENT_BANDWIDTH', 'requested 6001, free 6000');
  const grown = run(one, { type: 'ResizeNetworkSlice', data: { networkId: N, sliceId: 'xnet_a', bandwidthMbps: 10_000 } });
  assert.is(freeBandwidthMbps(stateOf(grown)), 0);
  const more = run(one, { type: 'AddSlicePublicIps', data: { networkId: N, sliceId: 'xnet_a', count: 2 } });
  assert.equal(stateOf(more).slices.xnet_a.publicIps, ['198.51.100.7', '203.0.113.2', '203.0.113.3']);
  const less = run(more, { type: 'ReleaseSlicePublicIp', data: { networkId: N, sliceId: 'xnet_a', ip: '203.0.113.2' } });
  assert.equal(stateOf(less).slices.xnet_a.publicIps, ['198.51.100.7', '203.0.113.3']);
  assert.is(stateOf(less).ipOwner['203.0.113.2'], undefined);
  net.given(less).when({ type: 'ReleaseSlicePublicIp', data: { networkId: N, sliceId: 'xnet_a', ip: '203.0.113.2' } }).thenNothing();
});

test('pool growth and bandwidth adjustments', () => {
  const one = run(base, alloc('xnet_a', 8_000, 0));
  net.given(one).when({ type: 'AdjustNetworkBandwidth', data: { networkId: N, bandwidthMbps: 5_000 } }).thenThrows('CAPACITY_BELOW_USAGE');
  const grown = run(one, { type: 'AddNetworkPublicIps', data: { networkId: N, cidrs: ['192.0.2.0/30'] } });
  assert.is(stateOf(grown).poolSize, 8);
  net.given([]).when(alloc('xnet_a', 1)).thenThrows('NETWORK_NOT_FOUND');
  const retired = run(base, { type: 'RetireNetwork', data: { networkId: N } });
  net.given(retired).when(alloc('xnet_a', 1)).thenThrows('NETWORK_RETIRED');
});

test.run();
