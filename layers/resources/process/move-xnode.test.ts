import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DomainError } from '../../../core/decider.ts';
import { stream } from '../common/ids.ts';
import type { HostState } from '../host/decider.ts';
import type { RContractState } from '../rcontract/decider.ts';
import { isFinished, reactMove, startMove, type MoveRequest, type MoveState } from './move-xnode.ts';
import { Simulation, type Stored } from './simulation.ts';
import type { OutgoingCommand, ProcessEvent } from './types.ts';

const op = (s: string, type: string, data: Record<string, unknown>, id = `${type}_${s}_${JSON.stringify(data).length}`): OutgoingCommand =>
  ({ stream: s, command: { type, data }, commandId: id, causationId: id, correlationId: id });
const SIZE = { cpuCores: 4, cpuMHz: 0, ramMiB: 8_192, diskGiB: 80, diskIops: 0 };
const C = 'rc_app';

/** Source host in r_eu/z_a holding xn_app (of contract rc_app, item 0); target host in another region. */
function world(sim: Simulation, opts: { targetCores?: number; sourceRunning?: boolean } = {}) {
  const host = (hostId: string, zoneId: string, regionId: string, cpuCores: number) => sim.dispatch(op(stream.host(hostId), 'RegisterHost', {
    hostId, zoneId, regionId, name: hostId, type: 'VM', area: `${zoneId}/r1`, resources: { cpuCores, cpuMHz: 0, ramMiB: 65_536, diskGiB: 1_000, diskIops: 0 },
  }));
  host('h_src', 'z_a', 'r_eu', 16);
  host('h_dst', 'z_b', 'r_us', opts.targetCores ?? 16);
  sim.dispatch(op(stream.rcontract(C), 'OpenRContract', { contractId: C, items: [{ kind: 'compute', hostId: 'h_src', xnodeId: 'xn_app', size: { cpuCores: 4, ramMiB: 8_192, diskGiB: 80 } }] }));
  sim.dispatch(op(stream.host('h_src'), 'SliceXNode', { hostId: 'h_src', xnodeId: 'xn_app', size: { cpuCores: 4, ramMiB: 8_192, diskGiB: 80 }, contractId: C }));
  sim.dispatch(op(stream.rcontract(C), 'RecordRContractItemReserved', { contractId: C, index: 0, sliceId: 'xn_app', reserved: SIZE }));
  sim.dispatch(op(stream.host('h_src'), 'ReportXNodeObserved', { hostId: 'h_src', xnodeId: 'xn_app', observed: 'running', generation: 1, observedAt: '2025-01-01T00:00:00Z' }));
  if (opts.sourceRunning === false) sim.dispatch(op(stream.host('h_src'), 'PowerOffXNode', { hostId: 'h_src', xnodeId: 'xn_app' }));
}

const request = (over: Partial<MoveRequest> = {}): MoveRequest => ({
  moveId: 'mv1', mode: 'move',
  source: { hostId: 'h_src', xnodeId: 'xn_app', kind: 'VNode', state: 'running', size: SIZE, contractId: C },
  target: { hostId: 'h_dst', xnodeId: 'xn_app2' }, contract: { contractId: C, index: 0 }, ...over,
});
const trigger: ProcessEvent = { type: 'MoveRequested', data: {}, metadata: { eventId: 'ev_move_request' } };

/** The host agents, simulated: finish copies (or fail them) and boot provisioned slices (or fail them). */
const agent = (outcome: { copy?: 'completed' | 'failed'; boot?: 'running' | 'failed' }) => (e: ProcessEvent): OutgoingCommand[] => {
  const d = e.data;
  if (e.type === 'XNodeCopyStarted') return [op(stream.host(d.hostId), 'ReportXNodeCopy', { hostId: d.hostId, xnodeId: d.xnodeId, copyId: d.copyId, outcome: outcome.copy ?? 'completed', ...(outcome.copy === 'failed' && { message: 'source disk unreadable' }) }, `agent_${e.metadata.eventId}`)];
  if (e.type === 'XNodeCopyCompleted') return [op(stream.host(d.hostId), 'ReportXNodeObserved', { hostId: d.hostId, xnodeId: d.xnodeId, observed: outcome.boot ?? 'running', generation: d.generation, observedAt: '2025-01-01T01:00:00Z' }, `agent_${e.metadata.eventId}`)];
  return [];
};

