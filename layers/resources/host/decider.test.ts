import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DomainError } from '../../../core/decider.ts';
import { spec } from '../../../core/spec.ts';
import { validateEvent } from '../../../schema/registry.ts';
import { add, RESOURCE_KEYS, ZERO, type Resources } from '../common/quantities.ts';
import type { HostCommand } from './commands.ts';
import { consumption, XNODE_STATES } from './consumption.ts';
import { evolveInPlace, freeOf, hostDecider, hostStatus, ownedHostState } from './decider.ts';
import type { HostEvent } from './events.ts';
import { registerVm, run, slice, stateOf, VM_RESOURCES } from './fixtures.ts';

const host = spec(hostDecider);
const H = 'h_vm1';
const vm = run([], registerVm());
const small = { cpuCores: 4, ramMiB: 8_192, diskGiB: 50 };
const on = (type: HostCommand['type'], xnodeId: string, extra: Record<string, unknown> = {}) => ({ type, data: { hostId: H, xnodeId, ...extra } }) as HostCommand;
const observed = (xnodeId: string, o: string, generation: number, hostId = H): HostCommand =>
  ({ type: 'ReportXNodeObserved', data: { hostId, xnodeId, observed: o, generation, observedAt: '2025-01-01T00:00:00Z' } }) as HostCommand;
const types = (events: HostEvent[]) => events.map((e) => e.type);
const last = (events: HostEvent[]) => events[events.length - 1];
/** Every stored event must pass its registered schema. */
const valid = (events: HostEvent[]) => { for (const e of events) validateEvent(e.type, e.data); return events; };

test('register a VM host: capacity = floor((resources − reserved) × ratio)', () => {
  host.given([]).when(registerVm()).then((events) => {
    valid(events);
    assert.equal(events[0].type, 'HostRegistered');
    const d = events[0].data as Extract<HostEvent, { type: 'HostRegistered' }>['data'];
    assert.equal(d.reserved, { cpuCores: 2, cpuMHz: 0, ramMiB: 8_192, diskGiB: 100, diskIops: 0 });
    assert.equal(d.allocationRatios, { cpuCores: 4, cpuMHz: 1, ramMiB: 1.5, diskGiB: 1, diskIops: 1 });
    assert.equal(d.capacity, { cpuCores: 120, cpuMHz: 76_800, ramMiB: 184_320, diskGiB: 1_900, diskIops: 100_000 });
    assert.is(d.status, 'online');
  });
  host.given(vm).when(registerVm()).thenNothing();
  host.given(vm).when(registerVm(H, { name: 'other' })).thenThrows('HOST_EXISTS');
});

test('ratios are exact to 3 decimals; reserve cannot exceed resources; BM hosts have no reserve or overcommit', () => {
  const r = stateOf(run([], registerVm(H, { allocationRatios: { ramMiB: 1.13 }, reserved: {} })));
  assert.is(r.capacity.ramMiB, Math.floor(131_072 * 1130 / 1000)); // 148111, where 131072 * 1.13 in floats would not be exact
  host.given([]).when(registerVm(H, { reserved: { cpuCores: 40 } })).thenThrows('RESERVE_EXCEEDS_RESOURCES', 'cpuCores');
  host.given([]).when(registerVm('h_bm', { type: 'BM', reserved: { cpuCores: 1 } })).thenThrows('BM_NO_RESERVE');
  host.given([]).when(registerVm('h_bm', { type: 'BM', reserved: {}, allocationRatios: { cpuCores: 2 } })).thenThrows('BM_NO_OVERCOMMIT');
});

test('slice a VNode: reserved at once, size recorded with all five units', () => {
  host.given(vm).when(slice('xn_1', small, { contractId: 'rc_1', imageId: 'i_deb12' })).then([{
    type: 'XNodeSliced',
    data: {
      hostId: H, zoneId: 'z_a', regionId: 'r_eu', xnodeId: 'xn_1', kind: 'VNode', size: { cpuCores: 4, cpuMHz: 0, ramMiB: 8_192, diskGiB: 50, diskIops: 0 },
      state: 'provisioning', generation: 1, contractId: 'rc_1', imageId: 'i_deb12',
    },
  }]);
  const s = stateOf(run(vm, slice('xn_1', small)));
  assert.equal(s.used, { cpuCores: 4, cpuMHz: 0, ramMiB: 8_192, diskGiB: 50, diskIops: 0 });
});

