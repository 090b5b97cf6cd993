import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rebuildProjection } from '../runner.ts';
import { meteringIndexProjection } from './index-projection.ts';
import { testLedger, vmHost } from './testing.ts';
import '../../layers/components/ccontract/events.ts';

test('the metering index: live read model = rebuilt from zero (same digest); it finds a project\'s slices', async () => {
  const t = await testLedger([meteringIndexProjection]);
  try {
    await vmHost(t, 'h_1', '2025-01-01T00:00:00Z');
    await t.append('CContract-c_db', 'ComponentRequested', {
      componentId: 'c_db', tenantId: 'u_ann', projectId: 'p_x',
      type: { typeId: 'ct_cloud_host', name: 'cloud-host', version: 1, distribution: 'Cell', singleRunning: true, pool: { kind: 'resources' }, hostTypes: ['VM'] },
      sizeName: 'enhanced', size: { cpuCores: 1, cpuMHz: 0, ramMiB: 1024, diskGiB: 10, diskIops: 0 },
      access: 'Zone', replicas: 1, writers: 1, estimated: { cpuCores: 1, cpuMHz: 0, ramMiB: 1024, diskGiB: 10, diskIops: 0 },
    }, '2025-01-02T00:00:00Z');
    await t.res('SliceXNode', { hostId: 'h_1', xnodeId: 'xn_1', size: { cpuCores: 1, ramMiB: 1024, diskGiB: 10 }, ha: { componentId: 'c_db', replica: 0, epoch: 1 } }, '2025-01-02T00:00:00Z');
    await t.res('SliceXNode', { hostId: 'h_1', xnodeId: 'xn_2', size: { cpuCores: 1, ramMiB: 1024, diskGiB: 10 } }, '2025-01-02T00:00:00Z');
    await t.res('AllocateXImage', { ximageId: 'xi_1', regionId: 'r_eu', quota: { checkpoints: 1, sizeGiB: 10 } }, '2025-01-02T00:00:00Z');
    await t.ledger.settle();
    const live = t.ledger.projections.digest('metering');
    const rebuilt = await rebuildProjection(t.ledger.store, meteringIndexProjection);
    assert.is(rebuilt.digest, live);
    rebuilt.db.close();
    const rows = t.ledger.readModels.prepare('SELECT resource_id, stream, kind, component_id FROM mt_resources ORDER BY resource_id').all();
    assert.equal(rows, [
      { resource_id: 'xi_1', stream: 'XImage-xi_1', kind: 'XImage', component_id: null },
      { resource_id: 'xn_1', stream: 'Host-h_1', kind: 'VNode', component_id: 'c_db' },
      { resource_id: 'xn_2', stream: 'Host-h_1', kind: 'VNode', component_id: null },
    ]);
    assert.is(t.ledger.readModels.prepare('SELECT size_name FROM mt_component_sizes WHERE component_id = ?').pluck().get('c_db'), 'enhanced');
  } finally {
    await t.dispose();
  }
});

test.run();
