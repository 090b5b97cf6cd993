/**
 * `ledger bench replay`: rebuild every read model from zero over a log generated through the real deciders, against a
 * raw read + JSON.parse loop over the same rows, in the same run.
 *
 * The log: the Resources layer's Region, Zone and Host deciders (operators register regions, zones and hosts; the
 * "scheduler" (system actor) slices XNodes and powers them off and on; the host "agent" reports what it observes)
 * and the Projects layer's User and Project deciders (operators create users, tenants create projects), every
 * command through CommandHandler with many commands in flight (group commit), each request with its correlation id.
 *
 * Measured, alternating, `reps` times: (a) raw: SELECT position, stream, revision, type, body, hash … ORDER BY
 * position in batches + JSON.parse(body) of every row; (b) rebuild: `rebuildAllFromZero` of every projection found
 * under projections/ into fresh in-memory databases, as `ledger replay` does by default: on a machine with 2+ cores
 * the read models are split over two threads (each reads and decodes the log itself, each event only as far as its
 * read models need), else one pass; bulk loaders where a projection has one; digests included, the databases
 * handed back to this thread; then each projection alone (`rebuildFromZero`, one thread, its own filtered pass) for
 * the per-projection figures, whose digest must equal the all-at-once digest. replayRatio = median over repetitions
 * of raw seconds ÷ rebuild seconds (wall clock); cpuRatio the same with CPU time (every thread of the process).
 * The second thread is booted before the clock starts (`prepareRebuildThread`), as `ledger replay` boots it while it
 * loads the schemas and discovers the read models: its boot (tsx's loader compiling the store and the decoders, a
 * fixed ~0.2–0.5 s whatever the log's size) is reported apart, with the ratio it would give if it were timed
 * (`secondThreadBootMs`, `replayRatioWithThreadBoot`).
 */
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import { CommandHandler, type CommandContext } from '../core/command-handler.ts';
import type { Decider } from '../core/decider.ts';
import { uuidv7 } from '../core/ids.ts';
import { hostDecider, regionDecider, zoneDecider } from '../layers/resources/index.ts';
import { userDecider } from '../layers/projects/user/decider.ts';
import { projectDecider } from '../layers/projects/project/decider.ts';
import { ccontractDecider } from '../layers/components/ccontract/decider.ts';
import { discoverProjections } from '../core/audit/projections.ts';
import { MIN_EVENTS_FOR_TWO_THREADS, planThreads, prepareRebuildThread, rebuildAllFromZero, rebuildFromZero, type BulkCapable } from '../core/audit/rebuild.ts';
import { rawReadParse } from './raw-read.ts';
import { median, round, withTempDir, type BenchOptions, type BenchResult } from './stats.ts';