test('a slice that does not fit is refused with INSUFFICIENT_CAPACITY naming the resource, requested and free', () => {
  const full = run(vm, slice('xn_1', { cpuCores: 100, ramMiB: 180_000, diskGiB: 100 }));
  host.given(full).when(slice('xn_2', { cpuCores: 30, ramMiB: 1_024, diskGiB: 10 })).thenThrows('INSUFFICIENT_CAPACITY', 'cpuCores requested 30, free 20 of capacity 120');
  try {
    hostDecider.decide(slice('xn_2', { cpuCores: 30, ramMiB: 8_000, diskGiB: 10 }), stateOf(full));
    assert.unreachable();
  } catch (e) {
    assert.instance(e, DomainError);
    const err = e as DomainError;
    assert.match(err.message, /host h_vm1 cannot fit slice xn_2/);
    assert.match(err.message, /ramMiB requested 8000, free 4320 of capacity 184320/);
    assert.equal(err.field, ['size', 'cpuCores']);
  }
  host.given(full).when(slice('xn_2', { cpuCores: 20, ramMiB: 4_320, diskGiB: 1_800 })).then((e) => assert.is(e.length, 1)); // exactly full fits
});

test('the same slice again does nothing; another slice under the same id is refused; ids are never reused', () => {
  const one = run(vm, slice('xn_1', small));
  host.given(one).when(slice('xn_1', small)).thenNothing();
  host.given(one).when(slice('xn_1', { ...small, cpuCores: 8 })).thenThrows('XNODE_EXISTS');
  host.given(run(one, on('ReleaseXNode', 'xn_1'))).when(slice('xn_1', small)).thenThrows('XNODE_EXISTS', 'released');
  host.given(vm).when(slice('xn_2', small, {}, 'h_other')).thenThrows('HOST_MISMATCH');
  host.given([]).when(slice('xn_2', small)).thenThrows('HOST_NOT_FOUND');
  host.given(vm).when({ type: 'SliceXNode', data: { hostId: H, xnodeId: 'xn_9' } }).thenThrows('SIZE_REQUIRED');
});

test('CM hosts cut CNodes; a BM host is one BNode, the whole machine', () => {
  const cm = run([], registerVm('h_cm', { type: 'CM' }));
  host.given(cm).when(slice('xn_c', small, {}, 'h_cm')).then((e) => assert.is((e[0].data as { kind: string }).kind, 'CNode'));
  const bm = run([], registerVm('h_bm', { type: 'BM', reserved: {}, allocationRatios: {} }));
  const taken = run(bm, { type: 'SliceXNode', data: { hostId: 'h_bm', xnodeId: 'xn_b' } });
  const d = taken[1].data as { kind: string; size: Resources };
  assert.is(d.kind, 'BNode');
  assert.equal(d.size, VM_RESOURCES);
  host.given(taken).when({ type: 'SliceXNode', data: { hostId: 'h_bm', xnodeId: 'xn_b2' } }).thenThrows('BNODE_EXISTS', 'xn_b');
  host.given(bm).when(slice('xn_b', small, {}, 'h_bm')).thenThrows('BNODE_SIZE');
  host.given(bm).when(slice('xn_b', { cpuCores: 32, ramMiB: 131_072, diskGiB: 2_000 }, {}, 'h_bm')).then((e) => assert.is(e.length, 1));
  const running = run(taken, observed('xn_b', 'running', 1, 'h_bm'));
  host.given(running).when({ type: 'HibernateXNode', data: { hostId: 'h_bm', xnodeId: 'xn_b' } }).thenThrows('HIBERNATE_UNSUPPORTED');
  host.given(running).when({ type: 'ResizeXNode', data: { hostId: 'h_bm', xnodeId: 'xn_b', size: small } }).thenThrows('BNODE_FIXED_SIZE');
  // a stopped or fenced BNode still holds the whole machine
  assert.equal(consumption('BNode', VM_RESOURCES, 'stopped'), VM_RESOURCES);
  assert.equal(consumption('BNode', VM_RESOURCES, 'fenced'), VM_RESOURCES);
  assert.equal(stateOf(run(running, { type: 'ReleaseXNode', data: { hostId: 'h_bm', xnodeId: 'xn_b' } })).used, ZERO);
});

