/**
 * VNode driver: one libvirt domain per slice, driven through `virsh -c <uri>`.
 *
 *   create    → disk (qcow2 overlay over the template, or a full copy) + `define` of the generated domain XML
 *   start     → `start` (which also restores a managed save)
 *   stop      → `shutdown`, then `destroy` after the grace time (or at once with force); from hibernated:
 *               `managedsave-remove`
 *   hibernate → `managedsave` (state to disk, CPU and RAM freed)
 *   resume    → `start` from the managed save
 *   destroy   → `destroy` + `undefine --managed-save` + removal of the slice's own disk files
 *   status    → `domstate --reason` (+ `dominfo` for the managed-save flag)
 */
import { mkdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DriverError, parseSliceSpec, specHash, assertSliceId,
  type LoadReport, type ObservedSlice, type ObservedState, type SliceDriver, type SliceFigures, type SliceSpec,
  type SliceSpecInput, type StopOptions,
} from './port.ts';
import { domainXml, LEDGER_XML_NS, parseLedgerMetadata, type DomainDisk, type DomainXmlOptions, type LedgerMetadata } from './domain-xml.ts';
import { copyImage, createOverlay, inferFormat, type DiskTool } from './qcow2.ts';
import { virshRunnerFor, type VirshResult, type VirshRunner } from './virsh.ts';
import { firstLine, waitFor } from './exec.ts';

export interface LibvirtDriverOptions {
  /** libvirt connection URI: `qemu:///system` on a hypervisor, `test:///<node.xml>` in tests. */
  uri: string;
  /** Directory for the slices' disk files and their domain XML. */
  diskDir: string;
  /** Defaults to a long-lived session for `test:` URIs and one process per command otherwise. */
  virsh?: VirshRunner;
  xml?: DomainXmlOptions;
  /** How overlays and copies are made (default: qemu-img when installed, else the built-in qcow2 writer). */
  diskTool?: DiskTool;
  /** Grace time of a non-forced stop before the domain is destroyed (default 60 s). */
  stopTimeoutMs?: number;
}

interface Observation {
  state: ObservedState;
  detail: string;
}

const NOT_FOUND = /failed to get domain|domain not found|no domain with matching/i;

/**
 * Maps virsh's words for a domain (`running (booted)`, `shut off (saved)`, `crashed (panicked)`, or the `saved`
 * of `list --managed-save`) and whether it holds a managed save image to an observed state. A paused domain still
 * holds its CPU and RAM, so it reads running (the words stay in the detail).
 */
export function mapVirshState(detail: string, managedSave: boolean): ObservedState {
  const base = detail.replace(/\s*\(.*\)\s*$/, '').trim();
  const reason = /\(([^)]*)\)/.exec(detail)?.[1] ?? '';
  switch (base) {
    case 'running': case 'idle': case 'blocked': case 'in shutdown': case 'paused':
      return 'running';
    case 'crashed':
      return 'failed';
    case 'pmsuspended': case 'saved':
      return 'hibernated';
    case 'shut off':
      if (managedSave) return 'hibernated';
      return reason === 'crashed' || reason === 'failed' ? 'failed' : 'stopped';
    default:
      return 'failed';
  }
}

export class LibvirtDriver implements SliceDriver {
  readonly kind = 'libvirt' as const;
  readonly simulated = false;
  private readonly virsh: VirshRunner;

  constructor(private readonly opts: LibvirtDriverOptions) {
    this.virsh = opts.virsh ?? virshRunnerFor(opts.uri);
  }

  private async v(args: string[], timeoutMs?: number): Promise<VirshResult> {
    return this.virsh.run(args, { timeoutMs });
  }

  private async must(args: string[], id: string, timeoutMs?: number): Promise<VirshResult> {
    const r = await this.v(args, timeoutMs);
    if (!r.ok) {
      const why = r.stderr.split('\n').map((l) => l.replace(/^error:\s*/, '').trim()).filter(Boolean).join(': ');
      throw new DriverError('command-failed', `virsh ${args[0]} ${id}: ${why || 'failed'}`, id, r.stderr.trim());
    }
    return r;
  }