const operator = { kind: 'operator', id: 'ops_bench' } as const;
const scheduler = { kind: 'system', id: 'scheduler' } as const;
const SLICES_PER_HOST = 4;
const CYCLES_PER_SLICE = 6;
/** Events per read in the rebuild (the default of `ledger replay`): small batches die young (less GC). */
const REBUILD_BATCH = 500;
/** Events one host's script appends: register, and per slice: sliced, observed+provisioned, then per cycle 4. */
const EVENTS_PER_HOST_STREAM = 1 + SLICES_PER_HOST * (3 + 4 * CYCLES_PER_SLICE);
/** Events of the CContract placed with each host: requested, decided, two replicas observed, running. */
const EVENTS_PER_COMPONENT = 5;
export const EVENTS_PER_HOST = EVENTS_PER_HOST_STREAM + EVENTS_PER_COMPONENT;

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const target = opts.quick ? 30_000 : 1_000_000;
  const reps = 3;
  const { projections, failed } = await discoverProjections();
  for (const f of failed) opts.log(`warning: read model module ${f.file} did not load: ${f.error}`);
  return withTempDir('ledger-bench-replay-', async (dir) => {
    const path = join(dir, 'events.sqlite');
    const gen = await generateLog(path, target, opts.log);
    opts.log(`log: ${gen.events} events in ${gen.streams} streams, generated in ${round(gen.seconds, 1)} s by ${gen.processes} writer process(es) (${Math.round(gen.events / gen.seconds)} events/s, ${Math.round(gen.commands / gen.seconds)} commands/s)`);
    const raw: number[] = [];
    const rebuilt: number[] = [];
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
    // as rebuildAllFromZero decides by default
    const plan = availableParallelism() >= 2 && gen.events >= MIN_EVENTS_FOR_TWO_THREADS ? planThreads(projections as BulkCapable[]) : null;
    opts.log(`rebuild threads: ${plan ? `2 (second thread: ${[...plan].join(', ')}; this one: ${projections.filter((p) => !plan.has(p.name)).map((p) => p.name).join(', ')})` : 1}`);
    const perProjection = new Map<string, { seconds: number[]; ratios: number[] }>();
    /** The second thread's boot (ms), started before the clock as `ledger replay` starts it (see the header). */
    const boots: number[] = [];
    const coldRatios: number[] = [];
    const digests = new Map<string, Set<string>>();
    for (let r = 0; r < reps; r++) {
      let c0 = cpu();
      const rawSeconds = rawReadParse(path, gen.events);
      const rawCpu = cpu() - c0;
      const store = new SqliteEventStore({ path, readonly: true });
      // Every read model at once (`rebuildAllFromZero`, as `ledger replay` of several read models does), its second
      // thread booted beforehand, as `ledger replay` boots it while it loads the schemas and the read models.
      const boot = plan ? await prepareRebuildThread() : 0;
      c0 = cpu();
      const all = await rebuildAllFromZero(store, projections as BulkCapable[], { batchSize: REBUILD_BATCH });
      cpuRatios.push(rawCpu / (cpu() - c0));
      const seconds = all[0].seconds;
      boots.push(boot);
      coldRatios.push(rawSeconds / (seconds + boot / 1000));
      for (const res of all) {
        res.db.close();
        (digests.get(res.name) ?? digests.set(res.name, new Set()).get(res.name)!).add(res.digest);
      }
      // Each read model alone as well (its own pass, its own filter), for the per-projection figures.
      for (const p of projections) {
        const res = await rebuildFromZero(store, p, { batchSize: REBUILD_BATCH });
        res.db.close();
        const m = perProjection.get(p.name) ?? perProjection.set(p.name, { seconds: [], ratios: [] }).get(p.name)!;
        m.seconds.push(res.seconds);
        m.ratios.push(rawSeconds / res.seconds);
        if (!digests.get(p.name)!.has(res.digest)) throw new Error(`${p.name}: its rebuild alone and the one-pass rebuild gave different digests`);
      }
      await store.close();
      raw.push(gen.events / rawSeconds);
      rebuilt.push(gen.events / seconds);
      ratios.push(rawSeconds / seconds);
      opts.log(`rep ${r + 1}/${reps} (load ${loadavg().map((l) => round(l)).join(' ')}): raw read+parse ${Math.round(raw[r])} events/s; rebuild of every read model ${Math.round(rebuilt[r])} events/s (ratio ${round(ratios[r])}, CPU-time ratio ${round(cpuRatios[r])}${plan ? `; second thread booted in ${Math.round(boot)} ms before the clock, ratio with it ${round(coldRatios[r])}` : ''}); alone: ${
        [...perProjection].map(([n, m]) => `${n} ${round(m.seconds[r], 2)} s (ratio ${round(m.ratios[r])})`).join(', ')}`);
    }
    const nondeterministic = [...digests].filter(([, set]) => set.size > 1).map(([n]) => n);
    if (nondeterministic.length) throw new Error(`rebuilds of ${nondeterministic.join(', ')} gave different digests over the same log`);
    return {
      scenario: 'replay',
      events: gen.events,
      streams: gen.streams,
      generatedThrough: 'CommandHandler + Resources Region/Zone/Host, Projects User/Project and Components CContract deciders, group commit',
      generationSeconds: round(gen.seconds, 1),
      generationEventsPerSec: Math.round(gen.events / gen.seconds),
      generationProcesses: gen.processes,
      repetitions: reps,
      projections: projections.map((p) => p.name),
      /** Threads of the rebuild of every read model, and the read models on the second one. */
      threads: plan ? 2 : 1,
      secondThread: plan ? [...plan] : [],
      rawEventsPerSec: Math.round(median(raw)),
      /** Log events per second of rebuilding every read model in one pass over the log (read and decoded once). */
      eventsPerSec: Math.round(median(rebuilt)),
      /** Median over the repetitions of (raw seconds ÷ rebuild-all seconds), each pair measured back to back. */
      replayRatio: round(median(ratios)),
      replayRatios: ratios.map((x) => round(x)),
      /** The second thread's boot before the clock (ms, median), and replayRatio had it been timed (its boot added). */
      secondThreadBootMs: Math.round(median(boots)),
      replayRatioWithThreadBoot: round(median(coldRatios)),
      /** Median of (raw CPU seconds ÷ rebuild CPU seconds, all threads): below the wall-clock ratio when two threads run. */
      cpuRatio: round(median(cpuRatios)),
      perProjection: Object.fromEntries([...perProjection].map(([n, m]) => [n, {
        seconds: round(median(m.seconds), 3), eventsPerSec: Math.round(gen.events / median(m.seconds)), ratio: round(median(m.ratios)),
      }])),
      target: 0.7,
      /** 1-minute load average of the machine when the run ended (2 cores: above 2, other work shared them). */
      loadAverage: round(loadavg()[0]),
    };
  });
}



