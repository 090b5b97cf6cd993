import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spec } from '../../../core/spec.ts';
import { validateEvent } from '../../../schema/registry.ts';
import type { StoredEvent } from '../../../core/event-store/port.ts';
import { hostDecider } from '../../resources/host/decider.ts';
import type { HostCommand } from '../../resources/host/commands.ts';
import type { HostEvent } from '../../resources/host/events.ts';
import { registerVm, run } from '../../resources/host/fixtures.ts';
import { Fleet, freeOf } from './fleet.ts';

const host = spec(hostDecider);
const off: HostCommand = { type: 'ConfirmHostPoweredOff', data: { hostId: 'h_vm1', method: 'ipmi', confirmedAt: '2026-01-01T00:00:00Z' } };

test('Host: a confirmed out-of-band power-off marks the host unreachable once; heartbeats clear it', () => {
  const vm = run([], registerVm());
  host.given(vm).when(off).then((events) => {
    for (const e of events) validateEvent(e.type, e.data);
    assert.equal(events.map((e) => e.type), ['HostStatusChanged', 'HostPoweredOff']);
  });
  const down = run(vm, off);
  host.given(down).when(off).thenNothing();
  const back = run(down, { type: 'MarkHostReachable', data: { hostId: 'h_vm1' } });
  host.given(back).when(off).then((events) => assert.equal(events.map((e) => e.type), ['HostStatusChanged', 'HostPoweredOff']));
  const unreachable = run(vm, { type: 'MarkHostUnreachable', data: { hostId: 'h_vm1', missedBeats: 3 } });
  host.given(unreachable).when(off).then((events) => assert.equal(events.map((e) => e.type), ['HostPoweredOff']));
  host.given(run(vm, { type: 'RetireHost', data: { hostId: 'h_vm1' } })).when(off).thenThrows('HOST_RETIRED');
});

test('Fleet: applies Host events in order (capacity, slices with fencing tokens, status, power-off); repeats are ignored', () => {
  const events: HostEvent[] = run([], registerVm(),
    { type: 'SliceXNode', data: { hostId: 'h_vm1', xnodeId: 'xn_a', size: { cpuCores: 4, ramMiB: 8192, diskGiB: 50 }, ha: { componentId: 'c_x', replica: 0, epoch: 1 } } },
    { type: 'ReportXNodeObserved', data: { hostId: 'h_vm1', xnodeId: 'xn_a', observed: 'running', generation: 1, observedAt: '2026-01-01T00:00:00Z' } },
    { type: 'HibernateXNode', data: { hostId: 'h_vm1', xnodeId: 'xn_a' } } as HostCommand,
    off);
  const stored = events.map((e, revision): StoredEvent => ({ streamId: 'Host-h_vm1', revision, position: revision + 1, type: e.type, data: e.data, metadata: {} as never }));
  const fleet = new Fleet();
  for (const e of stored) fleet.apply(e);
  for (const e of stored) fleet.apply(e); // again: ignored
  const h = fleet.host('h_vm1')!;
  assert.equal(h.used, { cpuCores: 0, cpuMHz: 0, ramMiB: 0, diskGiB: 50, diskIops: 0 });
  assert.is(h.slices.get('xn_a')!.state, 'hibernated');
  assert.equal(fleet.hostsOf('c_x'), ['h_vm1']);
  assert.is(h.reachable, false);
  assert.is(h.poweredOffAt, '2026-01-01T00:00:00Z');
  fleet.reserve('h_vm1', 'xn_b', { cpuCores: 10, cpuMHz: 0, ramMiB: 0, diskGiB: 0, diskIops: 0 });
  assert.is(freeOf(h).cpuCores, 120 - 10);
  fleet.unreserve('xn_b');
  assert.is(freeOf(h).cpuCores, 120);
});

test.run();