test('consumption table: what each state holds', () => {
  const size = { cpuCores: 4, cpuMHz: 2_000, ramMiB: 8_192, diskGiB: 50, diskIops: 500 };
  const disk = { ...ZERO, diskGiB: 50 };
  const expected: Record<string, Resources> = {
    provisioning: size, running: size, stopped: size, hibernated: disk, failed: size, fenced: disk, released: ZERO,
  };
  for (const st of XNODE_STATES) assert.equal(consumption('VNode', size, st), expected[st], st);
});

test('lifecycle: provisioned by observation, stopped keeps its reservation, hibernated frees CPU and RAM, release frees all', () => {
  let h = run(vm, slice('xn_1', { cpuCores: 100, ramMiB: 150_000, diskGiB: 500 }));
  h = run(h, observed('xn_1', 'running', 1));
  assert.equal(types(h.slice(-2)), ['XNodeObserved', 'XNodeProvisioned']);
  assert.is(stateOf(h).slices.xn_1.state, 'running');
  h = run(h, on('PowerOffXNode', 'xn_1'));
  assert.is(stateOf(h).used.cpuCores, 100, 'stopped keeps its reservation');
  host.given(h).when(slice('xn_2', { cpuCores: 40, ramMiB: 1_024, diskGiB: 10 })).thenThrows('INSUFFICIENT_CAPACITY', 'cpuCores');
  h = run(h, on('HibernateXNode', 'xn_1'));
  assert.equal(stateOf(h).used, { ...ZERO, diskGiB: 500 });
  h = run(h, slice('xn_2', { cpuCores: 40, ramMiB: 100_000, diskGiB: 10 })); // takes the CPU and RAM xn_1 gave back
  host.given(h).when(on('ActivateXNode', 'xn_1')).thenThrows('INSUFFICIENT_CAPACITY', 'cpuCores requested 100, free 80');
  host.given(h).when(on('PowerOnXNode', 'xn_1')).thenThrows('XNODE_HIBERNATED');
  h = run(h, on('ReleaseXNode', 'xn_2'), on('ActivateXNode', 'xn_1'));
  assert.is(stateOf(h).slices.xn_1.state, 'running');
  h = run(h, on('ReleaseXNode', 'xn_1', { reason: 'contract ended' }));
  assert.equal(stateOf(h).used, ZERO);
  host.given(h).when(on('ReleaseXNode', 'xn_1')).thenNothing();
  host.given(h).when(on('PowerOnXNode', 'xn_1')).thenThrows('XNODE_RELEASED');
  valid(h);
});

test('power commands are idempotent and refuse what the state machine does not allow', () => {
  const prov = run(vm, slice('xn_1', small));
  host.given(prov).when(on('PowerOnXNode', 'xn_1')).thenThrows('XNODE_NOT_READY');
  host.given(prov).when(on('PowerOffXNode', 'xn_1')).thenThrows('XNODE_NOT_READY');
  const running = run(prov, observed('xn_1', 'running', 1));
  host.given(running).when(on('PowerOnXNode', 'xn_1')).thenNothing();
  host.given(running).when(on('ActivateXNode', 'xn_1')).thenNothing();
  host.given(running).when(on('PowerOffXNode', 'xn_1', { reason: 'tenant asked' })).then((e) => {
    const d = e[0].data as { from: string; state: string; generation: number; cause: string; reason: string };
    assert.equal([e[0].type, d.from, d.state, d.generation, d.cause, d.reason], ['XNodePoweredOff', 'running', 'stopped', 2, 'command', 'tenant asked']);
  });
  const stopped = run(running, on('PowerOffXNode', 'xn_1'));
  host.given(stopped).when(on('PowerOffXNode', 'xn_1')).thenNothing();
  host.given(stopped).when(on('ActivateXNode', 'xn_1')).thenThrows('XNODE_NOT_HIBERNATED', 'power it on instead');
  host.given(stopped).when(on('HibernateXNode', 'xn_1')).then((e) => assert.is(e[0].type, 'XNodeHibernated'));
  host.given(stopped).when(on('PowerOnXNode', 'xn_1')).then((e) => assert.is(e[0].type, 'XNodePoweredOn'));
});

