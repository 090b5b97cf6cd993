/**
 * Embedded profile: a **simulated** agent (sim driver) for every registered host that has no real agent attached,
 * on the ledger's own bus, so a seeded demo reaches `running` end to end. A host counts as having a real agent
 * when the bus holds a heartbeat of it, newer than `realAgentWindowMs`, that none of these sim agents sent.
 * New hosts are picked up every `rescanMs`; retired hosts lose their sim agent.
 *
 *   const gateway = await startCommandGateway(ledger);        // reports need the gateway
 *   const sims = await startSimAgents(ledger, { stateDir: join(config.dataDir, 'sim-agents') });
 *   …
 *   await sims.close(); await gateway.close();
 */
import { join } from 'node:path';
import type { Ledger } from '../core/ledger.ts';
import { SimDriver, type SimDriverOptions } from './drivers/sim.ts';
import { startAgent, type Agent, type AgentOptions } from './agent.ts';
import { heartbeatSubject } from '../layers/resources/health/heartbeat.ts';

export interface SimAgentsOptions {
  /** Where each sim agent keeps its state (`<stateDir>/<hostId>`). Default `<dataDir>/sim-agents`. */
  stateDir?: string;
  /** Which hosts get a sim agent (default: every host without a real agent). */
  include?: (hostId: string) => boolean;
  /** How often to look for new or retired hosts (default 5 s; 0 = only at start). */
  rescanMs?: number;
  /** A heartbeat younger than this from another agent means the host has a real agent (default 15 s). */
  realAgentWindowMs?: number;
  /** Sim driver settings (latency, failure rate, seed). */
  driver?: Omit<SimDriverOptions, 'hostId' | 'persistFile'>;
  /** Agent settings passed to every sim agent. */
  agent?: Partial<Omit<AgentOptions, 'hostId' | 'driver' | 'bus' | 'stateDir'>>;
  log?: (line: string) => void;
}

export interface SimAgents {
  /** Running sim agents by host id. */
  readonly agents: ReadonlyMap<string, Agent>;
  /** Looks for new or retired hosts now. */
  rescan(): Promise<void>;
  close(): Promise<void>;
}

export async function startSimAgents(ledger: Pick<Ledger, 'store' | 'bus' | 'config'>, opts: SimAgentsOptions = {}): Promise<SimAgents> {
  const bus = ledger.bus;
  if (!bus) throw new Error('startSimAgents: the ledger was opened without a bus (openLedger(config, { bus: true }))');
  const stateDir = opts.stateDir ?? join(ledger.config.dataDir, 'sim-agents');
  const log = opts.log ?? ((l: string) => console.error(`${new Date().toISOString()} sim-agents: ${l}`));
  const windowMs = opts.realAgentWindowMs ?? 15_000;
  const agents = new Map<string, Agent>();
  const hosts = new Map<string, boolean>(); // hostId → retired
  let after = 0;
  let closed = false;

  const hasRealAgent = async (hostId: string): Promise<boolean> => {
    const last = await bus.lastMessage(heartbeatSubject(hostId)).catch(() => null);
    // called only for hosts without a sim agent of ours: any recent beat comes from another agent process
    return !!last && Date.now() - last.time.getTime() <= windowMs;
  };

  const rescan = async () => {
    for (;;) {
      const events = await ledger.store.readAll({ after, maxCount: 1000, filter: { categories: ['Host'], eventTypes: ['HostRegistered', 'HostRetired'] } });
      for (const e of events) {
        const hostId = (e.data as { hostId?: string }).hostId;
        if (hostId) hosts.set(hostId, e.type === 'HostRetired');
        after = e.position;
      }
      if (events.length < 1000) break;
    }
    for (const [hostId, retired] of hosts) {
      if (closed) return;
      const running = agents.get(hostId);
      if (retired) {
        if (running) { agents.delete(hostId); await running.close(); log(`host ${hostId} retired: its sim agent stopped`); }
        continue;
      }
      if (running || (opts.include && !opts.include(hostId))) continue;
      if (await hasRealAgent(hostId)) continue;
      const driver = new SimDriver({ ...opts.driver, hostId, persistFile: join(stateDir, hostId, 'sim-driver.json') });
      const agent = await startAgent({
        defaultImage: { name: 'simulated', path: '/simulated/image', boot: 'overlay' },
        log: (l) => log(`[SIMULATED agent ${hostId}] ${l}`),
        ...opts.agent,
        hostId, driver, bus, stateDir: join(stateDir, hostId),
      });
      agents.set(hostId, agent);
    }
  };

  await rescan();
  const rescanMs = opts.rescanMs ?? 5_000;
  let scanning = false;
  const timer = rescanMs > 0 ? setInterval(() => {
    if (scanning || closed) return;
    scanning = true;
    rescan().catch((e) => log(`rescan failed: ${e instanceof Error ? e.message : String(e)}`)).finally(() => { scanning = false; });
  }, rescanMs) : undefined;
  timer?.unref();

  return {
    agents,
    rescan,
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      await Promise.all([...agents.values()].map((a) => a.close()));
      agents.clear();
    },
  };
}
