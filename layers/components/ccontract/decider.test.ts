import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fold } from '../../../core/decider.ts';
import { spec } from '../../../core/spec.ts';
import { validateEvent } from '../../../schema/registry.ts';
import type { CContractCommand } from './commands.ts';
import { ccontractDecider, derivedStatus, type CContractState } from './decider.ts';
import type { CContractEvent } from './events.ts';
import { decision, needs, reasons, SIZE } from './fixtures.ts';

const cc = spec(ccontractDecider);
const C = 'c_db1';
const T0 = '2026-01-01T00:00:00.000Z';
const valid = (events: CContractEvent[]) => { for (const e of events) validateEvent(e.type, e.data); return events; };
/** Runs commands from `given`, returning every event (throws on the first refusal). */
function run(given: CContractEvent[], ...commands: CContractCommand[]): CContractEvent[] {
  const events = [...given];
  let s = fold<CContractState, CContractEvent>(ccontractDecider, given);
  for (const c of commands) {
    const out = valid(ccontractDecider.decide(c, s));
    for (const e of out) s = ccontractDecider.evolve(s, e);
    events.push(...out);
  }
  return events;
}
const stateOf = (events: CContractEvent[]) => fold<CContractState, CContractEvent>(ccontractDecider, events);
const request = (extra = {}): CContractCommand => ({ type: 'RequestComponent', data: needs(extra) });
const decide = (...ds: ReturnType<typeof decision>[]): CContractCommand => ({ type: 'DecidePlacement', data: { componentId: C, decisions: ds, reasons, schedulerId: 's1', decidedAt: T0 } });
const observe = (replica: number, state: string, epoch = 1): CContractCommand =>
  ({ type: 'ObserveReplica', data: { componentId: C, replica, epoch, hostId: `h_${replica}`, xnodeId: `xn_${replica}_${epoch}`, state } }) as CContractCommand;
const types = (events: CContractEvent[]) => events.map((e) => e.type);
const requested = run([], request());
const running = run(requested, decide(decision(0), decision(1), decision(2)), observe(0, 'running'), observe(1, 'running'), observe(2, 'running'));

test('request: needs with an estimate, three pending slots at epoch 1; same request again does nothing', () => {
  cc.given([]).when(request()).then((events) => {
    valid(events);
    assert.equal(types(events), ['ComponentRequested']);
    assert.equal((events[0].data as { estimated: typeof SIZE }).estimated, { ...SIZE, cpuCores: 12, ramMiB: 24576, diskGiB: 240 });
  });
  const s = stateOf(requested);
  assert.is(s.status, 'requested');
  assert.equal(s.slots.map((x) => [x.epoch, x.state]), [[1, 'pending'], [1, 'pending'], [1, 'pending']]);
  cc.given(requested).when(request()).thenNothing();
  cc.given(requested).when(request({ replicas: 2 })).thenThrows('COMPONENT_EXISTS');
});

test('request: the scope must match the access; single-running types take exactly one replica', () => {
  cc.given([]).when(request({ regionId: undefined })).thenThrows('SCOPE_REQUIRED');
  cc.given([]).when(request({ access: 'Zone', regionId: undefined })).thenThrows('SCOPE_REQUIRED');
  cc.given([]).when(request({ access: 'Full' })).thenThrows('SCOPE_NOT_ALLOWED');
  cc.given([]).when(request({ writers: 4 })).thenThrows('INVALID_NEEDS');
  cc.given([]).when(request({ replicas: 2, type: { ...needs().type, singleRunning: true, name: 'cloud-host' } })).thenThrows('INVALID_NEEDS', 'exactly one');
});