test('host status: drain and maintenance refuse new slices; draining still starts existing ones; unreachable returns to the admin status', () => {
  const withStopped = run(vm, slice('xn_1', small), observed('xn_1', 'running', 1), on('PowerOffXNode', 'xn_1'));
  const draining = run(withStopped, { type: 'DrainHost', data: { hostId: H, reason: 'move to new rack' } });
  const ev = last(draining) as Extract<HostEvent, { type: 'HostStatusChanged' }>;
  assert.equal([ev.data.from, ev.data.to, ev.data.cause], ['online', 'draining', 'operator']);
  host.given(draining).when(slice('xn_2', small)).thenThrows('HOST_DRAINING');
  host.given(draining).when(on('PowerOnXNode', 'xn_1')).then((e) => assert.is(e[0].type, 'XNodePoweredOn'));
  host.given(draining).when({ type: 'DrainHost', data: { hostId: H } }).thenNothing();
  const maint = run(withStopped, { type: 'StartHostMaintenance', data: { hostId: H } });
  host.given(maint).when(slice('xn_2', small)).thenThrows('HOST_IN_MAINTENANCE');
  host.given(maint).when(on('PowerOnXNode', 'xn_1')).thenThrows('HOST_IN_MAINTENANCE');
  const lost = run(maint, { type: 'MarkHostUnreachable', data: { hostId: H, missedBeats: 3, lastSeenAt: '2025-01-01T00:00:00Z' } });
  assert.is(hostStatus(stateOf(lost)), 'unreachable');
  host.given(lost).when({ type: 'MarkHostUnreachable', data: { hostId: H, missedBeats: 4 } }).thenNothing();
  host.given(lost).when(on('PowerOffXNode', 'xn_1')).thenNothing(); // already stopped
  host.given(lost).when(on('HibernateXNode', 'xn_1')).thenThrows('HOST_UNREACHABLE');
  host.given(lost).when(on('ReleaseXNode', 'xn_1')).then((e) => assert.is(e[0].type, 'XNodeReleased')); // the ledger lets go; the agent reconciles
  const back = run(lost, { type: 'MarkHostReachable', data: { hostId: H } });
  const b = last(back) as Extract<HostEvent, { type: 'HostStatusChanged' }>;
  assert.equal([b.data.from, b.data.to, b.data.cause], ['unreachable', 'maintenance', 'heartbeat']);
  const online = run(back, { type: 'ReturnHostOnline', data: { hostId: H } });
  assert.is(hostStatus(stateOf(online)), 'online');
  valid(online);
});

test('retire is refused while slices live, unless forced (which releases them first)', () => {
  const busy = run(vm, slice('xn_1', small), slice('xn_2', small), observed('xn_1', 'running', 1));
  host.given(busy).when({ type: 'RetireHost', data: { hostId: H } }).thenThrows('HOST_HAS_SLICES', '2 slice(s) (1 running, 1 provisioning)');
  host.given(busy).when({ type: 'RetireHost', data: { hostId: H, force: true, reason: 'hardware fault' } }).then((events) => {
    valid(events);
    assert.equal(types(events), ['XNodeReleased', 'XNodeReleased', 'HostRetired']);
    assert.is((events[0].data as { cause: string }).cause, 'host-retired');
    assert.equal((events[2].data as { releasedXNodeIds: string[]; forced: boolean }).releasedXNodeIds, ['xn_1', 'xn_2']);
  });
  const retired = run(vm, { type: 'RetireHost', data: { hostId: H } });
  host.given(retired).when(slice('xn_3', small)).thenThrows('HOST_RETIRED');
  host.given(retired).when({ type: 'DrainHost', data: { hostId: H } }).thenThrows('HOST_RETIRED');
  host.given(retired).when({ type: 'RetireHost', data: { hostId: H } }).thenNothing();
});

