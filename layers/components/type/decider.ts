/**
 * ComponentType: the definition of a kind of component, and for Flat types the pool membership (which instances are
 * carved in the bulk pool, and how much of it they hold). Pure: no I/O, no clock.
 *
 * Rules: a Flat type names its bulk pool size and draws from Resources; a single-running type (cloud host) is a Cell
 * with one replica and one writer; the default access is one of the allowed ones; a type does not draw from itself;
 * redefinitions keep name and distribution and bump the version; instances carved in a Flat pool never exceed it.
 */
import './events.ts';
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import { canonical as canonicalJson } from '../../../core/hash-chain.ts';
import { add, formatResources, RESOURCE_KEYS, sizeOf, sub, ZERO, type Resources } from '../../resources/common/quantities.ts';
import type { ComponentTypeCommand } from './commands.ts';
import type { ComponentTypeEvent, TypeDefinition } from './events.ts';

export interface ComponentTypeState {
  readonly status: 'none' | 'active' | 'retired';
  readonly definition?: TypeDefinition;
  readonly version: number;
  readonly pool?: { componentId: string; size: Resources; replicas: number; access: string; regionId?: string; zoneId?: string };
  /** Flat: carved instances and their sizes. */
  readonly carved: Readonly<Record<string, Resources>>;
  readonly used: Resources;
}

const initial: ComponentTypeState = { status: 'none', version: 0, carved: {}, used: ZERO };

// Key order must not matter: a definition read back from the store has its keys sorted (RFC 8785), one given by a
// command has them as written, and the same definition defined again must change nothing.
const canonical = (d: TypeDefinition) => canonicalJson({
  ...d, access: [...d.access].sort(), hostTypes: [...d.hostTypes].sort(),
});

function check(d: TypeDefinition): void {
  if (!d.access.includes(d.defaultAccess)) throw new DomainError('INVALID_TYPE', `default access ${d.defaultAccess} is not among the allowed ${d.access.join(', ')}`, ['defaultAccess']);
  if (new Set(d.access).size !== d.access.length) throw new DomainError('INVALID_TYPE', 'access scopes listed twice', ['access']);
  if (d.ha.writers > d.ha.replicas) throw new DomainError('INVALID_TYPE', `${d.ha.writers} writers need at least as many replicas (got ${d.ha.replicas})`, ['ha', 'writers']);
  if (d.ha.replicas > d.maxReplicas) throw new DomainError('INVALID_TYPE', `default replicas ${d.ha.replicas} exceed maxReplicas ${d.maxReplicas}`, ['ha', 'replicas']);
  if (d.pool.kind === 'component' && d.pool.type === d.name) throw new DomainError('INVALID_TYPE', `type ${d.name} cannot draw from its own instances`, ['pool', 'type']);
  if (d.distribution === 'Flat') {
    if (!d.flat) throw new DomainError('INVALID_TYPE', 'a Flat type takes its capacity in bulk: give flat.poolSize', ['flat']);
    if (d.pool.kind !== 'resources') throw new DomainError('INVALID_TYPE', 'a Flat type takes its bulk pool from Resources', ['pool']);
    if (d.singleRunning) throw new DomainError('INVALID_TYPE', 'a Flat type cannot be single-running', ['singleRunning']);
    if (d.maxReplicas !== d.ha.replicas) throw new DomainError('INVALID_TYPE', 'the HA of a Flat type is type-level: maxReplicas must equal ha.replicas', ['maxReplicas']);
  } else if (d.flat) throw new DomainError('INVALID_TYPE', 'only Flat types have a bulk pool (flat)', ['flat']);
  if (d.singleRunning && (d.ha.replicas !== 1 || d.ha.writers !== 1 || d.maxReplicas !== 1)) {
    throw new DomainError('INVALID_TYPE', 'a single-running type has exactly one replica and one writer', ['ha']);
  }
  if (d.pool.kind === 'component' && d.singleRunning) throw new DomainError('INVALID_TYPE', 'a single-running type wraps one XNode: its pool is Resources', ['pool']);
}

export function requireActiveType(state: ComponentTypeState, typeName: string): TypeDefinition {
  if (state.status === 'none' || !state.definition) throw new DomainError('UNKNOWN_TYPE', `there is no component type "${typeName}"`, ['type']);
  if (state.status === 'retired') throw new DomainError('TYPE_RETIRED', `component type "${typeName}" takes no new instances`, ['type']);
  return state.definition;
}

