/**
 * `ledger agent --host <id> --driver libvirt|oci|ipmi|sim`: the host agent of one host (host-agent/agent.ts), on NATS.
 */
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../../core/config.ts';
import { connectNatsBus } from '../../core/bus/nats.ts';
import { createDriver } from '../../host-agent/drivers/index.ts';
import { startAgent, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_LEASE_MS } from '../../host-agent/agent.ts';

const line = (text: string) => console.error(`${new Date().toISOString()} ${text}`);
const intOpt = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
};
const envInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError([`${name}=${JSON.stringify(v)}: must be a positive integer (milliseconds)`]);
  return n;
};

interface AgentCliOptions {
  host: string; driver: 'libvirt' | 'oci' | 'ipmi' | 'sim'; stateDir?: string; natsUrl?: string; imagesDir?: string;
  uri?: string; diskDir?: string; runcRoot?: string; bmcHost?: string; bmcPort?: number; bmcUser?: string;
  simLatencyMs?: number; simFailureRate?: string; heartbeatMs?: number; leaseMs?: number; command?: string; defaultImage?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('agent')
    .description('Run the host agent of one host: execute its slice events through a driver, report, heartbeat, self-fence')
    // Every option also reads an environment variable (`ledger agent` is configured by environment alone in a
    // systemd unit or a container); a flag given on the command line wins.
    .addOption(new Option('--host <id>', 'the host this agent runs (h_…)').env('LEDGER_AGENT_HOST').makeOptionMandatory())
    .addOption(new Option('--driver <kind>', 'slice driver').choices(['libvirt', 'oci', 'ipmi', 'sim']).env('LEDGER_AGENT_DRIVER').makeOptionMandatory())
    .addOption(new Option('--state-dir <dir>', 'agent state (applied generations, fencing epochs, driver files)').env('LEDGER_AGENT_STATE_DIR').default('/var/lib/ledger-agent'))
    .option('--nats-url <url>', 'NATS server URL (env LEDGER_NATS_URL; required)')
    .addOption(new Option('--images-dir <dir>', 'where images live on this host: <dir>/<imageId> (CNode rootfs) or <dir>/<imageId>.qcow2 (VNode)').env('LEDGER_AGENT_IMAGES_DIR'))
    .addOption(new Option('--command <cmd>', 'CNode process, space-separated (default /sbin/init)').env('LEDGER_AGENT_COMMAND'))
    .addOption(new Option('--default-image <path>', 'image for slices that name none: a disk image file (VNode) or a rootfs directory (CNode); the sim driver uses a simulated one').env('LEDGER_AGENT_DEFAULT_IMAGE'))
    .addOption(new Option('--uri <uri>', 'libvirt: connection URI').env('LEDGER_AGENT_LIBVIRT_URI').default('qemu:///system'))
    .addOption(new Option('--disk-dir <dir>', 'libvirt: where slice disks go (default <state-dir>/disks)').env('LEDGER_AGENT_DISK_DIR'))
    .addOption(new Option('--runc-root <dir>', 'oci: runc --root (default <state-dir>/oci/runc)').env('LEDGER_AGENT_RUNC_ROOT'))
    .addOption(new Option('--bmc-host <host>', 'ipmi: BMC address').env('LEDGER_AGENT_BMC_HOST'))
    .addOption(new Option('--bmc-port <port>', 'ipmi: BMC UDP port').env('LEDGER_AGENT_BMC_PORT').argParser(intOpt('--bmc-port', 1)))
    .addOption(new Option('--bmc-user <user>', 'ipmi: BMC user (password from env IPMI_PASSWORD)').env('LEDGER_AGENT_BMC_USER'))
    .addOption(new Option('--sim-latency-ms <ms>', 'sim: latency of each operation').env('LEDGER_AGENT_SIM_LATENCY_MS').argParser(intOpt('--sim-latency-ms', 0)))
    .addOption(new Option('--sim-failure-rate <p>', 'sim: probability of an injected failure per operation').env('LEDGER_AGENT_SIM_FAILURE_RATE'))
    .option('--heartbeat-ms <ms>', `heartbeat period (env LEDGER_HEARTBEAT_INTERVAL_MS, default ${DEFAULT_HEARTBEAT_INTERVAL_MS})`, intOpt('--heartbeat-ms', 100))
    .option('--lease-ms <ms>', `self-fence HA slices after this long without reaching NATS (env LEDGER_AGENT_LEASE_MS, default ${DEFAULT_LEASE_MS})`, intOpt('--lease-ms', 200));
  cmd.addHelpText('after', `
Consumes ledger.resources.Host.<id>.> (durable consumer agent_<id>), executes each XNode event through the driver
(idempotently: the last applied generation per slice is kept in <state-dir>/agent-state.json), and reports what it
observes on cmd.agent.<id>.report (the ledger's command gateway). Heartbeats on ledger.agent.<id>.heartbeat, load
reports on ledger.agent.<id>.load, drift of slices the ledger does not know on ledger.agent.<id>.drift.
The sim driver is SIMULATED: nothing runs; it is for demos and scale benchmarks.

Environment: LEDGER_NATS_URL (required), LEDGER_HEARTBEAT_INTERVAL_MS, LEDGER_AGENT_LEASE_MS, IPMI_PASSWORD (ipmi).
See docs/host-agent.md (systemd unit, NATS credentials per agent, fencing).`);

