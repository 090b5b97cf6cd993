/**
 * `ledger bench placement`: the scheduler's placement path at fleet scale, every placement COMMITTED to the embedded
 * event store (SQLite, group commit), against a first-fit-decreasing bound computed in the same run.
 *
 *  - Fleet: 10,000 SIMULATED CM hosts (96 cores × 3 overcommit, 512 GiB, 6 TB) in 3 regions × 3 zones, racks of 20
 *    hosts in rows (areas `dcZ/rowR/rackK`), registered through the Host decider.
 *  - Demand: CContracts of 2 or 3 replicas with required anti-affinity: access REGION (replicas on distinct zones),
 *    ZONE (distinct, most distant racks), FULL (distinct regions); replica sizes 1–4 cores (container-sized), until
 *    1,000,000 replicas.
 *  - Per contract, as the scheduler does it: RequestComponent (CContract stream) → plan (the pure core, bin-pack,
 *    timed alone: "decision latency") → DecidePlacement with reasons (CContract stream) → SliceXNode with the fencing
 *    token on each chosen host's stream, through the HostBatcher: slices queued for one host while its previous append
 *    is in flight go into one append with one expected revision (bin-packing's hot hosts do not spin on conflicts).
 *    Many contracts are in flight, so appends to different streams share transactions (group commit).
 *  - Checks: anti-affinity violations among committed replicas (must be 0), no host over capacity (the Host decider
 *    refuses it anyway), and packing: hosts used by first-fit-decreasing (same constraints, offline, sorted by size)
 *    divided by hosts used here.
 *
 * `--quick`: 1,000 hosts and 100,000 replicas.
 *
 * The measured part runs in a child process started with a larger V8 young generation (`--max-semi-space-size`):
 * a placement allocates a few kB that all die young, and with the default 16 MB semi-spaces the scavenger took a
 * quarter of the CPU. Raw baseline, same run: the very rows committed (stream, revision, type, body, hash) inserted
 * into a fresh SQLite file of the same schema, in transactions of the in-flight size, with no decider, validation,
 * JSON or hashing — what the disk and SQLite alone would allow.
 */
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import { CommandHandler } from '../core/command-handler.ts';
import { hostDecider } from '../layers/resources/host/decider.ts';
import type { HostCommand } from '../layers/resources/host/commands.ts';
import { ccontractDecider } from '../layers/components/ccontract/decider.ts';
import type { CContractCommand } from '../layers/components/ccontract/commands.ts';
import type { Needs } from '../layers/components/ccontract/events.ts';
import { stream, xnodeIdOf, commandIds, type Access } from '../layers/components/ids.ts';
import { Fleet, type HostView } from '../layers/components/scheduler/fleet.ts';
import { Planner } from '../layers/components/scheduler/placement.ts';
import { HostBatcher } from '../layers/components/scheduler/host-batcher.ts';
import type { Resources } from '../layers/resources/common/quantities.ts';
import { percentile, round, withTempDir, type BenchOptions, type BenchResult } from './stats.ts';

const actor = { kind: 'system', id: 'bench-placement' } as const;
const HOST = { cpuCores: 96, cpuMHz: 0, ramMiB: 524_288, diskGiB: 6_000, diskIops: 0 };
const CAPACITY = { ...HOST, cpuCores: 288 }; // cpu allocation ratio 3
const SIZES: { size: Resources; weight: number }[] = [
  { size: { cpuCores: 1, cpuMHz: 0, ramMiB: 2048, diskGiB: 20, diskIops: 0 }, weight: 40 },
  { size: { cpuCores: 2, cpuMHz: 0, ramMiB: 4096, diskGiB: 40, diskIops: 0 }, weight: 30 },
  { size: { cpuCores: 3, cpuMHz: 0, ramMiB: 6144, diskGiB: 60, diskIops: 0 }, weight: 20 },
  { size: { cpuCores: 4, cpuMHz: 0, ramMiB: 8192, diskGiB: 80, diskIops: 0 }, weight: 10 },
];

