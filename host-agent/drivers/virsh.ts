/**
 * Two ways to talk to libvirt through `virsh`:
 *
 * - `VirshOneShot`: one `virsh -c <uri> <command>` process per command. Right for real hypervisors
 *   (`qemu:///system`), where libvirtd keeps the state.
 * - `VirshSession`: ONE long-lived `virsh -c <uri>` interactive shell fed commands on standard input. Needed for
 *   libvirt's built-in test driver (`test:///…`), which keeps its state only for the life of one connection.
 *
 * The interactive shell echoes every command and prints a `virsh # ` prompt even on a pipe (it uses readline), and
 * its errors go to standard error. So each command is framed by two `echo` markers whose *output* differs from
 * their echoed input (`echo '__LB''7''__'` prints `__LB7__`), commands go one at a time, and the standard error
 * written while a command ran is that command's error (virsh writes it before the end marker).
 *
 * virsh 9.0 (Debian 12) sometimes never returns from `managedsave` against the test driver (a race in its job
 * watcher, see VirshSessionOptions): the session detects it and rebuilds the connection's state in a fresh virsh.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { DriverError } from './port.ts';
import { execTool } from './exec.ts';

export interface VirshResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

export interface VirshRunner {
  readonly uri: string;
  run(args: readonly string[], opts?: { timeoutMs?: number }): Promise<VirshResult>;
  close(): Promise<void>;
}

export class VirshOneShot implements VirshRunner {
  constructor(readonly uri: string, private readonly virsh = 'virsh') {}

  async run(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<VirshResult> {
    const r = await execTool(this.virsh, ['-q', '-c', this.uri, ...args], { timeoutMs: opts.timeoutMs ?? 120_000 });
    return { ok: r.code === 0, stdout: r.stdout, stderr: r.stderr };
  }

  async close(): Promise<void> { /* nothing held */ }
}

