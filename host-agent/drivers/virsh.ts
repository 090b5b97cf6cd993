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

interface Pending {
  n: number;
  cmdline: string;
  resolve: (r: VirshResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class VirshSession implements VirshRunner {
  private child?: ChildProcessWithoutNullStreams;
  private out = '';
  private err = '';
  private seq = 0;
  private current?: Pending;
  private queue: Array<() => void> = [];
  private dead?: Error;
  private exited?: Promise<void>;

  constructor(readonly uri: string, private readonly virsh = 'virsh') {}

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.dead) throw this.dead;
    if (this.child) return this.child;
    const child = spawn(this.virsh, ['-q', '-c', this.uri], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', TERM: 'dumb' },
    });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => { this.out += d; this.check(); });
    child.stderr.on('data', (d: string) => { this.err += d; });
    this.exited = new Promise((res) => child.once('close', () => res()));
    child.once('error', (e: NodeJS.ErrnoException) => {
      this.fail(e.code === 'ENOENT' ? new DriverError('unreachable', `${this.virsh} is not installed`) : e);
    });
    child.once('exit', (code, signal) => {
      this.fail(new DriverError('unreachable', `virsh session for ${this.uri} ended (code ${code}, signal ${signal}): ${this.err.trim()}`));
    });
    this.child = child;
    return child;
  }

  private fail(e: Error): void {
    if (!this.dead) this.dead = e;
    const cur = this.current;
    this.current = undefined;
    if (cur) { clearTimeout(cur.timer); cur.reject(e); }
    const q = this.queue;
    this.queue = [];
    for (const next of q) next();
  }

  private check(): void {
    const cur = this.current;
    if (!cur) return;
    const end = `__LE${cur.n}__`;
    const endAt = this.out.indexOf(end);
    if (endAt < 0) return;
    const begin = `__LB${cur.n}__`;
    const beginAt = this.out.indexOf(begin);
    let body = this.out.slice(beginAt < 0 ? 0 : beginAt + begin.length, endAt);
    this.out = this.out.slice(endAt + end.length);
    body = body.split(PROMPT).join('');
    const echoedEnd = `echo '__LE''${cur.n}''__'`;
    if (body.trimEnd().endsWith(echoedEnd)) body = body.trimEnd().slice(0, -echoedEnd.length);
    const lead = body.replace(/^\n+/, '');
    if (lead.startsWith(cur.cmdline)) body = lead.slice(cur.cmdline.length);
    body = body.replace(/^\n+/, '').replace(/\n+$/, '');
    // Let standard error that virsh wrote before the end marker be read before we take it.
    setImmediate(() => setImmediate(() => {
      if (this.current !== cur) return;
      const stderr = this.err;
      this.err = '';
      this.current = undefined;
      clearTimeout(cur.timer);
      cur.resolve({ ok: !/^error:/m.test(stderr), stdout: body ? `${body}\n` : '', stderr });
      this.queue.shift()?.();
    }));
  }

  run(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<VirshResult> {
    let cmdline: string;
    try { cmdline = args.map(virshQuote).join(' '); } catch (e) { return Promise.reject(e); }
    return new Promise<VirshResult>((resolve, reject) => {
      const go = () => {
        let child: ChildProcessWithoutNullStreams;
        try { child = this.ensure(); } catch (e) { reject(e as Error); this.queue.shift()?.(); return; }
        const n = ++this.seq;
        const timeoutMs = opts.timeoutMs ?? 120_000;
        const timer = setTimeout(() => {
          const e = new DriverError('timeout', `virsh ${cmdline} did not answer within ${timeoutMs} ms`);
          this.fail(e);
          child.kill('SIGKILL');
        }, timeoutMs);
        this.current = { n, cmdline, resolve, reject, timer };
        this.err = '';
        child.stdin.write(`echo '__LB''${n}''__'\n${cmdline}\necho '__LE''${n}''__'\n`);
      };
      if (this.current || this.queue.length > 0) this.queue.push(go);
      else go();
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || this.dead) { this.dead ??= new DriverError('unreachable', 'virsh session closed'); return; }
    this.dead = new DriverError('unreachable', 'virsh session closed');
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