test('placement: a decision claims pending slots; a second scheduler deciding the same epoch is refused', () => {
  cc.given(requested).when(decide(decision(0), decision(1), decision(2))).then((events) => {
    valid(events);
    // the lifecycle move is recorded in the decision itself (one event, not a decision and a status change)
    assert.equal(types(events), ['PlacementDecided']);
    assert.equal((events[0].data as { status?: unknown }).status, { from: 'requested', to: 'placing' });
  });
  assert.is(stateOf(run(requested, decide(decision(0)))).status, 'placing');
  // a further decision that moves nothing records no status
  cc.given(run(requested, decide(decision(0)))).when(decide(decision(1))).then((events) => {
    assert.equal(types(events), ['PlacementDecided']);
    assert.is((events[0].data as { status?: unknown }).status, undefined);
  });
  // a history written before (a decision, then its own ComponentStatusChanged) folds to the same state
  const now = run(requested, decide(decision(0), decision(1)));
  const before = [...requested, ...now.slice(requested.length).map((e) => (e.type === 'PlacementDecided' ? { ...e, data: { ...e.data, status: undefined } } : e)),
    { type: 'ComponentStatusChanged', data: { componentId: (now[0].data as { componentId: string }).componentId, from: 'requested', to: 'placing', reason: 'placing 2 replica(s)' } }] as typeof now;
  assert.equal(stateOf(before), stateOf(now));
  const placing = run(requested, decide(decision(0)));
  cc.given(placing).when(decide(decision(0, 1, 'h_other'))).thenThrows('SLOT_NOT_PENDING');
  cc.given(placing).when(decide(decision(1), decision(1))).thenThrows('INVALID_DECISION');
  cc.given(placing).when(decide(decision(5))).thenThrows('REPLICA_NOT_FOUND');
});

test('observations move slots; all running → running; stale epochs and other xnodes are ignored', () => {
  const s = stateOf(running);
  assert.is(s.status, 'running');
  assert.ok(s.wasRunning);
  cc.given(running).when(observe(0, 'running')).thenNothing();
  cc.given(running).when(observe(0, 'failed', 7)).thenNothing();
  cc.given(running).when({ type: 'ObserveReplica', data: { componentId: C, replica: 0, epoch: 1, hostId: 'h_0', xnodeId: 'xn_other', state: 'failed' } }).thenNothing();
});

test('failover: a lost replica moves to the next epoch, keeps its old slice to fence, waits for the lease; degraded', () => {
  const lost: CContractCommand = { type: 'ReportReplicaLost', data: { componentId: C, replica: 1, epoch: 1, hostId: 'h_1', xnodeId: 'xn_1_1', cause: 'host-unreachable', notBefore: '2026-01-01T00:00:20.000Z', lastSeenAt: T0, detectedAt: '2026-01-01T00:00:05.000Z' } };
  const after = run(running, lost);
  const s = stateOf(after);
  assert.is(s.status, 'degraded');
  assert.equal(s.slots[1], { ...s.slots[1], epoch: 2, state: 'pending', notBefore: '2026-01-01T00:00:20.000Z', old: [{ hostId: 'h_1', xnodeId: 'xn_1_1', epoch: 1, byEpoch: 2, fenced: false }] });
  cc.given(after).when(lost).thenNothing(); // reported again (another scheduler, a redelivery)
  cc.given(after).when({ type: 'DecidePlacement', data: { componentId: C, decisions: [decision(1, 2, 'h_9')], reasons, schedulerId: 's1', decidedAt: '2026-01-01T00:00:10.000Z' } }).thenThrows('TOO_EARLY');
  const expedited = run(after, { type: 'ExpediteReplacement', data: { componentId: C, replica: 1, epoch: 2, reason: 'h_1 powered off (ipmi)' } });
  assert.is(stateOf(expedited).slots[1].notBefore, undefined);
  const replaced = run(expedited, { type: 'DecidePlacement', data: { componentId: C, decisions: [decision(1, 2, 'h_9')], reasons, schedulerId: 's1', decidedAt: '2026-01-01T00:00:10.000Z' } },
    { type: 'RecordOldReplicaFenced', data: { componentId: C, replica: 1, hostId: 'h_1', xnodeId: 'xn_1_1' } },
    { type: 'ObserveReplica', data: { componentId: C, replica: 1, epoch: 2, hostId: 'h_9', xnodeId: 'xn_1_2', state: 'running' } },
    { type: 'RecordOldReplicaReleased', data: { componentId: C, replica: 1, hostId: 'h_1', xnodeId: 'xn_1_1' } });
  const r = stateOf(replaced);
  assert.is(r.status, 'running');
  assert.equal(r.slots[1].old, []);
  assert.ok(types(replaced).includes('OldReplicaFenced'));
});

