/**
 * The Resources process managers wired to a real (SQLite) event store: the RContract opening process (all or
 * nothing across Host, Network, XNetwork and XImage streams, with compensation) and the XNode move process, run by
 * their runners (layers/resources/process/runner-*.ts) from checkpoints, and what the RRegister then says.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCheckpointStore } from '../core/checkpoint.ts';
import { loadConfig } from '../core/config.ts';
import { openLedger, type Ledger } from '../core/ledger.ts';
import type { StoredEvent } from '../core/event-store/port.ts';
import { ZERO } from '../layers/resources/common/quantities.ts';
import { hostDecider } from '../layers/resources/host/decider.ts';
import { moveDecider } from '../layers/resources/move/decider.ts';
import { networkDecider } from '../layers/resources/network/decider.ts';
import { rcontractDecider } from '../layers/resources/rcontract/decider.ts';
import { ximageDecider } from '../layers/resources/ximage/decider.ts';
import { xnetworkDecider } from '../layers/resources/xnetwork/decider.ts';
import { startRContractRunner } from '../layers/resources/process/runner-rcontract.ts';
import { storedState } from '../layers/resources/process/runner.ts';
import { startResources, type ResourcesRuntime } from '../layers/resources/runtime.ts';
import { ResourcesService } from '../layers/resources/service.ts';
import { RRegisterReadModel } from '../projections/rregister-read.ts';
import { rregisterProjection } from '../projections/rregister.ts';

const OP = { kind: 'operator' as const, id: 'ops' };
const DEBIAN = `sha256:${'a'.repeat(64)}`;

interface World { dir: string; ledger: Ledger; service: ResourcesService; runtime: ResourcesRuntime; register: RRegisterReadModel; close(): Promise<void> }

async function world(): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-resources-process-'));
  const ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir, LEDGER_LOG_LEVEL: 'silent' }), { projections: [rregisterProjection] });
  const service = new ResourcesService(ledger);
  await service.registerRegion(OP, { regionId: 'r_eu', name: 'Europe' });
  await service.registerRegion(OP, { regionId: 'r_us', name: 'America' });
  await service.registerZone(OP, { zoneId: 'z_a', regionId: 'r_eu', name: 'eu-a' });
  await service.registerZone(OP, { zoneId: 'z_b', regionId: 'r_us', name: 'us-b' });
  const vm = (hostId: string, zoneId: string, name: string) => service.registerHost(OP, {
    hostId, zoneId, name, type: 'VM', area: `${zoneId}/row1/rack1`,
    resources: { cpuCores: 16, cpuMHz: 0, ramMiB: 65_536, diskGiB: 1_000, diskIops: 0 },
  });
  await vm('h_1', 'z_a', 'eu-a-01');
  await vm('h_2', 'z_b', 'us-b-01');
  await service.registerNetwork(OP, {
    networkId: 'n_pub', zoneId: 'z_a', name: 'eu-a-public', bandwidthMbps: 1_000,
    publicIpPool: { cidrs: [], addresses: ['203.0.113.10', '203.0.113.11'], excluded: [] }, switchCapacity: { segments: 16 },
  });
  await service.registerImage(OP, { imageId: 'i_deb', regionId: 'r_eu', name: 'debian-12', kind: 'os', format: 'qcow2', os: { family: 'debian', version: '12' }, sizeGiB: 2, digest: DEBIAN });
  const runtime = await startResources(ledger, { checkpoints: new MemoryCheckpointStore(), health: false, log: () => {} });
  return {
    dir, ledger, service, runtime, register: new RRegisterReadModel(ledger.readModels),
    async close() { await runtime.stop(); await ledger.close(); rmSync(dir, { recursive: true, force: true }); },
  };
}

const items = (opts: { secondCores?: number; publicIps?: number } = {}) => [
  { kind: 'compute', hostId: 'h_1', size: { cpuCores: 4, ramMiB: 8_192, diskGiB: 50 }, imageId: 'i_deb' },
  { kind: 'network', networkId: 'n_pub', cidr: '10.8.0.0/24', public: true, bandwidthMbps: 300, publicIps: opts.publicIps ?? 1 },
  { kind: 'image', regionId: 'r_eu', quota: { checkpoints: 4, sizeGiB: 100 } },
  { kind: 'compute', hostId: 'h_1', size: { cpuCores: opts.secondCores ?? 2, ramMiB: 4_096, diskGiB: 20 } },
];

async function nothingHeld(w: World, contract: string) {
  const host = await storedState(w.ledger.store, hostDecider, 'Host-h_1');
  assert.equal(host.used, ZERO, 'the host holds nothing');
  assert.ok(Object.values(host.slices).every((s) => s.state === 'released'), 'every slice cut for the contract is released');
  const net = await storedState(w.ledger.store, networkDecider, 'Network-n_pub');
  assert.equal([net.usedBandwidthMbps, Object.keys(net.ipOwner).length, Object.keys(net.segmentOwner).length], [0, 0, 0], 'the network holds nothing');
  const body = contract.slice(3);
  const xnet = await storedState(w.ledger.store, xnetworkDecider, `XNetwork-xnet_${body}_1`);
  assert.ok(xnet.status === 'none' || xnet.status === 'deleted', `virtual network ${xnet.status}`);
  const xi = await storedState(w.ledger.store, ximageDecider, `XImage-xi_${body}_2`);
  assert.ok(xi.status === 'none' || xi.status === 'released', `checkpoint quota ${xi.status}`);
}

test('rcontractOpen with compute + network + image: every item reserved on its own stream, the contract active', async () => {
  const w = await world();
  try {
    await w.service.openRContract(OP, { contractId: 'rc_web', tenantId: 'u_ann', items: items() });
    await w.runtime.settle();
    const rc = await storedState(w.ledger.store, rcontractDecider, 'RContract-rc_web');
    assert.is(rc.status, 'active');
    assert.equal(rc.items.map((i) => i.status), ['confirmed', 'confirmed', 'confirmed', 'confirmed']);
    const host = await storedState(w.ledger.store, hostDecider, 'Host-h_1');
    assert.equal(Object.keys(host.slices).sort(), ['xn_web_0', 'xn_web_3']);
    assert.is(host.used.cpuCores, 6);
    // the commands the process sent carry the process actor, the contract's tenant, and deterministic command ids
    const sliced = (await w.ledger.store.readStream('Host-h_1')).find((e) => e.type === 'XNodeSliced')!;
    assert.equal(sliced.metadata.actor, { kind: 'system', id: 'rcontract-process' });
    assert.is(sliced.metadata.tenantId, 'u_ann');
    assert.match(sliced.metadata.commandId!, /:reserve:0$/);

    await w.ledger.settle();
    const row = w.register.rcontract('rc_web')!;
    assert.equal([row.status, row.tenantId, row.reserved.cpuCores, row.reserved.bandwidthMbps, row.reserved.publicIps], ['active', 'u_ann', 6, 300, 1]);
    assert.equal(w.register.rcontractItems('rc_web').map((i) => i.status), ['confirmed', 'confirmed', 'confirmed', 'confirmed']);
    const h = w.register.host('h_1')!;
    assert.equal([h.used.cpuCores, h.free.cpuCores, h.liveXNodes], [6, 10, 2]);
    const n = w.register.network('n_pub')!;
    assert.equal([n.usedBandwidthMbps, n.ipsUsed, n.freeIps, n.segmentsUsed], [300, 1, 1, 1]);
    assert.equal(w.register.xnetwork('xnet_web_1')?.status, 'active');
    assert.equal(w.register.ximage('xi_web_2')?.status, 'active');

    // terminating gives everything back, and the contract ends
    await w.service.terminateRContract(OP, { contractId: 'rc_web', reason: 'done' });
    await w.runtime.settle();
    assert.is((await storedState(w.ledger.store, rcontractDecider, 'RContract-rc_web')).status, 'terminated');
    await nothingHeld(w, 'rc_web');
    await w.ledger.settle();
    assert.equal(w.register.host('h_1')!.used, ZERO);
    assert.is(w.register.rcontract('rc_web')!.status, 'terminated');
  } finally { await w.close(); }
});

test('one item that does not fit → the contract fails and everything taken for it is given back', async () => {
  const w = await world();
  try {
    // compute item 3 asks for more cores than the host has: item 0, the network and the image were (or would be) taken first
    await w.service.openRContract(OP, { contractId: 'rc_big', items: items({ secondCores: 64 }) });
    await w.runtime.settle();
    const rc = await storedState(w.ledger.store, rcontractDecider, 'RContract-rc_big');
    assert.is(rc.status, 'failed');
    assert.ok(rc.compensated, 'compensated');
    assert.is(rc.items[3].status, 'failed');
    assert.is(rc.items[3].failure?.code, 'INSUFFICIENT_CAPACITY');
    assert.ok(rc.items.every((i) => i.status === 'failed' || i.status === 'released'), JSON.stringify(rc.items.map((i) => i.status)));
    await nothingHeld(w, 'rc_big');
    // it really had taken them: the slices existed before they were given back
    const types = (await w.ledger.store.readAll({ filter: { eventTypes: ['XNodeSliced', 'NetworkSliceAllocated', 'XImageAllocated', 'XNodeReleased', 'NetworkSliceReleased', 'XImageReleased'] } })).map((e) => e.type);
    assert.ok(types.includes('XNodeSliced') && types.includes('XNodeReleased'), types.join(','));
    await w.ledger.settle();
    const row = w.register.rcontract('rc_big')!;
    assert.equal([row.status, row.compensated, row.failure?.code], ['failed', true, 'INSUFFICIENT_CAPACITY']);
    assert.equal(w.register.host('h_1')!.used, ZERO);
    assert.is(w.register.network('n_pub')!.ipsUsed, 0);

    // the IP pool running out fails the network item the same way (2 IPs in the pool, 3 asked)
    await w.service.openRContract(OP, { contractId: 'rc_ips', items: items({ publicIps: 3 }) });
    await w.runtime.settle();
    const ips = await storedState(w.ledger.store, rcontractDecider, 'RContract-rc_ips');
    assert.equal([ips.status, ips.compensated, ips.items[1].failure?.code], ['failed', true, 'IP_POOL_EXHAUSTED']);
    await nothingHeld(w, 'rc_ips');
  } finally { await w.close(); }
});

test('a runner restarted from its checkpoint re-reads history without sending anything twice', async () => {
  const w = await world();
  try {
    await w.service.openRContract(OP, { contractId: 'rc_web', items: items() });
    await w.runtime.settle();
    const head = await w.ledger.store.headPosition();
    // a second runner from position 0 (as after losing its checkpoint) sees every event again: nothing new is appended
    const again = await startRContractRunner(w.ledger, { checkpoints: new MemoryCheckpointStore(), log: () => {} });
    await again.waitFor(head);
    await again.stop();
    assert.is(await w.ledger.store.headPosition(), head);
  } finally { await w.close(); }
});

/** A simulated host agent for the test: finishes copies and boots slices that finished copying. */
function simAgent(ledger: Ledger) {
  const sub = ledger.store.subscribe({
    after: 0,
    filter: { eventTypes: ['XNodeCopyStarted', 'XNodeCopyCompleted'] },
    onBatch: async (events: StoredEvent[]) => {
      for (const e of events) {
        const d = e.data as { hostId: string; xnodeId: string; copyId: string; generation: number };
        const agent = { actor: { kind: 'agent' as const, id: d.hostId }, commandId: `agent:${e.metadata.eventId}` };
        if (e.type === 'XNodeCopyStarted') {
          await ledger.execute(hostDecider, `Host-${d.hostId}`, { type: 'ReportXNodeCopy', data: { hostId: d.hostId, xnodeId: d.xnodeId, copyId: d.copyId, outcome: 'completed' } }, agent);
        } else {
          await ledger.execute(hostDecider, `Host-${d.hostId}`, { type: 'ReportXNodeObserved', data: { hostId: d.hostId, xnodeId: d.xnodeId, observed: 'running', generation: d.generation, observedAt: '2025-03-01T10:00:00Z' } }, agent);
        }
      }
    },
  });
  return sub;
}

