/**
 * Host health from heartbeats, on the in-process bus and on a real nats-server (JetStream): missed beats make a
 * host unreachable as an event, resumed beats bring it back, malformed or foreign beats are logged and dropped, and
 * a monitor that restarts picks up the hosts whose last beat the bus still holds.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus } from '../core/bus/port.ts';
import { InProcessBus } from '../core/bus/in-process.ts';
import { connectNatsBus } from '../core/bus/nats.ts';
import { loadConfig } from '../core/config.ts';
import { openLedger, type Ledger } from '../core/ledger.ts';
import { heartbeatSubject, parseHeartbeat, publishHeartbeat } from '../layers/resources/health/heartbeat.ts';
import { HealthMonitor, type HealthLog } from '../layers/resources/health/monitor.ts';
import { ResourcesService } from '../layers/resources/service.ts';
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts';

const OP = { kind: 'operator' as const, id: 'ops' };
const INTERVAL = 150;
const MISSES = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(15);
  }
}

async function openWorld(): Promise<{ dir: string; ledger: Ledger }> {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-resources-health-'));
  const ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir, LEDGER_LOG_LEVEL: 'silent' }), { project: false });
  const service = new ResourcesService(ledger);
  await service.registerRegion(OP, { regionId: 'r_eu', name: 'Europe' });
  await service.registerZone(OP, { zoneId: 'z_a', regionId: 'r_eu', name: 'eu-a' });
  for (const hostId of ['h_1', 'h_2', 'h_3']) {
    await service.registerHost(OP, { hostId, zoneId: 'z_a', name: hostId, type: 'CM', area: 'z_a/r1', resources: { cpuCores: 8, cpuMHz: 0, ramMiB: 16_384, diskGiB: 200, diskIops: 0 } });
  }
  await service.hostAction(OP, 'RetireHost', { hostId: 'h_3', reason: 'decommissioned' });
  return { dir, ledger };
}

const statusEvents = async (ledger: Ledger, hostId: string) =>
  (await ledger.store.readStream(`Host-${hostId}`)).filter((e) => e.type === 'HostStatusChanged').map((e) => e.data as Record<string, any>);

const quietLog = (): HealthLog & { warnings: string[] } => {
  const warnings: string[] = [];
  return { warnings, warn: (fields, message) => warnings.push(`${message} ${JSON.stringify(fields)}`), info: () => {} };
};

const beat = (bus: Bus, hostId: string, seq = 0) => publishHeartbeat(bus, { hostId, sentAt: new Date().toISOString(), seq, agent: { driver: 'sim' }, load: { cpuPercent: 12 } });

/** Beats for `hostId` every half interval until stopped. */
function beating(bus: Bus, hostId: string) {
  let on = true;
  let seq = 0;
  const done = (async () => { while (on) { await beat(bus, hostId, seq++); await sleep(INTERVAL / 2); } })();
  return async () => { on = false; await done; };
}

/** The scenario both buses must pass. */
async function healthScenario(bus: Bus, ledger: Ledger) {
  const log = quietLog();
  const monitor = await new HealthMonitor({ ledger, bus, intervalMs: INTERVAL, misses: MISSES, checkEveryMs: 20, log }).start();
  try {
    const stop = beating(bus, 'h_1');
    await until('h_1 watched', () => monitor.hosts().some((h) => h.hostId === 'h_1'));
    await sleep(INTERVAL * (MISSES + 2));
    assert.equal(await statusEvents(ledger, 'h_1'), [], 'a beating host stays online, with nothing appended');

    await stop();
    const silentSince = Date.now();
    await until('h_1 unreachable', async () => (await statusEvents(ledger, 'h_1')).length === 1);
    assert.ok(Date.now() - silentSince >= INTERVAL * (MISSES - 1), 'not before the beats were really missed');
    const [down] = await statusEvents(ledger, 'h_1');
    assert.equal([down.from, down.to, down.reachable, down.cause], ['online', 'unreachable', false, 'heartbeat']);
    assert.ok(down.missedBeats >= MISSES, `missedBeats ${down.missedBeats}`);
    assert.match(down.lastSeenAt, /Z$/);
    const unreachable = await ledger.store.readStream('Host-h_1');
    assert.equal(unreachable.at(-1)!.metadata.actor, { kind: 'system', id: 'health-monitor' });

    await sleep(INTERVAL * 3);
    assert.is((await statusEvents(ledger, 'h_1')).length, 1, 'marked once, not again at every check');

    const stop2 = beating(bus, 'h_1');
    await until('h_1 reachable again', async () => (await statusEvents(ledger, 'h_1')).length === 2);
    const up = (await statusEvents(ledger, 'h_1'))[1];
    assert.equal([up.from, up.to, up.reachable, up.cause], ['unreachable', 'online', true, 'heartbeat']);
    await stop2();

    // bad beats: dropped and logged, nothing appended
    const head = await ledger.store.headPosition();
    const dropped = monitor.stats.dropped;
    await bus.publish(heartbeatSubject('h_2'), new TextEncoder().encode('{not json'));
    await bus.publish(heartbeatSubject('h_2'), { hostId: 'h_2', sentAt: 'yesterday', load: { cpuPercent: -5 } });
    await bus.publish(heartbeatSubject('h_2'), { hostId: 'h_1', sentAt: new Date().toISOString() });
    await bus.publish(heartbeatSubject('h_2'), { hostId: 'h_2', sentAt: new Date().toISOString(), extra: 1 });
    await bus.publish(heartbeatSubject('h_zz'), { hostId: 'h_zz', sentAt: new Date().toISOString() });
    await bus.publish(heartbeatSubject('h_3'), { hostId: 'h_3', sentAt: new Date().toISOString() });
    await until('bad beats dropped', () => monitor.stats.dropped === dropped + 6);
    assert.ok(log.warnings.some((w) => w.includes('not JSON')), log.warnings.join('\n'));
    assert.ok(log.warnings.some((w) => w.includes('sentAt')), 'names the wrong field');
    assert.ok(log.warnings.some((w) => w.includes('names host h_1')), 'a beat for another host than its subject');
    assert.ok(log.warnings.some((w) => w.includes('unknown host')), 'a host the ledger does not know');
    assert.ok(log.warnings.some((w) => w.includes('retired')), 'a retired host');
    await sleep(INTERVAL * 2);
    assert.is(await ledger.store.headPosition(), head + 0, 'nothing appended for bad beats');
    assert.ok(!monitor.hosts().some((h) => h.hostId === 'h_2'), 'h_2 never beat properly: it is not judged');
    assert.equal(await statusEvents(ledger, 'h_2'), []);
  } finally {
    await monitor.stop();
  }
}