export interface GeneratedLog { events: number; commands: number; streams: number; seconds: number; processes: number }

const REGIONS = 4;
const ZONES_PER_REGION = 4;

/** The scripts of a log of about `target` events (each is one stream's commands, in order), users among hosts. */
function scripts(target: number): ((exec: Exec) => Promise<void>)[] {
  const users = Math.max(2, Math.round(target / 1000));
  const hosts = Math.max(1, Math.round((target - 20 - users * 6) / EVENTS_PER_HOST));
  const list: ((exec: Exec) => Promise<void>)[] = [];
  const every = Math.max(1, Math.floor(hosts / users));
  for (let i = 0, u = 0; i < hosts || u < users; i++) {
    if (i < hosts) list.push((exec) => hostScript(exec, i, i % REGIONS, (i >> 2) % ZONES_PER_REGION), (exec) => componentScript(exec, i));
    if (u < users && (i % every === 0 || i >= hosts)) { const n = u++; list.push((exec) => userScript(exec, n)); }
  }
  return list;
}

/** A store on the scratch file with a larger page cache and rarer WAL checkpoints (its writes are unchanged). */
function openScratch(path: string): SqliteEventStore {
  const store = new SqliteEventStore({ path });
  store.db.pragma(`cache_size = -${Number(process.env.BENCH_CACHE_MIB ?? 128) * 1024}`);
  store.db.pragma(`wal_autocheckpoint = ${Number(process.env.BENCH_WAL_PAGES ?? 20000)}`);
  return store;
}

/** Runs share `k` of `n` of the scripts (every n-th) with `inFlight` at a time; returns the commands sent. */
async function runShare(path: string, target: number, k: number, n: number, inFlight: number, log: (line: string) => void): Promise<number> {
  const store = openScratch(path);
  const handlers = new Map<Decider<any, any, any>, CommandHandler<any, any, any>>();
  const h = (d: Decider<any, any, any>) => handlers.get(d) ?? handlers.set(d, new CommandHandler(store, d, { cacheSize: inFlight * 4 })).get(d)!;
  let commands = 0;
  const exec: Exec = async (d, stream, type, data, ctx) => { commands++; return h(d).handle(stream, { type, data }, ctx); };
  const mine = scripts(target).filter((_, i) => i % n === k);
  let next = 0;
  let reported = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < mine.length) {
      await mine[next++](exec);
      if (next - reported >= Math.max(1, Math.floor(mine.length / 10))) {
        reported = next;
        log(`generating the log: ${Math.round((100 * next) / mine.length)} %`);
      }
    }
  }));
  await store.close();
  return commands;
}

const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = join(dirname(THIS_FILE), '..');

