/**
 * Test harness: the ledger's roles as real child processes (`node bin/ledger.js <role> …`), configured by
 * environment only, as an operator runs them. Each child's output is kept (the tail of it) for assertions and for
 * failure messages; every child dies with the test process.
 *
 *   const api = await startRole('serve', ['--port', '0'], { env, ready: /GraphQL: (\S+)/ });
 *   api.match![1]                      // the URL the ready line named
 *   await api.kill();                  // SIGKILL, waits for the exit
 *   const again = await api.restart(); // same role, arguments and environment
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface RoleProcess {
  readonly role: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The match of the ready pattern (when one was given). */
  readonly match: RegExpMatchArray | null;
  /** Everything the process printed so far (stdout and stderr interleaved, the last 200 kB). */
  output(): string;
  /** How many characters it has printed in all: a mark to pass as `from` to `since` and `waitFor`. */
  printed(): number;
  /** Output printed from mark `from` on (see `printed`). */
  since(from: number): string;
  /** Resolves when `pattern` appears in the output (from mark `from` on, default the start; see `printed`). */
  waitFor(pattern: RegExp, options?: number | { timeoutMs?: number; from?: number }): Promise<RegExpMatchArray>;
  /** Sends a signal (e.g. SIGSTOP/SIGCONT to pause and resume it) while it runs. */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL; resolves when the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (after SIGCONT, in case it was paused); resolves with the exit code (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
  /** Starts the same role again with the same arguments and environment (after kill/stop). */
  restart(): Promise<RoleProcess>;
  readonly exited: boolean;
}

export interface StartRoleOptions {
  /** Environment added to the test's (LEDGER_* variables of the test's own environment are dropped first). */
  env?: Record<string, string | undefined>;
  /** Resolve only once this pattern appears in the output. */
  ready?: RegExp;
  /** Default 30 s (a loaded 2-core machine starts tsx slowly). */
  readyTimeoutMs?: number;
  /** Node arguments before bin/ledger.js (e.g. ['--import', './core/testing/example-account.ts']). */
  nodeArgs?: string[];
}

const live = new Set<ChildProcess>();
let hooked = false;
function hook() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => { for (const c of live) { try { c.kill('SIGCONT'); c.kill('SIGKILL'); } catch { /* gone */ } } });
}

const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LEDGER_')));

export async function startRole(role: string, args: string[] = [], options: StartRoleOptions = {}): Promise<RoleProcess> {
  hook();
  const env = { ...cleanEnv(), ...Object.fromEntries(Object.entries(options.env ?? {}).filter(([, v]) => v !== undefined)) } as NodeJS.ProcessEnv;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), 'bin/ledger.js', role, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  let dropped = 0; // characters cut from the front of `out` to bound it; marks count them
  const tail = (from: number) => out.slice(Math.max(0, from - dropped));
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.length > 400_000) { dropped += out.length - 200_000; out = out.slice(-200_000); }
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => { exited = true; live.delete(child); for (const w of waiters) w(); resolve(); }));

  const waitFor = (pattern: RegExp, options: number | { timeoutMs?: number; from?: number } = {}) => new Promise<RegExpMatchArray>((resolve, reject) => {
    const { timeoutMs = 30_000, from = 0 } = typeof options === 'number' ? { timeoutMs: options } : options;
    const check = () => {
      const m = tail(from).match(pattern);
      if (m) { done(); resolve(m); return; }
      if (exited) { done(); reject(new Error(`ledger ${role} exited (code ${child.exitCode}, signal ${child.signalCode}) before printing ${pattern}:\n${out.slice(-4000)}`)); }
    };
    const timer = setTimeout(() => { done(); reject(new Error(`ledger ${role} did not print ${pattern} within ${timeoutMs} ms:\n${out.slice(-4000)}`)); }, timeoutMs);
    const done = () => { clearTimeout(timer); waiters.delete(check); };
    waiters.add(check);
    check();
  });

  const match = options.ready ? await waitFor(options.ready, options.readyTimeoutMs ?? 30_000).catch((e) => { child.kill('SIGKILL'); throw e; }) : null;
  const handle: RoleProcess = {
    role, child, pid: child.pid!, match,
    output: () => out,
    printed: () => dropped + out.length,
    since: tail,
    waitFor,
    signal(signal) { if (!exited) child.kill(signal); },
    async kill() { if (!exited) child.kill('SIGKILL'); await gone; },
    async stop(graceMs = 15_000) {
      if (!exited) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await gone;
        clearTimeout(t);
      }
      return child.exitCode;
    },
    restart: () => startRole(role, args, options),
    get exited() { return exited; },
  };
  return handle;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds; throws naming `what` after `timeoutMs`. Errors of `check` count as "not yet". */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(everyMs);
  }
}

/** A GraphQL request over HTTP; network errors are thrown (the caller decides whether it was acknowledged). */
export async function gql<T = any>(url: string, query: string, variables: Record<string, unknown> | undefined, token: string | null, timeoutMs = 10_000): Promise<{ status: number; body: { data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] } }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query, ...(variables && { variables }) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { throw new Error(`not JSON (HTTP ${res.status}): ${text.slice(0, 500)}`); }
  return { status: res.status, body };
}
