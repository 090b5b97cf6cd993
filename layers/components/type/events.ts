import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../categories.ts';
import { Access, ComponentId, Distribution, Ha, HostType, Reason, RegionId, ResourcePool, SizeInputSchema, SizeSchema, TypeId, TypeName, ZoneId } from '../ids.ts';

/** What a component type is. Shared by the define command and the defined/redefined events. */
export const TypeDefinition = z.object({
  typeId: TypeId,
  name: TypeName,
  description: z.string().max(1000),
  distribution: Distribution,
  /** Access scopes an instance may ask for (Full: replicas span regions; Region: zones of one region; Zone: areas of one zone). */
  access: z.array(Access).min(1).max(3),
  defaultAccess: Access,
  /** HA. Flat: the pool's (type-level, fixed). Cell: the default of each instance, which may ask for 1…maxReplicas. */
  ha: Ha,
  maxReplicas: z.number().int().min(1).max(16),
  /** At most one running instance at any time (a cloud host): one replica, one writer, fenced on failover. */
  singleRunning: z.boolean(),
  /** Host types its XNodes are cut from (VM → VNode, CM → CNode, BM → BNode). */
  hostTypes: z.array(HostType).min(1).max(3),
  pool: ResourcePool,
  /** Size templates of an instance (each replica gets this size). */
  sizes: z.object({ normal: SizeInputSchema, standard: SizeInputSchema, enhanced: SizeInputSchema }).strict(),
  /** Flat only: the bulk capacity taken per pool replica when the type is created; instances are carved from it. */
  flat: z.object({ poolSize: SizeInputSchema }).strict().optional(),
}).strict();
export type TypeDefinition = z.infer<typeof TypeDefinition>;

export const ComponentTypeDefined = defineEvent({
  type: 'ComponentTypeDefined', version: 1, category: 'ComponentType',
  description: 'A component type was defined (operator or `ledger seed`): distribution, access scopes, HA, resource pool and size templates. Its definition version starts at 1.',
  schema: TypeDefinition.extend({ version: z.number().int().min(1) }).strict(),
});
export const ComponentTypeRedefined = defineEvent({
  type: 'ComponentTypeRedefined', version: 1, category: 'ComponentType',
  description: 'A component type\'s definition changed (new version). Existing instances keep the needs they were requested with; new requests use the new definition.',
  schema: TypeDefinition.extend({ version: z.number().int().min(2), previousVersion: z.number().int().min(1) }).strict(),
});
export const ComponentTypeRetired = defineEvent({
  type: 'ComponentTypeRetired', version: 1, category: 'ComponentType',
  description: 'A component type takes no new instances; existing ones run on.',
  schema: z.object({ typeId: TypeId, reason: Reason.optional() }).strict(),
});
export const FlatPoolRequested = defineEvent({
  type: 'FlatPoolRequested', version: 1, category: 'ComponentType',
  description: 'The bulk capacity of a Flat type was requested as one system CContract (the pool): `replicas` copies of `size`, spread over the access scope. Instances are carved from `size` without asking the resource pool again.',
  schema: z.object({
    typeId: TypeId, poolComponentId: ComponentId, size: SizeSchema, replicas: z.number().int().min(1), access: Access,
    regionId: RegionId.optional(), zoneId: ZoneId.optional(),
  }).strict(),
});
export const FlatInstanceCarved = defineEvent({
  type: 'FlatInstanceCarved', version: 1, category: 'ComponentType',
  description: 'An instance of a Flat type was carved inside the type\'s pool: `used` is the pool\'s total carved size after it, never above `capacity`.',
  schema: z.object({ typeId: TypeId, componentId: ComponentId, poolComponentId: ComponentId, size: SizeSchema, used: SizeSchema, capacity: SizeSchema }).strict(),
});
export const FlatInstanceReleased = defineEvent({
  type: 'FlatInstanceReleased', version: 1, category: 'ComponentType',
  description: 'An instance of a Flat type gave its share of the pool back.',
  schema: z.object({ typeId: TypeId, componentId: ComponentId, size: SizeSchema, used: SizeSchema }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type ComponentTypeEvent =
  | { type: 'ComponentTypeDefined'; data: D<typeof ComponentTypeDefined> }
  | { type: 'ComponentTypeRedefined'; data: D<typeof ComponentTypeRedefined> }
  | { type: 'ComponentTypeRetired'; data: D<typeof ComponentTypeRetired> }
  | { type: 'FlatPoolRequested'; data: D<typeof FlatPoolRequested> }
  | { type: 'FlatInstanceCarved'; data: D<typeof FlatInstanceCarved> }
  | { type: 'FlatInstanceReleased'; data: D<typeof FlatInstanceReleased> };
export const COMPONENT_TYPE_EVENTS = ['ComponentTypeDefined', 'ComponentTypeRedefined', 'ComponentTypeRetired', 'FlatPoolRequested', 'FlatInstanceCarved', 'FlatInstanceReleased'] as const;