  private diskPath(id: string, format: 'qcow2' | 'raw'): string { return join(this.opts.diskDir, `${id}.${format}`); }
  private xmlPath(id: string): string { return join(this.opts.diskDir, `${id}.xml`); }

  private diskFor(spec: SliceSpec): DomainDisk {
    const image = spec.image!;
    const imageFormat = inferFormat(image.path, image.format);
    if (image.boot === 'overlay') {
      return { path: this.diskPath(spec.id, 'qcow2'), format: 'qcow2', backing: { path: image.path, format: imageFormat } };
    }
    return { path: this.diskPath(spec.id, imageFormat), format: imageFormat };
  }

  private async observe(id: string): Promise<Observation> {
    const r = await this.v(['domstate', id, '--reason']);
    if (!r.ok) {
      if (NOT_FOUND.test(r.stderr)) return { state: 'absent', detail: 'no such domain' };
      throw new DriverError('command-failed', `virsh domstate ${id}: ${firstLine(r.stderr)}`, id);
    }
    const detail = r.stdout.trim();
    return { state: await this.mapState(id, detail), detail };
  }

  private async mapState(id: string, detail: string): Promise<ObservedState> {
    const base = detail.replace(/\s*\(.*\)\s*$/, '').trim();
    return mapVirshState(detail, base === 'shut off' ? await this.hasManagedSave(id) : false);
  }

  private async hasManagedSave(id: string): Promise<boolean> {
    const r = await this.v(['dominfo', id]);
    return r.ok && /^Managed save:\s*yes/mi.test(r.stdout);
  }

  private async metadata(id: string): Promise<LedgerMetadata | undefined> {
    const r = await this.v(['metadata', id, LEDGER_XML_NS]);
    if (!r.ok || !r.stdout.trim()) return undefined;
    return parseLedgerMetadata(r.stdout);
  }

  async create(input: SliceSpecInput): Promise<ObservedState> {
    const spec = parseSliceSpec(input, 'VNode');
    const disk = this.diskFor(spec);
    const now = await this.observe(spec.id);
    if (now.state !== 'absent') {
      const md = await this.metadata(spec.id);
      if (!md) throw new DriverError('conflict', `a domain named ${spec.id} exists that the ledger did not create`, spec.id);
      if (md.specHash !== specHash(spec)) throw new DriverError('conflict', `slice ${spec.id} exists with another spec (hash ${md.specHash}, asked ${specHash(spec)})`, spec.id);
      if (JSON.stringify(md.fencing) !== JSON.stringify(spec.fencing)) await this.define(spec, disk, true); // new fencing token only
      return (await this.observe(spec.id)).state;
    }
    await mkdir(this.opts.diskDir, { recursive: true });
    await this.removeFiles(spec.id); // leftovers of a create that died half-way
    const image = spec.image!;
    const size = spec.diskGiB * 1024 ** 3;
    try {
      await stat(image.path);
    } catch {
      throw new DriverError('not-found', `image ${image.name} not found at ${image.path}`, spec.id);
    }
    if (disk.backing) await createOverlay(disk.path, disk.backing.path, disk.backing.format, size, this.opts.diskTool);
    else await copyImage(image.path, disk.path, disk.format, size, this.opts.diskTool);
    try {
      await this.define(spec, disk);
    } catch (e) {
      await this.removeFiles(spec.id);
      throw e;
    }
    return (await this.observe(spec.id)).state;
  }

  /** The domain XML this driver generates for a slice (also written next to its disk). */
  xmlFor(input: SliceSpecInput): string {
    const spec = parseSliceSpec(input, 'VNode');
    return domainXml(spec, this.diskFor(spec), this.opts.xml);
  }

  private async define(spec: SliceSpec, disk: DomainDisk, redefine = false): Promise<void> {
    const file = this.xmlPath(spec.id);
    const uuid = redefine ? (await this.must(['domuuid', spec.id], spec.id)).stdout.trim() : undefined;
    await writeFile(file, domainXml(spec, disk, this.opts.xml, { uuid }));
    await this.must(['define', file], spec.id);
  }