/**
 * Appends about `target` events through the real deciders: ~1 % users and projects, the rest hosts running their
 * slices' lifecycles. `processes` writer processes (default: one per CPU, at most 2: they contend for one write lock) share the scripts and append to
 * the same file (the store's multi-process group commit), each with `inFlight` scripts at a time.
 */
export async function generateLog(path: string, target: number, log: (line: string) => void, options: { processes?: number; inFlight?: number } = {}): Promise<GeneratedLog> {
  const processes = options.processes ?? Number(process.env.BENCH_GEN_PROCESSES ?? Math.min(2, availableParallelism()));
  const inFlight = options.inFlight ?? Number(process.env.BENCH_IN_FLIGHT ?? 500);
  const t0 = process.hrtime.bigint();
  let commands = 0;
  {
    const store = openScratch(path);
    const setup = (d: Decider<any, any, any>, stream: string, type: string, data: unknown) => { commands++; return new CommandHandler(store, d).handle(stream, { type, data }, { actor: operator }); };
    for (let r = 0; r < REGIONS; r++) {
      await setup(regionDecider, `Region-r_${r}`, 'RegisterRegion', { regionId: `r_${r}`, name: `region ${r}` });
      await Promise.all(Array.from({ length: ZONES_PER_REGION }, (_, z) => setup(zoneDecider, `Zone-z_${r}_${z}`, 'RegisterZone', { zoneId: `z_${r}_${z}`, regionId: `r_${r}`, name: `zone ${z}` })));
    }
    await store.close();
  }
  const children = Array.from({ length: processes - 1 }, (_, i) => new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', THIS_FILE, '--generate-share', path, String(target), String(i + 1), String(processes), String(inFlight)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b) => { out += b; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Number(out.trim().split('\n').pop())) : reject(new Error(`log writer ${i + 1} exited with ${code}`))));
  }));
  commands += await runShare(path, target, 0, processes, inFlight, (l) => log(processes > 1 ? `${l} (writer 1 of ${processes})` : l));
  for (const c of await Promise.all(children)) commands += c;
  const store = openScratch(path);
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  const events = await store.headPosition();
  const streams = (store.db.prepare('SELECT count(DISTINCT stream) FROM events').pluck().get() as number);
  await store.close();
  return { events, commands, streams, seconds: Number(process.hrtime.bigint() - t0) / 1e9, processes };
}

// A writer process of generateLog: `node --import tsx bench/replay.ts --generate-share <path> <target> <k> <n> <inFlight>`.
if (process.argv[2] === '--generate-share' && process.argv[1] && resolve(process.argv[1]) === THIS_FILE) {
  const [path, target, k, n, inFlight] = process.argv.slice(3);
  const commands = await runShare(path, Number(target), Number(k), Number(n), Number(inFlight), () => {});
  process.stdout.write(`${commands}\n`);
}

type Exec = (d: Decider<any, any, any>, stream: string, type: string, data: unknown, ctx: CommandContext) => Promise<unknown>;

async function userScript(exec: Exec, u: number) {
  const userId = `u_bench${u}`;
  const tenant = { kind: 'tenant', id: userId } as const;
  await exec(userDecider, `User-${userId}`, 'CreateUser', { userId, name: `user ${u}` }, { actor: operator });
  for (let p = 0; p < 2; p++) {
    const projectId = `p_bench${u}_${p}`;
    const stream = `Project-${projectId}`;
    const ctx = { actor: tenant, tenantId: userId };
    await exec(projectDecider, stream, 'CreateProject', { projectId, ownerId: userId, name: `project ${p}` }, ctx);
    await exec(projectDecider, stream, 'SetProjectQuotas', { projectId, quotas: { cpuCores: 64, ramMiB: 262_144, diskGiB: 4096, components: 10 } }, ctx);
  }
}

