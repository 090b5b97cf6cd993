/**
 * `ledger relay`: publishes every event of the store (<data>/events.sqlite, or KurrentDB) to NATS JetStream, from its
 * own checkpoint, until SIGINT/SIGTERM. Several may run: one leads (a NATS KV lease, `ledger-leases` key
 * `lease.relay`), the others stand by; the checkpoint (`ledger-checkpoints` key `checkpoint.relay`) is fenced by the
 * lease's token, so a paused or cut-off old leader stops at its next publish or checkpoint.
 */
import { Option, type Command } from 'commander';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from '../../core/config.ts';
import { openEventStore } from '../../core/ledger.ts';
import { connectNatsBus } from '../../core/bus/nats.ts';
import { startRelay, type Relay } from '../../core/relay.ts';
import { openLeaseBucket, runWhileLeader } from '../../core/lease.ts';
import { KvCheckpointStore, openCheckpointBucket } from '../../core/fence.ts';
import { withDataDir } from '../options.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The relay needs every category's layer (for the subject). Loads `schema/index.ts` when the project has one,
 * otherwise every layer's `categories.ts` and `events.ts`. Returns the files that failed to load.
 */
async function loadSchemas(): Promise<string[]> {
  const index = join(ROOT, 'schema', 'index.ts');
  const files: string[] = [];
  if (existsSync(index)) files.push(index);
  else {
    const walk = (dir: string) => {
      let names: string[];
      try { names = readdirSync(dir); } catch { return; }
      for (const name of names.sort()) {
        const full = join(dir, name);
        if (statSync(full).isDirectory()) walk(full);
        else if (name === 'categories.ts' || name === 'events.ts') files.push(full);
      }
    };
    walk(join(ROOT, 'layers'));
  }
  const failed: string[] = [];
  for (const file of files) {
    try { await import(pathToFileURL(file).href); } catch (error) {
      failed.push(`${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return failed;
}

const line = (text: string) => console.error(`${new Date().toISOString()} relay: ${text.replace(/^relay: /, '')}`);

export function register(program: Command): void {
  const cmd = program
    .command('relay')
    .description('Publish every stored event to NATS JetStream, from the relay\'s own checkpoint, until SIGINT/SIGTERM')
    .addOption(new Option('--nats-url <url>', 'NATS server URL (env LEDGER_NATS_URL; required)'))
    .addOption(new Option('--stream <name>', 'JetStream stream that stores ledger.>').default('LEDGER'))
    .addOption(new Option('--batch-size <n>', 'events per batch (one checkpoint per batch)').default('200').argParser((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new Error(`--batch-size must be an integer from 1 to 10000, got ${JSON.stringify(v)}`);
      return String(n);
    }));
  withDataDir(cmd);
  cmd.addHelpText('after', `
Reads <data>/events.sqlite and publishes each event, in position order, to
  ledger.<layer>.<Category>.<id>.<EventType>      (e.g. ledger.resources.Host.h_1.XNodeSliced)
with Nats-Msg-Id = the event id and headers Ledger-Position, Ledger-Stream, Ledger-Revision, Ledger-Event-Type;
the payload is the stored event as JSON. The JetStream stream (file storage, 2 min duplicate window) is created when
missing. Progress is checkpointed in the NATS KV bucket ledger-checkpoints (key checkpoint.relay); a restart resumes
after the checkpoint, or after the newest event the stream already holds if that is further, so nothing is published
twice. Run two or more for availability: one holds the lease (KV bucket ledger-leases, key lease.relay) and publishes,
the others stand by and take over within about LEDGER_LEASE_TTL_MS after it stops renewing.

Environment: LEDGER_NATS_URL (required, e.g. nats://127.0.0.1:4222), LEDGER_DATA_DIR (default ./data),
LEDGER_EVENTSTORE_URL (KurrentDB instead of <data>/events.sqlite), LEDGER_LEASE_TTL_MS (default 5000).`);

  cmd.action(async (opts: { natsUrl?: string; stream: string; batchSize: string; data?: string }) => {
    const config = loadConfig(process.env, { LEDGER_DATA_DIR: opts.data, LEDGER_NATS_URL: opts.natsUrl });
    if (!config.LEDGER_NATS_URL) {
      throw new ConfigError(['LEDGER_NATS_URL is not set: `ledger relay` publishes to NATS JetStream; set LEDGER_NATS_URL=nats://<host>:4222 (or pass --nats-url)']);
    }
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(opts.stream)) throw new ConfigError([`--stream=${JSON.stringify(opts.stream)}: a JetStream stream name of letters, digits, "_" and "-"`]);

    const failed = await loadSchemas();
    for (const f of failed) line(`warning: could not load schema module ${f}`);

    const eventsPath = join(config.dataDir, 'events.sqlite');
    if (!config.LEDGER_EVENTSTORE_URL && !existsSync(eventsPath)) line(`no event store at ${eventsPath} yet: it is created empty and the relay waits for events`);
    const store = await openEventStore(config);
    const source = config.LEDGER_EVENTSTORE_URL ? 'the KurrentDB store' : eventsPath;
    let bus;
    try {
      bus = await connectNatsBus({ servers: config.LEDGER_NATS_URL, stream: opts.stream, name: 'ledger-relay', log: (m, e) => line(`${m} ${e instanceof Error ? e.message : e ?? ''}`) });
    } catch (error) {
      await store.close();
      throw error;
    }
    const leases = await openLeaseBucket(bus.connection);
    const checkpointKv = await openCheckpointBucket(bus.connection);

    // One relay publishes at a time: the others stand by until its lease lapses (see core/lease.ts).
    const shutdown = new AbortController();
    let current: Relay | undefined;
    let progress: NodeJS.Timeout | undefined;
    const leading = runWhileLeader(leases, { name: 'relay', ttlMs: config.LEDGER_LEASE_TTL_MS, signal: shutdown.signal, log: line }, async (lease) => {
      const checkpoints = new KvCheckpointStore(checkpointKv, lease);
      const relay = current = await startRelay({ store, bus, checkpoints, batchSize: Number(opts.batchSize), log: line, fence: lease });
      line(`relaying ${source} to ${config.LEDGER_NATS_URL} (stream ${opts.stream}) after position ${relay.stats.startedAfter} as leader (fencing token ${lease.token}); head is ${await store.headPosition()}`);
      let reported = relay.stats.position;
      progress = setInterval(() => {
        if (relay.stats.position === reported) return;
        reported = relay.stats.position;
        line(`at position ${reported}: ${relay.stats.published} published, ${relay.stats.duplicates} duplicates since start`);
      }, 10_000);
      return {
        failed: relay.stopped,
        async stop() {
          clearInterval(progress);
          await relay.stop();
          line(`stopped at position ${relay.stats.position}: ${relay.stats.published} published, ${relay.stats.duplicates} duplicates since start`);
        },
      };
    });

    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) { line(`${signal} again: exiting now`); process.exit(130); }
      stopping = true;
      line(`${signal}: ${current ? 'finishing the batch in progress' : 'stopping'}`);
      shutdown.abort();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    try {
      await leading;
    } finally {
      clearInterval(progress);
      await bus.close();
      await store.close();
    }
  });
}