  async start(id: string): Promise<ObservedState> {
    assertSliceId(id);
    const now = await this.observe(id);
    if (now.state === 'absent') throw new DriverError('not-found', `no slice ${id}`, id);
    if (now.state === 'running') return 'running';
    const r = await this.v(['start', id]);
    const after = await this.observe(id);
    if (!r.ok && after.state !== 'running') throw new DriverError('command-failed', `virsh start ${id}: ${firstLine(r.stderr)}`, id, r.stderr.trim());
    return after.state;
  }

  async stop(id: string, opts: StopOptions = {}): Promise<ObservedState> {
    assertSliceId(id);
    const now = await this.observe(id);
    if (now.state === 'absent' || now.state === 'stopped' || now.state === 'failed') return now.state;
    if (now.state === 'hibernated') {
      await this.must(['managedsave-remove', id], id);
      return (await this.observe(id)).state;
    }
    if (!opts.force) {
      const r = await this.v(['shutdown', id]);
      if (r.ok) {
        const timeout = opts.timeoutMs ?? this.opts.stopTimeoutMs ?? 60_000;
        const off = await waitFor(async () => (await this.observe(id)).state !== 'running', timeout, 200);
        if (off) return (await this.observe(id)).state;
      }
    }
    const d = await this.v(['destroy', id]);
    const after = await this.observe(id);
    if (!d.ok && after.state === 'running') throw new DriverError('command-failed', `virsh destroy ${id}: ${firstLine(d.stderr)}`, id);
    return after.state;
  }

  async hibernate(id: string): Promise<ObservedState> {
    assertSliceId(id);
    const now = await this.observe(id);
    if (now.state === 'absent') throw new DriverError('not-found', `no slice ${id}`, id);
    if (now.state === 'hibernated') return 'hibernated';
    if (now.state !== 'running') throw new DriverError('invalid-state', `slice ${id} is ${now.state}; only a running slice can hibernate`, id);
    await this.must(['managedsave', id], id);
    return (await this.observe(id)).state;
  }

  async resume(id: string): Promise<ObservedState> {
    assertSliceId(id);
    const now = await this.observe(id);
    if (now.state === 'absent') throw new DriverError('not-found', `no slice ${id}`, id);
    if (now.state === 'running') return 'running';
    if (now.state !== 'hibernated') throw new DriverError('invalid-state', `slice ${id} is ${now.state}, not hibernated`, id);
    await this.must(['start', id], id);
    return (await this.observe(id)).state;
  }

  async destroy(id: string): Promise<ObservedState> {
    assertSliceId(id);
    const now = await this.observe(id);
    if (now.state !== 'absent') {
      if (now.state === 'running') {
        const d = await this.v(['destroy', id]);
        if (!d.ok && (await this.observe(id)).state === 'running') throw new DriverError('command-failed', `virsh destroy ${id}: ${firstLine(d.stderr)}`, id);
      }
      let u = await this.v(['undefine', id, '--managed-save']);
      if (!u.ok && !NOT_FOUND.test(u.stderr)) {
        // Older libvirt without --managed-save: drop the save image, then undefine.
        await this.v(['managedsave-remove', id]);
        u = await this.v(['undefine', id]);
        if (!u.ok && !NOT_FOUND.test(u.stderr)) throw new DriverError('command-failed', `virsh undefine ${id}: ${firstLine(u.stderr)}`, id);
      }
    }
    await this.removeFiles(id);
    return (await this.observe(id)).state;
  }

  private async removeFiles(id: string): Promise<void> {
    for (const f of [this.diskPath(id, 'qcow2'), this.diskPath(id, 'raw'), this.xmlPath(id)]) await rm(f, { force: true });
  }

  async status(id: string): Promise<ObservedState> {
    assertSliceId(id);
    return (await this.observe(id)).state;
  }

