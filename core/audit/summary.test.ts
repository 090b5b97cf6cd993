import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { registerSummary, summarize } from './summary.ts';

const ev = (streamId: string, type: string, data: unknown) => ({ streamId, type, data, revision: 0, position: 1, metadata: {} as any });

test('generic summaries: names, transitions, sizes, reasons; the stream\'s own id left out', () => {
  assert.is(summarize(ev('Region-r_eu', 'RegionRegistered', { regionId: 'r_eu', name: 'Europe' })), 'Europe');
  assert.is(
    summarize(ev('Host-h_1', 'XNodePoweredOff', { hostId: 'h_1', zoneId: 'z_a', regionId: 'r', xnodeId: 'xn_1', kind: 'VNode', size: { cpuCores: 4, cpuMHz: 0, ramMiB: 8192, diskGiB: 100, diskIops: 0 }, state: 'stopped', generation: 2, from: 'running', cause: 'command', reason: 'maintenance' })),
    'xn_1 size (4 cores, 8192 MiB, 100 GiB) running → stopped maintenance',
  );
  assert.is(summarize(ev('Host-h_1', 'HostStatusChanged', { hostId: 'h_1', from: 'online', to: 'draining', cause: 'operator' })), 'online → draining (operator)');
  assert.is(summarize(ev('Project-p_1', 'ProjectQuotasSet', { projectId: 'p_1', quotas: { cpuCores: 4, ramMiB: null, diskGiB: null, components: 2 } })), 'quotas (4 cores, ∞ MiB, ∞ GiB, components 2)');
  assert.ok(summarize(ev('X-y', 'Big', { text: 'x'.repeat(500), other: 1 })).length <= 140);
});

test('a layer may register its own summary', () => {
  registerSummary('Special', (e) => `special ${(e.data as any).n}`);
  assert.is(summarize(ev('X-y', 'Special', { n: 3 })), 'special 3');
});

test.run();
