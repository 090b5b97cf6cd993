/**
 * The RRegister's bulk loader (hosts and XNodes folded in memory during a rebuild) gives the same tables as its SQL
 * `apply`, over a log holding every host and XNode event the Host decider writes (registration, capacity, every
 * status change, heartbeats, retirement with forced release, slices of every kind, resize, copy started, completed
 * and failed, power, hibernate/activate, failure, HA fencing with epochs, release, observations with drift) plus
 * contracts, networks and images (which the loader hands to `apply`); and `rebuildAllFromZero`, one pass for several
 * read models, gives each one the digest of its own rebuild and of the live model.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCheckpointStore } from '../core/checkpoint.ts';
import { loadConfig } from '../core/config.ts';
import { openLedger } from '../core/ledger.ts';
import { rebuildAllFromZero, rebuildFromZero } from '../core/audit/rebuild.ts';
import { hostDecider } from '../layers/resources/host/decider.ts';
import { startResources } from '../layers/resources/runtime.ts';
import { seedDemo } from '../layers/resources/seed/demo.ts';
import { ResourcesService } from '../layers/resources/service.ts';
import { auditProjection } from './audit.ts';
import { projectsProjection } from './projects.ts';
import { rregisterProjection } from './rregister.ts';
import { rebuildProjection } from './runner.ts';

const OP = { kind: 'operator' as const, id: 'ops' };
const SYS = { kind: 'system' as const, id: 'health-monitor' };

test('bulk loader = SQL apply = live, over every host and XNode event; one pass for several read models = each alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-rregister-bulk-'));
  const projections = [auditProjection, projectsProjection, rregisterProjection];
  const ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir, LEDGER_LOG_LEVEL: 'silent' }), { projections });
  const runtime = await startResources(ledger, { checkpoints: new MemoryCheckpointStore(), health: false, log: () => {} });
  try {
    await seedDemo(ledger);
    const svc = new ResourcesService(ledger);
    const host = (id: string, type: string, data: Record<string, unknown>, actor: { kind: 'operator' | 'system' | 'agent'; id: string } = OP) =>
      ledger.execute(hostDecider, `Host-${id}`, { type, data: { hostId: id, ...data } } as any, { actor });
    const seen = (id: string, xnodeId: string, observed: string, generation: number) =>
      host(id, 'ReportXNodeObserved', { xnodeId, observed, generation, observedAt: '2025-03-01T10:00:00Z' }, { kind: 'agent', id });

    await svc.openRContract(OP, { contractId: 'rc_shop', tenantId: 'u_demo', items: [
      { kind: 'compute', hostId: 'h_euw_a_vm1', size: { cpuCores: 8, ramMiB: 16_384, diskGiB: 100 }, imageId: 'i_euw_debian12' },
      { kind: 'compute', hostId: 'h_euw_b_bm1' },
      { kind: 'network', networkId: 'n_euw_a_public', cidr: '10.10.0.0/24', public: true, bandwidthMbps: 500, publicIps: 2 },
      { kind: 'image', regionId: 'r_eu_west', quota: { checkpoints: 10, sizeGiB: 500 } },
    ] });
    const h = 'h_euw_a_vm2';
    await host(h, 'AdjustHostCapacity', { allocationRatios: { cpuCores: 3 } });
    // a plain slice through its whole life: observed (with drift), off, resized, copied, on, hibernated, activated, failed, released
    await host(h, 'SliceXNode', { xnodeId: 'xn_life', size: { cpuCores: 2, ramMiB: 2_048, diskGiB: 20 } });
    await seen(h, 'xn_life', 'stopped', 0);
    await seen(h, 'xn_life', 'running', 1);
    await host(h, 'PowerOffXNode', { xnodeId: 'xn_life', reason: 'resize' });
    await host(h, 'ResizeXNode', { xnodeId: 'xn_life', size: { cpuCores: 4, ramMiB: 4_096, diskGiB: 40 } });
    await host(h, 'CopyXNodeFrom', { xnodeId: 'xn_life', source: { kind: 'image', imageId: 'i_euw_debian12' } });
    const copyOf = async (xnodeId: string) => (await ledger.load(hostDecider, `Host-${h}`)).state.slices[xnodeId].copy?.copyId as string;
    await host(h, 'ReportXNodeCopy', { xnodeId: 'xn_life', copyId: await copyOf('xn_life'), outcome: 'completed' }, { kind: 'agent', id: h });
    await host(h, 'CopyXNodeFrom', { xnodeId: 'xn_life', source: { kind: 'image', imageId: 'i_euw_debian12' } });
    await host(h, 'ReportXNodeCopy', { xnodeId: 'xn_life', copyId: await copyOf('xn_life'), outcome: 'failed', message: 'disk full' }, { kind: 'agent', id: h });
    await host(h, 'PowerOnXNode', { xnodeId: 'xn_life' });
    await host(h, 'HibernateXNode', { xnodeId: 'xn_life' });
    await host(h, 'ActivateXNode', { xnodeId: 'xn_life' });
    await seen(h, 'xn_life', 'failed', (await ledger.load(hostDecider, `Host-${h}`)).state.slices.xn_life.generation);
    await host(h, 'ReleaseXNode', { xnodeId: 'xn_life', reason: 'done' });
    // HA replicas: epochs, a newer epoch fences the older one; a copy left running when released
    await host(h, 'SliceXNode', { xnodeId: 'xn_ha0', size: { cpuCores: 1, ramMiB: 1_024, diskGiB: 10 }, ha: { componentId: 'c_db', replica: 0, epoch: 1 } });
    await host('h_euw_b_vm1', 'SliceXNode', { xnodeId: 'xn_ha1', size: { cpuCores: 1, ramMiB: 1_024, diskGiB: 10 }, ha: { componentId: 'c_db', replica: 0, epoch: 2 } });
    await host(h, 'FenceXNode', { xnodeId: 'xn_ha0', epoch: 2, reason: 'replica moved' });
    await host('h_euw_b_vm1', 'CopyXNodeFrom', { xnodeId: 'xn_ha1', source: { kind: 'xnode', xnodeId: 'xn_ha0', hostId: h } });
    await host('h_euw_b_vm1', 'ReleaseXNode', { xnodeId: 'xn_ha1' });
    // host statuses: drain, maintenance, back online, unreachable and back (heartbeats), powered off, retired with live slices
    await host('h_use_b_vm1', 'DrainHost', { reason: 'firmware' });
    await host('h_use_b_vm1', 'ReturnHostOnline', {});
    await host('h_use_b_vm1', 'StartHostMaintenance', { reason: 'fans' });
    await host('h_use_a_vm1', 'MarkHostUnreachable', { missedBeats: 3, lastSeenAt: '2025-03-01T10:00:00Z' }, SYS);
    await host('h_use_a_vm1', 'MarkHostReachable', { seenAt: '2025-03-01T10:05:00Z' }, SYS);
    await host('h_use_a_vm1', 'ConfirmHostPoweredOff', { method: 'ipmi', confirmedAt: '2025-03-01T10:06:00Z' });
    await host('h_use_b_vm2', 'SliceXNode', { xnodeId: 'xn_doomed', size: { cpuCores: 2, ramMiB: 1_024, diskGiB: 10 } });
    await host('h_use_b_vm2', 'RetireHost', { force: true, reason: 'end of life' });
    await runtime.settle();
    await ledger.settle();

    const types = (ledger.store as any).db.prepare(`SELECT DISTINCT type FROM events WHERE stream LIKE 'Host-%'`).pluck().all() as string[];
    for (const t of ['HostRegistered', 'HostCapacityAdjusted', 'HostStatusChanged', 'HostRetired', 'XNodeSliced', 'XNodeProvisioned', 'XNodeObserved',
      'XNodePoweredOff', 'XNodePoweredOn', 'XNodeResized', 'XNodeCopyStarted', 'XNodeCopyCompleted', 'XNodeCopyFailed', 'XNodeHibernated',
      'XNodeActivated', 'XNodeFailed', 'XNodeFenced', 'XNodeReleased']) assert.ok(types.includes(t), `the log holds ${t} (it has ${types.join(', ')})`);

    const at = ledger.projections.statuses().find((s) => s.name === 'rregister')!.position;
    assert.is(at, await ledger.store.headPosition());
    const live = ledger.projections.digest('rregister');
    const sql = await rebuildProjection(ledger.store, rregisterProjection, { until: at });
    const bulk = await rebuildFromZero(ledger.store, rregisterProjection, { until: at });
    assert.is(sql.digest, live, 'SQL apply rebuild = live');
    assert.is(bulk.digest, live, 'bulk loader rebuild = live');
    for (const t of rregisterProjection.tables) {
      const rows = (db: typeof sql.db) => db.prepare(`SELECT * FROM "${t.name}" ORDER BY ${t.orderBy}`).all();
      assert.equal(rows(bulk.db), rows(sql.db), `${t.name}: same rows`);
    }
    assert.ok((bulk.db.prepare('SELECT count(*) FROM rr_xnodes').pluck().get() as number) >= 5);
    sql.db.close();
    bulk.db.close();

    // one pass for all three (each with its own filter) = each rebuilt alone = live; and a per-projection `until`
    const all = await rebuildAllFromZero(ledger.store, projections, { batchSize: 7 });
    for (const r of all) {
      assert.is(r.digest, ledger.projections.digest(r.name), `${r.name}: one-pass rebuild = live`);
      const alone = await rebuildFromZero(ledger.store, projections.find((p) => p.name === r.name)!, { batchSize: 7 });
      assert.is(r.events, alone.events, `${r.name}: same events folded`);
      alone.db.close();
      r.db.close();
    }
    const early = Math.floor(at / 2);
    const partial = await rebuildAllFromZero(ledger.store, projections, { until: { rregister: early } });
    const partialAlone = await rebuildProjection(ledger.store, rregisterProjection, { until: early });
    assert.is(partial.find((r) => r.name === 'rregister')!.digest, partialAlone.digest, 'rregister rebuilt up to its own until');
    assert.is(partial.find((r) => r.name === 'rregister')!.position, early);
    assert.is(partial.find((r) => r.name === 'audit')!.digest, ledger.projections.digest('audit'), 'audit up to the head');
    for (const r of partial) r.db.close();
    partialAlone.db.close();
  } finally {
    await runtime.stop();
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
