/**
 * CNode driver: one OCI bundle per slice, run by `runc` with its own `--root` state directory.
 *
 *   <stateDir>/bundles/<id>/config.json   limits from the slice (see oci-spec.ts)
 *                          /rootfs        overlayfs over the image (template boot) or a full copy
 *                          /upper, /work  the overlay's private layer
 *                          /slice.json    the ledger's record: spec, desired state, last error
 *                          /console.log   the container's standard output and error
 *   <runcRoot>/                           runc's own state
 *
 *   create → bundle;  start → `runc run -d` (or `runc resume` from paused);  stop → `runc kill TERM`, `KILL` after
 *   the grace time, then `runc delete`;  hibernate → `runc pause` (freezer: the processes stay in RAM, frozen);
 *   resume → `runc resume`;  destroy → `runc delete --force`, unmount, remove the bundle;  status → `runc state`.
 *
 * A container that is gone or exited while the ledger wanted it running is reported `failed`, never `stopped`:
 * nobody stopped it.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, rm, stat, statfs } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import {
  DriverError, parseSliceSpec, specHash, assertSliceId,
  type LoadReport, type ObservedSlice, type ObservedState, type SliceDriver, type SliceFigures, type SliceSpec,
  type SliceSpecInput, type StopOptions,
} from './port.ts';
import { ANNOTATION, ociConfig } from './oci-spec.ts';
import { execDetached, execTool, firstLine, sleep, waitFor } from './exec.ts';

export interface OciDriverOptions {
  /** Directory for the bundles (and, by default, runc's state). */
  stateDir: string;
  /** runc `--root` (default `<stateDir>/runc`): a dedicated one keeps these containers apart from others. */
  runcRoot?: string;
  /** runc executable (default `runc` on PATH). */
  runc?: string;
  /** cgroup parent of the containers (default `resource-ledger`). */
  cgroupParent?: string;
  /** Grace time between SIGTERM and SIGKILL on a non-forced stop (default 10 s). */
  stopTimeoutMs?: number;
  cpuPeriodUs?: number;
  defaultPidsLimit?: number;
}

type Desired = 'stopped' | 'running' | 'hibernated';

interface SliceRecord {
  spec: SliceSpec;
  desired: Desired;
  createdAt: string;
  /** Whether rootfs is an overlay the driver mounted (vs. a copy). */
  overlay: boolean;
  lastError?: string;
}

type RuncStatus = 'creating' | 'created' | 'running' | 'pausing' | 'paused' | 'stopped';

interface RuncListEntry {
  id: string;
  pid: number;
  status: RuncStatus;
  bundle: string;
  annotations?: Record<string, string>;
}

const NO_CONTAINER = /does not exist|not found|no such file/i;

