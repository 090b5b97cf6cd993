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
 *    timed alone: "decision latency") → DecidePlacement with reasons (CContract stream; the lifecycle move recorded in
 *    the decision) → SliceXNode with the fencing token on each chosen host's stream, through the HostBatcher: slices
 *    queued for one host while its previous append is in flight go into one append with one expected revision
 *    (bin-packing's hot hosts do not spin on conflicts). Many contracts are in flight, so appends to different
 *    streams share transactions (group commit). A refused slice fails its slot (FailPlacement, next epoch) and the
 *    replica is planned again, at most three times.
 *  - Several scheduler PROCESSES at once (default: one per core, at most 2; LEDGER_BENCH_PLACEMENT_PROCS), as
 *    Nomad's optimistic parallel schedulers: each takes every N-th contract, plans on its own view of the fleet
 *    (its share of every pool first, the others' from the end: `Planner` `share`), follows what the others commit
 *    (a read of the log's new Host events every 100 ms and after a refusal), and commits to the one SQLite file with
 *    the store's `busyWait: 'yield'` (a batch that finds the write lock taken is retried from the event loop, so the
 *    process goes on planning meanwhile). Conflicts are settled by the host streams' expected revisions.
 *  - Checks, over everything committed (the Host streams read back and folded with the Host decider after the run):
 *    anti-affinity violations and replicas outside their scope (must be 0), replicas placed twice, hosts over
 *    capacity, and packing: hosts used by first-fit-decreasing (same constraints, offline, sorted by size) divided by
 *    hosts used here.
 *
 * `--quick`: 1,000 hosts and 100,000 replicas.
 *
 * The scheduler processes are started with a larger V8 young generation (`--max-semi-space-size`): a placement
 * allocates a few kB that all die young, and with the default 16 MB semi-spaces the scavenger took a quarter of the
 * CPU. Wall time runs from the moment all of them were told to go to the last one's end; CPU time is theirs, summed.
 * Raw baseline, same run: the very rows committed (stream, revision, type, body, hash) inserted into a fresh SQLite
 * file of the same schema by one writer, in transactions of the in-flight size, with no decider, validation, JSON or
 * hashing — what the disk and SQLite alone would allow.
 */
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import { performance as perfHooks } from 'node:perf_hooks';
import { fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { decodeRow, SqliteEventStore } from '../core/event-store/sqlite.ts';
import { CommandHandler } from '../core/command-handler.ts';
import { evolveInPlace, hostDecider, ownedHostState, type HostState } from '../layers/resources/host/decider.ts';
import type { HostEvent } from '../layers/resources/host/events.ts';
import { DomainError } from '../core/decider.ts';
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
/** How often a scheduler process reads what the others committed (when several run). */
const CATCH_UP_MS = 100;
const eventLoopUtilization = perfHooks.eventLoopUtilization;
const envInt = (name: string) => { const v = Number(process.env[name]); return Number.isInteger(v) && v > 0 ? v : undefined; };
const sizes = (quick: boolean) => ({
  // sizes: --quick, or LEDGER_BENCH_PLACEMENT_HOSTS / LEDGER_BENCH_PLACEMENT_REPLICAS to measure other points
  hostsN: envInt('LEDGER_BENCH_PLACEMENT_HOSTS') ?? (quick ? 1_000 : 10_000),
  replicasN: envInt('LEDGER_BENCH_PLACEMENT_REPLICAS') ?? (quick ? 100_000 : 1_000_000),
  inFlight: envInt('LEDGER_BENCH_PLACEMENT_IN_FLIGHT') ?? 1024,
  // schedulers in parallel, each a process (one core each): default the cores, at most 2
  procs: envInt('LEDGER_BENCH_PLACEMENT_PROCS') ?? Math.min(2, availableParallelism()),
});

/** What a scheduler process reports when it is done. */
interface WorkerResult {
  placed: number; deferred: number; refused: number; replanned: number; cpuSeconds: number; seconds: number;
  decisionMs: number[]; commitMs: number[]; hostAppends: number; hostConflicts: number; lockWaits: number;
  /** Time its event loop waited with nothing to do (for the write lock, mostly): not CPU contention. */
  idleSeconds: number;
  /** Catch-up reads of the Host category and the events they applied to this process's view. */
  catchUps: number; caughtUpEvents: number; catchUpSeconds: number;
}

if (process.argv[2] === '--placement-worker' && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [dir, k, n, quick] = process.argv.slice(3);
  const send = (m: unknown) => new Promise<void>((resolve) => process.send!(m, () => resolve()));
  const result = await schedulerProcess({ dir, index: Number(k), of: Number(n), quick: quick === 'quick', log: (line) => void send({ log: line }), ready: () => send({ ready: true }).then(() => new Promise<void>((resolve) => process.once('message', () => resolve()))) });
  await send({ result });
  process.exit(0);
}

/**
 * The coordinator (this process): registers the fleet, starts `procs` scheduler processes (each with a young
 * generation sized at start: it cannot be resized later), lets them go at once, and measures from then to the last
 * one's end. The checks then read everything committed: violations and capacity from the Host streams themselves.
 */
export async function run(opts: BenchOptions): Promise<BenchResult> {
  const { hostsN, replicasN, inFlight, procs } = sizes(!!opts.quick);
  return withTempDir('ledger-bench-placement-', async (dir) => {
    const path = join(dir, 'events.sqlite');
    const specs = fleetSpec(hostsN);
    const contracts = demand(replicasN, rng(42));
    opts.log(`placement: ${hostsN} hosts, ${contracts.length} contracts, ${replicasN} replicas (r = 2 or 3, required anti-affinity), ${procs} scheduler process(es)`);

    // ── the fleet, registered through the Host decider ──────────────────────────────────────────────────────
    const t0 = performance.now();
    let store = new SqliteEventStore({ path });
    const hosts = new CommandHandler(store, hostDecider, { cacheSize: 1000 });
    for (let i = 0; i < specs.length; i += 500) {
      await Promise.all(specs.slice(i, i + 500).map((h) => hosts.handle(`Host-${h.hostId}`, {
        type: 'RegisterHost', data: { hostId: h.hostId, zoneId: h.zoneId, regionId: h.regionId, name: h.hostId, type: 'CM', area: h.area, resources: HOST, allocationRatios: { cpuCores: 3 } },
      } as HostCommand, { actor })));
    }
    const fleetEvents = await store.headPosition();
    await store.close();
    opts.log(`placement: fleet registered in ${Math.round(performance.now() - t0)} ms`);

    // ── the scheduler processes ──────────────────────────────────────────────────────────────────────────
    const results: WorkerResult[] = [];
    let ready = 0, started = 0, ended = 0, load0 = 0;
    const children = Array.from({ length: procs }, (_, k) => fork(fileURLToPath(import.meta.url), ['--placement-worker', dir, String(k), String(procs), opts.quick ? 'quick' : 'full'], {
      execArgv: ['--import', 'tsx', `--max-semi-space-size=${SEMI_SPACE_MB}`, ...(process.env.LEDGER_BENCH_PLACEMENT_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LEDGER_BENCH_PLACEMENT_PROFILE}`] : [])],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    }));
    await Promise.all(children.map((child, k) => new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (d) => { err += d; });
      child.on('message', (m: { log?: string; ready?: boolean; result?: WorkerResult }) => {
        if (m.log) opts.log(procs > 1 ? `[${k}] ${m.log}` : m.log);
        if (m.ready && ++ready === procs) { load0 = loadavg()[0]; started = performance.now(); for (const c of children) c.send('go'); }
        if (m.result) { results[k] = m.result; ended = performance.now(); }
      });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 && results[k] ? resolve() : reject(new Error(`placement scheduler ${k} exited with ${code}: ${err.slice(-2000)}`))));
    })));
    const seconds = (ended - started) / 1000;
    const load1 = loadavg()[0];
    const sum = (f: (r: WorkerResult) => number) => results.reduce((n, r) => n + f(r), 0);
    const placed = sum((r) => r.placed);
    const cpuSeconds = sum((r) => r.cpuSeconds);

    // ── checks, over everything committed ────────────────────────────────────────────────────────────────
    store = new SqliteEventStore({ path });
    const check = await checkCommitted(store, specs, contracts);
    const head = await store.headPosition();
    await store.close();
    const f0 = performance.now();
    const ffd = ffdHostsUsed(specs, contracts);
    opts.log(`placement: FFD bound computed in ${Math.round(performance.now() - f0)} ms: ${ffd.hostsUsed} hosts (${ffd.unplaced} unplaced); here ${check.hostsUsed} hosts`);
    const raw = rawInsertSeconds(path, join(dir, 'raw.sqlite'), inFlight);
    opts.log(`placement: raw baseline: ${raw.rows} rows inserted in ${round(raw.seconds, 1)} s`);
    const decisionMs = results.flatMap((r) => r.decisionMs);
    const commitMs = results.flatMap((r) => r.commitMs);
    return {
      scenario: 'placement',
      hosts: hostsN,
      contracts: contracts.length,
      replicasRequested: replicasN,
      schedulerProcesses: procs,
      replicasPlaced: placed,
      replicasCommitted: check.replicas,
      replicasDeferred: sum((r) => r.deferred),
      slicesRefused: sum((r) => r.refused),
      replicasReplanned: sum((r) => r.replanned),
      seconds: round(seconds, 1),
      placementsPerSec: Math.round(placed / seconds),
      cpuSeconds: round(cpuSeconds, 1),
      /** Placements per second of the scheduler processes' CPU time (summed): what one core does. */
      placementsPerCpuSec: Math.round(placed / cpuSeconds),
      perProcess: results.map((r) => ({ placed: r.placed, seconds: round(r.seconds, 1), cpuSeconds: round(r.cpuSeconds, 1), hostConflicts: r.hostConflicts, lockWaits: r.lockWaits, idleSeconds: round(r.idleSeconds, 1), catchUps: r.catchUps, caughtUpEvents: r.caughtUpEvents, catchUpSeconds: round(r.catchUpSeconds, 1), replanned: r.replanned })),
      loadAverage: { atStart: round(load0, 2), atEnd: round(load1, 2) },
      eventsCommitted: head - fleetEvents,
      eventsPerSec: Math.round((head - fleetEvents) / seconds),
      eventsPerPlacement: round((head - fleetEvents) / Math.max(1, placed), 2),
      /** Raw baseline (same run): the same rows inserted into SQLite with nothing else done. */
      rawInsertEventsPerSec: Math.round(raw.rows / raw.seconds),
      /** Placements/s if committing cost only the raw inserts of their events: the ceiling of this storage. */
      rawPlacementsPerSec: Math.round(placed / raw.seconds),
      ratioToRaw: round((placed / seconds) / (placed / raw.seconds), 3),
      decisionP50Ms: round(percentile(decisionMs, 50), 3),
      decisionP99Ms: round(percentile(decisionMs, 99), 3),
      commitP99Ms: round(percentile(commitMs, 99), 1),
      violations: check.violations,
      replicasPlacedTwice: check.twice,
      hostsOvercommitted: check.overcommitted,
      hostsUsed: check.hostsUsed,
      ffdHostsUsed: ffd.hostsUsed,
      packingRatio: round(ffd.hostsUsed / Math.max(1, check.hostsUsed), 3),
      inFlight,
      sqliteCacheMiB: 256,
      hostAppends: sum((r) => r.hostAppends),
      slicesPerHostAppend: round(placed / Math.max(1, sum((r) => r.hostAppends)), 1),
      anchors: { nomadC1M: '3,750 containers/s on 5 servers', kubernetesAntiAffinityFloor: '60 pods/s at 5,000 nodes' },
    };
  });
}

/**
 * Reads every Host stream back and folds it with the Host decider: hosts over capacity, hosts used, and every live
 * HA slice: a replica of a component on two hosts, replicas of one component sharing a failure domain, or a replica
 * outside its contract's scope each count as violations.
 */
async function checkCommitted(store: SqliteEventStore, specs: HostSpec[], contracts: Contract[]) {
  const states = new Map<string, HostState>();
  for (let after = 0; ;) {
    const batch = await store.readAll({ after, maxCount: 20_000, filter: { categories: ['Host'] } });
    if (batch.length === 0) break;
    for (const e of batch) states.set(e.streamId, evolveInPlace(states.get(e.streamId) ?? ownedHostState(hostDecider.initialState()), e as unknown as HostEvent));
    after = batch[batch.length - 1].position;
  }
  const byContract = new Map(contracts.map((c) => [c.id, c]));
  const where = new Map<string, Map<number, HostSpec[]>>();
  let overcommitted = 0, hostsUsed = 0, replicas = 0;
  for (const h of specs) {
    const state = states.get(`Host-${h.hostId}`);
    if (!state) continue;
    if (state.used.cpuCores > state.capacity.cpuCores || state.used.ramMiB > state.capacity.ramMiB || state.used.diskGiB > state.capacity.diskGiB) overcommitted++;
    if (state.used.cpuCores > 0) hostsUsed++;
    for (const slice of Object.values(state.slices)) {
      if (!slice.ha || slice.state === 'released') continue;
      replicas++;
      const m = where.get(slice.ha.componentId) ?? new Map<number, HostSpec[]>();
      where.set(slice.ha.componentId, m);
      const l = m.get(slice.ha.replica) ?? [];
      l.push(h);
      m.set(slice.ha.replica, l);
    }
  }
  let violations = 0, twice = 0;
  for (const [id, m] of where) {
    const c = byContract.get(id)!;
    const all = [...m.values()].flat();
    for (const l of m.values()) if (l.length > 1) twice++;
    if (new Set(all.map((h) => domainOf(h, c.access))).size !== all.length) violations++;
    for (const h of all) if ((c.regionId && h.regionId !== c.regionId) || (c.zoneId && h.zoneId !== c.zoneId)) violations++;
  }
  return { violations, twice, overcommitted, hostsUsed, replicas };
}

/**
 * One scheduler process: its share of the contracts (every `of`-th), planned on its own view of the fleet with its
 * share of every pool first, committed through the real deciders to the shared file. The view reads what the other
 * schedulers committed from the log every 100 ms; a host filled meanwhile is found out when its stream refuses a
 * slice (the Host decider, deciding on the stream's current state under its expected revision): the slot fails (next
 * epoch), the view catches up at once, and the replica is planned again elsewhere, as the real scheduler re-plans.
 */
async function schedulerProcess(o: { dir: string; index: number; of: number; quick: boolean; log: (line: string) => void; ready: () => Promise<void> }): Promise<WorkerResult> {
  const { hostsN, replicasN, inFlight } = sizes(o.quick);
  const store = new SqliteEventStore({ path: join(o.dir, 'events.sqlite'), ...(o.of > 1 && { busyWait: 'yield' as const }) });
  // a 2.5 GB log with a random-order (stream, revision) index: give SQLite a page cache that holds the hot part
  store.db.pragma('cache_size = -262144');
  const batcher = new HostBatcher(store);
  const ccontracts = new CommandHandler(store, ccontractDecider, { cacheSize: 4096 });
  const specs = fleetSpec(hostsN);
  const contracts = demand(replicasN, rng(42)).filter((_, i) => i % o.of === o.index);
  const fleet = new Fleet();
  for (const h of specs) fleet.addHost({ ...h, type: 'CM', capacity: CAPACITY });
  const planner = new Planner(fleet, { policy: 'binpack', sample: 4, maxScan: 64, top: 2, share: { index: o.index, of: o.of } });

  // The view follows the log as the real scheduler's follows the Host category: what the other processes committed
  // is applied to the Fleet (its own slices it knows already: they are its reservations). Read on a timer and at once
  // after a refusal (the view was stale about that host). (Relaying the stored events between the processes instead,
  // as a bus would, was measured: less CPU for following, but more refusals from the later view; no better.)
  const actor = { kind: 'system', id: `bench-placement-s${o.index}` } as const;
  const me = `"${actor.id}"`;
  const others = store.db.prepare("SELECT position, stream, revision, type, body, hash FROM events NOT INDEXED WHERE position > ? AND position <= ? AND substr(stream, 1, 5) = 'Host-' AND instr(body, ?) = 0 ORDER BY position");
  let position = 0, catchUps = 0, caughtUpEvents = 0, catchUpMs = 0;
  let catchingUp = false, finished = false;
  const catchUp = async () => {
    if (catchingUp || finished) return;
    catchingUp = true;
    catchUps++;
    const t0 = performance.now();
    try {
      // The Host events appended since the last read, in log order, without those this process committed (it knows
      // them already: they are its reservations), selected inside SQLite (a rowid range up to the head read first:
      // only the rows wanted become JavaScript strings; the stream index is not used, it would need a sort).
      const head = store.db.prepare('SELECT max(position) FROM events').pluck().get() as number;
      for (const row of others.iterate(position, head, me) as Iterable<{ position: number; stream: string; revision: number; type: string; body: string; hash: string }>) {
        fleet.apply(decodeRow(row));
        caughtUpEvents++;
      }
      position = head;
    } finally { catchingUp = false; catchUpMs += performance.now() - t0; }
  };
  let catchUpSoon = false;
  const catchUpAfterRefusal = () => { if (!catchUpSoon) { catchUpSoon = true; setImmediate(() => { catchUpSoon = false; void catchUp(); }); } };
  await catchUp();

  const decisionMs: number[] = [];
  const commitMs: number[] = [];
  let placed = 0, deferred = 0, refused = 0, replanned = 0, next = 0;
  await o.ready();
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const elu0 = eventLoopUtilization();
  const timer = o.of > 1 ? setInterval(() => void catchUp(), CATCH_UP_MS) : undefined;
  let lastLog = started;
  const one = async (c: Contract) => {
    const needs: Needs = {
      componentId: c.id, tenantId: 'u_bench',
      type: { typeId: 'ct_bench', name: 'bench', version: 1, distribution: 'Cell', singleRunning: false, pool: { kind: 'resources' }, hostTypes: ['CM'] },
      size: c.size, access: c.access, ...(c.regionId && { regionId: c.regionId }), ...(c.zoneId && { zoneId: c.zoneId }), replicas: c.replicas, writers: 1,
    };
    await ccontracts.handle(stream.ccontract(c.id), { type: 'RequestComponent', data: needs } as CContractCommand, { actor });
    const d0 = performance.now();
    const ok: HostView[] = [];
    // hosts that refused a replica of this contract (the view may not have caught up with what filled them yet)
    const refusedHosts = new Set<string>();
    let pending = Array.from({ length: c.replicas }, (_, i) => i);
    for (let epoch = 1; pending.length > 0; epoch++) {
      if (epoch > 3) { deferred += pending.length; break; } // (refused three times: left for later, as deferred)
      const p0 = performance.now();
      const plan = planner.plan({ componentId: c.id, size: c.size, hostTypes: ['CM'], access: c.access, regionId: c.regionId, zoneId: c.zoneId, replicas: pending, placed: ok, ...(refusedHosts.size && { excludeHosts: refusedHosts }) });
      decisionMs.push(performance.now() - p0);
      if (!plan.ok) { deferred += pending.length; break; }
      if (epoch > 1) replanned += pending.length;
      for (const ch of plan.choices) fleet.reserve(ch.host.hostId, null, c.size);
      const decisions = plan.choices.map((ch) => ({ replica: ch.replica, epoch, hostId: ch.host.hostId, zoneId: ch.host.zoneId, regionId: ch.host.regionId, area: ch.host.area, xnodeId: xnodeIdOf(c.id, ch.replica, epoch), score: ch.score }));
      await ccontracts.handle(stream.ccontract(c.id), { type: 'DecidePlacement', data: { componentId: c.id, decisions, reasons: plan.reasons, schedulerId: `bench-${o.index}`, decidedAt: new Date().toISOString() } } as CContractCommand, { actor });
      const failed: number[] = [];
      await Promise.all(decisions.map(async (d, i) => {
        try {
          await batcher.execute({ type: 'SliceXNode', data: { hostId: d.hostId, xnodeId: d.xnodeId, size: { cpuCores: c.size.cpuCores, ramMiB: c.size.ramMiB, diskGiB: c.size.diskGiB }, ha: { componentId: c.id, replica: d.replica, epoch } } } as HostCommand, { actor, commandId: commandIds.slice(c.id, d.replica, epoch) });
          ok.push(plan.choices[i].host);
          placed++;
        } catch (error) {
          refused++;
          fleet.release(d.hostId, c.size);
          catchUpAfterRefusal();
          failed.push(d.replica);
          refusedHosts.add(d.hostId);
          await ccontracts.handle(stream.ccontract(c.id), { type: 'FailPlacement', data: { componentId: c.id, replica: d.replica, epoch, hostId: d.hostId, xnodeId: d.xnodeId, code: error instanceof DomainError ? error.code : 'CONFLICT', message: (error instanceof Error ? error.message : String(error)).slice(0, 500) } } as CContractCommand, { actor });
        }
      }));
      pending = failed;
    }
    commitMs.push(performance.now() - d0);
    const now = performance.now();
    if (now - lastLog > 10_000) { lastLog = now; o.log(`placement: ${placed} replicas committed, ${Math.round(placed / ((now - started) / 1000))}/s`); }
  };
  await Promise.all(Array.from({ length: envInt('LEDGER_BENCH_PLACEMENT_IN_FLIGHT_EACH') ?? Math.ceil(inFlight / o.of) }, async () => {
    while (next < contracts.length) await one(contracts[next++]);
  }));
  clearInterval(timer);
  finished = true;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const elu = eventLoopUtilization(elu0);
  await store.close();
  return {
    placed, deferred, refused, replanned, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, decisionMs, commitMs,
    hostAppends: batcher.appends, hostConflicts: batcher.conflicts, lockWaits: store.busyRetriesTotal,
    idleSeconds: elu.idle / 1000, catchUps, caughtUpEvents, catchUpSeconds: catchUpMs / 1000,
  };
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