  cmd.action(async (o: AgentCliOptions) => {
    const config = loadConfig(process.env, { LEDGER_NATS_URL: o.natsUrl });
    if (!config.LEDGER_NATS_URL) {
      throw new ConfigError(['LEDGER_NATS_URL is not set: `ledger agent` talks to the ledger through NATS; set LEDGER_NATS_URL=nats://<host>:4222 (or pass --nats-url)']);
    }
    if (!/^h_[A-Za-z0-9_]{1,60}$/.test(o.host)) throw new ConfigError([`--host=${JSON.stringify(o.host)}: a host id, "h_" followed by letters, digits or "_"`]);
    const stateDir = resolve(o.stateDir ?? '/var/lib/ledger-agent');
    let driverConfig: Record<string, unknown>;
    switch (o.driver) {
      case 'libvirt': driverConfig = { driver: 'libvirt', uri: o.uri, diskDir: resolve(o.diskDir ?? `${stateDir}/disks`) }; break;
      case 'oci': driverConfig = { driver: 'oci', stateDir: `${stateDir}/oci`, ...(o.runcRoot && { runcRoot: resolve(o.runcRoot) }) }; break;
      case 'ipmi': {
        const password = process.env.IPMI_PASSWORD;
        const missing = [!o.bmcHost && '--bmc-host', !o.bmcUser && '--bmc-user', !password && 'IPMI_PASSWORD'].filter(Boolean);
        if (missing.length) throw new ConfigError([`the ipmi driver needs ${missing.join(', ')}`]);
        driverConfig = { driver: 'ipmi', bmc: { host: o.bmcHost, port: o.bmcPort, user: o.bmcUser, password }, stateFile: `${stateDir}/ipmi-state.json` };
        break;
      }
      case 'sim': driverConfig = {
        driver: 'sim', hostId: o.host, persistFile: `${stateDir}/sim-driver.json`,
        ...(o.simLatencyMs !== undefined && { latencyMs: o.simLatencyMs }),
        ...(o.simFailureRate !== undefined && { failureRate: Number(o.simFailureRate) }),
      }; break;
    }
    let driver;
    try { driver = createDriver(driverConfig); } catch (e) { throw new ConfigError([e instanceof Error ? e.message : String(e)]); }
    const bus = await connectNatsBus({ servers: config.LEDGER_NATS_URL, name: `ledger-agent-${o.host}`, log: (m, e) => line(`${m} ${e instanceof Error ? e.message : e ?? ''}`) });
    const agent = await startAgent({
      hostId: o.host, driver, bus, stateDir,
      ...(o.imagesDir && { imagesDir: resolve(o.imagesDir) }),
      ...(o.command && { command: o.command.split(/\s+/).filter(Boolean) }),
      // A slice that names no image (a component's VNode) boots this one; a simulated host needs none of its own.
      ...(o.defaultImage ? { defaultImage: { name: 'default', path: resolve(o.defaultImage), boot: 'overlay' as const } }
        : o.driver === 'sim' ? { defaultImage: { name: 'simulated', path: '/simulated/image', boot: 'overlay' as const } } : {}),
      heartbeatIntervalMs: o.heartbeatMs ?? envInt('LEDGER_HEARTBEAT_INTERVAL_MS', DEFAULT_HEARTBEAT_INTERVAL_MS),
      leaseMs: o.leaseMs ?? envInt('LEDGER_AGENT_LEASE_MS', DEFAULT_LEASE_MS),
      log: (l) => line(`agent ${o.host}: ${l}`),
    });
    await new Promise<void>((done) => {
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) process.exit(130);
        stopping = true;
        line(`agent ${o.host}: ${signal}: stopping (slices keep running)`);
        await agent.close();
        await bus.close();
        done();
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
  });
}
