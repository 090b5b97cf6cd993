/**
 * `ledger bench graphql`: the API's overhead under load. autocannon (50 connections) against
 *   - the real API (buildServer on the embedded profile: auth, rate-limit plugin off, metrics, logging at warn,
 *     every discovered GraphQL module) answering a tenant's `viewer { projects(first: 20) { … } }` (20 projects seeded),
 *   - a bare mercurius server answering `{ hello }` (the raw baseline),
 * each in its own child process (one core for the server, the load generator here), alternating, several rounds;
 * medians of req/s, p50 and p99, and each server's CPU time per request (robust when other processes share the
 * cores). Target: API req/s ≥ 0.6 × bare, API p99 < 25 ms.
 *
 * The API runs as `ledger serve` does, response cache included (a console repeating its query is answered from
 * the cache until the projects read model changes). The same API with the response cache off is measured in the
 * same run and reported as `uncached*`: that is the cost of executing the query every time.
 *
 * Run directly: node --import tsx bench/graphql.ts [--quick] [--json] [--connections N] [--seconds S]
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchResult } from './stats.ts';

const SELF = fileURLToPath(import.meta.url);
export const VIEWER_QUERY = '{ viewer { id name projects(first: 20) { totalCount edges { cursor node { id name status createdAt quotas { cpuCores ramMiB diskGiB components } } } pageInfo { hasNextPage endCursor } } } }';
const HELLO_QUERY = '{ hello }';

export interface GraphqlBenchOptions extends Partial<BenchOptions> {
  connections?: number;
  /** Seconds per measured round. */
  seconds?: number;
  rounds?: number;
}

interface Measure { rps: number; p50Ms: number; p99Ms: number; non2xx: number; errors: number; requests: number; cpuUsPerRequest?: number }

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const round2 = (x: number) => Math.round(x * 100) / 100;

async function load(url: string, body: string, headers: Record<string, string>, connections: number, seconds: number): Promise<Measure> {
  const r = await autocannon({ url, method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, connections, duration: seconds });
  return { rps: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors, requests: r.requests.total };
}

/** A load run, plus the server's CPU time per request (robust to other processes competing for the cores). */
async function measure(proc: ChildProcess, url: string, body: string, headers: Record<string, string>, connections: number, seconds: number): Promise<Measure> {
  const cpu0 = await cpuOf(proc);
  const m = await load(url, body, headers, connections, seconds);
  const cpu1 = await cpuOf(proc);
  return { ...m, cpuUsPerRequest: Math.round((cpu1 - cpu0) / Math.max(1, m.requests)) };
}

/** Starts `bench/graphql.ts --child <kind> <dir>` and resolves with its URL once it prints `READY <url>`. */
function child(kind: 'api' | 'api-uncached' | 'bare', dir: string): Promise<{ proc: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', SELF, '--child', kind, dir], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, LEDGER_LOG_LEVEL: 'warn' } });
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /READY (\S+)/.exec(out);
      if (m) resolve({ proc, url: m[1] });
    });
    proc.on('exit', (code) => reject(new Error(`${kind} server exited (${code}) before it was ready: ${out}`)));
  });
}
/** CPU time (user + system, µs) the child process has used so far. */
const cpuOf = (proc: ChildProcess) => new Promise<number>((resolve) => {
  proc.once('message', (m: any) => resolve(m.user + m.system));
  proc.send('cpu');
});
const stop = (proc: ChildProcess) => new Promise<void>((resolve) => { proc.removeAllListeners('exit'); proc.on('exit', () => resolve()); proc.kill('SIGTERM'); });

