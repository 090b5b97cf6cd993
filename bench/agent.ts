/**
 * `ledger bench agent`: time to start N CNodes THROUGH THE HOST AGENT against N raw `runc run -d`, in the same run.
 *
 *   agent: SliceXNode executed on the ledger (Host decider, SQLite store) → relay → bus → agent → OCI driver (bundle,
 *          overlay mount, config.json, runc run -d) → report through the command gateway → the ledger says `running`.
 *          Timed from the first command of a batch until every slice of it is `running` in the ledger.
 *   raw:   the same container by hand: overlay mount of the same image, the same config.json (oci-spec.ts), then
 *          `runc run -d`. No ledger, no bus, no agent.
 * Batches of 10 alternate between both sides so both see the same host load. The bus is the profile's: in-process,
 * or NATS when LEDGER_NATS_URL is set. Everything started is removed before the result is returned.
 * `ratioToRaw` = agent time / raw time (target ≤ 1.3). `agentSteps` are the medians of each container's timeline
 * (command appended → agent called the driver → bundle prepared → runc returned → report recorded → seen running);
 * `rawSteps` the same for the raw side (overlay mount, config.json, runc run -d).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import '../layers/resources/index.ts';
import { hostDecider } from '../layers/resources/host/decider.ts';
import { loadConfig } from '../core/config.ts';
import { openLedger } from '../core/ledger.ts';
import { OciDriver } from '../host-agent/drivers/oci.ts';
import { ociConfig } from '../host-agent/drivers/oci-spec.ts';
import { makeBusyboxRootfs } from '../host-agent/drivers/busybox-rootfs.ts';
import { execDetached, execTool } from '../host-agent/drivers/exec.ts';
import { parseSliceSpec } from '../host-agent/drivers/port.ts';
import { startAgent } from '../host-agent/agent.ts';
import { startCommandGateway } from '../host-agent/gateway.ts';
import { median, type BenchOptions, type BenchResult } from './stats.ts';
import type { ObservedState, SliceDriver, SliceSpecInput } from '../host-agent/drivers/port.ts';

const HOST = 'h_bench';

/** Per-container timeline of the agent side (ms, performance.now()). */
interface Timeline { sent?: number; appended?: number; received?: number; prepared?: number; started?: number; recorded?: number; seen?: number }

