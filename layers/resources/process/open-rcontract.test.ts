import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stream } from '../common/ids.ts';
import { ZERO } from '../common/quantities.ts';
import type { HostState } from '../host/decider.ts';
import type { NetworkState } from '../network/decider.ts';
import type { RContractCommand } from '../rcontract/commands.ts';
import type { RContractState } from '../rcontract/decider.ts';
import type { XImageState } from '../ximage/decider.ts';
import type { XNetworkState } from '../xnetwork/decider.ts';
import { reactRContract } from './open-rcontract.ts';
import { Simulation } from './simulation.ts';
import type { OutgoingCommand, ProcessEvent } from './types.ts';

const C = 'rc_shop';
const op = (stream: string, type: string, data: Record<string, unknown>, id = `${type}_${stream}`): OutgoingCommand =>
  ({ stream, command: { type, data }, commandId: id, causationId: id, correlationId: id });

/** A zone with one VM host, one public network with 3 public IPs; then an RContract asking for compute + network + image. */
function world(sim: Simulation, opts: { cpuCores?: number; publicIps?: number; hostOnline?: boolean } = {}) {
  sim.dispatch(op(stream.host('h_1'), 'RegisterHost', {
    hostId: 'h_1', zoneId: 'z_a', regionId: 'r_eu', name: 'h1', type: 'VM', area: 'dc1/r1',
    resources: { cpuCores: 16, cpuMHz: 0, ramMiB: 65_536, diskGiB: 1_000, diskIops: 0 },
  }));
  if (opts.hostOnline === false) sim.dispatch(op(stream.host('h_1'), 'StartHostMaintenance', { hostId: 'h_1' }));
  sim.dispatch(op(stream.network('n_pub'), 'RegisterNetwork', {
    networkId: 'n_pub', regionId: 'r_eu', zoneId: 'z_a', name: 'pub', bandwidthMbps: 1_000,
    publicIpPool: { cidrs: [], addresses: ['203.0.113.10', '203.0.113.11', '203.0.113.12'], excluded: [] }, switchCapacity: { segments: 10 },
  }));
  const open: RContractCommand = {
    type: 'OpenRContract',
    data: {
      contractId: C, tenantId: 'u_ann',
      items: [
        { kind: 'compute', hostId: 'h_1', size: { cpuCores: opts.cpuCores ?? 4, ramMiB: 8_192, diskGiB: 100 }, imageId: 'i_deb12' },
        { kind: 'compute', hostId: 'h_1', size: { cpuCores: 2, ramMiB: 4_096, diskGiB: 50 } },
        { kind: 'network', networkId: 'n_pub', cidr: '10.8.0.0/24', public: true, bandwidthMbps: 300, publicIps: opts.publicIps ?? 2 },
        { kind: 'image', regionId: 'r_eu', quota: { checkpoints: 4, sizeGiB: 400 } },
      ],
    },
  };
  // the RContract stream is appended by the API; its events then drive the process
  sim.dispatch(op(stream.rcontract(C), open.type, open.data as Record<string, unknown>, 'open'));
}

/** The wiring: route by contractId, load the contract state, react. */
const reactor = (sim: Simulation) => (event: ProcessEvent): OutgoingCommand[] => {
  const contractId = event.type === 'CommandRejected' ? event.data.command.data.contractId : event.data?.contractId;
  if (contractId !== C) return [];
  return reactRContract(event, sim.state<RContractState>(stream.rcontract(C)));
};

function nothingHeld(sim: Simulation) {
  const host = sim.state<HostState>(stream.host('h_1'));
  assert.equal(host.used, ZERO, 'the host holds nothing');
  const net = sim.state<NetworkState>(stream.network('n_pub'));
  assert.equal([net.usedBandwidthMbps, Object.keys(net.ipOwner).length, Object.keys(net.segmentOwner).length], [0, 0, 0], 'the network holds nothing');
  const xnet = sim.streams.has(stream.xnetwork('xnet_shop_2')) ? sim.state<XNetworkState>(stream.xnetwork('xnet_shop_2')).status : 'none';
  assert.ok(xnet === 'none' || xnet === 'deleted', `virtual network ${xnet}`);
  const xi = sim.streams.has(stream.ximage('xi_shop_3')) ? sim.state<XImageState>(stream.ximage('xi_shop_3')).status : 'none';
  assert.ok(xi === 'none' || xi === 'released', `checkpoint quota ${xi}`);
}

test('all items reserved on their own streams → the contract is confirmed with the reserved amounts', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const sim = new Simulation(seed, seed % 2 === 0, seed % 4 < 2);
    world(sim);
    sim.run(reactor(sim));
    const rc = sim.state<RContractState>(stream.rcontract(C));
    assert.is(rc.status, 'active', `seed ${seed}`);
    assert.equal(rc.items.map((i) => i.status), ['confirmed', 'confirmed', 'confirmed', 'confirmed']);
    assert.equal(rc.items[2].reserved, { bandwidthMbps: 300, publicIps: 2 });
    const host = sim.state<HostState>(stream.host('h_1'));
    assert.equal(Object.keys(host.slices).sort(), ['xn_shop_0', 'xn_shop_1']);
    assert.is(host.used.cpuCores, 6);
    const xnet = sim.state<XNetworkState>(stream.xnetwork('xnet_shop_2'));
    assert.equal([xnet.status, xnet.publicIps, xnet.segment], ['active', ['203.0.113.10', '203.0.113.11'], 1]);
    assert.is(sim.state<XImageState>(stream.ximage('xi_shop_3')).status, 'active');
  }
});

