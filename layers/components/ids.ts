/**
 * Identifiers and value shapes of the Components layer.
 *
 *   component (CContract) ids  `c_<body>`        stream `CContract-c_…`, GraphQL global id (prefix `c`)
 *   component type ids         `ct_<name>`       stream `ComponentType-ct_cloud_host` for type `cloud-host`
 *
 * Type names are lower-case words joined by "-" (`cloud-host`); since a stream id may not hold "-", the type id maps
 * "-" to "_" (names may not hold "_", so the mapping is one-to-one).
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { HostType } from '../resources/host/events.ts';
import { SizeInputSchema, SizeSchema, type Resources } from '../resources/common/quantities.ts';
import { ZoneId, RegionId } from '../resources/common/ids.ts';

export { SizeInputSchema, SizeSchema, HostType, ZoneId, RegionId };

const BODY = '[A-Za-z0-9_]{1,100}';
export const COMPONENT_ID = new RegExp(`^c_${BODY}$`);
export const ComponentId = z.string().regex(COMPONENT_ID, 'a component id: "c_" followed by letters, digits or "_"');
export const TYPE_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
export const TypeName = z.string().max(40, 'at most 40 characters').regex(TYPE_NAME, 'a type name: lower-case letters and digits in words joined by "-", e.g. "cloud-host"');
export const TypeId = z.string().regex(/^ct_[a-z0-9_]{1,40}$/, 'a component type id: "ct_" + the type name with "-" as "_"');
export const typeIdOf = (name: string): string => `ct_${name.replace(/-/g, '_')}`;
export const typeNameOf = (typeId: string): string => typeId.slice(3).replace(/_/g, '-');
export const TenantId = z.string().regex(/^[A-Za-z0-9_]{1,128}$/, 'a tenant (user) id');
export const ProjectRef = z.string().regex(/^p_[A-Za-z0-9_]{1,60}$/, 'a project id');
export const Reason = z.string().max(1000);
export const Iso = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/, 'a UTC ISO 8601 time ending in Z');

export const Distribution = z.enum(['Flat', 'Cell']);
export type Distribution = z.infer<typeof Distribution>;
export const Access = z.enum(['Full', 'Region', 'Zone']);
export type Access = z.infer<typeof Access>;
export const SizeName = z.enum(['normal', 'standard', 'enhanced']);
export type SizeName = z.infer<typeof SizeName>;
export const Policy = z.enum(['binpack', 'spread']);
export type Policy = z.infer<typeof Policy>;

/** Where a type's instances get capacity: Resources slices (XNodes), or CContracts of another component type. */
export const ResourcePool = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('resources') }).strict(),
  z.object({ kind: z.literal('component'), type: TypeName }).strict(),
]);
export type ResourcePool = z.infer<typeof ResourcePool>;

/** HA: `writers` write entry points and `replicas` redundant copies. Type-level for Flat, per instance for Cell. */
export const Ha = z.object({
  writers: z.number().int().min(1).max(16),
  replicas: z.number().int().min(1).max(16),
}).strict();
export type Ha = z.infer<typeof Ha>;

export type Size = Resources;
export const stream = {
  type: (typeId: string) => `ComponentType-${typeId}`,
  ccontract: (componentId: string) => `CContract-${componentId}`,
};

const hash = (...seed: (string | number)[]) => createHash('sha256').update(seed.join('\u0000')).digest('hex');
/** A new component id; deterministic when seeded (an idempotency key), so a retried request lands on the same stream. */
export const newComponentId = (...seed: string[]) => `c_${seed.length ? hash(...seed).slice(0, 20) : randomBytes(10).toString('hex')}`;
/** The XNode of replica `replica`, incarnation `epoch`, of a component: the same for every scheduler. */
export const xnodeIdOf = (componentId: string, replica: number, epoch: number) => `xn_${hash('ccontract', componentId, replica, epoch).slice(0, 24)}`;
/** The child CContract holding replica `replica` of a component built on another component type. */
export const childIdOf = (componentId: string, replica: number) => `c_${hash('child', componentId, replica).slice(0, 20)}`;
/** The system CContract holding the bulk pool of a Flat type. */
export const poolIdOf = (typeId: string) => `c_pool_${typeId.slice(3)}`;

/** Deterministic command ids (idempotency keys), so every scheduler sends the same command for the same step. */
export const commandIds = {
  slice: (c: string, r: number, e: number) => `place:${c}:${r}:${e}`,
  fence: (c: string, r: number, e: number, hostId: string) => `fence:${c}:${r}:${e}:${hostId}`,
  release: (c: string, xnodeId: string) => `release:${c}:${xnodeId}`,
  power: (c: string, r: number, e: number, seq: number) => `power:${c}:${r}:${e}:${seq}`,
  resize: (c: string, r: number, e: number, seq: number) => `resize:${c}:${r}:${e}:${seq}`,
  child: (c: string, r: number) => `child:${c}:${r}`,
};