test('a refused slice sends the slot back to pending at the next epoch; no capacity → degraded once per reason', () => {
  const placing = run(requested, decide(decision(0)));
  const failed = run(placing, { type: 'FailPlacement', data: { componentId: C, replica: 0, epoch: 1, hostId: 'h_0', xnodeId: 'xn_0_1', code: 'INSUFFICIENT_CAPACITY', message: 'full' } });
  assert.equal([stateOf(failed).slots[0].epoch, stateOf(failed).slots[0].state], [2, 'pending']);
  cc.given(failed).when({ type: 'FailPlacement', data: { componentId: C, replica: 0, epoch: 1, hostId: 'h_0', xnodeId: 'xn_0_1', code: 'X', message: 'again' } }).thenNothing();
  const defer: CContractCommand = { type: 'DeferPlacement', data: { componentId: C, replicas: [0, 1, 2], code: 'NO_CAPACITY', message: 'no host', candidates: 3, filtered: { 'no-capacity': 3 } } };
  const deferred = run(failed, defer);
  assert.is(stateOf(deferred).status, 'degraded');
  cc.given(deferred).when(defer).thenNothing();
  assert.is(derivedStatus(stateOf(run(deferred, { type: 'DecidePlacement', data: { componentId: C, decisions: [decision(0, 2), decision(1), decision(2)], reasons, schedulerId: 's', decidedAt: T0 } }))), 'placing');
});

test('power and resize: resize only when off; power requests are sequenced', () => {
  cc.given(running).when({ type: 'RequestResize', data: { componentId: C, size: { ...SIZE, cpuCores: 8 } } }).thenThrows('COMPONENT_MUST_BE_STOPPED');
  const off = run(running, { type: 'RequestPower', data: { componentId: C, action: 'off' } });
  assert.equal(stateOf(off).power, 'off');
  assert.is(stateOf(off).status, 'placing'); // replicas not yet stopped
  cc.given(off).when({ type: 'RequestPower', data: { componentId: C, action: 'off' } }).thenNothing();
  cc.given(off).when({ type: 'RequestPower', data: { componentId: C, action: 'activate' } }).thenThrows('NOT_HIBERNATED');
  cc.given(off).when({ type: 'RequestResize', data: { componentId: C, size: { ...SIZE, diskGiB: 10 } } }).thenThrows('DISK_SHRINK_NOT_ALLOWED');
  const resized = run(off, { type: 'RequestResize', data: { componentId: C, size: { ...SIZE, cpuCores: 8 }, sizeName: 'enhanced' } });
  assert.is(stateOf(resized).size.cpuCores, 8);
  assert.is(stateOf(resized).estimated.cpuCores, 24);
  const stopped = run(off, observe(0, 'stopped'), observe(1, 'stopped'), observe(2, 'stopped'));
  assert.is(stateOf(stopped).status, 'running');
});

test('release: releasing → each replica released → released; later reports are ignored', () => {
  const releasing = run(running, { type: 'RequestRelease', data: { componentId: C } });
  assert.is(stateOf(releasing).status, 'releasing');
  cc.given(releasing).when({ type: 'RequestPower', data: { componentId: C, action: 'off' } }).thenThrows('COMPONENT_RELEASED');
  cc.given(releasing).when({ type: 'ReportReplicaLost', data: { componentId: C, replica: 0, epoch: 1, hostId: 'h_0', xnodeId: 'xn_0_1', cause: 'host-unreachable', detectedAt: T0 } }).thenNothing();
  const done = run(releasing, ...[0, 1, 2].map((replica): CContractCommand => ({ type: 'RecordReplicaReleased', data: { componentId: C, replica, epoch: 1 } })));
  assert.equal(types(done).slice(-3), ['ReplicaReleased', 'ComponentReleased', 'ComponentStatusChanged']);
  assert.is(stateOf(done).status, 'released');
  cc.given(done).when({ type: 'RequestRelease', data: { componentId: C } }).thenNothing();
});

test('a Flat instance is running as soon as it is carved, and released at once', () => {
  const flat = needs({ componentId: C, type: { ...needs().type, distribution: 'Flat', typeId: 'ct_object_store', name: 'object-store' }, flatPool: 'c_pool_object_store', replicas: 3 });
  const events = run([], { type: 'RequestComponent', data: flat });
  assert.equal(types(events), ['ComponentRequested', 'ComponentStatusChanged']);
  assert.is(stateOf(events).status, 'running');
  const released = run(events, { type: 'RequestRelease', data: { componentId: C } });
  assert.is(stateOf(released).status, 'released');
});

test.run();
