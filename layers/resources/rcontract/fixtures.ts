/** Shared fixtures for RContract specs and the opening process tests. */
import { fold } from '../../../core/decider.ts';
import { validateEvent } from '../../../schema/registry.ts';
import type { RContractCommand } from './commands.ts';
import { rcontractDecider, type RContractState } from './decider.ts';
import type { RContractEvent } from './events.ts';

export const C = 'rc_web1';
export const open: RContractCommand = {
  type: 'OpenRContract',
  data: {
    contractId: C, tenantId: 'u_ann', holder: { kind: 'ccontract', id: 'c_web' },
    items: [
      { kind: 'compute', hostId: 'h_vm1', size: { cpuCores: 4, ramMiB: 8_192, diskGiB: 50 }, imageId: 'i_deb12' },
      { kind: 'network', networkId: 'n_pub', cidr: '10.1.0.0/24', public: true, bandwidthMbps: 500, publicIps: 1 },
      { kind: 'image', regionId: 'r_eu', quota: { checkpoints: 5, sizeGiB: 200 } },
    ],
  },
};
export function run(given: RContractEvent[], ...commands: RContractCommand[]): RContractEvent[] {
  const events = [...given];
  let state = fold<RContractState, RContractEvent>(rcontractDecider, given);
  for (const c of commands) for (const e of rcontractDecider.decide(c, state)) { validateEvent(e.type, e.data); state = rcontractDecider.evolve(state, e); events.push(e); }
  return events;
}
export const stateOf = (events: RContractEvent[]) => fold<RContractState, RContractEvent>(rcontractDecider, events);
export const reserved = (index: number, sliceId: string, amounts: Record<string, number> = { cpuCores: 1 }): RContractCommand =>
  ({ type: 'RecordRContractItemReserved', data: { contractId: C, index, sliceId, reserved: amounts } });
export const failed = (index: number, sliceId: string, code = 'INSUFFICIENT_CAPACITY'): RContractCommand =>
  ({ type: 'RecordRContractItemFailed', data: { contractId: C, index, sliceId, code, message: `${code} on ${sliceId}` } });
export const released = (index: number, sliceId: string): RContractCommand => ({ type: 'RecordRContractItemReleased', data: { contractId: C, index, sliceId } });
