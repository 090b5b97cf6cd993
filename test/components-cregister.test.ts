/** The CRegister is deterministic: the live read model's digest equals a rebuild from zero at the same position. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/config.ts';
import { openLedger } from '../core/ledger.ts';
import { rebuildProjection } from '../projections/runner.ts';
import { cregisterProjection } from '../projections/cregister.ts';
import { CRegisterReadModel } from '../projections/cregister-read.ts';
import { startScheduler } from '../layers/components/scheduler/scheduler.ts';
import { seedComponentTypes } from '../layers/components/seed.ts';
import { grid, needs, registerHosts, requestComponent, until } from '../layers/components/testing/fleet.ts';

test('live CRegister = rebuild from zero; replicas show where they run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-cregister-'));
  const ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir }), { projections: [cregisterProjection] });
  const scheduler = await startScheduler(ledger, { bus: null, sweepIntervalMs: 100, log: () => undefined });
  try {
    await registerHosts(ledger, grid(1, 3, 2, 1));
    await seedComponentTypes(ledger);
    for (let i = 0; i < 5; i++) await requestComponent(ledger, needs(`c_reg${i}`, { projectId: 'p_x' }));
    const read = new CRegisterReadModel(ledger.readModels);
    await until('all placed', async () => { await ledger.settle(); return [0, 1, 2, 3, 4].every((i) => read.replicas(`c_reg${i}`).every((r) => r.state === 'provisioning')); }, 15_000, 50);
    await scheduler.idle();
    await ledger.settle();
    const rows = read.replicas('c_reg0');
    assert.is(rows.length, 3);
    assert.ok(rows.every((r) => r.hostId && r.zoneId && r.regionId === 'r_0'));
    assert.is(read.countOf('p_x', false), 5);
    assert.ok(read.types().some((t) => t.definition?.name === 'cloud-host'));
    const head = await ledger.store.headPosition();
    await ledger.projections.waitFor(head);
    const live = ledger.projections.digest('cregister');
    const rebuilt = await rebuildProjection(ledger.store, cregisterProjection, { until: head });
    assert.is(rebuilt.digest, live);
    rebuilt.db.close();
  } finally {
    await scheduler.stop();
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
