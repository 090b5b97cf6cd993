import { test } from 'uvu';
import { spec } from '../../../core/spec.ts';
import { namesDecider } from './decider.ts';
import type { NamesEvent } from './events.ts';

const names = spec(namesDecider);
const reserved: NamesEvent = { type: 'NameReserved', data: { scope: 'r_eu', kind: 'zone', name: 'eu-1a', key: 'zone:eu-1a', ownerId: 'z_1' } };

test('reserve a free name', () => {
  names.given([]).when({ type: 'ReserveName', data: { scope: 'r_eu', kind: 'zone', name: 'eu-1a', ownerId: 'z_1' } }).then([reserved]);
});
test('names are unique per kind within the scope, case-insensitively', () => {
  names.given([reserved]).when({ type: 'ReserveName', data: { scope: 'r_eu', kind: 'zone', name: 'EU-1A', ownerId: 'z_2' } }).thenThrows('NAME_TAKEN', 'z_1');
  names.given([reserved]).when({ type: 'ReserveName', data: { scope: 'r_eu', kind: 'zone', name: 'eu-1a', ownerId: 'z_1' } }).thenNothing();
  names.given([reserved]).when({ type: 'ReserveName', data: { scope: 'r_eu', kind: 'network', name: 'eu-1a', ownerId: 'n_1' } })
    .then([{ type: 'NameReserved', data: { scope: 'r_eu', kind: 'network', name: 'eu-1a', key: 'network:eu-1a', ownerId: 'n_1' } }]);
});
test('only the owner releases; a released name is free again', () => {
  names.given([reserved]).when({ type: 'ReleaseName', data: { scope: 'r_eu', kind: 'zone', name: 'eu-1a', ownerId: 'z_2' } }).thenThrows('NAME_NOT_OWNED');
  const released: NamesEvent = { type: 'NameReleased', data: { ...reserved.data } };
  names.given([reserved]).when({ type: 'ReleaseName', data: { scope: 'r_eu', kind: 'zone', name: 'Eu-1a', ownerId: 'z_1' } }).then([released]);
  names.given([reserved, released]).when({ type: 'ReserveName', data: { scope: 'r_eu', kind: 'zone', name: 'eu-1a', ownerId: 'z_2' } })
    .then([{ type: 'NameReserved', data: { ...reserved.data, ownerId: 'z_2' } }]);
  names.given([]).when({ type: 'ReleaseName', data: { scope: 'r_eu', kind: 'zone', name: 'eu-1a', ownerId: 'z_1' } }).thenNothing();
});

test.run();