/** Quotes one argument for the virsh shell's parser (which understands single quotes like sh). */
export function virshQuote(arg: string): string {
  if (/^[A-Za-z0-9_.\/:=,@+-]+$/.test(arg)) return arg;
  if (/['\n\r\\]/.test(arg)) {
    throw new DriverError('invalid-spec', `argument ${JSON.stringify(arg)} cannot be passed to the virsh shell safely`);
  }
  return `'${arg}'`;
}

const PROMPT = 'virsh # ';

/** Commands virsh runs in a worker thread while its main thread watches the job. */
const JOB_WATCHED = new Set(['managedsave', 'save', 'restore', 'dump']);
/** Commands that change the connection's state (replayed after a restart of the session). */
const MUTATING = new Set([
  'define', 'undefine', 'create', 'start', 'shutdown', 'destroy', 'reboot', 'reset', 'suspend', 'resume',
  'managedsave', 'managedsave-remove', 'save', 'restore', 'setmem', 'setmaxmem', 'setvcpus', 'autostart',
  'net-define', 'net-start', 'net-destroy', 'net-undefine', 'domrename',
]);

interface Waiter {
  n: number;
  cmdline: string;
  resolve: (r: VirshResult | 'stalled') => void;
  reject: (e: Error) => void;
}

export interface VirshSessionOptions {
  /**
   * virsh 9.0 can hang for good in a job-watched command (managedsave, save) when the job ends before its
   * watcher starts — which is what the instant test driver does now and then: the worker thread is gone, the
   * main loop waits forever and ignores SIGINT. With this set (default for `test:` URIs), such a command that
   * has not answered after `stallMs` makes the session kill virsh, start a new one, replay the state-changing
   * commands it ran so far (rebuilding the test driver's per-connection state), and run the command again.
   */
  recoverStalls?: boolean;
  stallMs?: number;
}

export class VirshSession implements VirshRunner {
  private child?: ChildProcessWithoutNullStreams;
  private exited?: Promise<void>;
  private out = '';
  private err = '';
  private seq = 0;
  private waiter?: Waiter;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly journal: string[] = [];
  /** How many times virsh had to be restarted after a stall. */
  restarts = 0;

  constructor(readonly uri: string, private readonly virsh = 'virsh', private readonly opts: VirshSessionOptions = {}) {}

  private spawnChild(): ChildProcessWithoutNullStreams {
    const child = spawn(this.virsh, ['-q', '-c', this.uri], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', TERM: 'dumb' },
    });
    const debug = process.env.LEDGER_VIRSH_DEBUG === '1';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => { if (debug) process.stderr.write(`[virsh out] ${JSON.stringify(d)}\n`); if (this.child === child) { this.out += d; this.check(); } });
    child.stderr.on('data', (d: string) => { if (debug) process.stderr.write(`[virsh err] ${JSON.stringify(d)}\n`); if (this.child === child) this.err += d; });
    this.exited = new Promise((res) => child.once('close', () => res()));
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (this.child !== child) return;
      this.failWaiter(e.code === 'ENOENT' ? new DriverError('unreachable', `${this.virsh} is not installed`) : e);
    });
    child.once('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.failWaiter(new DriverError('unreachable', `virsh session for ${this.uri} ended (code ${code}, signal ${signal}): ${this.err.trim()}`));
    });
    return child;
  }

  private failWaiter(e: Error): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(e);
  }

  private check(): void {
    const w = this.waiter;
    if (!w) return;
    const end = `__LE${w.n}__`;
    const endAt = this.out.indexOf(end);
    if (endAt < 0) return;
    const begin = `__LB${w.n}__`;
    const beginAt = this.out.indexOf(begin);
    let body = this.out.slice(beginAt < 0 ? 0 : beginAt + begin.length, endAt);
    this.out = this.out.slice(endAt + end.length);
    body = body.split(PROMPT).join('');
    const echoedEnd = `echo '__LE''${w.n}''__'`;
    if (body.trimEnd().endsWith(echoedEnd)) body = body.trimEnd().slice(0, -echoedEnd.length);
    const lead = body.replace(/^\n+/, '');
    if (lead.startsWith(w.cmdline)) body = lead.slice(w.cmdline.length);
    body = body.replace(/^\n+/, '').replace(/\n+$/, '');
    // Let standard error that virsh wrote before the end marker be read before we take it.
    setImmediate(() => setImmediate(() => {
      if (this.waiter !== w) return;
      const stderr = this.err;
      this.err = '';
      this.waiter = undefined;
      w.resolve({ ok: !/^error:/m.test(stderr), stdout: body ? `${body}\n` : '', stderr });
    }));
  }

  /** Sends one command line and waits for its framed answer, 'stalled' after stallMs (if given). */
  private send(cmdline: string, timeoutMs: number, stallMs?: number): Promise<VirshResult | 'stalled'> {
    if (this.closed) return Promise.reject(new DriverError('unreachable', 'virsh session closed'));
    this.child ??= this.spawnChild();
    const child = this.child;
    const n = ++this.seq;
    return new Promise<VirshResult | 'stalled'>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const done = () => timers.forEach(clearTimeout);
      this.waiter = { n, cmdline, resolve: (r) => { done(); resolve(r); }, reject: (e) => { done(); reject(e); } };
      this.err = '';
      timers.push(setTimeout(() => {
        const e = new DriverError('timeout', `virsh ${cmdline} did not answer within ${timeoutMs} ms`);
        this.failWaiter(e);
        child.kill('SIGKILL');
      }, timeoutMs));
      if (stallMs !== undefined) {
        timers.push(setTimeout(() => {
          if (this.waiter?.n !== n) return;
          this.waiter = undefined;
          done();
          resolve('stalled');
        }, stallMs));
      }
      child.stdin.write(`echo '__LB''${n}''__'\n${cmdline}\necho '__LE''${n}''__'\n`);
    });
  }

  /** Replaces a hung virsh by a fresh one and replays the state-changing commands run so far. */
  private async respawn(stallMs: number): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const old = this.child;
      this.child = undefined;
      this.out = '';
      this.err = '';
      if (old) {
        const exited = this.exited;
        old.kill('SIGKILL');
        await exited;
      }
      this.restarts++;
      let ok = true;
      for (const c of this.journal) {
        const r = await this.send(c, 30_000, JOB_WATCHED.has(c.split(' ')[0]!) ? stallMs : undefined);
        if (r === 'stalled') { ok = false; break; }
      }
      if (ok) return;
    }
    throw new DriverError('unreachable', `virsh session for ${this.uri} kept hanging while rebuilding its state`);
  }

  private async runOne(cmdline: string, timeoutMs: number): Promise<VirshResult> {
    const verb = cmdline.split(' ')[0]!;
    const recover = this.opts.recoverStalls ?? this.uri.startsWith('test:');
    const stallMs = this.opts.stallMs ?? 2000;
    for (let attempt = 0; ; attempt++) {
      const r = await this.send(cmdline, timeoutMs, recover && JOB_WATCHED.has(verb) ? stallMs : undefined);
      if (r !== 'stalled') {
        if (r.ok && MUTATING.has(verb)) this.journal.push(cmdline);
        return r;
      }
      if (attempt >= 3) throw new DriverError('timeout', `virsh ${cmdline} hung ${attempt + 1} times`);
      await this.respawn(stallMs);
    }
  }

  /** Kills virsh and starts a new one with the same state (replayed); what a stall does, on demand. */
  restart(): Promise<void> {
    const p = this.chain.then(() => this.respawn(this.opts.stallMs ?? 2000));
    this.chain = p.catch(() => undefined);
    return p;
  }

  run(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<VirshResult> {
    let cmdline: string;
    try { cmdline = args.map(virshQuote).join(' '); } catch (e) { return Promise.reject(e); }
    const p = this.chain.then(() => this.runOne(cmdline, opts.timeoutMs ?? 120_000));
    this.chain = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.chain;
    this.closed = true;
    const child = this.child;
    if (!child) return;
    child.stdin.end('quit\n');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(t);
  }
}

/** The runner a URI needs: a session for the test driver, one process per command otherwise. */
export function virshRunnerFor(uri: string, virsh = 'virsh'): VirshRunner {
  return uri.startsWith('test:') ? new VirshSession(uri, virsh) : new VirshOneShot(uri, virsh);
}
