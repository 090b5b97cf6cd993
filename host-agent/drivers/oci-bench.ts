/**
 * Driver-level timing for the `ledger bench agent` scenario: start N containers through the OCI driver and N with
 * raw `runc run -d`, in the same run, on the same image and limits, and return both durations and their ratio.
 *
 *   driver: create (bundle + overlay mount; timed apart as "prepare") then start (`OciDriver.start`) each slice
 *   raw:    a bundle per container with the same config.json (rootfs = the image, read-only: nothing to mount),
 *           then `runc run -d` each
 *   Starts alternate between the two sides in batches of `concurrency`, so both see the same host load.
 *
 * `ratioToRaw` = driver start time / raw run time. Everything the benchmark started is removed before it returns.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OciDriver } from './oci.ts';
import { ociConfig } from './oci-spec.ts';
import { makeBusyboxRootfs } from './busybox-rootfs.ts';
import { execDetached, execTool } from './exec.ts';
import { DriverError, parseSliceSpec, type SliceSpec } from './port.ts';

export interface OciBenchOptions {
  /** Containers per side (default 100). */
  n?: number;
  /** Starts in flight at once on each side (default 1: one after the other). */
  concurrency?: number;
  /** Scratch directory (default a new one under the OS temp dir, removed afterwards). */
  workDir?: string;
  /** Root filesystem directory to run (default: a busybox-static rootfs built in the scratch directory). */
  image?: string;
  /** Process to run in each container (default `sleep 3600`). */
  command?: string[];
  runc?: string;
  /** Called after each side with a line of progress. */
  onProgress?: (line: string) => void;
}

export interface OciBenchSide {
  /** Milliseconds for the N starts. */
  startMs: number;
  /** Milliseconds for preparing the N bundles (driver: create; raw: config.json per bundle). */
  prepareMs: number;
  perStartMs: number;
}

export interface OciBenchResult {
  n: number;
  concurrency: number;
  driver: OciBenchSide;
  raw: OciBenchSide;
  /** driver.startMs / raw.startMs */
  ratioToRaw: number;
  /** (driver prepare + start) / (raw prepare + start) */
  ratioTotal: number;
  runcVersion: string;
  cgroup: 'v1' | 'v2';
}

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => { while (next < items.length) await fn(items[next++]!); };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}