test('one item refused (host too small) → the contract fails and everything taken is given back, in any delivery order', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const sim = new Simulation(seed, seed % 3 === 0, seed % 2 === 0);
    world(sim, { cpuCores: 15 });
    sim.run(reactor(sim));
    const rc = sim.state<RContractState>(stream.rcontract(C));
    assert.equal([rc.status, rc.compensated], ['failed', true], `seed ${seed}`);
    const failedItems = rc.items.filter((i) => i.status === 'failed');
    assert.ok(failedItems.length >= 1 && failedItems.some((i) => i.failure?.code === 'INSUFFICIENT_CAPACITY'), `seed ${seed}: ${JSON.stringify(rc.items.map((i) => i.status))}`);
    assert.ok(rc.items.every((i) => i.status === 'failed' || i.status === 'released'));
    nothingHeld(sim);
  }
});

test('a network item refused (IP pool too small) and a host in maintenance fail and compensate the same way', () => {
  for (const opts of [{ publicIps: 5 }, { hostOnline: false }]) {
    for (let seed = 1; seed <= 100; seed++) {
      const sim = new Simulation(seed, true, seed % 2 === 0);
      world(sim, opts);
      sim.run(reactor(sim));
      const rc = sim.state<RContractState>(stream.rcontract(C));
      assert.equal([rc.status, rc.compensated], ['failed', true], `${JSON.stringify(opts)} seed ${seed}`);
      nothingHeld(sim);
    }
  }
});

test('terminate releases every item on its stream, then the contract is terminated', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const sim = new Simulation(seed, true, seed % 2 === 0);
    world(sim);
    const react = reactor(sim);
    sim.run(react);
    sim.dispatch(op(stream.rcontract(C), 'TerminateRContract', { contractId: C, reason: 'shop closed' }, 'terminate'));
    sim.run(react);
    const rc = sim.state<RContractState>(stream.rcontract(C));
    assert.is(rc.status, 'terminated', `seed ${seed}`);
    assert.ok(rc.items.every((i) => i.status === 'released'));
    nothingHeld(sim);
  }
});

test('cancelling while opening compensates whatever was taken meanwhile', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const sim = new Simulation(seed, true, seed % 2 === 0);
    world(sim);
    const react = reactor(sim);
    // deliver a few events, then cancel in the middle of the opening
    let steps = 0;
    sim.run((e) => {
      if (++steps === 1 + (seed % 6)) sim.dispatch(op(stream.rcontract(C), 'TerminateRContract', { contractId: C, reason: 'changed my mind' }, 'cancel'));
      return react(e);
    });
    const rc = sim.state<RContractState>(stream.rcontract(C));
    if (rc.status === 'terminated') continue; // the cancel came after everything was confirmed: a normal termination
    assert.equal([rc.status, rc.compensated], ['failed', true], `seed ${seed}: ${rc.status}`);
    nothingHeld(sim);
  }
});

test('command ids derive from the triggering event: reacting twice sends the same commands', () => {
  const sim = new Simulation(3);
  world(sim);
  const opened = sim.streams.get(stream.rcontract(C))![0];
  const state = sim.state<RContractState>(stream.rcontract(C));
  const a = reactRContract(opened, state);
  const b = reactRContract(opened, state);
  assert.equal(a, b);
  assert.equal(a.map((c) => [c.stream, c.command.type]), [
    ['Host-h_1', 'SliceXNode'], ['Host-h_1', 'SliceXNode'], ['Network-n_pub', 'AllocateNetworkSlice'], ['XImage-xi_shop_3', 'AllocateXImage'],
  ]);
  assert.equal(a.map((c) => c.commandId), [0, 1, 2, 3].map((i) => `${opened.metadata.eventId}:reserve:${i}`));
  assert.ok(a.every((c) => c.causationId === opened.metadata.eventId && c.correlationId === C));
});

test('a slice taken for an item that already failed (a refused command retried later, when it fitted) is given straight back', () => {
  const sim = new Simulation(5);
  world(sim);
  const opened = sim.streams.get(stream.rcontract(C))![0];
  sim.dispatch(op(stream.rcontract(C), 'RecordRContractItemFailed', { contractId: C, index: 1, sliceId: 'xn_shop_1', code: 'INSUFFICIENT_CAPACITY', message: 'full' }, 'f1'));
  const state = sim.state<RContractState>(stream.rcontract(C));
  assert.is(state.status, 'failed');
  const late: ProcessEvent = {
    type: 'XNodeSliced', metadata: { eventId: 'ev_late' },
    data: { hostId: 'h_1', zoneId: 'z_a', regionId: 'r_eu', xnodeId: 'xn_shop_1', kind: 'VNode', size: { cpuCores: 2, cpuMHz: 0, ramMiB: 4_096, diskGiB: 50, diskIops: 0 }, state: 'provisioning', generation: 1, contractId: C },
  };
  assert.equal(reactRContract(late, state).map((c) => [c.stream, c.command.type, c.command.data.xnodeId, c.commandId]), [['Host-h_1', 'ReleaseXNode', 'xn_shop_1', 'ev_late:give-back:1']]);
  assert.ok(opened);
});

test.run();