test('fencing: a newer epoch fences the old slice; older epochs are refused from then on', () => {
  const ha = (epoch: number) => ({ ha: { componentId: 'c_db', replica: 0, epoch } });
  const one = run(vm, slice('xn_a', small, ha(1)), observed('xn_a', 'running', 1));
  host.given(one).when(on('PowerOffXNode', 'xn_a', { epoch: 1 })).then((e) => assert.is(e[0].type, 'XNodePoweredOff'));
  host.given(one).when(on('PowerOffXNode', 'xn_a', { epoch: 2 })).thenThrows('EPOCH_MISMATCH');
  host.given(one).when(on('FenceXNode', 'xn_a', { epoch: 1 })).thenThrows('STALE_EPOCH');
  const fencedH = run(one, on('FenceXNode', 'xn_a', { epoch: 2, reason: 'replica moved to h_vm2' }));
  const f = last(fencedH) as Extract<HostEvent, { type: 'XNodeFenced' }>;
  assert.equal([f.data.from, f.data.state, f.data.fencedByEpoch], ['running', 'fenced', 2]);
  assert.equal(stateOf(fencedH).used, { ...ZERO, diskGiB: 50 }, 'a fenced slice keeps only its disk');
  host.given(fencedH).when(on('PowerOnXNode', 'xn_a')).thenThrows('XNODE_FENCED');
  host.given(fencedH).when(slice('xn_old', small, ha(1))).thenThrows('STALE_EPOCH', 'epoch 2 has been seen');
  host.given(fencedH).when(on('FenceXNode', 'xn_a', { epoch: 2 })).thenNothing();
  // a newer replica placed on the same host supersedes the live older one in the same decision
  const two = run(vm, slice('xn_a', small, ha(1)));
  host.given(two).when(slice('xn_b', small, ha(3))).then((events) => {
    valid(events);
    assert.equal(types(events), ['XNodeFenced', 'XNodeSliced']);
    assert.equal([(events[0].data as { cause: string }).cause, (events[0].data as { xnodeId: string }).xnodeId], ['superseded', 'xn_a']);
  });
  host.given(two).when(slice('xn_b', small, ha(1))).thenThrows('EPOCH_IN_USE', 'xn_a');
  host.given(run(one, on('PowerOffXNode', 'xn_a'))).when(on('FenceXNode', 'xn_a', { epoch: 5 })).then((e) => assert.is(e[0].type, 'XNodeFenced'));
  host.given(run(vm, slice('xn_p', small))).when(on('FenceXNode', 'xn_p', { epoch: 5 })).thenThrows('XNODE_NOT_HA');
});

test('observed states: the current generation moves the ledger to reality, older ones are recorded only', () => {
  const running = run(vm, slice('xn_1', small), observed('xn_1', 'running', 1));
  host.given(running).when(observed('xn_1', 'running', 1)).thenNothing();
  host.given(running).when(observed('xn_1', 'failed', 1)).then((events) => {
    assert.equal(types(events), ['XNodeObserved', 'XNodeFailed']);
    assert.is((events[1].data as { cause: string }).cause, 'observed');
  });
  host.given(running).when(observed('xn_1', 'absent', 1)).then((events) => assert.equal(types(events), ['XNodeObserved', 'XNodeFailed']));
  host.given(running).when(observed('xn_1', 'stopped', 1)).then((events) => assert.equal(types(events), ['XNodeObserved', 'XNodePoweredOff']));
  host.given(running).when(observed('xn_1', 'running', 2)).thenThrows('OBSERVATION_AHEAD');
  // powered off (generation 2); a report of generation 1 (before the agent applied it) is recorded, never acted on
  const off = run(running, on('PowerOffXNode', 'xn_1'));
  host.given(off).when(observed('xn_1', 'failed', 1)).then((events) => {
    assert.equal(types(events), ['XNodeObserved']);
    assert.equal([(events[0].data as { drift: boolean }).drift, (events[0].data as { state: string }).state], [true, 'stopped']);
  });
  // generation 2 seen running although the ledger says stopped: drift for the agent to correct, state unchanged
  host.given(off).when(observed('xn_1', 'running', 2)).then((events) => {
    assert.equal(types(events), ['XNodeObserved']);
    assert.is((events[0].data as { drift: boolean }).drift, true);
  });
  host.given(off).when(observed('xn_1', 'stopped', 2)).then((events) => assert.is((events[0].data as { drift: boolean }).drift, false));
  // hibernated slice seen running under its own generation: drift, the ledger does not grant CPU it did not reserve
  const hib = run(running, on('HibernateXNode', 'xn_1'));
  host.given(hib).when(observed('xn_1', 'running', 2)).then((events) => {
    assert.equal(types(events), ['XNodeObserved']);
    assert.is((events[0].data as { drift: boolean }).drift, true);
  });
  host.given(hib).when(observed('xn_1', 'failed', 2)).then((events) => {
    assert.equal(types(events), ['XNodeObserved'], 'a hibernated slice never fails into a reservation it gave back');
    assert.is((events[0].data as { drift: boolean }).drift, true);
  });
  const failed = run(running, observed('xn_1', 'failed', 1));
  assert.equal(stateOf(failed).used, stateOf(running).used, 'a failed slice keeps its reservation');
  host.given(failed).when(on('PowerOnXNode', 'xn_1')).then((e) => assert.equal([e[0].type, (e[0].data as { from: string }).from], ['XNodePoweredOn', 'failed']));
  host.given(vm).when(observed('xn_x', 'running', 1)).thenThrows('XNODE_NOT_FOUND');
});

