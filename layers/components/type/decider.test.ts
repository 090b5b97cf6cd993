import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spec } from '../../../core/spec.ts';
import { validateCommand, validateEvent } from '../../../schema/registry.ts';
import { BUILTIN_TYPES } from '../builtins.ts';
import { DefineComponentType } from './commands.ts';
import { componentTypeDecider } from './decider.ts';
import type { ComponentTypeEvent, TypeDefinition } from './events.ts';

const types = spec(componentTypeDecider);
const byName = (n: string) => BUILTIN_TYPES.find((t) => t.name === n)!;
const defined = (d: TypeDefinition): ComponentTypeEvent => ({ type: 'ComponentTypeDefined', data: { ...d, version: 1 } });
const valid = (events: ComponentTypeEvent[]) => { for (const e of events) validateEvent(e.type, e.data); return events; };

test('every built-in type is a valid definition and defines at version 1; the same again does nothing', () => {
  for (const t of BUILTIN_TYPES) {
    validateCommand(DefineComponentType, 'DefineComponentType', t);
    types.given([]).when({ type: 'DefineComponentType', data: t }).then((events) => { valid(events); assert.equal(events, [defined(t)]); });
    types.given([defined(t)]).when({ type: 'DefineComponentType', data: t }).thenNothing();
  }
});

test('redefinition bumps the version; distribution and a taken pool are fixed', () => {
  const host = byName('cloud-host');
  const changed = { ...host, description: 'VMs' };
  types.given([defined(host)]).when({ type: 'DefineComponentType', data: changed }).then((events) => {
    valid(events);
    assert.is(events[0].type, 'ComponentTypeRedefined');
    assert.is((events[0].data as { version: number }).version, 2);
  });
  const store = byName('object-store');
  const pool: ComponentTypeEvent = { type: 'FlatPoolRequested', data: { typeId: store.typeId, poolComponentId: 'c_pool_object_store', size: { cpuCores: 12, cpuMHz: 0, ramMiB: 24576, diskGiB: 800, diskIops: 0 }, replicas: 2, access: 'Region', regionId: 'r_eu' } };
  types.given([defined(store), pool]).when({ type: 'DefineComponentType', data: { ...store, flat: { poolSize: { cpuCores: 1, ramMiB: 1, diskGiB: 1 } } } }).thenThrows('TYPE_POOL_FIXED');
  types.given([defined(host)]).when({ type: 'DefineComponentType', data: { ...host, distribution: 'Flat', singleRunning: false, flat: { poolSize: { cpuCores: 1, ramMiB: 1, diskGiB: 1 } } } }).thenThrows('TYPE_DISTRIBUTION_FIXED');
});

test('invalid definitions are refused with INVALID_TYPE', () => {
  const host = byName('cloud-host');
  types.given([]).when({ type: 'DefineComponentType', data: { ...host, ha: { writers: 1, replicas: 2 }, maxReplicas: 2 } }).thenThrows('INVALID_TYPE', 'single-running');
  types.given([]).when({ type: 'DefineComponentType', data: { ...host, defaultAccess: 'Full', access: ['Zone'] } }).thenThrows('INVALID_TYPE', 'default access');
  types.given([]).when({ type: 'DefineComponentType', data: { ...byName('object-store'), flat: undefined } }).thenThrows('INVALID_TYPE', 'bulk');
  types.given([]).when({ type: 'DefineComponentType', data: { ...byName('cache'), pool: { kind: 'component', type: 'cache' } } }).thenThrows('INVALID_TYPE', 'its own');
  types.given([]).when({ type: 'DefineComponentType', data: { ...byName('rdbms'), ha: { writers: 4, replicas: 3 } } }).thenThrows('INVALID_TYPE', 'writers');
});

test('Flat pool: requested once; instances carved until the pool is exhausted; released shares come back', () => {
  const store = byName('object-store');
  const t = store.typeId;
  const given = [defined(store)];
  types.given(given).when({ type: 'CarveFlatInstance', data: { typeId: t, componentId: 'c_b1', size: { cpuCores: 1, ramMiB: 256, diskGiB: 100 } } }).thenThrows('POOL_NOT_ALLOWED'.replace('ALLOWED', 'ALLOCATED'));
  const [pool] = types.given(given).when({ type: 'RequestFlatPool', data: { typeId: t, poolComponentId: 'c_pool_object_store', access: 'Region', regionId: 'r_eu' } }).then((e) => { valid(e); assert.is(e[0].type, 'FlatPoolRequested'); });
  given.push(pool);
  types.given(given).when({ type: 'RequestFlatPool', data: { typeId: t, poolComponentId: 'c_pool_object_store', access: 'Region', regionId: 'r_eu' } }).thenNothing();
  types.given(given).when({ type: 'RequestFlatPool', data: { typeId: t, poolComponentId: 'c_other', access: 'Region', regionId: 'r_eu' } }).thenThrows('POOL_EXISTS');
  const [carved] = types.given(given).when({ type: 'CarveFlatInstance', data: { typeId: t, componentId: 'c_b1', size: { cpuCores: 1, ramMiB: 256, diskGiB: 600 } } }).then((e) => valid(e));
  given.push(carved);
  types.given(given).when({ type: 'CarveFlatInstance', data: { typeId: t, componentId: 'c_b1', size: { cpuCores: 1, ramMiB: 256, diskGiB: 600 } } }).thenNothing();
  types.given(given).when({ type: 'CarveFlatInstance', data: { typeId: t, componentId: 'c_b2', size: { cpuCores: 1, ramMiB: 256, diskGiB: 300 } } }).thenThrows('POOL_EXHAUSTED', 'diskGiB requested 300, left 200');
  const [released] = types.given(given).when({ type: 'ReleaseFlatInstance', data: { typeId: t, componentId: 'c_b1' } }).then((e) => valid(e));
  types.given([...given, released]).when({ type: 'CarveFlatInstance', data: { typeId: t, componentId: 'c_b2', size: { cpuCores: 1, ramMiB: 256, diskGiB: 300 } } }).then((e) => assert.is(e.length, 1));
  types.given([...given, released]).when({ type: 'ReleaseFlatInstance', data: { typeId: t, componentId: 'c_b1' } }).thenNothing();
  types.given([defined(byName('rdbms'))]).when({ type: 'RequestFlatPool', data: { typeId: byName('rdbms').typeId, poolComponentId: 'c_p', access: 'Region' } }).thenThrows('NOT_FLAT');
});

test('retired types take no new instances', () => {
  const store = byName('object-store');
  types.given([defined(store), { type: 'ComponentTypeRetired', data: { typeId: store.typeId } }])
    .when({ type: 'RequestFlatPool', data: { typeId: store.typeId, poolComponentId: 'c_pool_object_store', access: 'Full' } }).thenThrows('TYPE_RETIRED');
});

test.run();