export const componentTypeDecider: Decider<ComponentTypeState, ComponentTypeCommand, ComponentTypeEvent> = {
  initialState: () => initial,
  evolve(state, event) {
    switch (event.type) {
      case 'ComponentTypeDefined': case 'ComponentTypeRedefined': {
        const { version, ...rest } = event.data as typeof event.data & { previousVersion?: number };
        const { previousVersion: _p, ...definition } = rest as typeof rest & { previousVersion?: number };
        return { ...state, status: state.status === 'retired' ? 'retired' : 'active', definition: definition as TypeDefinition, version };
      }
      case 'ComponentTypeRetired': return { ...state, status: 'retired' };
      case 'FlatPoolRequested': {
        const d = event.data;
        return { ...state, pool: { componentId: d.poolComponentId, size: d.size, replicas: d.replicas, access: d.access, ...(d.regionId && { regionId: d.regionId }), ...(d.zoneId && { zoneId: d.zoneId }) } };
      }
      case 'FlatInstanceCarved': return { ...state, carved: { ...state.carved, [event.data.componentId]: event.data.size }, used: event.data.used };
      case 'FlatInstanceReleased': {
        const { [event.data.componentId]: _gone, ...carved } = state.carved;
        return { ...state, carved, used: event.data.used };
      }
      default: return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'DefineComponentType': {
        const d = command.data;
        check(d);
        if (state.status === 'none') return [{ type: 'ComponentTypeDefined', data: { ...d, version: 1 } }];
        const prev = state.definition!;
        if (prev.typeId !== d.typeId) throw new DomainError('TYPE_MISMATCH', `command for type ${d.typeId} sent to the stream of ${prev.typeId}`, ['typeId']);
        if (canonical(prev) === canonical(d)) return [];
        if (prev.distribution !== d.distribution) throw new DomainError('TYPE_DISTRIBUTION_FIXED', `type ${d.name} is ${prev.distribution}; its distribution cannot change`, ['distribution']);
        if (prev.distribution === 'Flat' && state.pool && canonicalJson(prev.flat) !== canonicalJson(d.flat)) {
          throw new DomainError('TYPE_POOL_FIXED', `the bulk pool of ${d.name} is already taken; its size cannot change`, ['flat', 'poolSize']);
        }
        return [{ type: 'ComponentTypeRedefined', data: { ...d, version: state.version + 1, previousVersion: state.version } }];
      }
      case 'RetireComponentType': {
        if (state.status === 'none') throw new DomainError('UNKNOWN_TYPE', `there is no component type ${command.data.typeId}`, ['typeId']);
        if (state.status === 'retired') return [];
        return [{ type: 'ComponentTypeRetired', data: command.data }];
      }
      case 'RequestFlatPool': {
        const d = command.data;
        const def = requireActiveType(state, d.typeId);
        if (def.distribution !== 'Flat') throw new DomainError('NOT_FLAT', `type ${def.name} is a Cell: each instance asks its resource pool`, ['typeId']);
        if (state.pool) {
          if (state.pool.componentId === d.poolComponentId) return [];
          throw new DomainError('POOL_EXISTS', `type ${def.name} already has its pool ${state.pool.componentId}`, ['typeId']);
        }
        if (!def.access.includes(d.access)) throw new DomainError('ACCESS_NOT_ALLOWED', `type ${def.name} allows access ${def.access.join(', ')}, not ${d.access}`, ['access']);
        return [{
          type: 'FlatPoolRequested',
          data: { typeId: d.typeId, poolComponentId: d.poolComponentId, size: sizeOf(def.flat!.poolSize), replicas: def.ha.replicas, access: d.access, ...(d.regionId && { regionId: d.regionId }), ...(d.zoneId && { zoneId: d.zoneId }) },
        }];
      }
      case 'CarveFlatInstance': {
        const d = command.data;
        const def = requireActiveType(state, d.typeId);
        if (def.distribution !== 'Flat') throw new DomainError('NOT_FLAT', `type ${def.name} is a Cell`, ['typeId']);
        if (!state.pool) throw new DomainError('POOL_NOT_ALLOCATED', `the bulk pool of ${def.name} has not been taken yet`, ['type']);
        const size = sizeOf(d.size);
        if (state.carved[d.componentId]) return [];
        const used = add(state.used, size);
        const over = RESOURCE_KEYS.filter((k) => size[k] > 0 && used[k] > state.pool!.size[k]);
        if (over.length) {
          const left = sub(state.pool.size, state.used);
          throw new DomainError('POOL_EXHAUSTED', `the ${def.name} pool cannot fit ${formatResources(size)}: ${over.map((k) => `${k} requested ${size[k]}, left ${left[k]} of ${state.pool!.size[k]}`).join('; ')}`, ['size', over[0]]);
        }
        return [{ type: 'FlatInstanceCarved', data: { typeId: d.typeId, componentId: d.componentId, poolComponentId: state.pool.componentId, size, used, capacity: state.pool.size } }];
      }
      case 'ReleaseFlatInstance': {
        const size = state.carved[command.data.componentId];
        if (!size) return [];
        return [{ type: 'FlatInstanceReleased', data: { typeId: command.data.typeId, componentId: command.data.componentId, size, used: sub(state.used, size) } }];
      }
    }
  },
};
