/**
 * The demo seed and the RRegister over it: `ledger seed` builds the topology through the real deciders and appends
 * nothing when run again; the RRegister agrees with the Host deciders, sums free capacity per zone and region, and
 * a rebuild from zero gives the live digest; a newcomer's first `ledger serve` on an empty data directory seeds the
 * demo and prints the GraphQL URL with an operator and a tenant token that work.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MemoryCheckpointStore } from '../core/checkpoint.ts';
import { loadConfig } from '../core/config.ts';
import { openLedger } from '../core/ledger.ts';
import { RESOURCE_KEYS } from '../layers/resources/common/quantities.ts';
import { freeOf, hostDecider } from '../layers/resources/host/decider.ts';
import { storedState } from '../layers/resources/process/runner.ts';
import { startResources } from '../layers/resources/runtime.ts';
import { seedDemo } from '../layers/resources/seed/demo.ts';
import { ResourcesService } from '../layers/resources/service.ts';
import { RRegisterReadModel } from '../projections/rregister-read.ts';
import { rregisterProjection } from '../projections/rregister.ts';
import { rebuildProjection } from '../projections/runner.ts';

const run = promisify(execFile);
const LEDGER = join(import.meta.dirname, '..', 'bin', 'ledger.js');
const OP = { kind: 'operator' as const, id: 'ops' };

test('seedDemo: regions, zones, hosts of all three types, networks with public IPs, images, a demo tenant; again: nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-seed-'));
  const ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir, LEDGER_LOG_LEVEL: 'silent' }), { projections: [rregisterProjection] });
  try {
    const first = await seedDemo(ledger);
    assert.ok(first.appended > 50, String(first.appended));
    assert.is(first.regions.length, 2);
    assert.is(first.zones.length, 4);
    assert.equal([...new Set(first.hosts.map((h) => h.type))].sort(), ['BM', 'CM', 'VM']);
    assert.ok(new Set(first.hosts.map((h) => h.area)).size >= 6, 'several areas');
    assert.match(first.tenant.userId, /^u_/);
    assert.match(first.tenant.projectId, /^p_/);
    const head = await ledger.store.headPosition();
    const again = await seedDemo(ledger);
    assert.is(again.appended, 0);
    assert.is(await ledger.store.headPosition(), head, 'a second seed appends nothing');
    assert.equal(again.tenant, first.tenant);

    await ledger.settle();
    const rr = new RRegisterReadModel(ledger.readModels);
    const pub = rr.network('n_euw_a_public')!;
    assert.equal([pub.poolSize, pub.freeIps, pub.zoneId], [13, 13, 'z_euw_a'], '/28 minus network, broadcast and the gateway');
    assert.is(rr.network('n_euw_backbone')!.zoneId, null);
    assert.is(rr.images({ regionId: 'r_eu_west' }, 0, 100).rows.length, 4);
    const cap = rr.capacity({ regionId: 'r_eu_west' });
    assert.is(cap.hosts, 8);
    // VM: (32 − 2) × 4 = 120 cores; CM: (16 − 1) × 2 = 30; BM: 64 → per zone 2 × 120 + 30 + 64 = 334
    assert.is(cap.capacity.cpuCores, 2 * 334);
    assert.equal(cap.free, cap.capacity);
    assert.equal(rr.capacity({ zoneId: 'z_use_b' }).capacity.cpuCores, 334);
  } finally {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the RRegister agrees with the Host deciders and a rebuild from zero gives the live digest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-rregister-'));
  const ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir, LEDGER_LOG_LEVEL: 'silent' }), { projections: [rregisterProjection] });
  const runtime = await startResources(ledger, { checkpoints: new MemoryCheckpointStore(), health: false, log: () => {} });
  try {
    await seedDemo(ledger);
    const svc = new ResourcesService(ledger);
    // a life on the demo: contracts (one failing), slices in every consuming state, drained, retired and unreachable hosts
    await svc.openRContract(OP, { contractId: 'rc_shop', tenantId: 'u_demo', items: [
      { kind: 'compute', hostId: 'h_euw_a_vm1', size: { cpuCores: 8, ramMiB: 16_384, diskGiB: 100 }, imageId: 'i_euw_debian12' },
      { kind: 'compute', hostId: 'h_euw_b_bm1' },
      { kind: 'network', networkId: 'n_euw_a_public', cidr: '10.10.0.0/24', public: true, bandwidthMbps: 500, publicIps: 2 },
      { kind: 'image', regionId: 'r_eu_west', quota: { checkpoints: 10, sizeGiB: 500 } },
    ] });
    await svc.openRContract(OP, { contractId: 'rc_toobig', items: [
      { kind: 'compute', hostId: 'h_use_a_cm1', size: { cpuCores: 4, ramMiB: 1_024, diskGiB: 10 } },
      { kind: 'compute', hostId: 'h_use_a_cm1', size: { cpuCores: 400, ramMiB: 1_024, diskGiB: 10 } },
    ] });
    for (const [id, state] of [['xn_a', 'running'], ['xn_b', 'stopped'], ['xn_c', 'hibernated'], ['xn_d', 'failed'], ['xn_e', 'released']] as const) {
      await svc.sliceXNode(OP, { hostId: 'h_euw_a_vm2', xnodeId: id, size: { cpuCores: 3, ramMiB: 4_096, diskGiB: 40 } });
      const report = (observed: string, generation: number) => ledger.execute(hostDecider, 'Host-h_euw_a_vm2', { type: 'ReportXNodeObserved', data: { hostId: 'h_euw_a_vm2', xnodeId: id, observed, generation, observedAt: '2025-03-01T10:00:00Z' } } as any, { actor: { kind: 'agent', id: 'h_euw_a_vm2' } });
      if (state !== 'released') await report('running', 1);
      if (state === 'stopped') await svc.xnodeAction(OP, 'PowerOffXNode', { hostId: 'h_euw_a_vm2', xnodeId: id });
      if (state === 'hibernated') await svc.xnodeAction(OP, 'HibernateXNode', { hostId: 'h_euw_a_vm2', xnodeId: id });
      if (state === 'failed') await report('failed', 1);
      if (state === 'released') await svc.xnodeAction(OP, 'ReleaseXNode', { hostId: 'h_euw_a_vm2', xnodeId: id });
    }
    await svc.hostAction(OP, 'DrainHost', { hostId: 'h_use_b_vm1', reason: 'firmware' });
    await svc.sliceXNode(OP, { hostId: 'h_use_b_vm2', xnodeId: 'xn_doomed', size: { cpuCores: 2, ramMiB: 1_024, diskGiB: 10 } });
    await svc.hostAction(OP, 'RetireHost', { hostId: 'h_use_b_vm2', force: true, reason: 'end of life' });
    await ledger.execute(hostDecider, 'Host-h_use_a_vm1', { type: 'MarkHostUnreachable', data: { hostId: 'h_use_a_vm1', missedBeats: 3, lastSeenAt: '2025-03-01T10:00:00Z' } }, { actor: { kind: 'system', id: 'health-monitor' } });
    await runtime.settle();
    await ledger.settle();

    const rr = new RRegisterReadModel(ledger.readModels);
    const hosts = rr.hosts({}, 0, 100).rows;
    assert.is(hosts.length, 16);
    for (const row of hosts) {
      const state = await storedState(ledger.store, hostDecider, `Host-${row.hostId}`);
      assert.equal(row.used, state.used, `${row.hostId}: used as the decider has it`);
      assert.equal(row.free, freeOf(state), `${row.hostId}: free`);
      assert.is(row.liveXNodes, Object.values(state.slices).filter((s) => s.state !== 'released').length, `${row.hostId}: live slices`);
    }
    const vm2 = rr.host('h_euw_a_vm2')!;
    // running, stopped, failed hold everything (3 × 3 cores); hibernated holds disk only; released nothing
    assert.equal([vm2.used.cpuCores, vm2.used.diskGiB], [9, 160]);
    assert.equal(rr.xnodes({ hostId: 'h_euw_a_vm2' }, 0, 100).rows.map((x) => x.state), ['running', 'stopped', 'hibernated', 'failed']);
    assert.equal(rr.xnodes({ hostId: 'h_euw_a_vm2', state: ['released'] }, 0, 100).rows.map((x) => x.xnodeId), ['xn_e']);
    assert.equal(rr.host('h_euw_b_bm1')!.free.cpuCores, 0, 'a BNode takes the whole machine');
    assert.equal([rr.host('h_use_b_vm1')!.status, rr.host('h_use_b_vm2')!.status, rr.host('h_use_a_vm1')!.status], ['draining', 'retired', 'unreachable']);
    assert.equal(rr.xnode('xn_doomed')!.state, 'released');
    assert.equal(rr.rcontract('rc_shop')!.status, 'active');
    assert.equal([rr.rcontract('rc_toobig')!.status, rr.rcontract('rc_toobig')!.compensated], ['failed', true]);
    assert.equal(rr.host('h_use_a_cm1')!.used.cpuCores, 0, 'the failed contract gave its slice back');
    assert.equal(rr.hosts({ status: ['online'], type: 'VM' }, 0, 100).rows.length, 5);
    assert.equal(rr.hosts({ regionId: 'r_eu_west', minFree: { cpuCores: 112 } }, 0, 100).rows.map((h) => h.hostId), ['h_euw_a_vm1', 'h_euw_b_vm1', 'h_euw_b_vm2']);
    assert.equal(rr.xnodes({ contractId: 'rc_shop' }, 0, 10).rows.map((x) => x.kind), ['VNode', 'BNode']);

    // free per zone and region is the sum over hosts (retired hosts left out); schedulable counts online hosts only
    const zone = rr.capacity({ zoneId: 'z_euw_a' });
    const zoneHosts = hosts.filter((h) => h.zoneId === 'z_euw_a' && h.status !== 'retired');
    for (const k of RESOURCE_KEYS) assert.is(zone.free[k], zoneHosts.reduce((n, h) => n + h.free[k], 0), `zone free ${k}`);
    const region = rr.capacity({ regionId: 'r_us_east' });
    const online = hosts.filter((h) => h.regionId === 'r_us_east' && h.status === 'online');
    assert.is(region.hosts, 7);
    assert.is(region.schedulableFree.cpuCores, online.reduce((n, h) => n + h.free.cpuCores, 0));
    assert.ok(region.schedulableFree.cpuCores < region.free.cpuCores);

    const live = ledger.projections.digest('rregister');
    const rebuilt = await rebuildProjection(ledger.store, rregisterProjection, { until: ledger.projections.statuses().find((s) => s.name === 'rregister')!.position });
    assert.is(rebuilt.digest, live, 'rebuild digest = live digest');
    rebuilt.db.close();
  } finally {
    await runtime.stop();
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('`ledger seed` twice: the second run changes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-seed-cli-'));
  try {
    const env = { ...process.env, LEDGER_LOG_LEVEL: 'silent' };
    const a = JSON.parse((await run(process.execPath, [LEDGER, 'seed', '--data', dir, '--json'], { env })).stdout);
    const b = JSON.parse((await run(process.execPath, [LEDGER, 'seed', '--data', dir, '--json'], { env })).stdout);
    assert.ok(a.appended > 50);
    assert.is(b.appended, 0);
    assert.equal(b.tenant, a.tenant);
    // the built-in component types come with the demo (a type read back from the store is the same definition)
    assert.equal(a.componentTypes, ['cloud-host', 'cloud-disk', 'cache', 'rdbms', 'object-store']);
    assert.equal(b.componentTypes, a.componentTypes);
    const text = (await run(process.execPath, [LEDGER, 'seed', '--data', dir], { env })).stdout;
    assert.match(text, /already there: nothing changed/);
    assert.match((await run(process.execPath, [LEDGER, 'seed', '--help'], { env })).stdout, /idempotent/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

/** Starts `ledger serve` on a free port; resolves with its stdout once `marker` appeared. */
function serve(dir: string, marker: RegExp): Promise<{ out: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [LEDGER, 'serve', '--data', dir, '--port', '0'], { env: { ...process.env, LEDGER_LOG_LEVEL: 'warn', LEDGER_MODE: 'development' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`serve did not print ${marker} in 30 s:\n${out}\n${err}`)); }, 30_000);
    const check = () => {
      if (!marker.test(out)) return;
      clearTimeout(timer);
      child.stdout.off('data', check);
      resolve({ out: () => out, stop: async () => { child.kill('SIGTERM'); return exited; } });
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited (${code}):\n${out}\n${err}`)); });
  });
}

test('a newcomer\'s first `ledger serve` on an empty data dir seeds the demo and prints the URL and two working tokens', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-first-start-'));
  try {
    const first = await serve(dir, /More tokens: .*\n/);
    const text = first.out();
    const url = /GraphQL +(http:\/\/\S+\/graphql)/.exec(text)?.[1];
    const operator = /operator token +(\S+)/.exec(text)?.[1];
    const tenantToken = /tenant token +(\S+)/.exec(text)?.[1];
    assert.ok(url && operator && tenantToken, text);
    const gql = async (query: string, token: string) => (await fetch(url!, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) })).json() as Promise<any>;
    const ops = await gql('{ regions { totalCount } hosts(first: 100) { totalCount nodes { type } } }', operator!);
    assert.equal([ops.data.regions.totalCount, ops.data.hosts.totalCount], [2, 16]);
    const viewer = await gql('{ viewer { name projects { nodes { name } } } }', tenantToken!);
    assert.equal(viewer.data.viewer, { name: 'Demo Tenant', projects: { nodes: [{ name: 'demo' }] } });
    assert.is(await first.stop(), 0);

    // the second start finds data: no seeding, no banner
    const second = await serve(dir, /GraphQL: \S+\n/);
    await new Promise((r) => setTimeout(r, 300));
    assert.not.match(second.out(), /seeded the demo/);
    assert.is(await second.stop(), 0);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test.run();