// ── in-process bus ──────────────────────────────────────────────────────────────────────────────────────────

const inProcess = suite('health: in-process bus');
inProcess('missed beats → unreachable (an event); resumed → reachable; bad beats dropped', async () => {
  const { dir, ledger } = await openWorld();
  const bus = new InProcessBus();
  try { await healthScenario(bus, ledger); } finally { await bus.close(); await ledger.close(); rmSync(dir, { recursive: true, force: true }); }
});

inProcess('heartbeat parsing: subject and payload must agree, unknown fields refused', () => {
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const now = '2025-03-01T10:00:00Z';
  assert.ok(parseHeartbeat({ subject: 'ledger.agent.h_1.heartbeat', data: enc({ hostId: 'h_1', sentAt: now, seq: 3 }) }).ok);
  const bad = [
    { subject: 'ledger.agent.h_1.status', data: enc({ hostId: 'h_1', sentAt: now }) },
    { subject: 'ledger.agent.h_1.heartbeat', data: enc({ hostId: 'h-1', sentAt: now }) },
    { subject: 'ledger.agent.h_1.heartbeat', data: enc({ hostId: 'h_1', sentAt: now, load: { cpuPercent: 1.5 } }) },
    { subject: 'ledger.agent.h_1.heartbeat', data: new Uint8Array([0xff, 0xfe]) },
  ];
  for (const m of bad) assert.not.ok(parseHeartbeat(m).ok, m.subject);
});

inProcess('watchRegistered: a registered host whose agent never beats becomes unreachable', async () => {
  const { dir, ledger } = await openWorld();
  const bus = new InProcessBus();
  const monitor = await new HealthMonitor({ ledger, bus, intervalMs: INTERVAL, misses: MISSES, checkEveryMs: 20, watchRegistered: true, log: quietLog() }).start();
  try {
    await until('h_2 unreachable', async () => (await statusEvents(ledger, 'h_2')).length === 1);
    assert.equal(monitor.hosts().map((h) => h.hostId), ['h_1', 'h_2'], 'retired hosts are not watched');
  } finally { await monitor.stop(); await bus.close(); await ledger.close(); rmSync(dir, { recursive: true, force: true }); }
});

inProcess.run();

// ── nats-server ─────────────────────────────────────────────────────────────────────────────────────────────

const nats = suite('health: nats-server');
let server: NatsServerHandle;
nats.before(async () => { server = await startNatsServer(); });
nats.after(async () => { await server?.stop(); });

nats('missed beats → unreachable (an event); resumed → reachable; bad beats dropped', async () => {
  const { dir, ledger } = await openWorld();
  const bus = await connectNatsBus({ servers: server.url, name: 'health-test' });
  try { await healthScenario(bus, ledger); } finally { await bus.close(); await ledger.close(); rmSync(dir, { recursive: true, force: true }); }
});

nats('a restarted monitor watches the hosts whose last beat JetStream still holds', async () => {
  const { dir, ledger } = await openWorld();
  const bus = await connectNatsBus({ servers: server.url, name: 'health-restart-test' });
  try {
    // h_2 beat while no monitor ran (the beat is stored), then its agent died
    await beat(bus, 'h_2');
    const before = await statusEvents(ledger, 'h_2');
    const monitor = await new HealthMonitor({ ledger, bus, intervalMs: INTERVAL, misses: MISSES, checkEveryMs: 20, log: quietLog() }).start();
    try {
      assert.ok(monitor.hosts().some((h) => h.hostId === 'h_2'), 'adopted from the stored beat');
      await until('h_2 unreachable', async () => (await statusEvents(ledger, 'h_2')).length === before.length + 1);
      assert.is((await statusEvents(ledger, 'h_2')).at(-1)!.to, 'unreachable');
    } finally { await monitor.stop(); }
  } finally { await bus.close(); await ledger.close(); rmSync(dir, { recursive: true, force: true }); }
});

nats.run();
