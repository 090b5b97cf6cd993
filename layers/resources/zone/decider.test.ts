import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spec } from '../../../core/spec.ts';
import { zoneAcceptsChildren, zoneDecider } from './decider.ts';
import type { ZoneEvent } from './events.ts';

const registered: ZoneEvent = { type: 'ZoneRegistered', data: { zoneId: 'z_eu1', regionId: 'r_eu', name: 'eu-1a' } };
const zone = spec(zoneDecider);

test('register a zone in a region', () => {
  zone.given([]).when({ type: 'RegisterZone', data: { zoneId: 'z_eu1', regionId: 'r_eu', name: 'eu-1a' } }).then([registered]);
});
test('a zone belongs to one region for good', () => {
  zone.given([registered]).when({ type: 'RegisterZone', data: { zoneId: 'z_eu1', regionId: 'r_us', name: 'eu-1a' } }).thenThrows('ZONE_REGION_MISMATCH', 'r_eu');
  zone.given([registered]).when({ type: 'RegisterZone', data: { zoneId: 'z_eu1', regionId: 'r_eu', name: 'other' } }).thenThrows('ZONE_EXISTS');
  zone.given([registered]).when({ type: 'RegisterZone', data: { zoneId: 'z_eu1', regionId: 'r_eu', name: 'eu-1a' } }).thenNothing();
});
test('rename and retire carry the region', () => {
  zone.given([registered]).when({ type: 'RenameZone', data: { zoneId: 'z_eu1', name: 'eu-1b' } })
    .then([{ type: 'ZoneRenamed', data: { zoneId: 'z_eu1', regionId: 'r_eu', name: 'eu-1b', previousName: 'eu-1a' } }]);
  zone.given([registered]).when({ type: 'RetireZone', data: { zoneId: 'z_eu1' } })
    .then([{ type: 'ZoneRetired', data: { zoneId: 'z_eu1', regionId: 'r_eu' } }]);
  zone.given([]).when({ type: 'RetireZone', data: { zoneId: 'z_eu1' } }).thenThrows('ZONE_NOT_FOUND');
});
test('zoneAcceptsChildren checks status and region', () => {
  const state = zoneDecider.evolve(zoneDecider.initialState(), registered);
  zoneAcceptsChildren(state, 'z_eu1', 'r_eu');
  assert.throws(() => zoneAcceptsChildren(state, 'z_eu1', 'r_us'), /r_eu/);
  const retired = zoneDecider.evolve(state, { type: 'ZoneRetired', data: { zoneId: 'z_eu1', regionId: 'r_eu' } });
  assert.throws(() => zoneAcceptsChildren(retired, 'z_eu1'), /retired/);
});

test.run();
