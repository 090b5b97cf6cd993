/**
 * Test harness: a real `redis-server` on a free loopback port with its own temporary data directory.
 *
 *   const redis = await startRedisServer();
 *   … connect to redis.url …
 *   await redis.restart();  // same port, same data dir: what was persisted (AOF, fsync every write) survives
 *   await redis.kill();     // SIGKILL without removing the data dir; restart() brings it back
 *   await redis.stop();     // stops the server and removes the data dir
 *
 * The server runs with `appendonly yes` / `appendfsync always` so a restart keeps every acknowledged write (the
 * read models are rebuildable anyway; the point is to make restarts deterministic for tests). Pass
 * `{ persistence: false }` for a server that forgets everything on restart (a "lost Redis" scenario).
 * The server is also killed if the test process exits without calling stop(). Set LEDGER_REDIS_SERVER to use another
 * binary than the `redis-server` on PATH (or /usr/bin/redis-server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './nats-server.ts';

export interface RedisServerHandle {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Data directory (removed by stop()). */
  dataDir: string;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and removes its data. Idempotent. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port with the same data dir. */
  restart(): Promise<void>;
  /** Kills the server abruptly (SIGKILL) without removing its data; `restart()` brings it back. */
  kill(): Promise<void>;
  /** Starts the server again after kill() (same port, same data). Same as restart() when it is already down. */
  start(): Promise<void>;
}

export interface StartRedisServerOptions {
  /** Keep data across restarts (AOF, fsync always). Default true. */
  persistence?: boolean;
  /** Extra command-line arguments for redis-server (e.g. ['--maxmemory', '64mb']). */
  args?: string[];
  /** How long to wait for the server to accept connections. Default 15 s. */
  startTimeoutMs?: number;
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
    if (process.listenerCount(signal) > 0) continue;
    process.once(signal, () => { killAll(); process.kill(process.pid, signal); });
  }
}

function redisBinary(): string {
  if (process.env.LEDGER_REDIS_SERVER) return process.env.LEDGER_REDIS_SERVER;
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server']) if (existsSync(p)) return p;
  return 'redis-server';
}

/** True once the server answers PING with +PONG (it refuses commands with -LOADING while it replays its AOF). */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => { buf += String(d); if (buf.includes('\r\n')) done(buf.startsWith('+PONG')); });
    s.once('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startRedisServer(options: StartRedisServerOptions = {}): Promise<RedisServerHandle> {
  installExitHook();
  const dataDir = mkdtempSync(join(tmpdir(), 'ledger-redis-'));
  dirs.add(dataDir);
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const persistence = options.persistence ?? true;
  let child: ChildProcess | null = null;
  let port = 0;
  let removed = false;

  const launch = async (p: number): Promise<void> => {
    const args = [
      '--port', String(p), '--bind', '127.0.0.1', '--dir', dataDir,
      '--save', '', // no RDB snapshots: AOF (or nothing) only, so restarts are deterministic
      '--appendonly', persistence ? 'yes' : 'no',
      '--appendfsync', 'always',
      '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'notice', '--logfile', '',
      ...(options.args ?? []),
    ];
    const proc = spawn(redisBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
      if (spawnError) throw new Error(`cannot run redis-server (${redisBinary()}): ${(spawnError as Error).message}`);
      if (exited) {
        const e = exited as { code: number | null; signal: NodeJS.Signals | null };
        throw new Error(`redis-server exited (code ${e.code}, signal ${e.signal}) while starting on port ${p}:\n${log}`);
      }
      if (/Ready to accept connections/.test(log) && (await pong(p))) { child = proc; return; }
      await sleep(20);
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server did not become ready on port ${p} within ${startTimeoutMs} ms:\n${log}`);
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

  let lastError: unknown;
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    try { await launch(port); } catch (e) { lastError = e; }
  }
  if (!child) {
    rmSync(dataDir, { recursive: true, force: true });
    dirs.delete(dataDir);
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dataDir,
    async stop() {
      await halt('SIGTERM');
      if (!removed) { removed = true; rmSync(dataDir, { recursive: true, force: true }); dirs.delete(dataDir); }
    },
    async kill() {
      await halt('SIGKILL');
    },
    async start() {
      if (removed) throw new Error('redis-server harness: start() after stop()');
      if (child) return;
      await relaunch();
    },
    async restart() {
      if (removed) throw new Error('redis-server harness: restart() after stop()');
      await halt('SIGTERM');
      await relaunch();
    },
  };
}