function runMove(sim: Simulation, req: MoveRequest, outcome: Parameters<typeof agent>[0] = {}): MoveState {
  const started = startMove(req, trigger);
  let state = started.state;
  for (const c of started.commands) sim.dispatch(c);
  const agents = agent(outcome);
  sim.run((e) => {
    const step = reactMove(e, state);
    state = step.state;
    return [...agents(e), ...step.commands];
  });
  return state;
}
const seq = (e: Stored | undefined) => Number(e?.metadata.eventId.slice(3) ?? Infinity);
const find = (sim: Simulation, host: string, type: string, xnodeId: string) => sim.streams.get(stream.host(host))!.find((e) => e.type === type && e.data.xnodeId === xnodeId);

test('move a running slice across regions: reserve on the target, stop, copy, boot, rebind the contract, release the source', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const sim = new Simulation(seed, seed % 2 === 0, seed % 3 === 0);
    world(sim);
    const st = runMove(sim, request());
    assert.is(st.phase, 'done', `seed ${seed}: ${st.phase} ${JSON.stringify(st.failure)}`);
    const src = sim.state<HostState>(stream.host('h_src'));
    const dst = sim.state<HostState>(stream.host('h_dst'));
    assert.is(src.slices.xn_app.state, 'released');
    assert.equal([dst.slices.xn_app2.state, dst.slices.xn_app2.contractId], ['running', C]);
    assert.is(src.used.cpuCores, 0);
    const rc = sim.state<RContractState>(stream.rcontract(C));
    assert.equal([rc.status, rc.items[0].sliceId, rc.items[0].status], ['active', 'xn_app2', 'confirmed']);
    // the target was reserved before the source stopped; the source stopped before the target booted
    assert.ok(seq(find(sim, 'h_dst', 'XNodeSliced', 'xn_app2')) < seq(find(sim, 'h_src', 'XNodePoweredOff', 'xn_app')));
    assert.ok(seq(find(sim, 'h_src', 'XNodePoweredOff', 'xn_app')) < seq(find(sim, 'h_dst', 'XNodeProvisioned', 'xn_app2')));
    // the contract pointed at the target before the source was released
    const moved = sim.streams.get(stream.rcontract(C))!.find((e) => e.type === 'RContractItemMoved');
    assert.ok(seq(moved) < seq(find(sim, 'h_src', 'XNodeReleased', 'xn_app')));
  }
});

test('move a stopped slice: the target ends stopped; no contract, no rebind', () => {
  const sim = new Simulation(4);
  world(sim, { sourceRunning: false });
  const st = runMove(sim, request({ source: { ...request().source, state: 'stopped', contractId: undefined }, contract: undefined }));
  assert.is(st.phase, 'done');
  assert.is(find(sim, 'h_src', 'XNodePoweredOff', 'xn_app')?.data.cause, 'command'); // from world(), not from the move
  assert.is(sim.state<HostState>(stream.host('h_dst')).slices.xn_app2.state, 'stopped');
  assert.is(sim.state<HostState>(stream.host('h_src')).slices.xn_app.state, 'released');
});