/** A small deterministic PRNG (mulberry32), so runs are comparable. */
function rng(seed: number) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface HostSpec { hostId: string; regionId: string; zoneId: string; area: string }
interface Contract { id: string; access: Access; regionId?: string; zoneId?: string; replicas: number; size: Resources }

function fleetSpec(hosts: number): HostSpec[] {
  const out: HostSpec[] = [];
  const perZone = Math.ceil(hosts / 9);
  for (let i = 0; i < hosts; i++) {
    const zone = Math.floor(i / perZone);
    const inZone = i % perZone;
    const rack = Math.floor(inZone / 20);
    const r = Math.floor(zone / 3);
    out.push({ hostId: `h_b${i}`, regionId: `r_${r}`, zoneId: `z_${r}_${zone % 3}`, area: `dc${zone % 3}/row${rack % 6}/rack${rack}` });
  }
  return out;
}

function demand(replicasWanted: number, random: () => number): Contract[] {
  const out: Contract[] = [];
  let n = 0;
  const total = SIZES.reduce((s, x) => s + x.weight, 0);
  for (let i = 0; n < replicasWanted; i++) {
    let pick = random() * total;
    const size = SIZES.find((x) => (pick -= x.weight) < 0)?.size ?? SIZES[0].size;
    const replicas = Math.min(replicasWanted - n, random() < 0.5 ? 2 : 3);
    const a = random();
    const r = Math.floor(random() * 3);
    const z = Math.floor(random() * 3);
    const access: Access = a < 0.5 ? 'Region' : a < 0.85 ? 'Zone' : 'Full';
    out.push({ id: `c_b${i}`, access, replicas, size, ...(access !== 'Full' && { regionId: `r_${r}` }), ...(access === 'Zone' && { zoneId: `z_${r}_${z}` }) });
    n += replicas;
  }
  return out;
}

const domainOf = (h: { regionId: string; zoneId: string; area: string }, access: Access) => (access === 'Full' ? h.regionId : access === 'Region' ? h.zoneId : h.area);

/** First-fit decreasing, offline, with the same scope and anti-affinity rules: the packing bound. */
function ffdHostsUsed(specs: HostSpec[], contracts: Contract[]): { hostsUsed: number; unplaced: number } {
  const used = specs.map(() => ({ cpuCores: 0, ramMiB: 0, diskGiB: 0 }));
  const byScope = new Map<string, number[]>();
  const add = (k: string, i: number) => { const l = byScope.get(k) ?? []; l.push(i); byScope.set(k, l); };
  specs.forEach((h, i) => { add('*', i); add(h.regionId, i); add(h.zoneId, i); });
  const cursor = new Map<string, number>();
  const sorted = [...contracts].sort((a, b) => b.size.cpuCores - a.size.cpuCores || b.size.ramMiB - a.size.ramMiB);
  const minCpu = Math.min(...SIZES.map((s) => s.size.cpuCores));
  let unplaced = 0;
  for (const c of sorted) {
    const scope = c.access === 'Full' ? '*' : c.access === 'Region' ? c.regionId! : c.zoneId!;
    const list = byScope.get(scope)!;
    let start = cursor.get(scope) ?? 0;
    while (start < list.length && CAPACITY.cpuCores - used[list[start]].cpuCores < minCpu) start++;
    cursor.set(scope, start);
    const taken = new Set<string>();
    for (let r = 0; r < c.replicas; r++) {
      let placed = false;
      for (let j = start; j < list.length; j++) {
        const i = list[j];
        const u = used[i];
        if (taken.has(domainOf(specs[i], c.access))) continue;
        if (u.cpuCores + c.size.cpuCores > CAPACITY.cpuCores || u.ramMiB + c.size.ramMiB > CAPACITY.ramMiB || u.diskGiB + c.size.diskGiB > CAPACITY.diskGiB) continue;
        u.cpuCores += c.size.cpuCores; u.ramMiB += c.size.ramMiB; u.diskGiB += c.size.diskGiB;
        taken.add(domainOf(specs[i], c.access));
        placed = true;
        break;
      }
      if (!placed) unplaced++;
    }
  }
  return { hostsUsed: used.filter((u) => u.cpuCores > 0).length, unplaced };
}

