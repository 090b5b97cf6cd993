/**
 * Test harness for the placement chaos tests: a real nats-server, one SQLite event log in a temporary data
 * directory, `ledger relay` and N `ledger scheduler` as child processes, a fleet registered and component types
 * seeded through the test's own ledger handle (playing the API), and the checks every placement chaos test makes
 * over the log: each contract reaches its replicas, no replica is placed twice, no host is overcommitted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../core/config.ts';
import { openLedger, type Ledger } from '../../core/ledger.ts';
import { hostDecider } from '../../layers/resources/index.ts';
import { seedComponentTypes } from '../../layers/components/seed.ts';
import { loadFresh } from '../../layers/components/exec.ts';
import { ccontractDecider, type CContractState } from '../../layers/components/ccontract/decider.ts';
import { stream } from '../../layers/components/ids.ts';
import { checkHostInvariants, grid, needs, readAllEvents, registerHosts, requestComponent } from '../../layers/components/testing/fleet.ts';
import { startNatsServer, type NatsServerHandle } from './nats-server.ts';
import { startRole, type RoleProcess } from './roles.ts';

export interface PlacementRig {
  nats: NatsServerHandle;
  dir: string;
  ledger: Ledger;
  env: Record<string, string>;
  relay: RoleProcess;
  schedulers: RoleProcess[];
  /** Requests a component: even indexes a cloud host (1 replica, zone access), odd ones an rdbms (3 replicas across zones). */
  request(i: number): Promise<string>;
  states(ids: string[]): Promise<Map<string, CContractState>>;
  /** Contracts not yet having every replica placed (a slice cut: provisioning or further). */
  unplaced(ids: string[]): Promise<string[]>;
  check(ids: string[]): Promise<PlacementCheck>;
  close(): Promise<void>;
}

export interface PlacementCheck {
  replicas: number;
  /** Replicas without a live slice. */
  lost: string[];
  /** Replicas with more than one live slice (on any hosts), or an incarnation sliced twice. */
  doubled: string[];
  overcommits: string[];
}

const DEAD = new Set(['released', 'fenced', 'failed']);

export async function startPlacementRig(options: { schedulers: number; sweepMs?: number; leaseMs?: number }): Promise<PlacementRig> {
  const nats = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'ledger-chaos-place-'));
  const env = { LEDGER_DATA_DIR: dir, LEDGER_NATS_URL: nats.url, LEDGER_LOG_LEVEL: 'warn' };
  const ledger = await openLedger(loadConfig(env), { project: false, role: 'test' });
  await registerHosts(ledger, grid(1, 3, 2, 2, { cpuCores: 64, ramMiB: 262_144, diskGiB: 8000 })); // 12 hosts over 3 zones: room for all
  await seedComponentTypes(ledger);
  const relay = await startRole('relay', [], { env, ready: /relaying .* after position \d+/ });
  const schedulers: RoleProcess[] = [];
  for (let i = 0; i < options.schedulers; i++) {
    schedulers.push(await startRole('scheduler', ['--name', `s${i}`, '--sweep-ms', String(options.sweepMs ?? 300), '--lease-ms', String(options.leaseMs ?? 3000)], { env, ready: new RegExp(`scheduler s${i} running`) }));
  }
  const states = async (ids: string[]) => {
    const out = new Map<string, CContractState>();
    for (const id of ids) out.set(id, (await loadFresh(ledger, ccontractDecider, stream.ccontract(id))).state);
    return out;
  };
  const rig: PlacementRig = {
    nats, dir, ledger, env, relay, schedulers, states,
    async request(i) {
      const id = `c_chaos${i}`;
      const small = { cpuCores: 2, cpuMHz: 0, ramMiB: 2048, diskGiB: 20, diskIops: 0 };
      await requestComponent(ledger, i % 2 === 0
        ? needs(id, { type: { typeId: 'ct_cloud_host', name: 'cloud-host', version: 1, distribution: 'Cell', singleRunning: true, pool: { kind: 'resources' }, hostTypes: ['VM'] }, replicas: 1, access: 'Zone', zoneId: `z_0_${i % 3}`, size: small })
        : needs(id, { size: small }));
      return id;
    },
    async unplaced(ids) {
      const out: string[] = [];
      for (const [id, s] of await states(ids)) if (!s.slots.length || s.slots.some((x) => x.state === 'pending' || x.state === 'placing' || !x.placement)) out.push(id);
      return out;
    },
    async check(ids) {
      const all = await states(ids);
      const wanted = new Set<string>();
      for (const [id, s] of all) for (let r = 0; r < (s.needs?.replicas ?? 0); r++) wanted.add(`${id}/${r}`);
      // the live slices of every replica, from the Host streams folded to their end
      const hosts = new Map<string, ReturnType<typeof hostDecider.initialState>>();
      for (const e of await readAllEvents(ledger.store, ['Host'])) hosts.set(e.streamId, hostDecider.evolve(hosts.get(e.streamId) ?? hostDecider.initialState(), e as never));
      const live = new Map<string, string[]>();
      for (const [hostStream, h] of hosts) {
        for (const slice of Object.values(h.slices)) {
          if (!slice.ha || DEAD.has(slice.state)) continue;
          const k = `${slice.ha.componentId}/${slice.ha.replica}`;
          live.set(k, [...(live.get(k) ?? []), `${slice.xnodeId}@${hostStream}`]);
        }
      }
      const invariants = await checkHostInvariants(ledger.store);
      return {
        replicas: wanted.size,
        lost: [...wanted].filter((k) => !live.has(k)),
        doubled: [...[...live].filter(([k, where]) => wanted.has(k) && where.length > 1).map(([k, where]) => `${k}: ${where.join(', ')}`), ...invariants.doubles],
        overcommits: invariants.overcommits,
      };
    },
    async close() {
      // rig.relay and rig.schedulers: a test may have replaced them with restarted processes
      for (const s of rig.schedulers) await s.kill();
      await rig.relay.kill();
      await ledger.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}
