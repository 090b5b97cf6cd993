/**
 * Test harness: a real `nats-server -js` on a free loopback port with its own temporary store directory.
 *
 *   const nats = await startNatsServer();
 *   … connect to nats.url …
 *   await nats.restart();   // same port, same store dir: streams and durable consumers survive
 *   await nats.stop();      // stops the server and removes the store dir
 *
 * The server is also killed if the test process exits without calling stop() (see server-process.ts). Set
 * LEDGER_NATS_SERVER to use another binary than the `nats-server` on PATH (or /usr/sbin/nats-server).
 */
import { canConnect, findBinary, freePort, startServerProcess, type ServerProcess } from './server-process.ts';

export { freePort };

/** stop / kill / start / restart as in server-process.ts (restart and start keep the port and the directory). */
export interface NatsServerHandle extends Omit<ServerProcess, 'dir'> {
  /** `nats://127.0.0.1:<port>` */
  url: string;
  /** JetStream store directory (removed by stop()). */
  storeDir: string;
}

export interface StartNatsServerOptions {
  /** Extra command-line arguments for nats-server. */
  args?: string[];
  /** How long to wait for the server to accept connections. Default 15 s. */
  startTimeoutMs?: number;
}

const natsBinary = () => process.env.LEDGER_NATS_SERVER
  ?? findBinary('nats-server', ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']);

export async function startNatsServer(options: StartNatsServerOptions = {}): Promise<NatsServerHandle> {
  const server = await startServerProcess({
    name: 'nats-server',
    binary: natsBinary(),
    dirPrefix: 'ledger-nats-',
    startTimeoutMs: options.startTimeoutMs,
    args: (port, dir) => ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir, '-n', `ledger-test-${port}`, ...(options.args ?? [])],
    // "Server is ready" is logged once the client port listens and JetStream is up.
    ready: async (log, port) => /Server is ready/.test(log) && await canConnect(port),
  });
  return {
    url: `nats://127.0.0.1:${server.port}`, port: server.port, storeDir: server.dir,
    stop: server.stop, restart: server.restart, kill: server.kill, start: server.start,
  };
}