test('move a running contract slice across regions: reserve target, stop, copy, boot, rebind, release source', async () => {
  const w = await world();
  const agent = simAgent(w.ledger);
  try {
    await w.service.openRContract(OP, { contractId: 'rc_app', items: [{ kind: 'compute', hostId: 'h_1', xnodeId: 'xn_app', size: { cpuCores: 4, ramMiB: 8_192, diskGiB: 80 } }] });
    await w.runtime.settle();
    await w.ledger.execute(hostDecider, 'Host-h_1', { type: 'ReportXNodeObserved', data: { hostId: 'h_1', xnodeId: 'xn_app', observed: 'running', generation: 1, observedAt: '2025-03-01T09:00:00Z' } }, { actor: { kind: 'agent', id: 'h_1' } });

    await w.service.requestMove(OP, { moveId: 'mv_1', hostId: 'h_1', xnodeId: 'xn_app', targetHostId: 'h_2', targetXNodeId: 'xn_app2', reason: 'rack maintenance' });
    for (let i = 0; i < 50 && (await storedState(w.ledger.store, moveDecider, 'Move-mv_1') as any).phase !== 'done'; i++) {
      await w.runtime.settle();
      await new Promise((r) => setTimeout(r, 20));
    }
    const move = await storedState(w.ledger.store, moveDecider, 'Move-mv_1') as any;
    assert.is(move.phase, 'done', JSON.stringify(move));
    const src = await storedState(w.ledger.store, hostDecider, 'Host-h_1');
    const dst = await storedState(w.ledger.store, hostDecider, 'Host-h_2');
    assert.is(src.slices.xn_app.state, 'released');
    assert.is(dst.slices.xn_app2.state, 'running');
    assert.is(dst.slices.xn_app2.contractId, 'rc_app');
    const rc = await storedState(w.ledger.store, rcontractDecider, 'RContract-rc_app');
    assert.equal([rc.status, rc.items[0].sliceId, rc.items[0].status], ['active', 'xn_app2', 'confirmed'], 'the contract item follows the slice (and is not released with the source)');
    const phases = (await w.ledger.store.readStream('Move-mv_1')).filter((e) => e.type === 'MoveProgressed').map((e) => (e.data as { phase: string }).phase);
    assert.equal(phases, ['stopping-source', 'copying', 'starting-target', 'switching', 'releasing-source', 'done']);
    await w.ledger.settle();
    const m = w.register.move('mv_1')!;
    assert.equal([m.phase, m.target.hostId, m.contractId], ['done', 'h_2', 'rc_app']);
    assert.equal(w.register.rcontractItems('rc_app')[0].hostId, 'h_2');
    assert.is(w.register.xnode('xn_app2')!.regionId, 'r_us');
    assert.equal(w.register.host('h_1')!.used, ZERO);
  } finally { await agent.close(); await w.close(); }
});