export async function benchOciStarts(opts: OciBenchOptions = {}): Promise<OciBenchResult> {
  const n = opts.n ?? 100;
  const concurrency = opts.concurrency ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new DriverError('invalid-spec', 'n must be a positive integer');
  const runc = opts.runc ?? 'runc';
  const ownDir = !opts.workDir;
  const work = opts.workDir ?? await mkdtemp(join(tmpdir(), 'ledger-oci-bench-'));
  const image = opts.image ?? join(work, 'image');
  const driverDir = join(work, 'driver');
  const rawDir = join(work, 'raw');
  const rawRoot = join(rawDir, 'runc');
  const tag = Date.now().toString(36);
  const spec = (id: string): SliceSpec => parseSliceSpec({
    id, kind: 'CNode', cpuCores: 1, ramMiB: 64, diskGiB: 1, pidsLimit: 64,
    image: { name: 'bench', path: image, boot: 'overlay' }, command: opts.command ?? ['sleep', '3600'],
  });
  const driverIds = Array.from({ length: n }, (_, i) => `bd_${tag}_${i}`);
  const rawIds = Array.from({ length: n }, (_, i) => `br_${tag}_${i}`);
  const driver = new OciDriver({ stateDir: driverDir, runc, cgroupParent: 'ledger-bench-driver', stopTimeoutMs: 1000 });
  const rawStarted: string[] = [];
  try {
    if (!opts.image) await makeBusyboxRootfs(image);
    await mkdir(rawRoot, { recursive: true });
    const version = (await execTool(runc, ['--version'])).stdout.split('\n')[0] ?? 'runc';
    const cgroup = (await execTool('stat', ['-fc', '%T', '/sys/fs/cgroup'])).stdout.trim() === 'cgroup2fs' ? 'v2' : 'v1';

    // Warm-up outside the timings: one container each way (page cache, runc binary, cgroup parents).
    const warmD = `bw_${tag}_d`;
    await driver.create(spec(warmD));
    await driver.start(warmD);
    await driver.destroy(warmD);

    const rawBundle = async (id: string) => {
      const dir = join(rawDir, 'bundles', id);
      await mkdir(dir, { recursive: true });
      const cfg = ociConfig(spec(id), { cgroupsPath: `/ledger-bench-raw/${id}` }) as { root: { path: string; readonly: boolean } };
      cfg.root = { path: image, readonly: true };
      await writeFile(join(dir, 'config.json'), JSON.stringify(cfg));
      return dir;
    };
    const runRaw = async (id: string) => {
      const code = await execDetached(runc, ['--root', rawRoot, 'run', '-d', '--bundle', join(rawDir, 'bundles', id), id]);
      if (code !== 0) throw new DriverError('command-failed', `raw runc run ${id} exited ${code}`);
      rawStarted.push(id);
    };
    const warmR = `bw_${tag}_r`;
    await rawBundle(warmR);
    await runRaw(warmR);

    // Bundles first (timed apart from the starts).
    let t = performance.now();
    await pool(rawIds, concurrency, async (id) => { await rawBundle(id); });
    const rawPrepare = performance.now() - t;
    t = performance.now();
    await pool(driverIds, concurrency, async (id) => { await driver.create(spec(id)); });
    const drvPrepare = performance.now() - t;

    // Starts, interleaved in rounds (a raw batch, then a driver batch) so that neither side runs with more
    // containers already on the host than the other: a start gets slower as the host fills up.
    let rawStart = 0;
    let drvStart = 0;
    for (let i = 0; i < n; i += concurrency) {
      const rawBatch = rawIds.slice(i, i + concurrency);
      const drvBatch = driverIds.slice(i, i + concurrency);
      t = performance.now();
      await Promise.all(rawBatch.map(runRaw));
      rawStart += performance.now() - t;
      t = performance.now();
      await Promise.all(drvBatch.map(async (id) => {
        const s = await driver.start(id);
        if (s !== 'running') throw new DriverError('command-failed', `driver start ${id} reported ${s}`);
      }));
      drvStart += performance.now() - t;
    }
    opts.onProgress?.(`raw runc run -d: ${n} containers in ${rawStart.toFixed(0)} ms; driver start: ${n} in ${drvStart.toFixed(0)} ms`);

    const side = (prepareMs: number, startMs: number): OciBenchSide => ({ prepareMs: Math.round(prepareMs), startMs: Math.round(startMs), perStartMs: Math.round((startMs / n) * 100) / 100 });
    return {
      n,
      concurrency,
      driver: side(drvPrepare, drvStart),
      raw: side(rawPrepare, rawStart),
      ratioToRaw: Math.round((drvStart / rawStart) * 1000) / 1000,
      ratioTotal: Math.round(((drvPrepare + drvStart) / (rawPrepare + rawStart)) * 1000) / 1000,
      runcVersion: version,
      cgroup,
    };
  } finally {
    await pool(rawStarted, 4, async (id) => { await execTool(runc, ['--root', rawRoot, 'delete', '--force', id]); });
    const left = await driver.list().catch(() => []);
    await pool(left.map((s) => s.id), 4, async (id) => { await driver.destroy(id).catch(() => undefined); });
    if (ownDir) await rm(work, { recursive: true, force: true });
    else {
      await rm(driverDir, { recursive: true, force: true });
      await rm(rawDir, { recursive: true, force: true });
      if (!opts.image) await rm(image, { recursive: true, force: true });
    }
  }
}
