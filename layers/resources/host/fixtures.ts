/** Shared test fixtures for the Host decider (used by specs and the capacity test). */
import { fold } from '../../../core/decider.ts';
import type { HostCommand } from './commands.ts';
import { hostDecider, type HostState } from './decider.ts';
import type { HostEvent } from './events.ts';

export const VM_RESOURCES = { cpuCores: 32, cpuMHz: 76_800, ramMiB: 131_072, diskGiB: 2_000, diskIops: 100_000 };

/** Runs commands one after the other from `given`, returning every event (throws on the first refusal). */
export function run(given: HostEvent[], ...commands: HostCommand[]): HostEvent[] {
  const events = [...given];
  let state = fold<HostState, HostEvent>(hostDecider, given);
  for (const c of commands) {
    const out = hostDecider.decide(c, state);
    for (const e of out) state = hostDecider.evolve(state, e);
    events.push(...out);
  }
  return events;
}
export const stateOf = (events: HostEvent[]): HostState => fold<HostState, HostEvent>(hostDecider, events);

export const registerVm = (hostId = 'h_vm1', extra: Partial<Extract<HostCommand, { type: 'RegisterHost' }>['data']> = {}): HostCommand => ({
  type: 'RegisterHost',
  data: {
    hostId, zoneId: 'z_a', regionId: 'r_eu', name: `host ${hostId}`, type: 'VM', area: 'dc1/row1/rack1', resources: VM_RESOURCES,
    reserved: { cpuCores: 2, ramMiB: 8_192, diskGiB: 100 }, allocationRatios: { cpuCores: 4, ramMiB: 1.5 }, ...extra,
  },
});
export const slice = (xnodeId: string, size: { cpuCores: number; ramMiB: number; diskGiB: number; cpuMHz?: number; diskIops?: number }, extra: Record<string, unknown> = {}, hostId = 'h_vm1'): HostCommand =>
  ({ type: 'SliceXNode', data: { hostId, xnodeId, size, ...extra } }) as HostCommand;