async function hostScript(exec: Exec, i: number, r: number, z: number) {
  const hostId = `h_${i}`;
  const stream = `Host-${hostId}`;
  const agent = { kind: 'agent', id: hostId } as const;
  await exec(hostDecider, stream, 'RegisterHost', {
    hostId, zoneId: `z_${r}_${z}`, regionId: `r_${r}`, name: `host ${i}`, type: 'VM', area: `dc${r}/row${z}/rack${i % 40}`,
    resources: { cpuCores: 64, cpuMHz: 153_600, ramMiB: 262_144, diskGiB: 4_000, diskIops: 200_000 },
    reserved: { cpuCores: 2, ramMiB: 8_192, diskGiB: 100 }, allocationRatios: { cpuCores: 4, ramMiB: 1.5 },
  }, { actor: operator });
  for (let s = 0; s < SLICES_PER_HOST; s++) {
    const xnodeId = `xn_${i}_${s}`;
    const tenantId = `u_bench${(i * SLICES_PER_HOST + s) % 97}`;
    const request = uuidv7();
    const sys = { actor: scheduler, tenantId, correlationId: request };
    const seen = (observed: string, generation: number) => exec(hostDecider, stream, 'ReportXNodeObserved', {
      hostId, xnodeId, observed, generation, observedAt: new Date().toISOString(),
    }, { actor: agent, tenantId, correlationId: request });
    await exec(hostDecider, stream, 'SliceXNode', { hostId, xnodeId, size: { cpuCores: 4, ramMiB: 16_384, diskGiB: 100 } }, sys);
    await seen('running', 1);
    let generation = 1;
    for (let c = 0; c < CYCLES_PER_SLICE; c++) {
      const cycle = { ...sys, correlationId: uuidv7() };
      await exec(hostDecider, stream, 'PowerOffXNode', { hostId, xnodeId, reason: 'bench cycle' }, cycle);
      await seen('stopped', ++generation);
      await exec(hostDecider, stream, 'PowerOnXNode', { hostId, xnodeId }, cycle);
      await seen('running', ++generation);
    }
  }
}

/** Where host i is (as hostScript registers it). */
function placeOf(i: number) {
  const r = i % REGIONS, z = (i >> 2) % ZONES_PER_REGION;
  return { hostId: `h_${i}`, regionId: `r_${r}`, zoneId: `z_${r}_${z}`, area: `dc${r}/row${z}/rack${i % 40}` };
}

/**
 * A tenant's component placed as the scheduler places it, through the CContract decider: requested (Full access, two
 * replicas), decided onto host i and its neighbour (another region), both replicas observed running.
 */
async function componentScript(exec: Exec, i: number) {
  const componentId = `c_bench${i}`;
  const stream = `CContract-${componentId}`;
  const tenantId = `u_bench${i % 97}`;
  const correlationId = uuidv7();
  const tenant = { actor: { kind: 'tenant', id: tenantId } as const, tenantId, correlationId };
  const sys = { actor: scheduler, tenantId, correlationId };
  await exec(ccontractDecider, stream, 'RequestComponent', {
    componentId, tenantId, projectId: `p_bench${i % 97}_0`,
    type: { typeId: 'ct_bench', name: 'bench', version: 1, distribution: 'Cell', singleRunning: false, pool: { kind: 'resources' }, hostTypes: ['VM'] },
    size: { cpuCores: 2, cpuMHz: 0, ramMiB: 4096, diskGiB: 40, diskIops: 0 }, access: 'Full', replicas: 2, writers: 1,
  }, tenant);
  const places = [placeOf(i), placeOf(i ^ 1)];
  await exec(ccontractDecider, stream, 'DecidePlacement', {
    componentId,
    decisions: places.map((h, replica) => ({ replica, epoch: 1, ...h, xnodeId: `xn_${componentId}_${replica}`, score: 0.5 })),
    reasons: { policy: 'binpack', candidates: 8, filtered: { 'same-domain': 2 }, top: places.map((h, replica) => ({ replica, hostId: h.hostId, score: 0.5 })), why: 'bench' },
    schedulerId: 'bench', decidedAt: new Date().toISOString(),
  }, sys);
  for (const [replica, h] of places.entries()) {
    await exec(ccontractDecider, stream, 'ObserveReplica', { componentId, replica, epoch: 1, hostId: h.hostId, xnodeId: `xn_${componentId}_${replica}`, state: 'running', zoneId: h.zoneId, regionId: h.regionId, area: h.area }, sys);
  }
}