test('CopyFrom: at slicing or on a stopped slice; the slice is busy until the agent reports', () => {
  host.given(vm).when(slice('xn_1', small, { copyFrom: { kind: 'image', imageId: 'i_deb12', checkpointId: 'v1' } })).then((events) => {
    valid(events);
    assert.equal(types(events), ['XNodeSliced', 'XNodeCopyStarted']);
    assert.equal((events[1].data as { copyId: string; generation: number }).copyId, 'c1');
  });
  host.given(vm).when(slice('xn_1', small, { copyFrom: { kind: 'xnode', xnodeId: 'xn_1', hostId: H } })).thenThrows('COPY_FROM_SELF');
  const running = run(vm, slice('xn_1', small), observed('xn_1', 'running', 1));
  const src = { kind: 'xnode', xnodeId: 'xn_9', hostId: 'h_vm2' };
  host.given(running).when(on('CopyXNodeFrom', 'xn_1', { source: src })).thenThrows('XNODE_MUST_BE_STOPPED');
  const copying = run(running, on('PowerOffXNode', 'xn_1'), on('CopyXNodeFrom', 'xn_1', { source: src }));
  host.given(copying).when(on('PowerOnXNode', 'xn_1')).thenThrows('XNODE_BUSY', 'c1');
  host.given(copying).when(on('CopyXNodeFrom', 'xn_1', { source: src })).thenThrows('XNODE_BUSY');
  host.given(copying).when(on('ReportXNodeCopy', 'xn_1', { copyId: 'c7', outcome: 'completed' })).thenThrows('COPY_NOT_FOUND');
  const done = run(copying, on('ReportXNodeCopy', 'xn_1', { copyId: 'c1', outcome: 'completed' }));
  assert.is(last(done).type, 'XNodeCopyCompleted');
  host.given(done).when(on('ReportXNodeCopy', 'xn_1', { copyId: 'c1', outcome: 'completed' })).thenNothing();
  host.given(done).when(on('PowerOnXNode', 'xn_1')).then((e) => assert.is(e[0].type, 'XNodePoweredOn'));
  host.given(copying).when(on('ReportXNodeCopy', 'xn_1', { copyId: 'c1', outcome: 'failed', message: 'source unreachable' }))
    .then((e) => assert.equal([e[0].type, (e[0].data as { message: string }).message], ['XNodeCopyFailed', 'source unreachable']));
  valid(done);
});