test('a move to a host without room fails before touching the source', async () => {
  const w = await world();
  try {
    await w.service.sliceXNode(OP, { hostId: 'h_2', xnodeId: 'xn_filler', size: { cpuCores: 14, ramMiB: 1_024, diskGiB: 10 } });
    await w.service.sliceXNode(OP, { hostId: 'h_1', xnodeId: 'xn_big', size: { cpuCores: 8, ramMiB: 1_024, diskGiB: 10 } });
    await w.ledger.execute(hostDecider, 'Host-h_1', { type: 'ReportXNodeObserved', data: { hostId: 'h_1', xnodeId: 'xn_big', observed: 'running', generation: 1, observedAt: '2025-03-01T09:00:00Z' } }, { actor: { kind: 'agent', id: 'h_1' } });
    await w.service.requestMove(OP, { moveId: 'mv_2', hostId: 'h_1', xnodeId: 'xn_big', targetHostId: 'h_2' });
    await w.runtime.settle();
    const move = await storedState(w.ledger.store, moveDecider, 'Move-mv_2') as any;
    assert.equal([move.phase, move.failure?.code], ['failed', 'INSUFFICIENT_CAPACITY']);
    assert.is((await storedState(w.ledger.store, hostDecider, 'Host-h_1')).slices.xn_big.state, 'running');
  } finally { await w.close(); }
});

test.run();
