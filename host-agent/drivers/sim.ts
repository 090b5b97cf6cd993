/**
 * SIMULATED host driver, for demos and scale benchmarks. Nothing runs: slices are records in memory (optionally
 * persisted to a JSON file), their figures are made up. It says so everywhere: `kind: 'sim'`, `simulated: true`
 * on the driver, on every listed slice and on every load report, `[simulated]` in every detail and error message.
 *
 * Knobs: per-operation latency (fixed or a uniform range), a random failure rate (seeded, so runs repeat), failures
 * injected for the next N calls of an operation (optionally for one slice), and `crash(id)` to make a running
 * slice fail as a real one would.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  DriverError, parseSliceSpec, specHash, assertSliceId,
  type LoadReport, type ObservedSlice, type ObservedState, type SliceDriver, type SliceFigures, type SliceSpec,
  type SliceSpecInput, type StopOptions,
} from './port.ts';
import { sleep } from './exec.ts';

export type SimOp = 'create' | 'start' | 'stop' | 'hibernate' | 'resume' | 'destroy';
export type Latency = number | { min: number; max: number };

export interface SimDriverOptions {
  /** Label of the simulated host (appears in details). */
  hostId?: string;
  /** The simulated host's size, for load reports (default 64 cores, 256 GiB RAM, 4 TiB disk). */
  capacity?: { cpuCores: number; ramMiB: number; diskGiB: number };
  /** Latency of every mutating operation, or per operation (default 0). */
  latencyMs?: Latency | Partial<Record<SimOp, Latency>>;
  /** Probability in [0, 1] that a mutating operation fails with DriverError('injected-failure') (default 0). */
  failureRate?: number;
  /** Seed of the random source for latencies and failures (default 1). */
  seed?: number;
  /** Persist the slices here (JSON, rewritten after each change) and load them from here at start. */
  persistFile?: string;
  /** Simulated CPU utilisation of a running slice, 0..1 (default 0.25). */
  utilisation?: number;
  /** Clock (tests). */
  now?: () => number;
}

type SimState = Exclude<ObservedState, 'absent'>;

interface SimSlice {
  spec: SliceSpec;
  state: SimState;
  /** Epoch ms of the last state change. */
  since: number;
  /** CPU time accumulated in earlier running periods (ms). */
  cpuTimeMs: number;
  detail: string;
}

interface InjectedFailure {
  op: SimOp | '*';
  id?: string;
  remaining: number;
  message: string;
  /** `error`: the call throws and nothing changes; `fail-slice`: the call throws and the slice ends up `failed`. */
  mode: 'error' | 'fail-slice';
}

interface PersistedSim {
  simulated: true;
  note: string;
  hostId: string;
  slices: SimSlice[];
}

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OPS: SimOp[] = ['create', 'start', 'stop', 'hibernate', 'resume', 'destroy'];

export class SimDriver implements SliceDriver {
  readonly kind = 'sim' as const;
  readonly simulated = true;
  readonly hostId: string;
  private readonly slices = new Map<string, SimSlice>();
  private readonly failures: InjectedFailure[] = [];
  private readonly random: () => number;
  private readonly now: () => number;
  private loaded?: Promise<void>;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  /** Count of calls per operation (for benchmarks and tests). */
  readonly calls: Record<SimOp, number> = { create: 0, start: 0, stop: 0, hibernate: 0, resume: 0, destroy: 0 };

  constructor(private readonly opts: SimDriverOptions = {}) {
    this.hostId = opts.hostId ?? 'sim_host';
    this.random = rng(opts.seed ?? 1);
    this.now = opts.now ?? Date.now;
    const rate = opts.failureRate ?? 0;
    if (!(rate >= 0 && rate <= 1)) throw new DriverError('invalid-spec', '[simulated] failureRate must lie in [0, 1]');
  }

  private tag(s: string): string { return `[simulated ${this.hostId}] ${s}`; }

