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
 * The server is also killed if the test process exits without calling stop() (see server-process.ts). Set LEDGER_REDIS_SERVER to use another
 * binary than the `redis-server` on PATH (or /usr/bin/redis-server).
 */
import { connect as tcpConnect } from 'node:net';
import { findBinary, startServerProcess, type ServerProcess } from './server-process.ts';

/** stop / kill / start / restart as in server-process.ts (restart and start keep the port and the directory). */
export interface RedisServerHandle extends Omit<ServerProcess, 'dir'> {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  /** Data directory (removed by stop()). */
  dataDir: string;
}

export interface StartRedisServerOptions {
  /** Keep data across restarts (AOF, fsync always). Default true. */
  persistence?: boolean;
  /** Extra command-line arguments for redis-server (e.g. ['--maxmemory', '64mb']). */
  args?: string[];
  /** How long to wait for the server to accept connections. Default 15 s. */
  startTimeoutMs?: number;
}

const redisBinary = () => process.env.LEDGER_REDIS_SERVER
  ?? findBinary('redis-server', ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server']);

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

export async function startRedisServer(options: StartRedisServerOptions = {}): Promise<RedisServerHandle> {
  const persistence = options.persistence ?? true;
  const server = await startServerProcess({
    name: 'redis-server',
    binary: redisBinary(),
    dirPrefix: 'ledger-redis-',
    startTimeoutMs: options.startTimeoutMs,
    args: (port, dir) => [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--save', '', // no RDB snapshots: AOF (or nothing) only, so restarts are deterministic
      '--appendonly', persistence ? 'yes' : 'no',
      '--appendfsync', 'always',
      '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'notice', '--logfile', '',
      ...(options.args ?? []),
    ],
    ready: async (log, port) => /Ready to accept connections/.test(log) && await pong(port),
  });
  return {
    url: `redis://127.0.0.1:${server.port}`, port: server.port, dataDir: server.dir,
    stop: server.stop, restart: server.restart, kill: server.kill, start: server.start,
  };
}
