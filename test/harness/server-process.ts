/**
 * Test harness: one real server process (nats-server, redis-server, …) on a free loopback port with its own
 * temporary directory, that a test can stop, kill abruptly and start again on the same port with the same directory.
 * nats-server.ts and redis-server.ts describe their server (binary, arguments, readiness) and use this.
 *
 * Servers die with the test process: on exit, and on SIGINT/SIGTERM/SIGHUP (then the signal does what it would
 * have done). A SIGKILLed test process cannot clean up; the test runner then kills its process group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ServerSpec {
  /** For messages: `nats-server`, `redis-server`. */
  name: string;
  binary: string;
  /** Prefix of the temporary directory (under the OS temp dir). */
  dirPrefix: string;
  args(port: number, dir: string): string[];
  /** True once the server is ready, given what it logged so far (stdout and stderr) and its port. */
  ready(log: string, port: number): Promise<boolean>;
  /** How long to wait for readiness. Default 15 s. */
  startTimeoutMs?: number;
}

export interface ServerProcess {
  port: number;
  /** The server's directory (removed by stop()). */
  dir: string;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and removes its directory. Idempotent. */
  stop(): Promise<void>;
  /** Kills the server abruptly (SIGKILL) without removing its directory; `start()`/`restart()` bring it back. */
  kill(): Promise<void>;
  /** Starts the server again after kill() (same port, same directory); nothing when it runs. */
  start(): Promise<void>;
  /** Stops the server and starts it again on the same port with the same directory. */
  restart(): Promise<void>;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let exitHookInstalled = false;

function killAll(): void {
  for (const child of live) { try { child.kill('SIGKILL'); } catch { /* already gone */ } }
  for (const dir of dirs) { try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ } }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    if (process.listenerCount(signal) > 0) continue; // the process handles it itself; 'exit' still cleans up
    process.once(signal, () => { killAll(); process.kill(process.pid, signal); });
  }
}

/** The first of `paths` that exists, else `name` (looked up on PATH). */
export function findBinary(name: string, paths: string[]): string {
  return paths.find((p) => existsSync(p)) ?? name;
}

/** A port that was free a moment ago (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { s.destroy(); resolve(false); });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startServerProcess(spec: ServerSpec): Promise<ServerProcess> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), spec.dirPrefix));
  dirs.add(dir);
  const startTimeoutMs = spec.startTimeoutMs ?? 15_000;
  let child: ChildProcess | null = null;
  let port = 0;
  let removed = false;

  const launch = async (p: number): Promise<void> => {
    const proc = spawn(spec.binary, spec.args(p, dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const onData = (d: Buffer) => { log = (log + String(d)).slice(-8000); };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let spawnError: Error | null = null;
    proc.once('error', (e) => { spawnError = e; });
    proc.once('exit', (code, signal) => { exited = { code, signal }; live.delete(proc); });
    live.add(proc);
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`cannot run ${spec.name} (${spec.binary}): ${(spawnError as Error).message}`);
      if (exited) {
        const e = exited as { code: number | null; signal: NodeJS.Signals | null };
        throw new Error(`${spec.name} exited (code ${e.code}, signal ${e.signal}) while starting on port ${p}:\n${log}`);
      }
      if (await spec.ready(log, p)) { child = proc; return; }
      await sleep(20);
    }
    proc.kill('SIGKILL');
    throw new Error(`${spec.name} did not become ready on port ${p} within ${startTimeoutMs} ms:\n${log}`);
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) { if (proc) live.delete(proc); return; }
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
    live.delete(proc);
  };

  const relaunch = async (): Promise<void> => {
    // The port was ours a moment ago; it may linger briefly, so retry the bind for a little while.
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      try { await launch(port); return; } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(100);
      }
    }
  };

  // The free port may be taken by someone else between the probe and the bind: try a few times.
  let lastError: unknown;
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    try { await launch(port); } catch (e) { lastError = e; }
  }
  if (!child) {
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  return {
    port,
    dir,
    async stop() {
      await halt('SIGTERM');
      if (!removed) { removed = true; rmSync(dir, { recursive: true, force: true }); dirs.delete(dir); }
    },
    async kill() {
      await halt('SIGKILL');
    },
    async start() {
      if (removed) throw new Error(`${spec.name} harness: start() after stop()`);
      if (child) return;
      await relaunch();
    },
    async restart() {
      if (removed) throw new Error(`${spec.name} harness: restart() after stop()`);
      await halt('SIGTERM');
      await relaunch();
    },
  };
}