/** The OCI driver with the moments the agent calls it recorded (nothing else changes). */
function traced(driver: SliceDriver, tl: Map<string, Timeline>): SliceDriver {
  const at = (id: string) => { let t = tl.get(id); if (!t) tl.set(id, t = {}); return t; };
  return new Proxy(driver, {
    get(target, prop, receiver) {
      if (prop === 'create') return async (spec: SliceSpecInput): Promise<ObservedState> => {
        at(spec.id).received ??= performance.now();
        const r = await target.create(spec);
        at(spec.id).prepared ??= performance.now();
        return r;
      };
      if (prop === 'start') return async (id: string): Promise<ObservedState> => {
        const r = await target.start(id);
        at(id).started ??= performance.now();
        return r;
      };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Medians of each step over the containers that went through all of them. */
function phases(tl: Map<string, Timeline>) {
  const all = [...tl.values()].filter((t) => t.sent && t.appended && t.received && t.prepared && t.started && t.recorded && t.seen);
  const step = (f: (t: Required<Timeline>) => number) => Math.round(median(all.map((t) => f(t as Required<Timeline>))) * 100) / 100;
  return {
    containers: all.length,
    commandMs: step((t) => t.appended - t.sent),
    toAgentMs: step((t) => t.received - t.appended),
    prepareMs: step((t) => t.prepared - t.received),
    runcStartMs: step((t) => t.started - t.prepared),
    reportMs: step((t) => t.recorded - t.started),
    seenMs: step((t) => t.seen - t.recorded),
    totalMs: step((t) => t.seen - t.sent),
    // from one container's report recorded to the agent calling the driver for the next one already waiting
    betweenMs: Math.round(median(all.sort((a, b) => a.received! - b.received!).flatMap((t, i, xs) => {
      const prev = xs[i - 1];
      return prev && t.appended! < prev.recorded! && t.received! > prev.recorded! ? [t.received! - prev.recorded!] : [];
    })) * 100) / 100,
    /** Σ (report recorded − driver called): the time the agent was working on containers, out of the timed total. */
    busySumMs: Math.round(all.reduce((sum, t) => sum + (t.recorded! - t.received!), 0)),
  };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(o: BenchOptions): Promise<BenchResult> {
  const loadAtStart = Math.round(loadavg()[0]! * 100) / 100;
  const n = o.quick ? 20 : 100;
  const batch = 10;
  const work = await mkdtemp(join(tmpdir(), 'ledger-bench-agent-'));
  const image = join(work, 'image');
  const rawDir = join(work, 'raw');
  const rawRoot = join(rawDir, 'runc');
  const tag = Date.now().toString(36);
  const ledger = await openLedger(loadConfig({ ...process.env, LEDGER_DATA_DIR: join(work, 'data') }), { bus: true, relay: true, project: false, role: 'bench-agent' });
  const tl = new Map<string, Timeline>();
  const rawTl: Array<{ mountMs: number; configMs: number; runMs: number }> = [];
  // the gateway's ledger, with the moment each report is recorded noted
  const gatewayLedger: Pick<typeof ledger, 'execute' | 'bus' | 'store'> = {
    bus: ledger.bus,
    store: ledger.store,
    execute: async (decider, stream, command, ctx) => {
      const r = await ledger.execute(decider, stream, command, ctx);
      const id = (command.data as { xnodeId?: string }).xnodeId;
      const t = id ? tl.get(id) : undefined;
      if (t) t.recorded ??= performance.now();
      return r;
    },
  };
  const gateway = await startCommandGateway(gatewayLedger, { log: o.log });
  const driver = new OciDriver({ stateDir: join(work, 'oci'), cgroupParent: 'ledger-bench-agent', stopTimeoutMs: 1_000 });
  const rawStarted: string[] = [];
  const rawMounted: string[] = [];
  const agent = await startAgent({
    hostId: HOST, driver: traced(driver, tl), bus: ledger.bus!, stateDir: join(work, 'agent'), durable: `bench_${tag}`,
    defaultImage: { name: 'busybox', path: image, boot: 'overlay' }, command: ['sleep', '3600'], heartbeatIntervalMs: 2_000, log: o.log,
  });
  try {
    await makeBusyboxRootfs(image);
    await mkdir(rawRoot, { recursive: true });
    const actor = { kind: 'operator' as const, id: 'bench' };
    const exec = (type: string, data: Record<string, unknown>) => ledger.execute(hostDecider, `Host-${HOST}`, { type, data } as never, { actor });
    await exec('RegisterHost', { hostId: HOST, zoneId: 'z_bench', regionId: 'r_bench', name: 'bench host', type: 'CM', area: 'bench', resources: { cpuCores: 1024, cpuMHz: 2_048_000, ramMiB: 1_048_576, diskGiB: 100_000, diskIops: 1_000_000 } });
    const slices = async () => (await ledger.load(hostDecider, `Host-${HOST}`)).state.slices;

    const rawOne = async (id: string) => {
      const dir = join(rawDir, 'bundles', id);
      const rootfs = join(dir, 'rootfs');
      const t0 = performance.now();
      // the same synchronous small-file calls the driver makes, so the baseline is no slower than it needs to be
      for (const d of ['rootfs', 'upper', 'work']) mkdirSync(join(dir, d), { recursive: true });
      await execTool('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${image},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, rootfs]);
      rawMounted.push(rootfs);
      const t1 = performance.now();
      const spec = parseSliceSpec({ id, kind: 'CNode', cpuCores: 1, ramMiB: 64, diskGiB: 1, image: { name: 'busybox', path: image, boot: 'overlay' }, command: ['sleep', '3600'] });
      writeFileSync(join(dir, 'config.json'), JSON.stringify(ociConfig(spec, { cgroupsPath: `/ledger-bench-raw/${id}` })));
      const t2 = performance.now();
      const code = await execDetached('runc', ['--root', rawRoot, 'run', '-d', '--bundle', dir, id]);
      if (code !== 0) throw new Error(`raw runc run ${id} exited ${code}`);
      rawStarted.push(id);
      rawTl.push({ mountMs: t1 - t0, configMs: t2 - t1, runMs: performance.now() - t2 });
    };
    const agentBatch = async (ids: string[]) => {
      for (const id of ids) {
        const t: Timeline = { sent: performance.now() };
        tl.set(id, t);
        await exec('SliceXNode', { hostId: HOST, xnodeId: id, size: { cpuCores: 1, ramMiB: 64, diskGiB: 1 } });
        t.appended = performance.now();
      }
      for (;;) {
        const s = await slices();
        const bad = ids.find((id) => s[id]?.state === 'failed');
        if (bad) throw new Error(`slice ${bad} failed: ${s[bad]?.observed?.state}`);
        for (const id of ids) if (s[id]?.state === 'running') tl.get(id)!.seen ??= performance.now();
        if (ids.every((id) => s[id]?.state === 'running')) return;
        await sleep(5);
      }
    };

    // warm-up outside the timings
    await rawOne(`bw_${tag}_r`);
    await agentBatch([`xn_bw_${tag}`]);

    const batchRatios: number[] = [];
    let rawMs = 0;
    let agentMs = 0;
    for (let i = 0; i < n; i += batch) {
      const count = Math.min(batch, n - i);
      const rawIds = Array.from({ length: count }, (_, k) => `br_${tag}_${i + k}`);
      const agentIds = Array.from({ length: count }, (_, k) => `xn_b_${tag}_${i + k}`);
      let t = performance.now();
      for (const id of rawIds) await rawOne(id);
      const rawBatchMs = performance.now() - t;
      rawMs += rawBatchMs;
      t = performance.now();
      await agentBatch(agentIds);
      const agentBatchMs = performance.now() - t;
      agentMs += agentBatchMs;
      batchRatios.push(agentBatchMs / rawBatchMs);
      o.log(`${i + count}/${n}: raw ${rawMs.toFixed(0)} ms, agent ${agentMs.toFixed(0)} ms`);
    }
    const ratioToRaw = Math.round((agentMs / rawMs) * 1000) / 1000;
    const rawStep = (f: (t: (typeof rawTl)[number]) => number) => Math.round(median(rawTl.map(f)) * 100) / 100;
    return {
      scenario: 'agent', n, bus: ledger.bus!.kind, loadAvg1: { atStart: loadAtStart, atEnd: Math.round(loadavg()[0]! * 100) / 100 }, cpus: cpus().length,
      agent: { totalMs: Math.round(agentMs), perStartMs: Math.round((agentMs / n) * 100) / 100 },
      raw: { totalMs: Math.round(rawMs), perStartMs: Math.round((rawMs / n) * 100) / 100 },
      ratioToRaw, target: 1.3, meetsTarget: ratioToRaw <= 1.3,
      // each agent batch against the raw batch just before it: a burst of load from other processes moves one pair only
      batchRatioMedian: Math.round(median(batchRatios) * 1000) / 1000,
      reportsSent: agent.stats.reportsSent, gatewayAccepted: gateway.stats.accepted,
      agentSteps: phases(tl),
      rawSteps: { mountMs: rawStep((t) => t.mountMs), configMs: rawStep((t) => t.configMs), runMs: rawStep((t) => t.runMs) },
    };
  } finally {
    await agent.close({ closeDriver: false }).catch(() => {});
    for (const id of rawStarted) await execTool('runc', ['--root', rawRoot, 'delete', '--force', id]).catch(() => {});
    for (const m of rawMounted) await execTool('umount', [m]).catch(() => {});
    for (const s of await driver.list().catch(() => [])) await driver.destroy(s.id).catch(() => {});
    await driver.close().catch(() => {});
    await gateway.close().catch(() => {});
    await ledger.close().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}
