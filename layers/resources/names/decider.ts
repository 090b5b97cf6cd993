/**
 * Name reservations: how "names unique within their parent" is kept without a read model race.
 *
 * A Region or Zone stream cannot see its siblings, and a check against a read model is racy (two operators register
 * "eu-1" at once, both see it free). So each parent scope has a small stream, `Names-<scope>` (`Names-regions`,
 * `Names-r_eu` for the zones of r_eu, `Names-z_a` for the hosts and networks of z_a), whose expected revision makes
 * reservations serial. Registration is a two-step flow the handler runs:
 *   1. ReserveName {scope, kind, name, ownerId} on Names-<scope>   (refused with NAME_TAKEN when someone else holds it)
 *   2. Register… on the aggregate's own stream
 *   3. when 2 is refused, ReleaseName (compensation). A rename reserves the new name, renames, then releases the old one.
 * Reserving a name one already holds is accepted without events, so retries are harmless. Names compare
 * case-insensitively after Unicode NFC normalisation and trimming, per kind (a host and a network may share a name).
 */
import './events.ts'; // registers the event schemas (the store validates appends against them)
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import type { NamesCommand } from './commands.ts';
import type { NamesEvent } from './events.ts';

export interface NamesState { owners: Readonly<Record<string, { ownerId: string; name: string }>> }

export const nameKey = (kind: string, name: string): string => `${kind}:${name.normalize('NFC').trim().toLowerCase()}`;

export const namesDecider: Decider<NamesState, NamesCommand, NamesEvent> = {
  initialState: () => ({ owners: {} }),
  evolve(state, event) {
    switch (event.type) {
      case 'NameReserved': return { owners: { ...state.owners, [event.data.key]: { ownerId: event.data.ownerId, name: event.data.name } } };
      case 'NameReleased': {
        const { [event.data.key]: _gone, ...rest } = state.owners;
        return { owners: rest };
      }
      default: return state;
    }
  },
  decide(command, state) {
    const { scope, kind, name, ownerId } = command.data;
    const key = nameKey(kind, name);
    const holder = state.owners[key];
    switch (command.type) {
      case 'ReserveName':
        if (holder?.ownerId === ownerId) return [];
        if (holder) throw new DomainError('NAME_TAKEN', `the ${kind} name "${name}" is already used by ${holder.ownerId} in ${scope}`, ['name']);
        return [{ type: 'NameReserved', data: { scope, kind, name, key, ownerId } }];
      case 'ReleaseName':
        if (!holder) return [];
        if (holder.ownerId !== ownerId) throw new DomainError('NAME_NOT_OWNED', `the ${kind} name "${name}" in ${scope} belongs to ${holder.ownerId}, not ${ownerId}`, ['name']);
        return [{ type: 'NameReleased', data: { scope, kind, name: holder.name, key, ownerId } }];
    }
  },
};