test('resize: only stopped or provisioning slices, within capacity, disk never shrinks', () => {
  const running = run(vm, slice('xn_1', small), observed('xn_1', 'running', 1));
  host.given(running).when(on('ResizeXNode', 'xn_1', { size: { ...small, cpuCores: 8 } })).thenThrows('XNODE_MUST_BE_STOPPED');
  const stopped = run(running, on('PowerOffXNode', 'xn_1'), slice('xn_2', { cpuCores: 114, ramMiB: 1_024, diskGiB: 10 }));
  host.given(stopped).when(on('ResizeXNode', 'xn_1', { size: { ...small, cpuCores: 10 } })).thenThrows('INSUFFICIENT_CAPACITY', 'cpuCores requested 6, free 2');
  host.given(stopped).when(on('ResizeXNode', 'xn_1', { size: { ...small, cpuCores: 6 } })).then((events) => {
    valid(events);
    const d = events[0].data as { size: Resources; previousSize: Resources };
    assert.equal([d.previousSize.cpuCores, d.size.cpuCores], [4, 6]);
  });
  host.given(stopped).when(on('ResizeXNode', 'xn_1', { size: { ...small, diskGiB: 10 } })).thenThrows('DISK_SHRINK_NOT_ALLOWED');
  host.given(stopped).when(on('ResizeXNode', 'xn_1', { size: small })).thenNothing();
  // shrinking CPU is allowed on a draining host
  host.given(run(stopped, { type: 'DrainHost', data: { hostId: H } })).when(on('ResizeXNode', 'xn_1', { size: { ...small, cpuCores: 2 } })).then((e) => assert.is(e.length, 1));
});

test('capacity adjustments cannot go below what slices consume', () => {
  const used = run(vm, slice('xn_1', { cpuCores: 100, ramMiB: 1_024, diskGiB: 10 }));
  host.given(used).when({ type: 'AdjustHostCapacity', data: { hostId: H, allocationRatios: { cpuCores: 2 } } }).thenThrows('CAPACITY_BELOW_USAGE', 'cpuCores capacity 60');
  host.given(used).when({ type: 'AdjustHostCapacity', data: { hostId: H, allocationRatios: { cpuCores: 4 } } }).thenNothing();
  host.given(used).when({ type: 'AdjustHostCapacity', data: { hostId: H, resources: { ...VM_RESOURCES, ramMiB: 262_144 } } }).then((events) => {
    valid(events);
    const d = events[0].data as { capacity: Resources; previousCapacity: Resources };
    assert.equal([d.previousCapacity.ramMiB, d.capacity.ramMiB], [184_320, 380_928]);
  });
});

test('decide and evolve never change a state in place', () => {
  const deepFreeze = <T>(o: T): T => { if (o && typeof o === 'object') { Object.freeze(o); for (const v of Object.values(o)) deepFreeze(v); } return o; };
  const base = run(vm, slice('xn_1', small, { ha: { componentId: 'c_x', replica: 1, epoch: 1 } }), observed('xn_1', 'running', 1));
  const state = deepFreeze(stateOf(base));
  const commands: HostCommand[] = [
    on('PowerOffXNode', 'xn_1'), on('HibernateXNode', 'xn_1'), on('FenceXNode', 'xn_1', { epoch: 2 }), on('ReleaseXNode', 'xn_1'),
    slice('xn_2', small), slice('xn_3', small, { ha: { componentId: 'c_x', replica: 1, epoch: 2 } }), observed('xn_1', 'failed', 1),
    { type: 'RetireHost', data: { hostId: H, force: true } }, { type: 'MarkHostUnreachable', data: { hostId: H, missedBeats: 3 } },
  ];
  for (const c of commands) {
    let s = state;
    for (const e of hostDecider.decide(c, s)) s = hostDecider.evolve(s, e);
    assert.ok(s !== state);
  }
});

