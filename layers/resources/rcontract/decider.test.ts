import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spec } from '../../../core/spec.ts';
import { books, rcontractDecider } from './decider.ts';
import type { RContractEvent } from './events.ts';
import { C, failed, open, released, reserved, run, stateOf } from './fixtures.ts';

const rc = spec(rcontractDecider);
const opened = run([], open);
const types = (e: RContractEvent[]) => e.map((x) => x.type);

test('open: items get their slice ids and requested amounts; the contract is opening', () => {
  rc.given([]).when(open).then((events) => {
    assert.is(events.length, 1);
    const d = events[0].data as Extract<RContractEvent, { type: 'RContractOpened' }>['data'];
    assert.equal(d.items.map((i) => [i.kind, i.index]), [['compute', 0], ['network', 1], ['image', 2]]);
    assert.equal(d.items.map((i) => (i.kind === 'compute' ? i.xnodeId : i.kind === 'network' ? i.xnetworkId : i.ximageId)), ['xn_web1_0', 'xnet_web1_1', 'xi_web1_2']);
    assert.equal(d.requested, [
      { cpuCores: 4, cpuMHz: 0, ramMiB: 8_192, diskGiB: 50, diskIops: 0 }, { bandwidthMbps: 500, publicIps: 1 }, { checkpoints: 5, checkpointGiB: 200 },
    ]);
  });
  assert.is(stateOf(opened).status, 'opening');
  rc.given(opened).when(open).thenNothing();
  const dup = { ...open, data: { ...open.data, items: [{ kind: 'compute', hostId: 'h_1', xnodeId: 'xn_a', size: { cpuCores: 1, ramMiB: 1, diskGiB: 1 } }, { kind: 'compute', hostId: 'h_2', xnodeId: 'xn_a', size: { cpuCores: 1, ramMiB: 1, diskGiB: 1 } }] } };
  rc.given([]).when(dup as typeof open).thenThrows('DUPLICATE_SLICE_ID', 'xn_a');
  rc.given([]).when({ ...open, data: { ...open.data, items: [{ kind: 'network', networkId: 'n_1', cidr: '10.0.0.0/24', bandwidthMbps: 1, publicIps: 2 }] } } as typeof open).thenThrows('XNETWORK_NOT_PUBLIC');
});

test('all items reserved → confirmed, with the reserved totals', () => {
  const two = run(opened, reserved(0, 'xn_web1_0', { cpuCores: 4, ramMiB: 8_192, diskGiB: 50 }), reserved(1, 'xnet_web1_1', { bandwidthMbps: 500, publicIps: 1 }));
  assert.is(stateOf(two).status, 'opening');
  rc.given(two).when(reserved(2, 'xi_web1_2', { checkpoints: 5, checkpointGiB: 200 })).then((events) => {
    assert.equal(types(events), ['RContractItemReserved', 'RContractConfirmed']);
    assert.equal((events[1].data as { reserved: unknown }).reserved, { cpuCores: 4, ramMiB: 8_192, diskGiB: 50, bandwidthMbps: 500, publicIps: 1, checkpoints: 5, checkpointGiB: 200 });
  });
  rc.given(two).when(reserved(1, 'xnet_web1_1')).thenNothing();
  rc.given(two).when(reserved(1, 'xnet_other')).thenThrows('ITEM_SLICE_MISMATCH');
  rc.given(two).when(reserved(7, 'x')).thenThrows('ITEM_NOT_FOUND');
  const active = run(two, reserved(2, 'xi_web1_2'));
  assert.equal(stateOf(active).items.map((i) => i.status), ['confirmed', 'confirmed', 'confirmed']);
});

test('any item failing fails the contract; it is compensated once nothing is held', () => {
  const one = run(opened, reserved(0, 'xn_web1_0'));
  rc.given(one).when(failed(1, 'xnet_web1_1', 'IP_POOL_EXHAUSTED')).then((events) => {
    assert.equal(types(events), ['RContractItemFailed', 'RContractFailed']);
    assert.match((events[1].data as { message: string }).message, /item 1 \(xnet_web1_1\) failed: IP_POOL_EXHAUSTED/);
  });
  const f = run(one, failed(1, 'xnet_web1_1'));
  assert.is(stateOf(f).status, 'failed');
  // item 2 was in flight: it gets reserved after the failure (to be given back), then released
  const late = run(f, reserved(2, 'xi_web1_2'));
  assert.is(stateOf(late).status, 'failed');
  const back = run(late, released(0, 'xn_web1_0'));
  rc.given(back).when(released(2, 'xi_web1_2')).then((events) => assert.equal(types(events), ['RContractItemReleased', 'RContractCompensated']));
  // a second failure does not fail the contract twice
  rc.given(run(f, reserved(2, 'xi_web1_2'))).when(failed(2, 'xi_web1_2')).thenNothing();
  const allFailed = run(opened, failed(0, 'xn_web1_0'), failed(1, 'xnet_web1_1'));
  rc.given(allFailed).when(failed(2, 'xi_web1_2')).then((events) => assert.equal(types(events), ['RContractItemFailed', 'RContractCompensated']));
});