const SEMI_SPACE_MB = 128;
const envInt = (name: string) => { const v = Number(process.env[name]); return Number.isInteger(v) && v > 0 ? v : undefined; };

/** Runs the measurement in a child process with a young generation sized at start (it cannot be resized later). */
export function run(opts: BenchOptions): Promise<BenchResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--placement-run', opts.quick ? 'quick' : 'full'], {
      execArgv: ['--import', 'tsx', `--max-semi-space-size=${SEMI_SPACE_MB}`], stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let result: BenchResult | undefined;
    let err = '';
    child.stderr!.on('data', (d) => { err += d; });
    child.on('message', (m: { log?: string; result?: BenchResult }) => { if (m.log) opts.log(m.log); if (m.result) result = m.result; });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`placement run exited with ${code}: ${err.slice(-2000)}`))));
  });
}

if (process.argv[2] === '--placement-run' && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await measure({ quick: process.argv[3] === 'quick', log: (line) => process.send?.({ log: line }) });
  process.send?.({ result }, () => process.exit(0));
}

export async function measure(opts: BenchOptions): Promise<BenchResult> {
  // sizes: --quick, or LEDGER_BENCH_PLACEMENT_HOSTS / LEDGER_BENCH_PLACEMENT_REPLICAS to measure other points
  const hostsN = envInt('LEDGER_BENCH_PLACEMENT_HOSTS') ?? (opts.quick ? 1_000 : 10_000);
  const replicasN = envInt('LEDGER_BENCH_PLACEMENT_REPLICAS') ?? (opts.quick ? 100_000 : 1_000_000);
  const inFlight = envInt('LEDGER_BENCH_PLACEMENT_IN_FLIGHT') ?? 1024;
  return withTempDir('ledger-bench-placement-', async (dir) => {
    const store = new SqliteEventStore({ path: join(dir, 'events.sqlite') });
    // a 2.5 GB log with a random-order (stream, revision) index: give SQLite a page cache that holds the hot part
    store.db.pragma('cache_size = -262144');
    const hosts = new CommandHandler(store, hostDecider, { cacheSize: 1000 });
    const batcher = new HostBatcher(store);
    const ccontracts = new CommandHandler(store, ccontractDecider, { cacheSize: 4096 });
    const specs = fleetSpec(hostsN);
    const contracts = demand(replicasN, rng(42));
    opts.log(`placement: ${hostsN} hosts, ${contracts.length} contracts, ${replicasN} replicas (r = 2 or 3, required anti-affinity)`);

    // ── the fleet, registered through the Host decider, and the scheduler's view of it ──────────────────────
    const t0 = performance.now();
    for (let i = 0; i < specs.length; i += 500) {
      await Promise.all(specs.slice(i, i + 500).map((h) => hosts.handle(`Host-${h.hostId}`, {
        type: 'RegisterHost', data: { hostId: h.hostId, zoneId: h.zoneId, regionId: h.regionId, name: h.hostId, type: 'CM', area: h.area, resources: HOST, allocationRatios: { cpuCores: 3 } },
      } as HostCommand, { actor })));
    }
    const fleet = new Fleet();
    for (const h of specs) fleet.addHost({ ...h, type: 'CM', capacity: CAPACITY });
    const planner = new Planner(fleet, { policy: 'binpack', sample: 4, maxScan: 64, top: 2 });
    opts.log(`placement: fleet registered in ${Math.round(performance.now() - t0)} ms`);

    // ── the timed run ─────────────────────────────────────────────────────────────────────────────────────
    const decisionMs: number[] = [];
    const commitMs: number[] = [];
    const placedAt = new Map<string, HostView[]>();
    let placed = 0, deferred = 0, refused = 0, events = 0, next = 0;
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    const load0 = loadavg()[0];
    let lastLog = started;
    const one = async (c: Contract) => {
      const needs: Needs = {
        componentId: c.id, tenantId: 'u_bench',
        type: { typeId: 'ct_bench', name: 'bench', version: 1, distribution: 'Cell', singleRunning: false, pool: { kind: 'resources' }, hostTypes: ['CM'] },
        size: c.size, access: c.access, ...(c.regionId && { regionId: c.regionId }), ...(c.zoneId && { zoneId: c.zoneId }), replicas: c.replicas, writers: 1,
      };
      await ccontracts.handle(stream.ccontract(c.id), { type: 'RequestComponent', data: needs } as CContractCommand, { actor });
      const d0 = performance.now();
      const plan = planner.plan({ componentId: c.id, size: c.size, hostTypes: ['CM'], access: c.access, regionId: c.regionId, zoneId: c.zoneId, replicas: Array.from({ length: c.replicas }, (_, i) => i), placed: [] });
      decisionMs.push(performance.now() - d0);
      events++;
      if (!plan.ok) { deferred += c.replicas; return; }
      for (const ch of plan.choices) fleet.reserve(ch.host.hostId, null, c.size);
      const decisions = plan.choices.map((ch) => ({ replica: ch.replica, epoch: 1, hostId: ch.host.hostId, zoneId: ch.host.zoneId, regionId: ch.host.regionId, area: ch.host.area, xnodeId: xnodeIdOf(c.id, ch.replica, 1), score: ch.score }));
      await ccontracts.handle(stream.ccontract(c.id), { type: 'DecidePlacement', data: { componentId: c.id, decisions, reasons: plan.reasons, schedulerId: 'bench', decidedAt: new Date().toISOString() } } as CContractCommand, { actor });
      events++;
      const ok: HostView[] = [];
      await Promise.all(decisions.map(async (d, i) => {
        try {
          await batcher.execute({ type: 'SliceXNode', data: { hostId: d.hostId, xnodeId: d.xnodeId, size: { cpuCores: c.size.cpuCores, ramMiB: c.size.ramMiB, diskGiB: c.size.diskGiB }, ha: { componentId: c.id, replica: d.replica, epoch: 1 } } } as HostCommand, { actor, commandId: commandIds.slice(c.id, d.replica, 1) });
          ok.push(plan.choices[i].host);
          placed++;
          events++;
        } catch (error) {
          refused++;
          if (refused < 5) opts.log(`placement: slice refused: ${error instanceof Error ? error.message : String(error)}`);
        }
      }));
      placedAt.set(c.id, ok);
      commitMs.push(performance.now() - d0);
      const now = performance.now();
      if (now - lastLog > 10_000) { lastLog = now; opts.log(`placement: ${placed} replicas committed, ${Math.round(placed / ((now - started) / 1000))}/s`); }
    };
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < contracts.length) await one(contracts[next++]);
    }));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const load1 = loadavg()[0];

    // ── checks ────────────────────────────────────────────────────────────────────────────────────────────
    let violations = 0;
    for (const c of contracts) {
      const where = placedAt.get(c.id) ?? [];
      const domains = new Set(where.map((h) => domainOf(h, c.access)));
      if (domains.size !== where.length) violations++;
      for (const h of where) if ((c.regionId && h.regionId !== c.regionId) || (c.zoneId && h.zoneId !== c.zoneId)) violations++;
    }
    let overcommitted = 0;
    for (const h of specs) {
      const state = batcher.state(h.hostId) ?? (await hosts.state(`Host-${h.hostId}`)).state;
      if (state.used.cpuCores > state.capacity.cpuCores || state.used.ramMiB > state.capacity.ramMiB || state.used.diskGiB > state.capacity.diskGiB) overcommitted++;
    }
    const hostsUsed = fleet.hosts.filter((h) => h.reserved.cpuCores > 0).length;
    const f0 = performance.now();
    const ffd = ffdHostsUsed(specs, contracts);
    opts.log(`placement: FFD bound computed in ${Math.round(performance.now() - f0)} ms: ${ffd.hostsUsed} hosts (${ffd.unplaced} unplaced); here ${hostsUsed} hosts`);
    const head = await store.headPosition();
    await store.close();
    const raw = rawInsertSeconds(join(dir, 'events.sqlite'), join(dir, 'raw.sqlite'), inFlight);
    opts.log(`placement: raw baseline: ${raw.rows} rows inserted in ${round(raw.seconds, 1)} s`);
    return {
      scenario: 'placement',
      hosts: hostsN,
      contracts: contracts.length,
      replicasRequested: replicasN,
      replicasPlaced: placed,
      replicasDeferred: deferred,
      slicesRefused: refused,
      seconds: round(seconds, 1),
      placementsPerSec: Math.round(placed / seconds),
      cpuSeconds: round(cpuSeconds, 1),
      /** Placements per second of this process's CPU time: what the run would do with a core to itself. */
      placementsPerCpuSec: Math.round(placed / cpuSeconds),
      loadAverage: { atStart: round(load0, 2), atEnd: round(load1, 2) },
      eventsCommitted: head,
      eventsPerSec: Math.round(events / seconds),
      /** Raw baseline (same run): the same rows inserted into SQLite with nothing else done. */
      rawInsertEventsPerSec: Math.round(raw.rows / raw.seconds),
      /** Placements/s if committing cost only the raw inserts of their events: the ceiling of this storage. */
      rawPlacementsPerSec: Math.round(placed / raw.seconds),
      ratioToRaw: round((placed / seconds) / (placed / raw.seconds), 3),
      decisionP50Ms: round(percentile(decisionMs, 50), 3),
      decisionP99Ms: round(percentile(decisionMs, 99), 3),
      commitP99Ms: round(percentile(commitMs, 99), 1),
      violations,
      hostsOvercommitted: overcommitted,
      hostsUsed,
      ffdHostsUsed: ffd.hostsUsed,
      packingRatio: round(ffd.hostsUsed / Math.max(1, hostsUsed), 3),
      inFlight,
      sqliteCacheMiB: 256,
      hostAppends: batcher.appends,
      slicesPerHostAppend: round(placed / Math.max(1, batcher.appends), 1),
      anchors: { nomadC1M: '3,750 containers/s on 5 servers', kubernetesAntiAffinityFloor: '60 pods/s at 5,000 nodes' },
    };
  });
}

