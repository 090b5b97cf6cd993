/**
 * `seedComponentTypes(ledger)`: what `ledger seed` calls to define the built-in component types (builtins.ts) and
 * take the bulk pool of each Flat type (object-store). Idempotent: run it again and nothing changes (a type whose
 * built-in definition changed gets a new version).
 *
 * The Flat pool is a system CContract the scheduler places like any other (the type's HA, over the widest
 * access the fleet allows: regions if there are 3 with room, else zones of one region, else areas of one zone). Seed
 * the hosts first; without hosts the pool is requested with access Full and placed when capacity appears.
 */
import type { Ledger } from '../../core/ledger.ts';
import type { Actor } from '../../schema/envelope.ts';
import { BUILTIN_TYPES } from './builtins.ts';
import { ComponentsService } from './service.ts';

export interface SeedResult {
  types: { name: string; typeId: string; distribution: string }[];
  /** Flat pools requested: pool component id and the access it spans. */
  pools: { type: string; componentId: string; access: string }[];
}

export async function seedComponentTypes(ledger: Pick<Ledger, 'execute' | 'load' | 'store'>, options: { actor?: Actor } = {}): Promise<SeedResult> {
  const actor = options.actor ?? { kind: 'system', id: 'ledger-seed' };
  const service = new ComponentsService(ledger);
  const types: SeedResult['types'] = [];
  const pools: SeedResult['pools'] = [];
  for (const def of BUILTIN_TYPES) {
    const { typeId: _id, ...input } = def;
    await service.defineType(actor, input);
    types.push({ name: def.name, typeId: def.typeId, distribution: def.distribution });
  }
  for (const def of BUILTIN_TYPES.filter((d) => d.distribution === 'Flat')) {
    const state = await service.type(def.name);
    if (state.pool) { pools.push({ type: def.name, componentId: state.pool.componentId, access: state.pool.access }); continue; }
    const out = await service.allocateFlatPool(actor, def.name);
    pools.push({ type: def.name, componentId: out.id, access: out.access });
  }
  return { types, pools };
}
