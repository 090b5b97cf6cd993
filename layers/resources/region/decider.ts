/**
 * Region: register, rename, retire. The stream protects its own lifecycle; name uniqueness among regions is kept by
 * the `Names-regions` reservation stream (see names/decider.ts), reserved before RegisterRegion / RenameRegion.
 */
import './events.ts'; // registers the event schemas (the store validates appends against them)
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import type { RegionCommand } from './commands.ts';
import type { RegionEvent } from './events.ts';

export type RegionStatus = 'none' | 'active' | 'retired';
export interface RegionState { status: RegionStatus; regionId?: string; name?: string }

const mustExist = (state: RegionState, regionId: string) => {
  if (state.status === 'none') throw new DomainError('REGION_NOT_FOUND', `region ${regionId} does not exist`, ['regionId']);
  if (state.regionId !== regionId) throw new DomainError('REGION_MISMATCH', `command for region ${regionId} sent to the stream of ${state.regionId}`, ['regionId']);
  if (state.status === 'retired') throw new DomainError('REGION_RETIRED', `region ${regionId} is retired`, ['regionId']);
};

export const regionDecider: Decider<RegionState, RegionCommand, RegionEvent> = {
  initialState: () => ({ status: 'none' }),
  evolve(state, event) {
    switch (event.type) {
      case 'RegionRegistered': return { status: 'active', regionId: event.data.regionId, name: event.data.name };
      case 'RegionRenamed': return { ...state, name: event.data.name };
      case 'RegionRetired': return { ...state, status: 'retired' };
      default: return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'RegisterRegion': {
        const d = command.data;
        if (state.status !== 'none') {
          if (state.name === d.name && state.regionId === d.regionId) return []; // a retried registration
          throw new DomainError('REGION_EXISTS', `region ${d.regionId} already exists (named "${state.name}")`, ['regionId']);
        }
        return [{ type: 'RegionRegistered', data: { regionId: d.regionId, name: d.name, ...(d.description !== undefined && { description: d.description }) } }];
      }
      case 'RenameRegion': {
        mustExist(state, command.data.regionId);
        if (state.name === command.data.name) return [];
        return [{ type: 'RegionRenamed', data: { regionId: command.data.regionId, name: command.data.name, previousName: state.name! } }];
      }
      case 'RetireRegion': {
        if (state.status === 'retired' && state.regionId === command.data.regionId) return [];
        mustExist(state, command.data.regionId);
        return [{ type: 'RegionRetired', data: { regionId: command.data.regionId, ...(command.data.reason !== undefined && { reason: command.data.reason }) } }];
      }
    }
  },
};

/** A precondition the wiring checks before registering a child (zone, network, image) in this region. */
export function regionAcceptsChildren(state: RegionState, regionId: string): void {
  mustExist(state, regionId);
}
