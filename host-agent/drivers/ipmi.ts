/**
 * BNode driver: a bare-metal slice is the whole machine, driven out of band through its BMC with
 * `ipmitool -I lanplus` (power on / soft off / off / cycle / status). Also the fencer of a dead host: `fence()`
 * powers a machine off through its BMC and returns only once the BMC confirms it is off.
 *
 * The password goes to ipmitool through the IPMI_PASSWORD environment variable (`-E`), never on the command line.
 * Which slice holds the machine is recorded in a small JSON state file (`stateFile`), since the BMC has no place for it.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  DriverError, parseSliceSpec, specHash, assertSliceId,
  type LoadReport, type ObservedSlice, type ObservedState, type SliceDriver, type SliceSpec, type SliceSpecInput,
  type StopOptions,
} from './port.ts';
import { execTool, firstLine, sleep } from './exec.ts';

export interface IpmiEndpoint {
  /** BMC address (an IP or host name). */
  host: string;
  /** UDP port of the BMC's RMCP+ service (default 623). */
  port?: number;
  user: string;
  password: string;
  /** RMCP+ cipher suite (default 3: HMAC-SHA1 / HMAC-SHA1-96 / AES-CBC-128, which every BMC offers). */
  cipherSuite?: number;
  /** Per-request timeout in seconds handed to ipmitool (default 2) and retries (default 2, at least 1: ipmitool
   *  takes 0 as "its default", 20 s against a silent BMC). A silent BMC costs about 10 s with the defaults. */
  timeoutSec?: number;
  retries?: number;
  /** ipmitool executable (default `ipmitool`). */
  ipmitool?: string;
}

export type PowerState = 'on' | 'off';
export type PowerAction = 'on' | 'off' | 'soft' | 'cycle' | 'reset';

function baseArgs(ep: IpmiEndpoint): string[] {
  if (!/^[A-Za-z0-9_.:-]{1,255}$/.test(ep.host)) throw new DriverError('invalid-spec', `invalid BMC host ${JSON.stringify(ep.host)}`);
  if (!/^[\x21-\x7e]{1,16}$/.test(ep.user)) throw new DriverError('invalid-spec', 'IPMI user names are 1–16 printable characters');
  return [
    '-I', 'lanplus', '-H', ep.host, '-p', String(ep.port ?? 623), '-U', ep.user, '-E',
    '-C', String(ep.cipherSuite ?? 3), '-N', String(ep.timeoutSec ?? 2), '-R', String(Math.max(1, ep.retries ?? 2)),
  ];
}

/** Runs one ipmitool command against a BMC; resolves with its standard output, throws DriverError otherwise. */
export async function ipmitool(ep: IpmiEndpoint, args: string[], timeoutMs = 30_000): Promise<string> {
  const r = await execTool(ep.ipmitool ?? 'ipmitool', [...baseArgs(ep), ...args], {
    timeoutMs,
    env: { ...process.env, LC_ALL: 'C', IPMI_PASSWORD: ep.password },
  });
  if (r.code !== 0) {
    const msg = firstLine(r.stderr) || firstLine(r.stdout) || `exit ${r.code}`;
    const code = /Unable to establish|session|timeout|no response|Insufficient privilege|Activate Session|RAKP/i.test(r.stderr) ? 'unreachable' : 'command-failed';
    throw new DriverError(code, `ipmitool ${args.join(' ')} against ${ep.host}:${ep.port ?? 623}: ${msg}`);
  }
  return r.stdout;
}

export async function powerStatus(ep: IpmiEndpoint): Promise<PowerState> {
  const out = await ipmitool(ep, ['chassis', 'power', 'status']);
  const m = /Chassis Power is (on|off)/i.exec(out);
  if (!m) throw new DriverError('command-failed', `unexpected answer from ${ep.host}: ${firstLine(out)}`);
  return m[1]!.toLowerCase() as PowerState;
}