/**
 * The raw baseline: the committed rows, in log order, inserted into a fresh file of the same schema (WAL, NORMAL) in
 * transactions of `perTx` rows. Rows are read in chunks first; only the inserts are timed.
 */
function rawInsertSeconds(from: string, to: string, perTx: number): { rows: number; seconds: number } {
  const src = new Database(from, { readonly: true });
  const dst = new Database(to);
  dst.pragma('journal_mode = WAL');
  dst.pragma('synchronous = NORMAL');
  dst.pragma('cache_size = -262144');
  dst.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, stream TEXT NOT NULL, revision INTEGER NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, hash TEXT NOT NULL);
            CREATE UNIQUE INDEX events_by_stream ON events (stream, revision);`);
  const read = src.prepare('SELECT position, stream, revision, type, body, hash FROM events WHERE position > ? ORDER BY position LIMIT 50000').raw(true);
  const insert = dst.prepare('INSERT INTO events (stream, revision, type, body, hash) VALUES (?, ?, ?, ?, ?)');
  const tx = dst.transaction((rows: unknown[][], a: number, b: number) => { for (let i = a; i < b; i++) { const r = rows[i]; insert.run(r[1], r[2], r[3], r[4], r[5]); } });
  let after = 0, rows = 0, ns = 0n;
  for (;;) {
    const chunk = read.all(after) as unknown[][];
    if (chunk.length === 0) break;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < chunk.length; i += perTx) tx(chunk, i, Math.min(chunk.length, i + perTx));
    ns += process.hrtime.bigint() - t0;
    rows += chunk.length;
    after = chunk[chunk.length - 1][0] as number;
  }
  src.close();
  dst.close();
  return { rows, seconds: Number(ns) / 1e9 };
}