test('invariant under a long random sequence: Σ consumption ≤ capacity after every event, and `used` is exact', () => {
  let seed = 42; // mulberry32: a small deterministic generator
  const rnd = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) / 4_294_967_296 * n) | 0;
  };
  let state = stateOf(vm);
  const kinds: HostCommand['type'][] = ['PowerOffXNode', 'PowerOnXNode', 'HibernateXNode', 'ActivateXNode', 'ReleaseXNode', 'ReportXNodeObserved', 'ReportXNodeObserved', 'ResizeXNode'];
  let accepted = 0; let refused = 0; let next = 0;
  const codes = new Set<string>();
  for (let i = 0; i < 3_000; i++) {
    const live = Object.values(state.slices).filter((s) => s.state !== 'released').map((s) => s.xnodeId);
    const fresh = live.length === 0 || rnd(3) === 0;
    const id = fresh ? `xn_${next++}` : live[rnd(live.length)];
    const type = fresh ? 'SliceXNode' : kinds[rnd(kinds.length)];
    const size = { cpuCores: 1 + rnd(16), ramMiB: 1_024 * (1 + rnd(24)), diskGiB: 5 * (1 + rnd(20)), diskIops: rnd(3) * 5_000 };
    const cmd = (type === 'SliceXNode' ? slice(id, size) : type === 'ResizeXNode' ? on(type, id, { size })
      : type === 'ReportXNodeObserved' ? observed(id, ['running', 'running', 'stopped', 'failed'][rnd(4)], state.slices[id]?.generation ?? 1) : on(type, id)) as HostCommand;
    try {
      for (const e of hostDecider.decide(cmd, state)) {
        state = hostDecider.evolve(state, e);
        const sum = Object.values(state.slices).reduce((acc, s) => add(acc, consumption(s.kind, s.size, s.state)), ZERO);
        assert.equal(state.used, sum);
        for (const k of RESOURCE_KEYS) assert.ok(sum[k] <= state.capacity[k], `${k} overcommitted after ${e.type}`);
      }
      accepted++;
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      refused++;
      codes.add(e.code);
    }
  }
  assert.ok(accepted > 1_000 && refused > 300, `accepted ${accepted}, refused ${refused}`);
  assert.ok(codes.has('INSUFFICIENT_CAPACITY'), [...codes].join());
  assert.ok(RESOURCE_KEYS.every((k) => freeOf(state)[k] >= 0));
});

test('evolveInPlace on an owned state ends where the pure evolve does, and the pure evolve changes nothing it was given', () => {
  const ha = (replica: number, epoch: number) => ({ ha: { componentId: 'c_db', replica, epoch } });
  const events = run(vm,
    slice('xn_a', small, ha(0, 1)), observed('xn_a', 'running', 1), slice('xn_b', small, ha(1, 1)), slice('xn_c', small),
    on('CopyXNodeFrom', 'xn_c', { source: { kind: 'image', imageId: 'i_deb12' } }), on('ReportXNodeCopy', 'xn_c', { copyId: 'c1', outcome: 'completed' }),
    slice('xn_a2', small, ha(0, 2)), observed('xn_b', 'running', 1), on('HibernateXNode', 'xn_b'), on('ReleaseXNode', 'xn_a'),
    { type: 'DrainHost', data: { hostId: H } } as HostCommand, { type: 'MarkHostUnreachable', data: { hostId: H, missedBeats: 3 } } as HostCommand);
  assert.ok(events.some((e) => e.type === 'XNodeFenced'), 'the newer epoch fenced the older slice');
  const snapshots: string[] = [];
  let pure = hostDecider.initialState();
  const before = JSON.stringify(pure);
  for (const e of events) {
    const prev = pure;
    snapshots.push(JSON.stringify(prev));
    pure = hostDecider.evolve(prev, e);
    assert.is(JSON.stringify(prev), snapshots[snapshots.length - 1], `evolve(${e.type}) changed its input`);
  }
  assert.is(JSON.stringify(hostDecider.initialState()), before);
  let owned = ownedHostState(hostDecider.initialState());
  for (const e of events) owned = evolveInPlace(owned, e);
  assert.equal(owned, pure);
  assert.is(owned.epochs['c_db/0'], 2);
  // an owned copy is independent of the state it was taken from
  const copy = ownedHostState(pure);
  evolveInPlace(copy, { type: 'HostRetired', data: { hostId: H, zoneId: 'z_a', regionId: 'r_eu', from: 'unreachable', forced: false, releasedXNodeIds: [] } });
  evolveInPlace(copy, run(events.slice(0, -2), slice('xn_z', small)).at(-1)!);
  assert.is(pure.retired, false);
  assert.is(pure.slices.xn_z, undefined);
});

test.run();