export async function powerAction(ep: IpmiEndpoint, action: PowerAction): Promise<void> {
  await ipmitool(ep, ['chassis', 'power', action]);
}

/** Polls the BMC until the chassis reports `want`; resolves with whether it did within the time. */
export async function waitForPower(ep: IpmiEndpoint, want: PowerState, timeoutMs: number, pollMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { if (await powerStatus(ep) === want) return true; } catch (e) { if (Date.now() >= deadline) throw e; }
    if (Date.now() >= deadline) return false;
    await sleep(pollMs);
  }
}

export interface FenceResult {
  host: string;
  /** True once the BMC has confirmed the chassis is off. */
  confirmedOff: true;
  /** Whether it was already off when we came. */
  wasOff: boolean;
  confirmedAt: string;
  attempts: number;
}

/**
 * Out-of-band fencing of a host: hard power-off through its BMC, confirmed by reading the power state back.
 * Throws (DriverError 'unreachable' or 'timeout') when it cannot confirm: the caller must then NOT assume the
 * host is dead.
 */
export async function fence(host: IpmiEndpoint, opts: { timeoutMs?: number; attempts?: number } = {}): Promise<FenceResult> {
  const attempts = opts.attempts ?? 3;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let last: unknown;
  for (let i = 1; i <= attempts; i++) {
    try {
      const before = await powerStatus(host);
      if (before === 'off') return { host: host.host, confirmedOff: true, wasOff: true, confirmedAt: new Date().toISOString(), attempts: i };
      await powerAction(host, 'off');
      if (await waitForPower(host, 'off', timeoutMs / attempts)) {
        return { host: host.host, confirmedOff: true, wasOff: false, confirmedAt: new Date().toISOString(), attempts: i };
      }
      last = new DriverError('timeout', `${host.host} still reports power on after a power-off`);
    } catch (e) {
      last = e;
    }
  }
  if (last instanceof DriverError) throw last;
  throw new DriverError('unreachable', `could not fence ${host.host}: ${String(last)}`);
}

export interface IpmiDriverOptions {
  bmc: IpmiEndpoint;
  /** JSON file recording which BNode slice holds this machine. */
  stateFile: string;
  /** Grace time of a soft (ACPI) power-off before a hard one (default 60 s). */
  softOffTimeoutMs?: number;
  /** How long to wait for the BMC to confirm a power change (default 30 s). */
  confirmTimeoutMs?: number;
}

interface BNodeRecord {
  spec: SliceSpec;
  createdAt: string;
}

export class IpmiDriver implements SliceDriver {
  readonly kind = 'ipmi' as const;
  readonly simulated = false;

  constructor(private readonly opts: IpmiDriverOptions) {}