export async function run(opts: GraphqlBenchOptions = {}): Promise<BenchResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const connections = opts.connections ?? 50;
  const seconds = opts.seconds ?? (opts.quick ? 3 : 8);
  const rounds = opts.rounds ?? (opts.quick ? 1 : 3);
  const loadAtStart = Math.round(loadavg()[0]! * 100) / 100;
  const dir = mkdtempSync(join(tmpdir(), 'ledger-bench-graphql-'));
  const procs: ChildProcess[] = [];
  try {
    const token = await seed(dir);
    log(`seeded a user with 20 projects in ${dir}`);
    const api = await child('api', dir); procs.push(api.proc);
    const uncached = await child('api-uncached', dir); procs.push(uncached.proc);
    const bare = await child('bare', dir); procs.push(bare.proc);

    const apiBody = JSON.stringify({ query: VIEWER_QUERY });
    const auth = { authorization: `Bearer ${token}` };
    for (const u of [api.url, uncached.url]) {
      const check = await (await fetch(u, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: apiBody })).json() as any;
      const edges = check?.data?.viewer?.projects?.edges?.length;
      if (edges !== 20) throw new Error(`the API did not answer 20 projects: ${JSON.stringify(check).slice(0, 500)}`);
    }
    const helloBody = JSON.stringify({ query: HELLO_QUERY });

    log(`warming up the servers (${connections} connections)`);
    await load(bare.url, helloBody, {}, connections, 2);
    await load(api.url, apiBody, auth, connections, 2);
    await load(uncached.url, apiBody, auth, connections, 2);

    const bareRuns: Measure[] = [];
    const apiRuns: Measure[] = [];
    const uncachedRuns: Measure[] = [];
    for (let i = 0; i < rounds; i++) {
      const b = await measure(bare.proc, bare.url, helloBody, {}, connections, seconds);
      bareRuns.push(b);
      log(`round ${i + 1}/${rounds} bare mercurius { hello }: ${Math.round(b.rps)} req/s, p50 ${b.p50Ms} ms, p99 ${b.p99Ms} ms, ${b.cpuUsPerRequest} µs CPU/request`);
      const a = await measure(api.proc, api.url, apiBody, auth, connections, seconds);
      apiRuns.push(a);
      log(`round ${i + 1}/${rounds} API viewer.projects(first: 20): ${Math.round(a.rps)} req/s, p50 ${a.p50Ms} ms, p99 ${a.p99Ms} ms, ${a.cpuUsPerRequest} µs CPU/request`);
      const u = await measure(uncached.proc, uncached.url, apiBody, auth, connections, seconds);
      uncachedRuns.push(u);
      log(`round ${i + 1}/${rounds} API without response cache: ${Math.round(u.rps)} req/s, p50 ${u.p50Ms} ms, p99 ${u.p99Ms} ms, ${u.cpuUsPerRequest} µs CPU/request`);
      for (const m of [a, u]) if (m.non2xx || m.errors) throw new Error(`the API answered ${m.non2xx} non-2xx responses and ${m.errors} errors under load`);
    }
    const summary = (runs: Measure[]) => ({
      rps: Math.round(median(runs.map((r) => r.rps))), p50Ms: median(runs.map((r) => r.p50Ms)), p99Ms: median(runs.map((r) => r.p99Ms)),
      cpuUs: median(runs.map((r) => r.cpuUsPerRequest ?? 0)),
    });
    const b = summary(bareRuns);
    const a = summary(apiRuns);
    const u = summary(uncachedRuns);
    const ratio = round2(a.rps / b.rps);
    const result = {
      scenario: 'graphql',
      connections, secondsPerRound: seconds, rounds,
      /** The host's 1-minute load average (other processes share the cores: read the CPU figures then). */
      loadAvg1: { atStart: loadAtStart, atEnd: Math.round(loadavg()[0]! * 100) / 100 }, cpus: cpus().length,
      bareRps: b.rps, bareP50Ms: b.p50Ms, bareP99Ms: b.p99Ms,
      apiRps: a.rps, apiP50Ms: a.p50Ms, apiP99Ms: a.p99Ms,
      bareCpuUsPerRequest: b.cpuUs, apiCpuUsPerRequest: a.cpuUs,
      /** bare CPU per request ÷ API CPU per request: the req/s ratio a server with a core to itself would reach. */
      cpuRatio: round2(b.cpuUs / Math.max(1, a.cpuUs)),
      uncachedRps: u.rps, uncachedP50Ms: u.p50Ms, uncachedP99Ms: u.p99Ms, uncachedCpuUsPerRequest: u.cpuUs,
      uncachedRatio: round2(u.rps / b.rps),
      ratio,
      p99Ms: a.p99Ms,
      targets: { ratio: 0.6, p99Ms: 25 },
      pass: ratio >= 0.6 && a.p99Ms < 25,
    };
    log(`ratio ${ratio} (target ≥ 0.6), API p99 ${a.p99Ms} ms (target < 25 ms): ${result.pass ? 'PASS' : 'FAIL'}; without the response cache: ratio ${result.uncachedRatio}, p99 ${u.p99Ms} ms`);
    return result;
  } finally {
    for (const p of procs) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A user with 20 projects through the real deciders; returns that user's tenant token. */
async function seed(dir: string): Promise<string> {
  const { loadConfig } = await import('../core/config.ts');
  const { openLedger } = await import('../core/ledger.ts');
  const { ProjectsService } = await import('../layers/projects/service.ts');
  const { projectsProjection } = await import('../projections/projects.ts');
  const { issueToken, loadTokenSecret } = await import('../api/auth/tokens.ts');
  const config = loadConfig({ ...process.env, LEDGER_DATA_DIR: dir });
  const ledger = await openLedger(config, { projections: [projectsProjection] });
  try {
    const svc = new ProjectsService(ledger);
    const userId = (await svc.createUser({ kind: 'operator', id: 'bench' }, { name: 'Bench tenant' })).id;
    for (let i = 0; i < 20; i++) await svc.createProject({ kind: 'tenant', id: userId }, { name: `bench project ${i + 1}` });
    await ledger.settle();
    return issueToken(loadTokenSecret(config), { kind: 'tenant', userId });
  } finally {
    await ledger.close();
  }
}

async function serveChild(kind: string, dir: string) {
  let close: () => Promise<void>;
  let url: string;
  if (kind === 'bare') {
    const Fastify = (await import('fastify')).default;
    const mercurius = (await import('mercurius')).default;
    const app = Fastify();
    await app.register(mercurius, { schema: 'type Query { hello: String }', resolvers: { Query: { hello: async () => 'world' } } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/graphql`;
    close = () => app.close();
  } else {
    const { loadConfig } = await import('../core/config.ts');
    const { openLedger } = await import('../core/ledger.ts');
    const { discoverModules } = await import('../api/graphql/schema.ts');
    const { buildServer, projectionsOf } = await import('../api/server.ts');
    const modules = await discoverModules();
    const ledger = await openLedger(loadConfig({ ...process.env, LEDGER_DATA_DIR: dir }), { projections: projectionsOf(modules) });
    await ledger.settle(30_000);
    const app = await buildServer(ledger, { modules, rateLimit: false, logger: { level: 'warn' }, responseCache: kind !== 'api-uncached' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/graphql`;
    close = async () => { await app.close(); await ledger.close(); };
  }
  process.on('message', () => process.send?.(process.cpuUsage()));
  process.stdout.write(`READY ${url}\n`);
  process.on('SIGTERM', () => { void close().finally(() => process.exit(0)); });
  process.on('disconnect', () => { void close().finally(() => process.exit(0)); });
}

if (process.argv[1] === SELF) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    await serveChild(args[1], args[2]);
  } else {
    const num = (flag: string) => { const i = args.indexOf(flag); return i >= 0 ? Number(args[i + 1]) : undefined; };
    const result = await run({ quick: args.includes('--quick'), connections: num('--connections'), seconds: num('--seconds'), rounds: num('--rounds') });
    if (args.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
    else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(18)} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
  }
}
