/** Shared helpers for the Components integration tests: a fleet of hosts, contracts, invariant checks over the log. */
import type { Ledger } from '../../../core/ledger.ts';
import type { EventStore, StoredEvent } from '../../../core/event-store/port.ts';
import { hostDecider, resourceCommand } from '../../resources/index.ts';
import { executeFresh } from '../exec.ts';
import { ccontractDecider } from '../ccontract/decider.ts';
import type { Needs } from '../ccontract/events.ts';
import { stream } from '../ids.ts';

export const operator = { kind: 'operator', id: 'test' } as const;

export interface HostSpec { hostId: string; regionId: string; zoneId: string; area: string; cpuCores: number; ramMiB: number; diskGiB: number }

/** Registers hosts (straight through the Host decider; names are unique per zone by construction). */
export async function registerHosts(ledger: Pick<Ledger, 'execute'>, hosts: HostSpec[]): Promise<void> {
  await Promise.all(hosts.map(async (h) => {
    const { stream: s, command } = resourceCommand('RegisterHost', {
      hostId: h.hostId, zoneId: h.zoneId, regionId: h.regionId, name: h.hostId, type: 'VM', area: h.area,
      resources: { cpuCores: h.cpuCores, cpuMHz: 0, ramMiB: h.ramMiB, diskGiB: h.diskGiB, diskIops: 0 },
    });
    await ledger.execute(hostDecider, s, command, { actor: operator });
  }));
}

/** regions × zones × areas × hosts-per-area of one size. */
export function grid(regions: number, zones: number, areas: number, perArea: number, size = { cpuCores: 16, ramMiB: 32768, diskGiB: 1000 }): HostSpec[] {
  const out: HostSpec[] = [];
  for (let r = 0; r < regions; r++) for (let z = 0; z < zones; z++) for (let a = 0; a < areas; a++) for (let n = 0; n < perArea; n++) {
    out.push({ hostId: `h_r${r}z${z}a${a}n${n}`, regionId: `r_${r}`, zoneId: `z_${r}_${z}`, area: `dc${z}/row${a % 2}/rack${a}`, ...size });
  }
  return out;
}

export const needs = (componentId: string, extra: Partial<Needs> = {}): Needs => ({
  componentId, tenantId: 'u_test',
  type: { typeId: 'ct_rdbms', name: 'rdbms', version: 1, distribution: 'Cell', singleRunning: false, pool: { kind: 'resources' }, hostTypes: ['VM'] },
  size: { cpuCores: 4, cpuMHz: 0, ramMiB: 8192, diskGiB: 100, diskIops: 0 }, access: 'Region', regionId: 'r_0', replicas: 3, writers: 1, ...extra,
});

export const requestComponent = (ledger: { store: EventStore }, n: Needs) =>
  executeFresh(ledger, ccontractDecider, stream.ccontract(n.componentId), { type: 'RequestComponent', data: n }, { actor: { kind: 'tenant', id: n.tenantId ?? 'u_test' }, tenantId: n.tenantId });

export async function readAllEvents(store: EventStore, categories?: string[]): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let after = 0;
  for (;;) {
    const batch = await store.readAll({ after, maxCount: 5000, ...(categories && { filter: { categories } }) });
    out.push(...batch);
    if (batch.length < 5000) return out;
    after = batch[batch.length - 1].position;
  }
}

/**
 * Invariants over the whole log: no host over capacity after any event; each (component, replica, epoch) sliced at
 * most once; at most one live, unfenced incarnation per replica per host stream at any time.
 */
export async function checkHostInvariants(store: EventStore): Promise<{ slices: number; overcommits: string[]; doubles: string[] }> {
  const events = await readAllEvents(store, ['Host']);
  const states = new Map<string, ReturnType<typeof hostDecider.initialState>>();
  const overcommits: string[] = [];
  const sliced = new Map<string, string[]>();
  for (const e of events) {
    const s = hostDecider.evolve(states.get(e.streamId) ?? hostDecider.initialState(), e as never);
    states.set(e.streamId, s);
    for (const k of ['cpuCores', 'ramMiB', 'diskGiB'] as const) if (s.used[k] > s.capacity[k]) overcommits.push(`${e.streamId}@${e.revision} ${k} ${s.used[k]} > ${s.capacity[k]}`);
    if (e.type === 'XNodeSliced') {
      const ha = (e.data as { ha?: { componentId: string; replica: number; epoch: number } }).ha;
      if (ha) {
        const key = `${ha.componentId}/${ha.replica}@${ha.epoch}`;
        sliced.set(key, [...(sliced.get(key) ?? []), e.streamId]);
      }
    }
  }
  const doubles = [...sliced.entries()].filter(([, hosts]) => hosts.length > 1).map(([k, hosts]) => `${k} on ${hosts.join(', ')}`);
  return { slices: [...sliced.values()].reduce((n, h) => n + h.length, 0), overcommits, doubles };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(everyMs);
  }
}
