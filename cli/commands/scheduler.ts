/**
 * `ledger scheduler`: runs a Components scheduler until SIGINT/SIGTERM. With LEDGER_NATS_URL (or --nats-url) it is a
 * durable JetStream consumer of CContract and Host events, and any number of them may run at once; without it, it is
 * driven by the event store alone (one scheduler per store).
 */
import { Option, type Command } from 'commander';
import { ConfigError, loadConfig } from '../../core/config.ts';
import { openLedger } from '../../core/ledger.ts';
import '../../schema/index.ts';
import { startScheduler } from '../../layers/components/scheduler/scheduler.ts';
import { withDataDir } from '../options.ts';

const int = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
};

export function register(program: Command): void {
  const cmd = program.command('scheduler')
    .description('Place and fail over component replicas (CContracts) until SIGINT/SIGTERM; several may run at once on NATS')
    .addOption(new Option('--nats-url <url>', 'NATS server URL (env LEDGER_NATS_URL); without it the scheduler is driven by the store'))
    .addOption(new Option('--name <name>', 'scheduler id (logs, decisions)').default(undefined, 'scheduler-<pid>'))
    .addOption(new Option('--policy <policy>', 'scoring: binpack (fill hosts) or spread (emptiest first)').choices(['binpack', 'spread']).default('binpack'))
    .addOption(new Option('--lease-ms <n>', 'HA lease of host agents: replacements wait lastSeen + lease + skew').argParser(int('--lease-ms', 0, 3_600_000)).default(15_000))
    .addOption(new Option('--skew-ms <n>', 'margin added to the lease').argParser(int('--skew-ms', 0, 600_000)).default(1_000))
    .addOption(new Option('--sweep-ms <n>', 'how often to look for work no message announced').argParser(int('--sweep-ms', 50, 600_000)).default(1_000))
    .addOption(new Option('--durable <name>', 'durable consumer of CContract events shared by the schedulers').default('components-scheduler'))
    .addOption(new Option('--host-durable <name>', 'durable consumer of Host events shared by the schedulers').default('components-hosts'));
  withDataDir(cmd);
  cmd.addHelpText('after', `
Consumes ledger.components.CContract.> and ledger.resources.Host.> (fed by \`ledger relay\`) as durable JetStream
consumers shared by every scheduler, keeps its own view of the fleet and of the contracts from the event store
(<data>/events.sqlite or LEDGER_EVENTSTORE_URL), and commits placements by appending to the chosen host's stream with
its expected revision. Environment: LEDGER_DATA_DIR, LEDGER_NATS_URL, LEDGER_EVENTSTORE_URL.`);

  cmd.action(async (opts: { natsUrl?: string; name?: string; policy: 'binpack' | 'spread'; leaseMs: number; skewMs: number; sweepMs: number; durable: string; hostDurable: string; data?: string }) => {
    const config = loadConfig(process.env, { LEDGER_DATA_DIR: opts.data, LEDGER_NATS_URL: opts.natsUrl });
    if (opts.name !== undefined && !/^[A-Za-z0-9_.:-]{1,100}$/.test(opts.name)) throw new ConfigError([`--name=${JSON.stringify(opts.name)}: 1-100 of letters, digits, "_", ".", ":", "-"`]);
    for (const [flag, v] of [['--durable', opts.durable], ['--host-durable', opts.hostDurable]] as const) {
      if (!/^[A-Za-z0-9_-]{1,128}$/.test(v)) throw new ConfigError([`${flag}=${JSON.stringify(v)}: a durable consumer name of letters, digits, "_" and "-"`]);
    }
    const line = (text: string) => process.stderr.write(`${new Date().toISOString()} ${text}\n`);
    const ledger = await openLedger(config, { bus: !!config.LEDGER_NATS_URL, project: false, role: 'scheduler' });
    if (!config.LEDGER_NATS_URL) line('scheduler: no LEDGER_NATS_URL: driven by the event store (run only one scheduler per store this way)');
    const name = opts.name ?? `scheduler-${process.pid}`;
    const scheduler = await startScheduler(ledger, {
      name, bus: config.LEDGER_NATS_URL ? ledger.bus : null, policy: opts.policy,
      leaseMs: opts.leaseMs, clockSkewMs: opts.skewMs, sweepIntervalMs: opts.sweepMs, durable: opts.durable, hostDurable: opts.hostDurable,
      log: (l) => line(`${name}: ${l}`),
    });
    process.stdout.write(`scheduler ${scheduler.name} running\n`);
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) { line(`${signal} again: exiting now`); process.exit(130); }
        stopping = true;
        line(`${scheduler.name}: ${signal}: finishing work in flight`);
        await scheduler.stop();
        await ledger.close();
        line(`${scheduler.name}: stopped: ${JSON.stringify(scheduler.stats)}`);
        resolve();
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
  });
}
