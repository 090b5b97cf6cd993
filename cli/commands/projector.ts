/**
 * `ledger projector`: the distributed profile's read-model writer. Folds the log into the SQLite read models every
 * GraphQL module declares (<data>/readmodels.sqlite, which the `ledger serve` instances only read), and — with
 * LEDGER_REDIS_URL — into the shared registers in Redis, publishing GraphQL change messages there.
 *
 * Several may run: one leads under the NATS KV lease `projector`, the others stand by. Every write transaction is
 * fenced with the lease's token (core/fence.ts: the `fences` table in the same SQLite file; the Redis scripts keep
 * their own), so a paused or cut-off old leader writes nothing once a new one took over.
 */
import { Option, type Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { loadConfig } from '../../core/config.ts';
import { openEventStore } from '../../core/ledger.ts';
import { inProcessLease, LeaseLostError, openLeaseBucket, runWhileLeader, type Lease, type LeaderRole } from '../../core/lease.ts';
import { FencedError, SqliteFence } from '../../core/fence.ts';
import { openReadModelDb, ProjectionRunner } from '../../projections/runner.ts';
import { discoverModules } from '../../api/graphql/schema.ts';
import { projectionsOf } from '../../api/server.ts';
import { withDataDir } from '../options.ts';

const line = (text: string) => process.stderr.write(`${new Date().toISOString()} projector: ${text.replace(/^projector: /, '')}\n`);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
const isFenceLoss = (e: unknown) => e instanceof FencedError || e instanceof LeaseLostError || (e as { code?: string })?.code === 'FENCED'
  || (e instanceof Error && e.name === 'FencedError');

export function register(program: Command): void {
  const cmd = program.command('projector')
    .description('Fold the log into the read models (SQLite, and Redis with LEDGER_REDIS_URL) as the single, leased writer, until SIGINT/SIGTERM')
    .addOption(new Option('--nats-url <url>', 'NATS server URL for the lease (env LEDGER_NATS_URL)'))
    .addOption(new Option('--redis-url <url>', 'Redis for the shared registers (env LEDGER_REDIS_URL)'))
    .option('--rebuild-redis', 'once leading, rebuild every Redis register from the log into a fresh generation and swap it in (the old one serves meanwhile)');
  withDataDir(cmd);
  cmd.addHelpText('after', `
Writes the read models of every GraphQL module into <data>/readmodels.sqlite (the \`ledger serve\` instances of the
distributed profile only read them) and, when LEDGER_REDIS_URL is set, the shared registers (projects, RRegister,
CRegister) into Redis, publishing GraphQL change messages on Redis pub/sub.

Run two or more for availability: one holds the NATS KV lease (bucket ledger-leases, key lease.projector) and writes;
the others stand by and take over within about LEDGER_LEASE_TTL_MS after it stops renewing. Every write carries the
lease's fencing token, so an old leader that was paused or cut off writes nothing after a takeover.

Rebuild on demand: \`ledger projector --rebuild-redis\` (as the leader) folds the log from zero into a fresh Redis
generation while the live one keeps serving and being updated, then swaps them in one step and prints each digest.

Environment: LEDGER_NATS_URL (the lease; without it no lease is taken: run one projector and no \`ledger serve\` of
the embedded profile on this data directory), LEDGER_DATA_DIR, LEDGER_EVENTSTORE_URL, LEDGER_REDIS_URL,
LEDGER_LEASE_TTL_MS (default 5000).`);

  cmd.action(async (opts: { natsUrl?: string; redisUrl?: string; data?: string; rebuildRedis?: boolean }) => {
    const config = loadConfig(process.env, { LEDGER_DATA_DIR: opts.data, LEDGER_NATS_URL: opts.natsUrl, LEDGER_REDIS_URL: opts.redisUrl });
    const modules = await discoverModules();
    const projections = projectionsOf(modules);
    const changeFeeds = modules.flatMap((m) => m.changeFeeds ?? []);
    mkdirSync(config.dataDir, { recursive: true });
    const readModelsPath = join(config.dataDir, 'readmodels.sqlite');

    let nc: NatsConnection | undefined;
    if (config.LEDGER_NATS_URL) {
      try {
        nc = await connect({ servers: config.LEDGER_NATS_URL, name: 'ledger-projector', timeout: 5_000, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
      } catch (error) {
        throw new Error(`cannot connect to NATS at ${config.LEDGER_NATS_URL}: ${message(error)}`);
      }
    } else {
      line('no LEDGER_NATS_URL: no lease is taken; run only this projector (and no embedded `ledger serve`) on this data directory');
    }
    const store = await openEventStore(config);
    const db = openReadModelDb(readModelsPath);
    const fences = new SqliteFence(db);

    /** While leader: claim every fence, then run the projections with every write fenced. */
    const lead = async (lease: Lease): Promise<LeaderRole> => {
      const holder = lease.holder;
      // Claim first, read checkpoints after: an old leader's batch either committed before this claim (and this
      // runner starts after it) or is refused by the fence — never both applied.
      try {
        db.transaction(() => { for (const p of projections) fences.check(p.name, lease.token, holder); })();
      } catch (error) {
        if (error instanceof FencedError) {
          line(`${error.message}. If the NATS store was wiped (lease revisions restarted), clear the fences: sqlite3 ${readModelsPath} 'DELETE FROM fences'`);
        }
        throw error;
      }
      let fail!: (error: unknown) => void;
      const failed = new Promise<unknown>((resolve) => { fail = resolve; });
      const runner = new ProjectionRunner({
        store, db, projections,
        guard: (name) => {
          if (!lease.isValid()) throw new LeaseLostError(lease.name, 'not valid any more before a write');
          fences.check(name, lease.token, holder);
        },
        onError: (name, error) => {
          if (isFenceLoss(error)) { line(`projection ${name}: write refused: ${message(error)}`); fail(error); } else line(`projection ${name}: ${message(error)} (retrying)`);
        },
      });
      runner.start();
      let redis: Awaited<ReturnType<typeof import('../../projections/redis/start.ts')['startRedisProjections']>> | undefined;
      if (config.LEDGER_REDIS_URL) {
        try {
          const { startRedisProjections } = await import('../../projections/redis/start.ts');
          redis = await startRedisProjections(store, config.LEDGER_REDIS_URL, {
            fence: () => (lease.isValid() ? { name: 'projector', token: lease.token } : null),
            changeFeeds,
            log: {
              info: (_o, m) => line(`redis: ${m}`),
              warn: (o, m) => line(`redis: ${m} ${message((o as { err?: unknown }).err ?? '')}`),
              error: (o, m) => line(`redis: ${m} ${message((o as { err?: unknown }).err ?? '')}`),
            },
            onFenced: (_name, error) => fail(error),
          });
          if (opts.rebuildRedis) {
            const running = redis;
            void (async () => {
              for (const { name } of running.projectors) {
                const r = await running.rebuild(name);
                line(`redis: rebuilt ${r.name} from the log: generation ${r.gen}, ${r.events} events in ${r.seconds.toFixed(1)} s, position ${r.position}, digest ${r.digest}`);
              }
            })().catch((error) => line(`redis: rebuild failed: ${message(error)}`));
          }
        } catch (error) {
          await runner.stop();
          throw error;
        }
      }
      line(`leading with fencing token ${lease.token}: ${projections.map((p) => p.name).join(', ')} into ${readModelsPath}${config.LEDGER_REDIS_URL ? ' and Redis' : ''}`);
      let reported = '';
      const progress = setInterval(() => {
        const now = runner.statuses().map((s) => `${s.name}@${s.position}`).join(' ');
        if (now !== reported) { reported = now; line(`at ${now}`); }
      }, 10_000);
      return {
        failed,
        async stop() {
          clearInterval(progress);
          await redis?.stop();
          await runner.stop();
          line(`stopped at ${runner.statuses().map((s) => `${s.name}@${s.position}`).join(' ')}`);
        },
      };
    };

    const shutdown = new AbortController();
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) { line(`${signal} again: exiting now`); process.exit(130); }
      stopping = true;
      line(`${signal}: finishing the batch in progress`);
      shutdown.abort();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));

    try {
      if (nc) {
        const kv = await openLeaseBucket(nc);
        await runWhileLeader(kv, { name: 'projector', ttlMs: config.LEDGER_LEASE_TTL_MS, signal: shutdown.signal, log: line }, lead);
      } else {
        const role = await lead(inProcessLease('projector'));
        await Promise.race([new Promise((r) => shutdown.signal.addEventListener('abort', r, { once: true })), role.failed]);
        await role.stop();
      }
    } finally {
      await nc?.drain().catch(() => nc?.close());
      await store.close();
      db.close();
    }
  });
}
