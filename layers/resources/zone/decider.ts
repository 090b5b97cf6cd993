/**
 * Zone: register in a region, rename, retire. What this stream protects by itself: a zone exists once and belongs to
 * exactly one region for its whole life. What it cannot protect alone:
 *  - the region exists and is active → the handler loads Region-<regionId> and calls regionAcceptsChildren first;
 *  - the name is unique within the region → the Names-<regionId> reservation stream (names/decider.ts).
 */
import './events.ts'; // registers the event schemas (the store validates appends against them)
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import type { ZoneCommand } from './commands.ts';
import type { ZoneEvent } from './events.ts';

export type ZoneStatus = 'none' | 'active' | 'retired';
export interface ZoneState { status: ZoneStatus; zoneId?: string; regionId?: string; name?: string }

const mustExist = (state: ZoneState, zoneId: string) => {
  if (state.status === 'none') throw new DomainError('ZONE_NOT_FOUND', `zone ${zoneId} does not exist`, ['zoneId']);
  if (state.zoneId !== zoneId) throw new DomainError('ZONE_MISMATCH', `command for zone ${zoneId} sent to the stream of ${state.zoneId}`, ['zoneId']);
  if (state.status === 'retired') throw new DomainError('ZONE_RETIRED', `zone ${zoneId} is retired`, ['zoneId']);
};

export const zoneDecider: Decider<ZoneState, ZoneCommand, ZoneEvent> = {
  initialState: () => ({ status: 'none' }),
  evolve(state, event) {
    switch (event.type) {
      case 'ZoneRegistered': return { status: 'active', zoneId: event.data.zoneId, regionId: event.data.regionId, name: event.data.name };
      case 'ZoneRenamed': return { ...state, name: event.data.name };
      case 'ZoneRetired': return { ...state, status: 'retired' };
      default: return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'RegisterZone': {
        const d = command.data;
        if (state.status !== 'none') {
          if (state.zoneId === d.zoneId && state.regionId === d.regionId && state.name === d.name) return [];
          if (state.regionId !== d.regionId) throw new DomainError('ZONE_REGION_MISMATCH', `zone ${d.zoneId} already belongs to region ${state.regionId}, not ${d.regionId}`, ['regionId']);
          throw new DomainError('ZONE_EXISTS', `zone ${d.zoneId} already exists (named "${state.name}")`, ['zoneId']);
        }
        return [{ type: 'ZoneRegistered', data: { zoneId: d.zoneId, regionId: d.regionId, name: d.name } }];
      }
      case 'RenameZone': {
        mustExist(state, command.data.zoneId);
        if (state.name === command.data.name) return [];
        return [{ type: 'ZoneRenamed', data: { zoneId: state.zoneId!, regionId: state.regionId!, name: command.data.name, previousName: state.name! } }];
      }
      case 'RetireZone': {
        if (state.status === 'retired' && state.zoneId === command.data.zoneId) return [];
        mustExist(state, command.data.zoneId);
        return [{ type: 'ZoneRetired', data: { zoneId: state.zoneId!, regionId: state.regionId!, ...(command.data.reason !== undefined && { reason: command.data.reason }) } }];
      }
    }
  },
};

/** Precondition the wiring checks before registering a host or network in this zone: active, and in the region named. */
export function zoneAcceptsChildren(state: ZoneState, zoneId: string, regionId?: string): void {
  mustExist(state, zoneId);
  if (regionId !== undefined && state.regionId !== regionId) {
    throw new DomainError('ZONE_REGION_MISMATCH', `zone ${zoneId} is in region ${state.regionId}, not ${regionId}`, ['regionId']);
  }
}
