/**
 * The host agent with the simulated driver against a real nats-server: ledger (SQLite store, NATS relay, command
 * gateway) and agent on separate NATS connections. Slices reach `running` from the agent's report, redelivered events
 * change nothing twice, bad reports are refused, an older epoch is refused, and an agent cut off from NATS stops its
 * HA slices by itself (then reports them stopped once NATS is back).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../layers/resources/index.ts';
import { hostDecider, type HostState } from '../layers/resources/host/decider.ts';
import { loadConfig } from '../core/config.ts';
import { openLedger, type Ledger } from '../core/ledger.ts';
import { connectNatsBus } from '../core/bus/nats.ts';
import type { Bus } from '../core/bus/port.ts';
import { SimDriver } from '../host-agent/drivers/sim.ts';
import { startAgent, type Agent } from '../host-agent/agent.ts';
import { startCommandGateway, reportSubject, type CommandGateway, type ReportReply } from '../host-agent/gateway.ts';
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts';

const guard = setTimeout(() => { console.error('agent-sim.test.ts: over 55 s, aborting'); process.exit(1); }, 55_000);
guard.unref();

const HOST = 'h_cm1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

let nats: NatsServerHandle;
let ledger: Ledger;
let gateway: CommandGateway;
let agentBus: Bus;
let agent: Agent;
let driver: SimDriver;
const dir = mkdtempSync(join(tmpdir(), 'ledger-agent-sim-'));
const stateDir = join(dir, 'agent');
const actor = { kind: 'operator' as const, id: 'test' };

const host = async (): Promise<HostState> => (await ledger.load(hostDecider, `Host-${HOST}`)).state;
const exec = (type: string, data: Record<string, unknown>) => ledger.execute(hostDecider, `Host-${HOST}`, { type, data } as never, { actor });
const sliceState = async (id: string) => (await host()).slices[id]?.state;
const size = { cpuCores: 1, ramMiB: 256, diskGiB: 2 };
const newAgent = () => startAgent({ hostId: HOST, driver, bus: agentBus, stateDir, defaultImage: { name: 'busybox', path: '/images/busybox', boot: 'overlay' }, heartbeatIntervalMs: 150, leaseMs: 1_000, requestTimeoutMs: 1_000, log: process.env.AGENT_LOG ? (l) => console.error(Date.now() % 100000, 'agent:', l) : () => {} });

test.before(async () => {
  nats = await startNatsServer();
  const config = loadConfig({ LEDGER_DATA_DIR: join(dir, 'data'), LEDGER_NATS_URL: nats.url } as NodeJS.ProcessEnv);
  ledger = await openLedger(config, { bus: true, relay: true, project: false, role: 'test' });
  gateway = await startCommandGateway(ledger, { log: process.env.AGENT_LOG ? (l) => console.error('gw:', l) : () => {} });
  agentBus = await connectNatsBus({ servers: nats.url, name: 'agent-test', log: () => {} });
  driver = new SimDriver({ hostId: HOST });
  await exec('RegisterHost', {
    hostId: HOST, zoneId: 'z_a', regionId: 'r_eu', name: 'cm one', type: 'CM', area: 'dc1/r1',
    resources: { cpuCores: 32, cpuMHz: 76_800, ramMiB: 131_072, diskGiB: 2_000, diskIops: 100_000 },
  });
  agent = await newAgent();
});

test.after(async () => {
  await agent?.close({ closeDriver: false }).catch(() => {});
  await agentBus?.close().catch(() => {});
  await gateway?.close().catch(() => {});
  await ledger?.close().catch(() => {});
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a sliced CNode reaches running from the agent\'s report; power off and on follow what the driver saw', async () => {
  await exec('SliceXNode', { hostId: HOST, xnodeId: 'xn_a', size });
  await until('xn_a running in the ledger', async () => (await sliceState('xn_a')) === 'running');
  assert.is(await driver.status('xn_a'), 'running');
  const s = (await host()).slices.xn_a!;
  assert.equal(s.observed?.state, 'running');
  await exec('PowerOffXNode', { hostId: HOST, xnodeId: 'xn_a' });
  await until('driver stopped xn_a', async () => (await driver.status('xn_a')) === 'stopped');
  await until('ledger observed stopped', async () => (await host()).slices.xn_a!.observed?.state === 'stopped');
  await exec('PowerOnXNode', { hostId: HOST, xnodeId: 'xn_a' });
  await until('xn_a running again', async () => (await driver.status('xn_a')) === 'running' && (await host()).slices.xn_a!.observed?.state === 'running');
  assert.is(agent.applied().xn_a!.generation, (await host()).slices.xn_a!.generation);
});

test('redelivered events change nothing twice (durable consumer reset, same state dir)', async () => {
  const before = { ...driver.calls };
  await agent.close({ closeDriver: false });
  assert.ok(await agentBus.deleteConsumer(`agent_${HOST}`));
  agent = await newAgent();
  await sleep(800); // every event of the host is delivered again
  assert.ok(agent.stats.skipped >= 4, `skipped ${agent.stats.skipped}`);
  assert.is(agent.stats.applied, 0);
  assert.equal(driver.calls, before);
  assert.is(await driver.status('xn_a'), 'running');
});

test('malformed and unauthorised reports are refused and never executed', async () => {
  const revision = (await ledger.load(hostDecider, `Host-${HOST}`)).revision;
  const ask = async (subject: string, payload: unknown) => (await agentBus.request(subject, payload, { timeoutMs: 3_000 })).json<ReportReply>();
  const other = await ask(reportSubject('h_other'), { type: 'ReportXNodeObserved', data: { hostId: HOST, xnodeId: 'xn_a', observed: 'stopped', generation: 99, observedAt: new Date().toISOString() } });
  assert.is(other.ok, false);
  assert.is(!other.ok && other.error.code, 'UNAUTHORISED');
  const bad = await ask(reportSubject(HOST), { type: 'PowerOffXNode', data: { hostId: HOST, xnodeId: 'xn_a' } });
  assert.is(!bad.ok && bad.error.code, 'MALFORMED');
  const junk = await ask(reportSubject(HOST), new TextEncoder().encode('{not json'));
  assert.is(!junk.ok && junk.error.code, 'MALFORMED');
  const wrongField = await ask(reportSubject(HOST), { type: 'ReportXNodeObserved', data: { hostId: HOST, xnodeId: 'xn_a', observed: 'exploded', generation: 1, observedAt: 'now' } });
  assert.is(!wrongField.ok && wrongField.error.code, 'MALFORMED');
  assert.ok(gateway.stats.refused >= 4);
  assert.is((await ledger.load(hostDecider, `Host-${HOST}`)).revision, revision, 'nothing appended');
  assert.is(await driver.status('xn_a'), 'running');
});

test('a report\'s cause is kept only when it is an event of the reporting host\'s stream with that correlation', async () => {
  const stream = `Host-${HOST}`;
  const g = (await host()).slices.xn_a.generation;
  assert.ok(g >= 3, `xn_a went through power off and on (generation ${g})`);
  const [latest] = await ledger.store.readStream(stream, { direction: 'backwards', maxCount: 1 });
  const real = { eventId: latest.metadata.eventId, correlationId: latest.metadata.correlationId! };
  const report = async (generation: number, observed: string, cause: { eventId: string; correlationId: string }) => {
    const reply = await (await agentBus.request(reportSubject(HOST), {
      type: 'ReportXNodeObserved', data: { hostId: HOST, xnodeId: 'xn_a', observed, generation, observedAt: new Date().toISOString() }, cause,
    }, { timeoutMs: 3_000 })).json<ReportReply>();
    assert.ok(reply.ok && reply.events.includes('XNodeObserved'), `recorded: ${JSON.stringify(reply)}`);
    const [e] = await ledger.store.readStream(stream, { direction: 'backwards', maxCount: 1 });
    assert.is(e.type, 'XNodeObserved');
    return e.metadata;
  };
  const dropped = gateway.stats.causesDropped;
  // older generations: recorded, never acted on
  const kept = await report(g - 1, 'stopped', real);
  assert.is(kept.causationId, real.eventId);
  assert.is(kept.correlationId, real.correlationId);
  const wrongCorrelation = await report(g - 2, 'stopped', { eventId: real.eventId, correlationId: '0190f5c2-7a4b-7cc3-9d55-2b8f0e7d9a11' });
  assert.is.not(wrongCorrelation.causationId, real.eventId);
  assert.is.not(wrongCorrelation.correlationId, real.correlationId);
  const invented = await report(g - 1, 'absent', { eventId: '0190f5c2-7a4b-7cc3-9d55-2b8f0e7d9a12', correlationId: real.correlationId });
  assert.is.not(invented.causationId, '0190f5c2-7a4b-7cc3-9d55-2b8f0e7d9a12');
  assert.is.not(invented.correlationId, real.correlationId, 'an invented cause does not join the conversation it names');
  assert.is(gateway.stats.causesDropped, dropped + 2);
  assert.is(await sliceState('xn_a'), 'running', 'observations of older generations change nothing');
});

test('an event carrying an older epoch than seen is refused; epochs are kept on disk', async () => {
  await exec('SliceXNode', { hostId: HOST, xnodeId: 'xn_ha', size, ha: { componentId: 'c_web', replica: 0, epoch: 3 } });
  await until('xn_ha running', async () => (await sliceState('xn_ha')) === 'running');
  const onDisk = JSON.parse(readFileSync(join(stateDir, 'agent-state.json'), 'utf8')) as { epochs: Record<string, number> };
  assert.is(onDisk.epochs['c_web/0'], 3);
  // a forged (or stale) event for another slice of the same replica under epoch 2, straight onto the bus
  await agentBus.publish(`ledger.resources.Host.${HOST}.XNodeSliced`, {
    type: 'XNodeSliced', streamId: `Host-${HOST}`,
    data: { hostId: HOST, zoneId: 'z_a', regionId: 'r_eu', xnodeId: 'xn_old', kind: 'CNode', size: { ...size, cpuMHz: 0, diskIops: 0 }, state: 'provisioning', generation: 1, ha: { componentId: 'c_web', replica: 0, epoch: 2 } },
  });
  await until('refusal counted', () => agent.stats.refused >= 1);
  assert.is(await driver.status('xn_old'), 'absent');
});

test('cut off from NATS, the agent stops its HA slices itself; back online it reports them stopped', async () => {
  await exec('SliceXNode', { hostId: HOST, xnodeId: 'xn_plain', size });
  await until('xn_plain running', async () => (await sliceState('xn_plain')) === 'running');
  assert.is(await driver.status('xn_ha'), 'running');
  await nats.kill();
  const t0 = Date.now();
  await until('xn_ha stopped by self-fencing', async () => (await driver.status('xn_ha')) === 'stopped', 8_000);
  const took = Date.now() - t0;
  assert.ok(took >= 700, `self-fenced after ${took} ms, before the lease (1000 ms) could have run out`);
  assert.ok(agent.leaseLost);
  assert.is(await driver.status('xn_plain'), 'running', 'non-HA slices keep running');
  assert.is(agent.stats.selfFenced, 1);
  await nats.restart();
  await until('lease renewed', () => !agent.leaseLost, 15_000);
  await until('ledger records xn_ha stopped', async () => (await sliceState('xn_ha')) === 'stopped', 15_000);
  await sleep(300);
  assert.is(await driver.status('xn_ha'), 'stopped', 'the agent never restarts a self-fenced slice by itself');
});

test('reconciliation reports drift instead of fixing it', async () => {
  await driver.crash('xn_plain');
  const drift = await agent.reconcile();
  assert.ok(drift.some((d) => d.xnodeId === 'xn_plain' && d.observed === 'failed'), JSON.stringify(drift));
  await until('ledger records xn_plain failed', async () => (await sliceState('xn_plain')) === 'failed');
  assert.is(await driver.status('xn_plain'), 'failed', 'not restarted by the agent');
});

test.run();
