import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../categories.ts';
import { Access, ComponentId, Reason, RegionId, SizeInputSchema, TypeId, ZoneId } from '../ids.ts';
import { TypeDefinition } from './events.ts';

export const DefineComponentType = defineCommand({
  type: 'DefineComponentType', category: 'ComponentType',
  description: 'Define a component type, or redefine it (a new version) when it exists with another definition; the same definition again does nothing (operator, `ledger seed`).',
  schema: TypeDefinition,
});
export const RetireComponentType = defineCommand({
  type: 'RetireComponentType', category: 'ComponentType', description: 'Stop taking new instances of a type (operator).',
  schema: z.object({ typeId: TypeId, reason: Reason.optional() }).strict(),
});
export const RequestFlatPool = defineCommand({
  type: 'RequestFlatPool', category: 'ComponentType',
  description: 'Record the bulk pool of a Flat type (its system CContract). Once per type; the same request again does nothing.',
  schema: z.object({ typeId: TypeId, poolComponentId: ComponentId, access: Access, regionId: RegionId.optional(), zoneId: ZoneId.optional() }).strict(),
});
export const CarveFlatInstance = defineCommand({
  type: 'CarveFlatInstance', category: 'ComponentType',
  description: 'Carve an instance inside a Flat type\'s pool; refused with POOL_EXHAUSTED when it does not fit what is left.',
  schema: z.object({ typeId: TypeId, componentId: ComponentId, size: SizeInputSchema }).strict(),
});
export const ReleaseFlatInstance = defineCommand({
  type: 'ReleaseFlatInstance', category: 'ComponentType', description: 'Give an instance\'s share of a Flat pool back (idempotent).',
  schema: z.object({ typeId: TypeId, componentId: ComponentId }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type ComponentTypeCommand =
  | { type: 'DefineComponentType'; data: D<typeof DefineComponentType> }
  | { type: 'RetireComponentType'; data: D<typeof RetireComponentType> }
  | { type: 'RequestFlatPool'; data: D<typeof RequestFlatPool> }
  | { type: 'CarveFlatInstance'; data: D<typeof CarveFlatInstance> }
  | { type: 'ReleaseFlatInstance'; data: D<typeof ReleaseFlatInstance> };
export const componentTypeCommandSchemas = { DefineComponentType, RetireComponentType, RequestFlatPool, CarveFlatInstance, ReleaseFlatInstance } as const;