export class OciDriver implements SliceDriver {
  readonly kind = 'oci' as const;
  readonly simulated = false;
  readonly runcRoot: string;
  private readonly runcBin: string;
  private readonly bundlesDir: string;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: OciDriverOptions) {
    const stateDir = resolve(opts.stateDir);
    if (/[,:\s]/.test(stateDir)) throw new DriverError('invalid-spec', `state dir ${stateDir} may not hold commas, colons or spaces (overlay mount options)`);
    this.bundlesDir = join(stateDir, 'bundles');
    this.runcRoot = resolve(opts.runcRoot ?? join(stateDir, 'runc'));
    this.runcBin = opts.runc ?? 'runc';
  }

  /** Operations on one slice run one at a time (the agent may get a redelivered command while one runs). */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => { if (this.locks.get(id) === tail) this.locks.delete(id); });
    return next;
  }

  bundleDir(id: string): string { return join(this.bundlesDir, id); }
  private recordPath(id: string): string { return join(this.bundleDir(id), 'slice.json'); }

  private runc(args: string[], timeoutMs = 60_000) {
    return execTool(this.runcBin, ['--root', this.runcRoot, ...args], { timeoutMs });
  }

  // The bundle's small files (slice.json, config.json: a few hundred bytes on local disk) are read and written
  // synchronously. Each takes microseconds; through the thread pool every open/read/write/close is a round trip of
  // the event loop, and on a loaded host those round trips made preparing a bundle cost several times its overlay
  // mount (measured by `ledger bench agent`, docs/host-agent.md).
  private async readRecord(id: string): Promise<SliceRecord | undefined> {
    try {
      return JSON.parse(readFileSync(this.recordPath(id), 'utf8')) as SliceRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  private async writeRecord(id: string, rec: SliceRecord): Promise<void> {
    const tmp = `${this.recordPath(id)}.tmp`;
    writeFileSync(tmp, JSON.stringify(rec, null, 1));
    renameSync(tmp, this.recordPath(id));
  }

  private async setDesired(id: string, rec: SliceRecord, desired: Desired, lastError?: string): Promise<void> {
    if (rec.desired === desired && rec.lastError === lastError) return;
    rec.desired = desired;
    if (lastError === undefined) delete rec.lastError; else rec.lastError = lastError;
    await this.writeRecord(id, rec);
  }

  /** runc's view of one container; undefined when runc has none by that id. */
  async runcState(id: string): Promise<{ status: RuncStatus; pid: number; annotations?: Record<string, string> } | undefined> {
    const r = await this.runc(['state', id]);
    if (r.code !== 0) {
      if (NO_CONTAINER.test(r.stderr)) return undefined;
      throw new DriverError('command-failed', `runc state ${id}: ${firstLine(r.stderr)}`, id);
    }
    const s = JSON.parse(r.stdout) as { status: RuncStatus; pid: number; annotations?: Record<string, string> };
    return s;
  }

  /** Whether runc has a container by that id (its state directory exists), without running runc. */
  private async runcKnows(id: string): Promise<boolean> {
    try { await stat(join(this.runcRoot, id)); return true; } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  private observedFrom(rec: SliceRecord | undefined, runc: RuncStatus | undefined): ObservedState {
    switch (runc) {
      case 'running': return 'running';
      case 'paused': case 'pausing': return 'hibernated';
      case 'created': case 'creating': return 'stopped';
      case 'stopped': return rec && rec.desired !== 'stopped' ? 'failed' : 'stopped';
      default:
        if (!rec) return 'absent';
        if (rec.lastError || rec.desired !== 'stopped') return 'failed';
        return 'stopped';
    }
  }

  private async observe(id: string): Promise<ObservedState> {
    const [rec, st] = await Promise.all([this.readRecord(id), this.runcState(id)]);
    return this.observedFrom(rec, st?.status);
  }

  // ---------------------------------------------------------------- rootfs

  private async mountedAt(path: string): Promise<boolean> {
    const info = await readFile('/proc/self/mountinfo', 'utf8');
    const target = path.replace(/\\/g, '\\134').replace(/ /g, '\\040');
    return info.split('\n').some((l) => l.split(' ')[4] === target);
  }

  private async ensureRootfs(id: string, rec: SliceRecord): Promise<void> {
    if (!rec.overlay) return;
    const dir = this.bundleDir(id);
    const rootfs = join(dir, 'rootfs');
    // Cheap check first: the mount point is an empty directory unless the overlay is mounted on it.
    if ((await readdir(rootfs).catch(() => [])).length > 0 || await this.mountedAt(rootfs)) return;
    await this.mountOverlay(id, rec);
  }

  private async mountOverlay(id: string, rec: SliceRecord): Promise<void> {
    const dir = this.bundleDir(id);
    const rootfs = join(dir, 'rootfs');
    const lower = rec.spec.image!.path;
    const r = await execTool('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, rootfs]);
    if (r.code !== 0) throw new DriverError('command-failed', `overlay mount of ${lower} for ${id} failed: ${firstLine(r.stderr)}`, id);
  }

  private async unmountRootfs(id: string): Promise<void> {
    const rootfs = join(this.bundleDir(id), 'rootfs');
    for (let i = 0; i < 3 && await this.mountedAt(rootfs); i++) {
      const r = await execTool('umount', [rootfs]);
      if (r.code !== 0) await execTool('umount', ['-l', rootfs]);
    }
  }

  // ---------------------------------------------------------------- operations

  create(input: SliceSpecInput): Promise<ObservedState> {
    const spec = parseSliceSpec(input, 'CNode');
    return this.serial(spec.id, async () => {
      const rec = await this.readRecord(spec.id);
      if (rec) {
        if (specHash(rec.spec) !== specHash(spec)) throw new DriverError('conflict', `slice ${spec.id} exists with another spec`, spec.id);
        if (JSON.stringify(rec.spec.fencing) !== JSON.stringify(spec.fencing)) {
          rec.spec = spec;
          await this.writeConfig(spec);
          await this.writeRecord(spec.id, rec);
        }
        return this.observe(spec.id);
      }
      // runc keeps a directory per container under its root: looking for it costs a stat, not a runc process.
      if (await this.runcKnows(spec.id)) throw new DriverError('conflict', `a container named ${spec.id} exists that the ledger did not create`, spec.id);
      const image = spec.image!;
      const st = await stat(image.path).catch(() => undefined);
      if (!st?.isDirectory()) throw new DriverError('not-found', `image ${image.name}: no root filesystem directory at ${image.path}`, spec.id);
      const dir = this.bundleDir(spec.id);
      if (existsSync(dir)) await rm(dir, { recursive: true, force: true }); // leftovers of a create that died half-way (never mounted: no record)
      mkdirSync(join(dir, 'rootfs'), { recursive: true });
      const fresh: SliceRecord = { spec, desired: 'stopped', createdAt: new Date().toISOString(), overlay: image.boot === 'overlay' };
      try {
        if (fresh.overlay) {
          mkdirSync(join(dir, 'upper'));
          mkdirSync(join(dir, 'work'));
          await this.mountOverlay(spec.id, fresh); // the rootfs directory was just made: nothing is mounted on it
        } else {
          await cp(image.path, join(dir, 'rootfs'), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
        }
        await this.writeConfig(spec);
        await this.writeRecord(spec.id, fresh);
      } catch (e) {
        await this.unmountRootfs(spec.id);
        await rm(dir, { recursive: true, force: true });
        throw e;
      }
      return 'stopped';
    });
  }

  private async writeConfig(spec: SliceSpec): Promise<void> {
    const cfg = ociConfig(spec, {
      cgroupsPath: `/${this.opts.cgroupParent ?? 'resource-ledger'}/${spec.id}`,
      cpuPeriodUs: this.opts.cpuPeriodUs,
      defaultPidsLimit: this.opts.defaultPidsLimit,
    });
    writeFileSync(join(this.bundleDir(spec.id), 'config.json'), JSON.stringify(cfg, null, 1));
  }

  /** `runc run -d`: the container's stdio goes to console.log (a pipe would keep us waiting for the container). */
  private async runDetached(id: string): Promise<{ ok: boolean; error: string }> {
    const dir = this.bundleDir(id);
    const log = openSync(join(dir, 'console.log'), 'a');
    const runcLog = join(dir, 'runc.log');
    try {
      const code = await execDetached(this.runcBin, ['--root', this.runcRoot, '--log', runcLog, '--log-format', 'json', 'run', '-d', '--bundle', dir, id], { logFd: log });
      if (code === 0) return { ok: true, error: '' };
      return { ok: false, error: await lastRuncError(runcLog) };
    } finally {
      closeSync(log);
    }
  }

  start(id: string): Promise<ObservedState> {
    assertSliceId(id);
    return this.serial(id, async () => {
      const rec = await this.readRecord(id);
      if (!rec) throw new DriverError('not-found', `no slice ${id}`, id);
      await this.setDesired(id, rec, 'running');
      // Fast path: the container usually does not exist yet. If it does, `run` says so and we look.
      await this.ensureRootfs(id, rec);
      let r = await this.runDetached(id);
      if (r.ok) return 'running';
      const st = await this.runcState(id);
      if (st?.status === 'running') return 'running';
      if (st?.status === 'paused') {
        const res = await this.runc(['resume', id]);
        if (res.code !== 0) throw new DriverError('command-failed', `runc resume ${id}: ${firstLine(res.stderr)}`, id);
        return this.observe(id);
      }
      if (st?.status === 'created') {
        const res = await this.runc(['start', id]);
        if (res.code !== 0) throw new DriverError('command-failed', `runc start ${id}: ${firstLine(res.stderr)}`, id);
        return this.observe(id);
      }
      if (st) { // stopped (exited): remove the old record of it and run again
        await this.runc(['delete', '--force', id]);
        r = await this.runDetached(id);
        if (r.ok) return 'running';
      }
      await this.setDesired(id, rec, 'running', r.error || 'runc run failed');
      throw new DriverError('command-failed', `runc run ${id}: ${r.error}`, id, r.error);
    });
  }

  stop(id: string, opts: StopOptions = {}): Promise<ObservedState> {
    assertSliceId(id);
    return this.serial(id, async () => {
      const rec = await this.readRecord(id);
      const st = await this.runcState(id);
      if (!rec && !st) return 'absent';
      if (st && st.status !== 'stopped') {
        const graceful = !opts.force && st.status !== 'paused' && st.status !== 'pausing';
        if (graceful) {
          await this.runc(['kill', id, 'TERM']);
          const timeout = opts.timeoutMs ?? this.opts.stopTimeoutMs ?? 10_000;
          await waitFor(async () => (await this.runcState(id))?.status !== 'running', timeout, 50);
        }
        if ((await this.runcState(id))?.status !== 'stopped') {
          await this.runc(['kill', id, 'KILL']);
          if (st.status === 'paused') await this.runc(['resume', id]); // thaw so the kill lands
          const dead = await waitFor(async () => { const s = await this.runcState(id); return !s || s.status === 'stopped'; }, 10_000, 50);
          if (!dead) throw new DriverError('timeout', `container ${id} did not die after SIGKILL`, id);
        }
      }
      if (st) {
        const d = await this.runc(['delete', id]);
        if (d.code !== 0 && await this.runcState(id)) throw new DriverError('command-failed', `runc delete ${id}: ${firstLine(d.stderr)}`, id);
      }
      if (rec) await this.setDesired(id, rec, 'stopped');
      return this.observe(id);
    });
  }

  hibernate(id: string): Promise<ObservedState> {
    assertSliceId(id);
    return this.serial(id, async () => {
      const rec = await this.readRecord(id);
      const now = this.observedFrom(rec, (await this.runcState(id))?.status);
      if (now === 'absent') throw new DriverError('not-found', `no slice ${id}`, id);
      if (now === 'hibernated') return now;
      if (now !== 'running') throw new DriverError('invalid-state', `slice ${id} is ${now}; only a running slice can hibernate`, id);
      const r = await this.runc(['pause', id]);
      if (r.code !== 0) throw new DriverError('command-failed', `runc pause ${id}: ${firstLine(r.stderr)}`, id);
      if (rec) await this.setDesired(id, rec, 'hibernated');
      return this.observe(id);
    });
  }

  resume(id: string): Promise<ObservedState> {
    assertSliceId(id);
    return this.serial(id, async () => {
      const rec = await this.readRecord(id);
      const now = this.observedFrom(rec, (await this.runcState(id))?.status);
      if (now === 'absent') throw new DriverError('not-found', `no slice ${id}`, id);
      if (now === 'running') return now;
      if (now !== 'hibernated') throw new DriverError('invalid-state', `slice ${id} is ${now}, not hibernated`, id);
      const r = await this.runc(['resume', id]);
      if (r.code !== 0) throw new DriverError('command-failed', `runc resume ${id}: ${firstLine(r.stderr)}`, id);
      if (rec) await this.setDesired(id, rec, 'running');
      return this.observe(id);
    });
  }

  destroy(id: string): Promise<ObservedState> {
    assertSliceId(id);
    return this.serial(id, async () => {
      const st = await this.runcState(id);
      if (st) {
        const d = await this.runc(['delete', '--force', id]);
        if (d.code !== 0 && await this.runcState(id)) {
          await this.runc(['kill', id, 'KILL']);
          if (st.status === 'paused') await this.runc(['resume', id]);
          await sleep(50);
          const again = await this.runc(['delete', '--force', id]);
          if (again.code !== 0 && await this.runcState(id)) throw new DriverError('command-failed', `runc delete ${id}: ${firstLine(again.stderr)}`, id);
        }
      }
      await this.unmountRootfs(id);
      await rm(this.bundleDir(id), { recursive: true, force: true });
      return this.observe(id);
    });
  }

  async status(id: string): Promise<ObservedState> {
    assertSliceId(id);
    return this.observe(id);
  }

  private async runcList(): Promise<RuncListEntry[]> {
    const r = await this.runc(['list', '--format', 'json']);
    if (r.code !== 0) throw new DriverError('command-failed', `runc list: ${firstLine(r.stderr)}`);
    return (JSON.parse(r.stdout || 'null') as RuncListEntry[] | null) ?? [];
  }

  async list(): Promise<ObservedSlice[]> {
    const containers = new Map((await this.runcList()).map((c) => [c.id, c]));
    let ids: string[] = [];
    try { ids = (await readdir(this.bundlesDir)).filter((n) => /^[A-Za-z0-9_]{1,64}$/.test(n)); } catch { /* none yet */ }
    const all = new Set([...ids, ...containers.keys()]);
    const out: ObservedSlice[] = [];
    for (const id of [...all].sort()) {
      const rec = await this.readRecord(id);
      const c = containers.get(id);
      const s: ObservedSlice = {
        id,
        state: this.observedFrom(rec, c?.status),
        managed: !!rec || c?.annotations?.[ANNOTATION.id] === id,
        detail: c ? `runc ${c.status}` : rec ? 'no container (bundle only)' : undefined,
      };
      if (rec) s.kind = 'CNode';
      if (rec?.spec.fencing) s.fencing = rec.spec.fencing;
      if (rec?.lastError) s.detail = `${s.detail}; last error: ${rec.lastError}`;
      out.push(s);
    }
    return out;
  }

  async load(): Promise<LoadReport> {
    const c = cpus();
    const host: LoadReport['host'] = {
      cpuCores: c.length,
      cpuMHz: c[0]?.speed || undefined,
      loadAvg1: Math.round(loadavg()[0]! * 100) / 100,
      cpuTimeMs: c.reduce((s, x) => s + x.times.user + x.times.nice + x.times.sys + x.times.irq, 0),
      ramMiB: Math.floor(totalmem() / 1024 ** 2),
      ramUsedMiB: Math.round((totalmem() - freemem()) / 1024 ** 2),
    };
    try {
      await mkdir(this.bundlesDir, { recursive: true });
      const fs = await statfs(this.bundlesDir);
      host.diskGiB = Math.floor((fs.blocks * fs.bsize) / 1024 ** 3);
      host.diskUsedGiB = Math.round(((fs.blocks - fs.bfree) * fs.bsize) / 1024 ** 3);
    } catch { /* unreadable */ }
    const slices: SliceFigures[] = [];
    for (const s of await this.list()) {
      if (!s.managed) continue;
      const f: SliceFigures = { id: s.id, state: s.state };
      const rec = await this.readRecord(s.id);
      if (rec) f.ramLimitMiB = rec.spec.ramMiB;
      if (s.state === 'running' || s.state === 'hibernated') {
        const ev = await this.runc(['events', '--stats', s.id], 10_000);
        if (ev.code === 0) {
          try {
            const d = (JSON.parse(ev.stdout) as { data?: RuncStats }).data;
            if (d?.cpu?.usage?.total !== undefined) f.cpuTimeMs = Math.round(d.cpu.usage.total / 1e6);
            if (d?.memory?.usage?.usage !== undefined) f.ramUsedMiB = Math.round((d.memory.usage.usage / 1024 ** 2) * 100) / 100;
            if (d?.pids?.current !== undefined) f.pids = d.pids.current;
          } catch { /* not JSON */ }
        }
      }
      if (rec?.overlay) f.diskUsedMiB = Math.round((await duBytes(join(this.bundleDir(s.id), 'upper'), 20_000)) / 1024 ** 2 * 100) / 100;
      slices.push(f);
    }
    return { driver: 'oci', simulated: false, at: new Date().toISOString(), host, slices };
  }

  /** The limits runc applied, read from the container's cgroups (cgroup v1 or v2), for checks and operators. */
  async appliedLimits(id: string): Promise<{ memoryBytes?: number; cpuQuotaUs?: number; cpuPeriodUs?: number; pidsMax?: number }> {
    const st = await this.runcState(id);
    if (!st || !st.pid) throw new DriverError('invalid-state', `container ${id} has no process`, id);
    const lines = (await readFile(`/proc/${st.pid}/cgroup`, 'utf8')).split('\n').filter(Boolean);
    const path = (ctrl: string) => lines.map((l) => l.split(':')).find((p) => p[1]!.split(',').includes(ctrl))?.[2];
    const num = async (f: string) => { try { const v = (await readFile(f, 'utf8')).trim(); return v === 'max' ? undefined : Number(v.split(/\s+/)[0]); } catch { return undefined; } };
    const unified = lines.find((l) => l.startsWith('0::'))?.slice(3);
    const v1Memory = path('memory');
    if (v1Memory !== undefined) {
      return {
        memoryBytes: await num(`/sys/fs/cgroup/memory${v1Memory}/memory.limit_in_bytes`),
        cpuQuotaUs: await num(`/sys/fs/cgroup/cpu${path('cpu')}/cpu.cfs_quota_us`) ?? await num(`/sys/fs/cgroup/cpu,cpuacct${path('cpu')}/cpu.cfs_quota_us`),
        cpuPeriodUs: await num(`/sys/fs/cgroup/cpu${path('cpu')}/cpu.cfs_period_us`) ?? await num(`/sys/fs/cgroup/cpu,cpuacct${path('cpu')}/cpu.cfs_period_us`),
        pidsMax: await num(`/sys/fs/cgroup/pids${path('pids')}/pids.max`),
      };
    }
    const base = `/sys/fs/cgroup${unified}`;
    const cpuMax = (await readFile(`${base}/cpu.max`, 'utf8').catch(() => '')).trim().split(/\s+/);
    return {
      memoryBytes: await num(`${base}/memory.max`),
      cpuQuotaUs: cpuMax[0] && cpuMax[0] !== 'max' ? Number(cpuMax[0]) : undefined,
      cpuPeriodUs: cpuMax[1] ? Number(cpuMax[1]) : undefined,
      pidsMax: await num(`${base}/pids.max`),
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.locks.values()]);
  }
}

interface RuncStats {
  cpu?: { usage?: { total?: number } };
  memory?: { usage?: { usage?: number; limit?: number } };
  pids?: { current?: number };
}

async function lastRuncError(logFile: string): Promise<string> {
  try {
    const lines = (await readFile(logFile, 'utf8')).trim().split('\n').reverse();
    for (const l of lines) {
      try {
        const j = JSON.parse(l) as { level?: string; msg?: string };
        if (j.level === 'error' || j.level === 'fatal') return j.msg ?? l;
      } catch { if (l.trim()) return l.trim(); }
    }
  } catch { /* no log */ }
  return 'runc failed without a message';
}

async function duBytes(dir: string, maxEntries: number): Promise<number> {
  let total = 0;
  let seen = 0;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try { entries = await readdir(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (++seen > maxEntries) return;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) { try { total += (await stat(p)).blocks * 512; } catch { /* gone */ } }
    }
  };
  await walk(dir);
  return total;
}