test('copy: the source is untouched, the copy runs beside it', () => {
  const sim = new Simulation(9);
  world(sim);
  const st = runMove(sim, request({ mode: 'copy', contract: undefined, target: { hostId: 'h_dst' } }));
  assert.is(st.phase, 'done');
  const src = sim.state<HostState>(stream.host('h_src'));
  assert.is(src.slices.xn_app.state, 'running');
  const dst = sim.state<HostState>(stream.host('h_dst'));
  const [copy] = Object.values(dst.slices);
  assert.equal([copy.state, copy.contractId, copy.xnodeId === st.request.target.xnodeId], ['running', undefined, true]);
  assert.match(copy.xnodeId, /^xn_[0-9a-f]{20}$/);
});

test('a full target refuses the reservation: the move fails and the source never stopped', () => {
  const sim = new Simulation(2);
  world(sim, { targetCores: 2 });
  const st = runMove(sim, request());
  assert.equal([st.phase, st.failure?.code], ['failed', 'INSUFFICIENT_CAPACITY']);
  assert.match(st.failure!.message, /cpuCores requested 4, free 2/);
  assert.is(sim.state<HostState>(stream.host('h_src')).slices.xn_app.state, 'running');
  assert.is(find(sim, 'h_src', 'XNodePoweredOff', 'xn_app'), undefined);
});

test('a failed copy or a target that does not boot rolls back: target released, source running again', () => {
  for (const outcome of [{ copy: 'failed' as const }, { boot: 'failed' as const }]) {
    for (let seed = 1; seed <= 15; seed++) {
      const sim = new Simulation(seed, seed % 2 === 0, seed % 3 === 0);
      world(sim);
      const st = runMove(sim, request(), outcome);
      assert.is(st.phase, 'rolled-back', `${JSON.stringify(outcome)} seed ${seed}`);
      assert.is(st.failure?.code, outcome.copy ? 'COPY_FAILED' : 'TARGET_FAILED');
      assert.is(sim.state<HostState>(stream.host('h_dst')).slices.xn_app2.state, 'released');
      assert.equal(sim.state<HostState>(stream.host('h_dst')).used.cpuCores, 0);
      assert.is(sim.state<HostState>(stream.host('h_src')).slices.xn_app.state, 'running');
      assert.equal(sim.state<RContractState>(stream.rcontract(C)).items[0].sliceId, 'xn_app');
    }
  }
});

test('the state machine is deterministic and ignores what is not its business', () => {
  const { state, commands } = startMove(request(), trigger);
  assert.equal(commands.map((c) => [c.stream, c.command.type, c.commandId, c.correlationId]), [['Host-h_dst', 'SliceXNode', 'ev_move_request:reserve-target', 'move_mv1']]);
  const sliced: ProcessEvent = { type: 'XNodeSliced', data: { hostId: 'h_dst', xnodeId: 'xn_app2' }, metadata: { eventId: 'ev_9' } };
  const a = reactMove(sliced, state);
  const b = reactMove(sliced, state);
  assert.equal(a, b);
  assert.equal(a.commands.map((c) => [c.command.type, c.command.data.xnodeId, c.commandId]), [['PowerOffXNode', 'xn_app', 'ev_9:stop-source']]);
  assert.equal(reactMove(sliced, a.state).commands, [], 'a duplicate in a later phase sends nothing');
  assert.equal(reactMove({ ...sliced, data: { hostId: 'h_dst', xnodeId: 'xn_other' } }, state).commands, []);
  assert.not.ok(isFinished(a.state));
});

test('moves that make no sense are refused up front', () => {
  const refuse = (req: MoveRequest, code: string) => {
    try { startMove(req, trigger); assert.unreachable(); } catch (e) { assert.instance(e, DomainError); assert.is((e as DomainError).code, code); }
  };
  refuse(request({ source: { ...request().source, state: 'hibernated' } }), 'MOVE_SOURCE_STATE');
  refuse(request({ source: { ...request().source, state: 'fenced' } }), 'MOVE_SOURCE_STATE');
  refuse(request({ target: { hostId: 'h_src' } }), 'MOVE_SAME_HOST');
  refuse(request({ contract: undefined }), 'MOVE_CONTRACT_REQUIRED');
});

test.run();
