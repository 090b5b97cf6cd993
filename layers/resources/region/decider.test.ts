import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spec } from '../../../core/spec.ts';
import { validateCommand, validateEvent } from '../../../schema/registry.ts';
import { RegisterRegion } from './commands.ts';
import { regionAcceptsChildren, regionDecider } from './decider.ts';
import type { RegionEvent } from './events.ts';

const registered: RegionEvent = { type: 'RegionRegistered', data: { regionId: 'r_eu', name: 'Europe' } };
const region = spec(regionDecider);

test('register a region', () => {
  region.given([]).when({ type: 'RegisterRegion', data: { regionId: 'r_eu', name: 'Europe' } }).then([registered]);
});
test('registering the same region twice is idempotent; another name under the same id is refused', () => {
  region.given([registered]).when({ type: 'RegisterRegion', data: { regionId: 'r_eu', name: 'Europe' } }).thenNothing();
  region.given([registered]).when({ type: 'RegisterRegion', data: { regionId: 'r_eu', name: 'Asia' } }).thenThrows('REGION_EXISTS', 'Europe');
});
test('rename, and renaming to the same name does nothing', () => {
  region.given([registered]).when({ type: 'RenameRegion', data: { regionId: 'r_eu', name: 'EU West' } })
    .then([{ type: 'RegionRenamed', data: { regionId: 'r_eu', name: 'EU West', previousName: 'Europe' } }]);
  region.given([registered]).when({ type: 'RenameRegion', data: { regionId: 'r_eu', name: 'Europe' } }).thenNothing();
  region.given([]).when({ type: 'RenameRegion', data: { regionId: 'r_eu', name: 'x' } }).thenThrows('REGION_NOT_FOUND');
});
test('retire; a retired region refuses renames and children', () => {
  const retired: RegionEvent = { type: 'RegionRetired', data: { regionId: 'r_eu', reason: 'closed' } };
  region.given([registered]).when({ type: 'RetireRegion', data: { regionId: 'r_eu', reason: 'closed' } }).then([retired]);
  region.given([registered, retired]).when({ type: 'RetireRegion', data: { regionId: 'r_eu' } }).thenNothing();
  region.given([registered, retired]).when({ type: 'RenameRegion', data: { regionId: 'r_eu', name: 'x' } }).thenThrows('REGION_RETIRED');
  const state = [registered, retired].reduce(regionDecider.evolve, regionDecider.initialState());
  assert.throws(() => regionAcceptsChildren(state, 'r_eu'), /retired/);
});
test('schemas refuse ids with "-" or the wrong prefix, and empty names', () => {
  assert.throws(() => validateCommand(RegisterRegion, 'RegisterRegion', { regionId: 'r_eu-1', name: 'x' }), /regionId/);
  assert.throws(() => validateCommand(RegisterRegion, 'RegisterRegion', { regionId: 'z_eu', name: 'x' }), /regionId/);
  assert.throws(() => validateCommand(RegisterRegion, 'RegisterRegion', { regionId: 'r_eu', name: '  ' }), /name/);
  assert.equal(validateEvent('RegionRegistered', registered.data).data, registered.data);
});

test.run();