  private ready(): Promise<void> {
    this.loaded ??= (async () => {
      if (!this.opts.persistFile) return;
      let text: string;
      try { text = await readFile(this.opts.persistFile, 'utf8'); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      const data = JSON.parse(text) as PersistedSim;
      if (data.simulated !== true) throw new DriverError('invalid-spec', this.tag(`${this.opts.persistFile} is not a simulated driver's state file`));
      for (const s of data.slices) this.slices.set(s.spec.id, s);
    })();
    return this.loaded;
  }

  /** Writes the state file; concurrent changes coalesce into the next write. Resolves once a write that
   *  includes every change made before the call is on disk. */
  private persist(): Promise<void> {
    const file = this.opts.persistFile;
    if (!file) return Promise.resolve();
    this.dirty = true;
    this.writing = this.writing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const data: PersistedSim = {
        simulated: true,
        note: 'SIMULATED host: nothing in this file ever ran on a real machine',
        hostId: this.hostId,
        slices: [...this.slices.values()],
      };
      await mkdir(dirname(file), { recursive: true });
      await writeFile(`${file}.tmp`, JSON.stringify(data));
      await rename(`${file}.tmp`, file);
    });
    return this.writing;
  }

  private latencyFor(op: SimOp): number {
    const l = this.opts.latencyMs;
    let v: Latency | undefined;
    if (typeof l === 'number' || (l && 'min' in l && 'max' in l)) v = l as Latency;
    else if (l) v = (l as Partial<Record<SimOp, Latency>>)[op];
    if (v === undefined) return 0;
    if (typeof v === 'number') return v;
    return v.min + (v.max - v.min) * this.random();
  }

  /** Simulated work: latency, then maybe an injected or random failure. */
  private async work(op: SimOp, id: string): Promise<void> {
    this.calls[op]++;
    const ms = this.latencyFor(op);
    if (ms > 0) await sleep(ms);
    const i = this.failures.findIndex((f) => (f.op === '*' || f.op === op) && (!f.id || f.id === id));
    if (i >= 0) {
      const f = this.failures[i]!;
      if (--f.remaining <= 0) this.failures.splice(i, 1);
      if (f.mode === 'fail-slice') {
        const s = this.slices.get(id);
        if (s) { this.setState(s, 'failed', `failed during ${op}: ${f.message}`); await this.persist(); }
      }
      throw new DriverError('injected-failure', this.tag(`${op} ${id}: ${f.message}`), id);
    }
    const rate = this.opts.failureRate ?? 0;
    if (rate > 0 && this.random() < rate) {
      throw new DriverError('injected-failure', this.tag(`${op} ${id}: random failure (failureRate ${rate})`), id);
    }
  }

  private setState(s: SimSlice, state: SimState, why: string): void {
    const t = this.now();
    if (s.state === 'running') s.cpuTimeMs += (t - s.since) * s.spec.cpuCores * (this.opts.utilisation ?? 0.25);
    s.state = state;
    s.since = t;
    s.detail = this.tag(why);
  }

  private get(id: string): SimSlice {
    assertSliceId(id);
    const s = this.slices.get(id);
    if (!s) throw new DriverError('not-found', this.tag(`no slice ${id}`), id);
    return s;
  }

  // ------------------------------------------------------------ failure injection

  /** Makes the next `times` calls of `op` (any op with '*', any slice unless `id`) fail. */
  injectFailure(f: { op: SimOp | '*'; id?: string; times?: number; message?: string; mode?: 'error' | 'fail-slice' }): void {
    if (f.op !== '*' && !OPS.includes(f.op)) throw new DriverError('invalid-spec', this.tag(`unknown operation ${f.op}`));
    this.failures.push({ op: f.op, id: f.id, remaining: f.times ?? 1, message: f.message ?? 'injected failure', mode: f.mode ?? 'error' });
  }

  clearFailures(): void { this.failures.length = 0; }

  /** The slice dies on its own (a simulated crash): running or hibernated → failed. */
  async crash(id: string, reason = 'simulated crash'): Promise<ObservedState> {
    await this.ready();
    const s = this.get(id);
    this.setState(s, 'failed', reason);
    await this.persist();
    return s.state;
  }

  /** Every slice disappears as if the host were wiped (state file included). */
  async wipe(): Promise<void> {
    await this.ready();
    this.slices.clear();
    await this.persist();
  }

  // ------------------------------------------------------------ SliceDriver

  async create(input: SliceSpecInput): Promise<ObservedState> {
    const spec = parseSliceSpec(input);
    await this.ready();
    const existing = this.slices.get(spec.id);
    if (existing) {
      if (specHash(existing.spec) !== specHash(spec)) throw new DriverError('conflict', this.tag(`slice ${spec.id} exists with another spec`), spec.id);
      if (JSON.stringify(existing.spec.fencing) !== JSON.stringify(spec.fencing)) { existing.spec = spec; await this.persist(); }
      return existing.state;
    }
    await this.work('create', spec.id);
    if (this.slices.has(spec.id)) return this.slices.get(spec.id)!.state; // a concurrent create won
    this.slices.set(spec.id, { spec, state: 'stopped', since: this.now(), cpuTimeMs: 0, detail: this.tag('created') });
    await this.persist();
    return 'stopped';
  }

  async start(id: string): Promise<ObservedState> {
    await this.ready();
    const s = this.get(id);
    if (s.state === 'running') return 'running';
    await this.work('start', id);
    const was = s.state as SimState; // a concurrent start may have won meanwhile
    if (was !== 'running') this.setState(s, 'running', was === 'hibernated' ? 'resumed by start' : 'started');
    await this.persist();
    return s.state;
  }

  async stop(id: string, opts: StopOptions = {}): Promise<ObservedState> {
    await this.ready();
    assertSliceId(id);
    const s = this.slices.get(id);
    if (!s) return 'absent';
    if (s.state === 'stopped' || s.state === 'failed') return s.state;
    await this.work('stop', id);
    this.setState(s, 'stopped', opts.force ? 'powered off (forced)' : s.state === 'hibernated' ? 'saved state discarded' : 'shut down');
    await this.persist();
    return s.state;
  }

  async hibernate(id: string): Promise<ObservedState> {
    await this.ready();
    const s = this.get(id);
    if (s.state === 'hibernated') return s.state;
    if (s.state !== 'running') throw new DriverError('invalid-state', this.tag(`slice ${id} is ${s.state}; only a running slice can hibernate`), id);
    await this.work('hibernate', id);
    this.setState(s, 'hibernated', 'hibernated');
    await this.persist();
    return s.state;
  }

  async resume(id: string): Promise<ObservedState> {
    await this.ready();
    const s = this.get(id);
    if (s.state === 'running') return s.state;
    if (s.state !== 'hibernated') throw new DriverError('invalid-state', this.tag(`slice ${id} is ${s.state}, not hibernated`), id);
    await this.work('resume', id);
    this.setState(s, 'running', 'resumed');
    await this.persist();
    return s.state;
  }

  async destroy(id: string): Promise<ObservedState> {
    await this.ready();
    assertSliceId(id);
    if (!this.slices.has(id)) return 'absent';
    await this.work('destroy', id);
    this.slices.delete(id);
    await this.persist();
    return 'absent';
  }

  async status(id: string): Promise<ObservedState> {
    await this.ready();
    assertSliceId(id);
    return this.slices.get(id)?.state ?? 'absent';
  }

  async list(): Promise<ObservedSlice[]> {
    await this.ready();
    return [...this.slices.values()].map((s) => {
      const o: ObservedSlice = { id: s.spec.id, state: s.state, managed: true, kind: s.spec.kind, detail: s.detail, simulated: true };
      if (s.spec.fencing) o.fencing = s.spec.fencing;
      return o;
    });
  }

  async load(): Promise<LoadReport> {
    await this.ready();
    const cap = this.opts.capacity ?? { cpuCores: 64, ramMiB: 256 * 1024, diskGiB: 4096 };
    const u = this.opts.utilisation ?? 0.25;
    const t = this.now();
    let cpu = 0;
    let ram = 0;
    let disk = 0;
    const slices: SliceFigures[] = [];
    for (const s of this.slices.values()) {
      const running = s.state === 'running';
      const f: SliceFigures = {
        id: s.spec.id,
        state: s.state,
        cpuTimeMs: Math.round(s.cpuTimeMs + (running ? (t - s.since) * s.spec.cpuCores * u : 0)),
        ramLimitMiB: s.spec.ramMiB,
        ramUsedMiB: running ? Math.round(s.spec.ramMiB * 0.5) : 0,
        diskUsedMiB: s.spec.diskGiB * 1024,
      };
      if (running) { cpu += s.spec.cpuCores * u; ram += f.ramUsedMiB!; }
      disk += s.spec.diskGiB;
      slices.push(f);
    }
    return {
      driver: 'sim',
      simulated: true,
      at: new Date(t).toISOString(),
      host: { cpuCores: cap.cpuCores, loadAvg1: Math.round(cpu * 100) / 100, ramMiB: cap.ramMiB, ramUsedMiB: ram, diskGiB: cap.diskGiB, diskUsedGiB: disk },
      slices,
    };
  }

  async close(): Promise<void> {
    await this.writing;
  }
}