  async list(): Promise<ObservedSlice[]> {
    const r = await this.v(['list', '--all', '--managed-save']);
    if (!r.ok) throw new DriverError('command-failed', `virsh list: ${firstLine(r.stderr)}`);
    const out: ObservedSlice[] = [];
    for (const line of r.stdout.split('\n')) {
      const m = /^\s*(\S+)\s+(\S+)\s+(.+?)\s*$/.exec(line);
      if (!m || (m[1] === 'Id' && m[2] === 'Name')) continue;
      const name = m[2]!;
      const table = m[3]!;
      let state: ObservedState;
      let detail = table;
      if (table === 'saved') state = 'hibernated';
      else if (table === 'shut off') {
        const d = await this.v(['domstate', name, '--reason']);
        detail = d.ok ? d.stdout.trim() : table;
        state = await this.mapState(name, detail);
      } else state = await this.mapState(name, table);
      const md = await this.metadata(name);
      const slice: ObservedSlice = { id: name, state, managed: !!md && md.id === name, detail };
      if (md?.kind === 'VNode') slice.kind = 'VNode';
      if (md?.fencing) slice.fencing = md.fencing;
      out.push(slice);
    }
    return out;
  }

  async load(): Promise<LoadReport> {
    const host: LoadReport['host'] = {};
    const info = await this.v(['nodeinfo']);
    if (info.ok) {
      const num = (label: string) => { const m = new RegExp(`^${label}:\\s*(\\d+)`, 'mi').exec(info.stdout); return m ? Number(m[1]) : undefined; };
      host.cpuCores = num('CPU\\(s\\)');
      host.cpuMHz = num('CPU frequency');
      const kib = num('Memory size');
      if (kib !== undefined) host.ramMiB = Math.floor(kib / 1024);
    }
    const cpu = await this.v(['nodecpustats']);
    if (cpu.ok) {
      let ns = 0;
      for (const m of cpu.stdout.matchAll(/^(user|system|iowait):\s*(\d+)/gmi)) ns += Number(m[2]);
      host.cpuTimeMs = Math.round(ns / 1e6);
    }
    const mem = await this.v(['nodememstats']);
    if (mem.ok) {
      const kib = (label: string) => Number(new RegExp(`^${label}\\s*:\\s*(\\d+)`, 'mi').exec(mem.stdout)?.[1] ?? NaN);
      const total = kib('total');
      const free = kib('free') + (kib('buffers') || 0) + (kib('cached') || 0);
      if (Number.isFinite(total) && Number.isFinite(free)) host.ramUsedMiB = Math.round((total - free) / 1024);
    }
    try {
      const fs = await statfs(this.opts.diskDir);
      host.diskGiB = Math.floor((fs.blocks * fs.bsize) / 1024 ** 3);
      host.diskUsedGiB = Math.round(((fs.blocks - fs.bfree) * fs.bsize) / 1024 ** 3);
    } catch { /* disk dir not there yet */ }

    const slices: SliceFigures[] = [];
    for (const s of await this.list()) {
      if (!s.managed) continue;
      const f: SliceFigures = { id: s.id, state: s.state };
      const di = await this.v(['dominfo', s.id]);
      if (di.ok) {
        const cpuTime = /^CPU time:\s*([\d.]+)s/mi.exec(di.stdout);
        if (cpuTime && s.state === 'running') f.cpuTimeMs = Math.round(Number(cpuTime[1]) * 1000);
        const used = /^Used memory:\s*(\d+)\s*KiB/mi.exec(di.stdout);
        const max = /^Max memory:\s*(\d+)\s*KiB/mi.exec(di.stdout);
        if (used && s.state === 'running') f.ramUsedMiB = Math.round(Number(used[1]) / 1024);
        if (max) f.ramLimitMiB = Math.round(Number(max[1]) / 1024);
      }
      for (const fmt of ['qcow2', 'raw'] as const) {
        try {
          const st = await stat(this.diskPath(s.id, fmt));
          f.diskUsedMiB = Math.round((st.blocks * 512) / 1024 ** 2);
        } catch { /* not this format */ }
      }
      slices.push(f);
    }
    return { driver: 'libvirt', simulated: false, at: new Date().toISOString(), host, slices };
  }

  /** The domain XML as libvirt holds it (for checks and operators). */
  async dumpXml(id: string): Promise<string> {
    assertSliceId(id);
    return (await this.must(['dumpxml', id], id)).stdout;
  }

  async close(): Promise<void> {
    await this.virsh.close();
  }
}
