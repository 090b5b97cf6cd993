/**
 * A small, realistic log for the audit tools' tests and demos, written through the real deciders and command
 * handler: an operator sets up a region, a zone and a host and creates a tenant; the tenant's request (one correlation
 * id) creates a project, the "scheduler" slices an XNode for it on the host, the host's agent reports it running;
 * later an operator drains the host. Steps are a few milliseconds apart so recorded times order them.
 */
import { join } from 'node:path';
import { SqliteEventStore } from '../event-store/sqlite.ts';
import { CommandHandler, type CommandContext } from '../command-handler.ts';
import type { Decider } from '../decider.ts';
import type { StoredEvent } from '../event-store/port.ts';
import { hostDecider, regionDecider, zoneDecider } from '../../layers/resources/index.ts';
import { userDecider } from '../../layers/projects/user/decider.ts';
import { projectDecider } from '../../layers/projects/project/decider.ts';

export const OPERATOR = { kind: 'operator', id: 'ops_ann' } as const;
export const SCHEDULER = { kind: 'system', id: 'scheduler' } as const;
export const AGENT = { kind: 'agent', id: 'h_1' } as const;
export const TENANT = 'u_bob';
export const REQUEST = 'req_0190f5c27a4b7cc3';

export interface Scenario {
  path: string;
  /** Every event in position order. */
  events: StoredEvent[];
  /** recordedAt of each step's last event, by step name. */
  times: Record<string, string>;
}

const pause = (ms = 4) => new Promise((r) => setTimeout(r, ms));

export async function seedScenario(dataDir: string): Promise<Scenario> {
  const path = join(dataDir, 'events.sqlite');
  const store = new SqliteEventStore({ path });
  const handlers = new Map<Decider<any, any, any>, CommandHandler<any, any, any>>();
  const events: StoredEvent[] = [];
  const times: Record<string, string> = {};
  const run = async (step: string, d: Decider<any, any, any>, stream: string, type: string, data: unknown, ctx: CommandContext) => {
    if (!handlers.has(d)) handlers.set(d, new CommandHandler(store, d));
    const r = await handlers.get(d)!.handle(stream, { type, data }, ctx);
    events.push(...r.events);
    times[step] = r.events[r.events.length - 1]?.metadata.recordedAt ?? times[step];
    await pause();
    return r.events;
  };
  try {
    await run('region', regionDecider, 'Region-r_eu', 'RegisterRegion', { regionId: 'r_eu', name: 'Europe' }, { actor: OPERATOR, correlationId: 'setup_1' });
    await run('zone', zoneDecider, 'Zone-z_a', 'RegisterZone', { zoneId: 'z_a', regionId: 'r_eu', name: 'Zone A' }, { actor: OPERATOR, correlationId: 'setup_1' });
    await run('host', hostDecider, 'Host-h_1', 'RegisterHost', {
      hostId: 'h_1', zoneId: 'z_a', regionId: 'r_eu', name: 'host one', type: 'VM', area: 'dc1/row1/rack1',
      resources: { cpuCores: 32, cpuMHz: 76_800, ramMiB: 131_072, diskGiB: 2_000, diskIops: 100_000 },
      reserved: { cpuCores: 2, ramMiB: 8_192, diskGiB: 100 },
    }, { actor: OPERATOR, correlationId: 'setup_1' });
    await run('user', userDecider, `User-${TENANT}`, 'CreateUser', { userId: TENANT, name: 'Bob' }, { actor: OPERATOR, correlationId: 'setup_2' });
    // the tenant's request, traced by one correlation id across Project, Host (scheduler) and the agent's report
    const tenantCtx = { actor: { kind: 'tenant', id: TENANT } as const, tenantId: TENANT, correlationId: REQUEST, commandId: 'cmd_project_1' };
    const [created] = await run('project', projectDecider, 'Project-p_web', 'CreateProject', { projectId: 'p_web', ownerId: TENANT, name: 'web shop' }, tenantCtx);
    const [sliced] = await run('slice', hostDecider, 'Host-h_1', 'SliceXNode', { hostId: 'h_1', xnodeId: 'xn_1', size: { cpuCores: 4, ramMiB: 8_192, diskGiB: 100 } },
      { actor: SCHEDULER, tenantId: TENANT, correlationId: REQUEST, causationId: created.metadata.eventId });
    await run('observed', hostDecider, 'Host-h_1', 'ReportXNodeObserved', { hostId: 'h_1', xnodeId: 'xn_1', observed: 'running', generation: 1, observedAt: new Date().toISOString() },
      { actor: AGENT, tenantId: TENANT, correlationId: REQUEST, causationId: sliced.metadata.eventId });
    await run('drain', hostDecider, 'Host-h_1', 'DrainHost', { hostId: 'h_1', reason: 'disk replacement' }, { actor: OPERATOR, correlationId: 'maint_1' });
  } finally {
    await store.close();
  }
  return { path, events, times };
}