test('terminate: releases every item, then terminated; cancelling an opening contract fails it', () => {
  const active = run(opened, reserved(0, 'xn_web1_0'), reserved(1, 'xnet_web1_1'), reserved(2, 'xi_web1_2'));
  rc.given(active).when({ type: 'TerminateRContract', data: { contractId: C, reason: 'tenant left' } })
    .then([{ type: 'RContractTerminationRequested', data: { contractId: C, reason: 'tenant left' } }]);
  const ending = run(active, { type: 'TerminateRContract', data: { contractId: C } }, released(0, 'xn_web1_0'), released(1, 'xnet_web1_1'));
  rc.given(ending).when(released(2, 'xi_web1_2')).then((events) => assert.equal(types(events), ['RContractItemReleased', 'RContractTerminated']));
  rc.given(ending).when({ type: 'TerminateRContract', data: { contractId: C } }).thenNothing();
  rc.given(opened).when({ type: 'TerminateRContract', data: { contractId: C } }).then((events) => {
    assert.equal(types(events), ['RContractFailed']);
    assert.is((events[0].data as { code: string }).code, 'CANCELLED');
  });
  rc.given([]).when({ type: 'TerminateRContract', data: { contractId: C } }).thenThrows('RCONTRACT_NOT_FOUND');
});

test('an item lost with its host is released while the contract stays active', () => {
  const active = run(opened, reserved(0, 'xn_web1_0'), reserved(1, 'xnet_web1_1'), reserved(2, 'xi_web1_2'));
  const lost = run(active, { type: 'RecordRContractItemReleased', data: { contractId: C, index: 0, sliceId: 'xn_web1_0', reason: 'host h_vm1 retired' } });
  assert.equal([stateOf(lost).status, stateOf(lost).items[0].status], ['active', 'released']);
});

test('a compute item follows its slice when moved', () => {
  const active = run(opened, reserved(0, 'xn_web1_0'), reserved(1, 'xnet_web1_1'), reserved(2, 'xi_web1_2'));
  const moved = run(active, { type: 'MoveRContractItem', data: { contractId: C, index: 0, to: { xnodeId: 'xn_new', hostId: 'h_vm2' } } });
  const it = stateOf(moved).items[0];
  assert.equal([it.sliceId, it.item.kind === 'compute' && it.item.hostId], ['xn_new', 'h_vm2']);
  rc.given(moved).when(released(0, 'xn_web1_0')).thenThrows('ITEM_SLICE_MISMATCH'); // the old slice no longer belongs to the item
  rc.given(active).when({ type: 'MoveRContractItem', data: { contractId: C, index: 1, to: { xnodeId: 'xn_new', hostId: 'h_vm2' } } }).thenThrows('ITEM_NOT_COMPUTE');
  rc.given(opened).when({ type: 'MoveRContractItem', data: { contractId: C, index: 0, to: { xnodeId: 'xn_new', hostId: 'h_vm2' } } }).thenThrows('ITEM_NOT_ACTIVE');
});

test('usage: half-open windows per item never overlap; reserved vs actual', () => {
  const active = run(opened, reserved(0, 'xn_web1_0', { cpuCores: 4, ramMiB: 8_192 }), reserved(1, 'xnet_web1_1'), reserved(2, 'xi_web1_2'));
  const usage = (from: string, to: string, u: Record<string, number>) => ({ type: 'RecordRContractUsage', data: { contractId: C, index: 0, sliceId: 'xn_web1_0', from, to, usage: u } }) as const;
  const one = run(active, usage('2025-01-01T00:00:00Z', '2025-01-01T01:00:00Z', { cpuCores: 2 }), usage('2025-01-01T01:00:00Z', '2025-01-01T02:00:00Z', { cpuCores: 3 }));
  assert.equal(books(stateOf(one))[0], { index: 0, sliceId: 'xn_web1_0', status: 'confirmed', reserved: { cpuCores: 4, ramMiB: 8_192 }, usage: { cpuCores: 5 } });
  rc.given(one).when(usage('2025-01-01T01:30:00Z', '2025-01-01T03:00:00Z', { cpuCores: 1 })).thenThrows('USAGE_OVERLAP', '02:00:00Z');
  rc.given(one).when(usage('2025-01-01T01:00:00Z', '2025-01-01T02:00:00Z', { cpuCores: 3 })).thenNothing();
  rc.given(one).when(usage('2025-01-01T05:00:00Z', '2025-01-01T05:00:00Z', {})).thenThrows('USAGE_WINDOW_INVALID');
  rc.given(run([], open)).when(usage('2025-01-01T00:00:00Z', '2025-01-01T01:00:00Z', {})).thenThrows('ITEM_NEVER_RESERVED');
});

test.run();
