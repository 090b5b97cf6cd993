/**
 * Failover under many random host failures, watched by an observer of *reality*.
 *
 * A SIMULATED fleet: each host has an agent (heartbeats, runs what its Host stream says, reports what runs, and stops
 * its HA instances when it cannot renew its lease: self-fencing) and the test plays the health monitor (missed
 * heartbeats → MarkHostUnreachable with lastSeenAt) and the operator confirming out-of-band power-offs. Failures are
 * drawn at random: network partitions (the instances keep running until the lease expires), crashes (instances die at
 * once; the agent reports them failed when it comes back), and IPMI power-offs (confirmed at once: no lease wait).
 *
 * The observer counts running instances of every cloud host on every tick: never two. Every replacement must run
 * within the documented bound (docs/components.md): detection + lease + skew + slack for partitions and crashes,
 * detection + slack for confirmed power-offs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/config.ts';
import { openLedger, type Ledger } from '../core/ledger.ts';
import { DomainError } from '../core/decider.ts';
import { hostDecider, resourceCommand } from '../layers/resources/index.ts';
import { startScheduler, type Scheduler } from '../layers/components/scheduler/scheduler.ts';
import { seedComponentTypes } from '../layers/components/seed.ts';
import { loadFresh } from '../layers/components/exec.ts';
import { ccontractDecider } from '../layers/components/ccontract/decider.ts';
import { stream } from '../layers/components/ids.ts';
import { grid, needs, registerHosts, requestComponent, sleep, until } from '../layers/components/testing/fleet.ts';

const TICK_MS = 10;
const BEAT_MS = 40;
const MISS_MS = 150;           // 3-4 missed beats → unreachable
const LEASE_MS = 500;
const SKEW_MS = 150;
const SLACK_MS = 5000;         // sweep, two appends, the agent's tick: generous, CI machines are shared and loaded
const CHAOS_MS = 15_000;
const BOUND_LEASE = MISS_MS + LEASE_MS + SKEW_MS + SLACK_MS;
const BOUND_POWER_OFF = MISS_MS + SLACK_MS;
const COMPONENTS = 30;

type Mode = 'up' | 'partitioned' | 'crashed' | 'off';
interface SimHost { hostId: string; mode: Mode; lastBeat: number; lastAck: number; until: number; instances: Map<string, { componentId: string; replica: number; since: number }>; rebooted: boolean }

let dir: string;
let ledger: Ledger;
let scheduler: Scheduler;
const schedulerLog: string[] = [];

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-failover-'));
  ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir, LEDGER_LOG_LEVEL: 'silent' }), { project: false });
});
test.after(async () => {
  await scheduler?.stop();
  await ledger?.close();
  rmSync(dir, { recursive: true, force: true });
});

const system = { actor: { kind: 'system', id: 'sim' } } as const;
async function hostCommand(type: string, data: Record<string, unknown>) {
  const { stream: s, decider, command } = resourceCommand(type, data);
  try { await ledger.execute(decider, s, command, system); } catch (e) { if (!(e instanceof DomainError)) throw e; }
}

test('random host failures: never two running instances of a cloud host; every replacement within the bound', async () => {
  const specs = grid(1, 3, 4, 2); // 24 hosts, 16 cores each
  await registerHosts(ledger, specs);
  await seedComponentTypes(ledger);
  scheduler = await startScheduler(ledger, { name: 'sched', bus: null, leaseMs: LEASE_MS, clockSkewMs: SKEW_MS, sweepIntervalMs: 100, placementTimeoutMs: 1000, log: (l) => schedulerLog.push(`${Date.now()} ${l}`) });
  const ids = Array.from({ length: COMPONENTS }, (_, i) => `c_vm${i}`);
  for (const [i, id] of ids.entries()) {
    await requestComponent(ledger, needs(id, {
      type: { typeId: 'ct_cloud_host', name: 'cloud-host', version: 1, distribution: 'Cell', singleRunning: true, pool: { kind: 'resources' }, hostTypes: ['VM'] },
      size: { cpuCores: 2, cpuMHz: 0, ramMiB: 2048, diskGiB: 20, diskIops: 0 }, replicas: 1, access: 'Zone', zoneId: `z_0_${i % 3}`,
    }));
  }

  const t0 = Date.now();
  const hosts = new Map<string, SimHost>(specs.map((h) => [h.hostId, { hostId: h.hostId, mode: 'up', lastBeat: t0, lastAck: t0, until: 0, instances: new Map(), rebooted: false }]));
  const violations: string[] = [];
  const lostAt = new Map<string, { at: number; kind: Mode; hostId: string }>(); // componentId → when its instance became unavailable
  const latencies: { componentId: string; kind: Mode; ms: number }[] = [];
  const failures: Record<string, number> = { partitioned: 0, crashed: 0, off: 0 };
  let chaos = true;
  let running = true;

  const runningOf = () => {
    const count = new Map<string, string[]>();
    // one key per replica: a cloud host has one; the object store's pool (also placed here) has two
    for (const h of hosts.values()) for (const [x, inst] of h.instances) { const k = `${inst.componentId}/${inst.replica}`; count.set(k, [...(count.get(k) ?? []), `${x}@${h.hostId}`]); }
    return count;
  };
  const observe = (when: string) => {
    for (const [replica, where] of runningOf()) if (where.length > 1) violations.push(`${when}: ${replica} runs ${where.length} times: ${where.join(', ')}`);
  };

  async function agentStep(h: SimHost, now: number, phase: 'stop' | 'start'): Promise<void> {
    if (h.mode === 'crashed' || h.mode === 'off') return;
    if (h.mode === 'partitioned') {
      if (phase === 'stop' && now - h.lastAck > LEASE_MS) h.instances.clear(); // self-fencing: the lease could not be renewed
      return;
    }
    const { state } = await ledger.load(hostDecider, `Host-${h.hostId}`);
    for (const slice of Object.values(state.slices)) {
      const live = h.instances.get(slice.xnodeId);
      const wanted = slice.state === 'provisioning' || slice.state === 'running';
      if (phase === 'stop' && live && !wanted) h.instances.delete(slice.xnodeId);
      if (phase !== 'start' || !wanted || live) continue;
      if (h.rebooted && slice.state === 'running') { // it ran before the crash: report it dead, never restart it on our own
        await hostCommand('ReportXNodeObserved', { hostId: h.hostId, xnodeId: slice.xnodeId, observed: 'failed', generation: slice.generation, observedAt: new Date(now).toISOString() });
        continue;
      }
      h.instances.set(slice.xnodeId, { componentId: slice.ha?.componentId ?? slice.xnodeId, replica: slice.ha?.replica ?? 0, since: now });
      const c = slice.ha?.componentId;
      if (c && lostAt.has(c)) { const l = lostAt.get(c)!; latencies.push({ componentId: c, kind: l.kind, ms: now - l.at }); lostAt.delete(c); }
      if (slice.state === 'provisioning') await hostCommand('ReportXNodeObserved', { hostId: h.hostId, xnodeId: slice.xnodeId, observed: 'running', generation: slice.generation, observedAt: new Date(now).toISOString() });
    }
    h.rebooted = false;
  }

  const sim = (async () => {
    let nextFailure = Date.now() + 300;
    while (running) {
      const now = Date.now();
      // failures and recoveries
      for (const h of hosts.values()) {
        if (h.mode !== 'up' && now >= h.until) {
          if (h.mode === 'crashed' || h.mode === 'off') h.rebooted = true;
          h.mode = 'up';
          h.lastAck = now;
        }
      }
      const down = [...hosts.values()].filter((h) => h.mode !== 'up').length;
      if (chaos && now >= nextFailure && down < 3) {
        const candidates = [...hosts.values()].filter((h) => h.mode === 'up' && h.instances.size > 0);
        const h = candidates[Math.floor(Math.random() * candidates.length)];
        if (h) {
          const r = Math.random();
          const kind: Mode = r < 0.45 ? 'partitioned' : r < 0.8 ? 'crashed' : 'off';
          failures[kind]++;
          h.mode = kind;
          h.until = now + 1200 + Math.floor(Math.random() * 1500);
          for (const inst of h.instances.values()) if (!lostAt.has(inst.componentId)) lostAt.set(inst.componentId, { at: now, kind, hostId: h.hostId });
          if (kind !== 'partitioned') h.instances.clear();
          if (kind === 'off') void (async () => { await sleep(30); await hostCommand('ConfirmHostPoweredOff', { hostId: h.hostId, method: 'ipmi', confirmedAt: new Date().toISOString() }); })();
        }
        nextFailure = now + 200 + Math.floor(Math.random() * 300);
      }
      // heartbeats and the health monitor
      for (const h of hosts.values()) {
        if (h.mode === 'up' && now - h.lastBeat >= BEAT_MS) { h.lastBeat = now; h.lastAck = now; }
      }
      for (const h of hosts.values()) {
        const { state } = await ledger.load(hostDecider, `Host-${h.hostId}`);
        if (state.reachable && now - h.lastBeat > MISS_MS) await hostCommand('MarkHostUnreachable', { hostId: h.hostId, missedBeats: Math.floor((now - h.lastBeat) / BEAT_MS), lastSeenAt: new Date(h.lastBeat).toISOString() });
        else if (!state.reachable && h.mode === 'up' && now - h.lastBeat < BEAT_MS * 2) await hostCommand('MarkHostReachable', { hostId: h.hostId, seenAt: new Date(h.lastBeat).toISOString() });
      }
      // agents: every stop before any start, then the observer
      for (const h of hosts.values()) await agentStep(h, Date.now(), 'stop');
      observe('after stops');
      for (const h of hosts.values()) await agentStep(h, Date.now(), 'start');
      observe('after starts');
      await sleep(TICK_MS);
    }
  })();

  try {
    await sleep(CHAOS_MS);
    chaos = false;
    // everything recovers; every component ends with exactly one running instance
    await until('every cloud host running exactly once', async () => {
      const r = runningOf();
      if (!ids.every((c) => r.get(`${c}/0`)?.length === 1)) return false;
      for (const c of ids) if ((await loadFresh(ledger, ccontractDecider, stream.ccontract(c))).state.status !== 'running') return false;
      return true;
    }, 30_000, 100);
  } finally {
    running = false;
    await sim;
  }

  const total = failures.partitioned + failures.crashed + failures.off;
  const worst = (k: Mode) => Math.max(0, ...latencies.filter((l) => l.kind === k).map((l) => l.ms));
  console.log(`  ${total} host failures (${failures.partitioned} partitions, ${failures.crashed} crashes, ${failures.off} power-offs); ${latencies.length} replacements; `
    + `worst replacement: partition ${worst('partitioned')} ms, crash ${worst('crashed')} ms, power-off ${worst('off')} ms (bounds ${BOUND_LEASE} / ${BOUND_LEASE} / ${BOUND_POWER_OFF} ms); `
    + `scheduler: ${scheduler.stats.lost} lost, ${scheduler.stats.fenced} fenced, ${scheduler.stats.decisions} decisions`);
  assert.equal(violations.slice(0, 5), [], 'never two running instances of a cloud host (nor of any replica)');
  assert.ok(total >= 15, `enough failures were injected (${total})`);
  assert.ok(latencies.length >= 10, `enough replacements happened (${latencies.length})`);
  for (const l of latencies) {
    const bound = l.kind === 'off' ? BOUND_POWER_OFF + LEASE_MS : BOUND_LEASE; // a power-off seen as missed beats first may wait the lease until confirmed
    assert.ok(l.ms <= bound, `${l.componentId}: replacement after a ${l.kind} took ${l.ms} ms > ${bound} ms`);
  }
  const offs = latencies.filter((l) => l.kind === 'off');
  if (offs.length) assert.ok(Math.min(...offs.map((l) => l.ms)) < MISS_MS + LEASE_MS, 'confirmed power-offs are replaced without waiting for the lease');
});

test.run();