  private async record(): Promise<BNodeRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.opts.stateFile, 'utf8')) as BNodeRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  private async save(rec: BNodeRecord): Promise<void> {
    await mkdir(dirname(this.opts.stateFile), { recursive: true });
    const tmp = `${this.opts.stateFile}.tmp`;
    await writeFile(tmp, JSON.stringify(rec, null, 1));
    await rename(tmp, this.opts.stateFile);
  }

  private async mine(id: string): Promise<BNodeRecord> {
    assertSliceId(id);
    const rec = await this.record();
    if (!rec || rec.spec.id !== id) throw new DriverError('not-found', `slice ${id} does not hold this machine`, id);
    return rec;
  }

  private fromPower(p: PowerState): ObservedState {
    return p === 'on' ? 'running' : 'stopped';
  }

  async create(input: SliceSpecInput): Promise<ObservedState> {
    const spec = parseSliceSpec(input, 'BNode');
    const rec = await this.record();
    if (rec) {
      if (rec.spec.id !== spec.id) throw new DriverError('conflict', `this machine is held by slice ${rec.spec.id}`, spec.id);
      if (specHash(rec.spec) !== specHash(spec)) throw new DriverError('conflict', `slice ${spec.id} exists with another spec`, spec.id);
      if (JSON.stringify(rec.spec.fencing) !== JSON.stringify(spec.fencing)) await this.save({ ...rec, spec });
    } else {
      await this.save({ spec, createdAt: new Date().toISOString() });
    }
    return this.fromPower(await powerStatus(this.opts.bmc));
  }

  async start(id: string): Promise<ObservedState> {
    await this.mine(id);
    const bmc = this.opts.bmc;
    if (await powerStatus(bmc) === 'on') return 'running';
    await powerAction(bmc, 'on');
    if (!await waitForPower(bmc, 'on', this.opts.confirmTimeoutMs ?? 30_000)) {
      throw new DriverError('timeout', `machine of ${id} did not report power on`, id);
    }
    return 'running';
  }

  async stop(id: string, opts: StopOptions = {}): Promise<ObservedState> {
    assertSliceId(id);
    const rec = await this.record();
    if (!rec || rec.spec.id !== id) return 'absent';
    const bmc = this.opts.bmc;
    if (await powerStatus(bmc) === 'off') return 'stopped';
    if (!opts.force) {
      await powerAction(bmc, 'soft');
      if (await waitForPower(bmc, 'off', opts.timeoutMs ?? this.opts.softOffTimeoutMs ?? 60_000)) return 'stopped';
    }
    await powerAction(bmc, 'off');
    if (!await waitForPower(bmc, 'off', this.opts.confirmTimeoutMs ?? 30_000)) {
      throw new DriverError('timeout', `machine of ${id} still reports power on after a power-off`, id);
    }
    return 'stopped';
  }

  /** Power cycle (off, then on); from off it just powers on. */
  async cycle(id: string): Promise<ObservedState> {
    await this.mine(id);
    const bmc = this.opts.bmc;
    if (await powerStatus(bmc) === 'off') return this.start(id);
    await powerAction(bmc, 'cycle');
    if (!await waitForPower(bmc, 'on', this.opts.confirmTimeoutMs ?? 30_000)) {
      throw new DriverError('timeout', `machine of ${id} did not come back on after a power cycle`, id);
    }
    return 'running';
  }

  async hibernate(id: string): Promise<ObservedState> {
    await this.mine(id);
    throw new DriverError('unsupported', 'bare metal cannot hibernate through IPMI (no suspend-to-disk control); stop it instead', id);
  }

  async resume(id: string): Promise<ObservedState> {
    await this.mine(id);
    if (await powerStatus(this.opts.bmc) === 'on') return 'running';
    throw new DriverError('unsupported', 'bare metal never hibernates under this driver; start it instead', id);
  }

  async destroy(id: string): Promise<ObservedState> {
    assertSliceId(id);
    const rec = await this.record();
    if (!rec || rec.spec.id !== id) return 'absent';
    await this.stop(id, { force: true });
    await rm(this.opts.stateFile, { force: true });
    return 'absent';
  }

  async status(id: string): Promise<ObservedState> {
    assertSliceId(id);
    const rec = await this.record();
    if (!rec || rec.spec.id !== id) return 'absent';
    return this.fromPower(await powerStatus(this.opts.bmc));
  }

  async list(): Promise<ObservedSlice[]> {
    const rec = await this.record();
    if (!rec) return [];
    const p = await powerStatus(this.opts.bmc);
    const s: ObservedSlice = { id: rec.spec.id, state: this.fromPower(p), managed: true, kind: 'BNode', detail: `chassis power ${p}` };
    if (rec.spec.fencing) s.fencing = rec.spec.fencing;
    return [s];
  }

  async load(): Promise<LoadReport> {
    const rec = await this.record();
    const power = await powerStatus(this.opts.bmc);
    return {
      driver: 'ipmi',
      simulated: false,
      at: new Date().toISOString(),
      host: { power },
      slices: rec ? [{ id: rec.spec.id, state: this.fromPower(power) }] : [],
    };
  }

  async close(): Promise<void> { /* nothing held */ }
}
