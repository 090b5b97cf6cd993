/**
 * Test harness: a real `nats-server -js` on a free loopback port with its own temporary store directory.
 *
 *   const nats = await startNatsServer();
 *   … connect to nats.url …
 *   await nats.restart();   // same port, same store dir: streams and durable consumers survive
 *   await nats.stop();      // stops the server and removes the store dir
 *
 * The server is also killed if the test process exits without calling stop(). Set LEDGER_NATS_SERVER to use
 * another binary than the `nats-server` on PATH (or /usr/sbin/nats-server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServerHandle {
  /** `nats://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** JetStream store directory (removed by stop()). */
  storeDir: string;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and removes its store. Idempotent. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port with the same store. */
  restart(): Promise<void>;
  /** Kills the server abruptly (SIGKILL) without removing its store; `restart()` brings it back. */
  kill(): Promise<void>;
}

export interface StartNatsServerOptions {
  /** Extra command-line arguments for nats-server. */
  args?: string[];
  /** How long to wait for the server to accept connections. Default 15 s. */
  startTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

const stores = new Set<string>();

function killAll(): void {
  for (const child of live) { try { child.kill('SIGKILL'); } catch { /* already gone */ } }
  for (const dir of stores) { try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ } }
}

/** Servers die with the test process: on exit, and on SIGINT/SIGTERM/SIGHUP (then the signal does what it would
 *  have done). A SIGKILLed test process cannot clean up; its servers then outlive it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    if (process.listenerCount(signal) > 0) continue; // the process handles it itself; 'exit' still cleans up
    process.once(signal, () => { killAll(); process.kill(process.pid, signal); });
  }
}

function natsBinary(): string {
  if (process.env.LEDGER_NATS_SERVER) return process.env.LEDGER_NATS_SERVER;
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) if (existsSync(p)) return p;
  return 'nats-server';
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

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { s.destroy(); resolve(false); });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startNatsServer(options: StartNatsServerOptions = {}): Promise<NatsServerHandle> {
  installExitHook();
  const storeDir = mkdtempSync(join(tmpdir(), 'ledger-nats-'));
  stores.add(storeDir);
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  let child: ChildProcess | null = null;
  let port = 0;
  let removed = false;

  const launch = async (p: number): Promise<void> => {
    const args = ['-js', '-a', '127.0.0.1', '-p', String(p), '-sd', storeDir, '-n', `ledger-test-${p}`, ...(options.args ?? [])];
    const proc = spawn(natsBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr!.on('data', (d) => { log = (log + String(d)).slice(-8000); });
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let spawnError: Error | null = null;
    proc.once('error', (e) => { spawnError = e; });
    proc.once('exit', (code, signal) => { exited = { code, signal }; live.delete(proc); });
    live.add(proc);
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`cannot run nats-server (${natsBinary()}): ${(spawnError as Error).message}`);
      if (exited) {
        const e = exited as { code: number | null; signal: NodeJS.Signals | null };
        throw new Error(`nats-server exited (code ${e.code}, signal ${e.signal}) while starting on port ${p}:\n${log}`);
      }
      // "Server is ready" is logged once the client port listens and JetStream is up.
      if (/Server is ready/.test(log) && (await canConnect(p))) { child = proc; return; }
      await sleep(20);
    }
    proc.kill('SIGKILL');
    throw new Error(`nats-server did not become ready on port ${p} within ${startTimeoutMs} ms:\n${log}`);
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

  // The free port may be taken by someone else between the probe and the bind: try a few times.
  let lastError: unknown;
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    try { await launch(port); } catch (e) { lastError = e; }
  }
  if (!child) {
    rmSync(storeDir, { recursive: true, force: true });
    stores.delete(storeDir);
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop() {
      await halt('SIGTERM');
      if (!removed) { removed = true; rmSync(storeDir, { recursive: true, force: true }); stores.delete(storeDir); }
    },
    async kill() {
      await halt('SIGKILL');
    },
    async restart() {
      if (removed) throw new Error('nats-server harness: restart() after stop()');
      await halt('SIGTERM');
      // The port was ours a moment ago; it may linger briefly, so retry the bind for a little while.
      const deadline = Date.now() + startTimeoutMs;
      for (;;) {
        try { await launch(port); return; } catch (e) {
          if (Date.now() > deadline) throw e;
          await sleep(100);
        }
      }
    },
  };
}
