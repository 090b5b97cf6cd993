import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../categories.ts';
import { HostId, XNodeId } from '../../resources/common/ids.ts';
import { Area, XNodeStateSchema } from '../../resources/host/events.ts';
import {
  Access, ComponentId, Distribution, HostType, Iso, Policy, ProjectRef, Reason, RegionId, ResourcePool, SizeName, SizeSchema,
  TenantId, TypeId, TypeName, ZoneId,
} from '../ids.ts';

const id = { componentId: ComponentId };
const replica = z.number().int().min(0).max(15);
const epoch = z.number().int().min(1);

export const ComponentStatus = z.enum(['requested', 'placing', 'running', 'degraded', 'releasing', 'released']);
export type ComponentStatus = z.infer<typeof ComponentStatus>;
export const PowerState = z.enum(['on', 'off', 'hibernated']);
export const PowerAction = z.enum(['on', 'off', 'hibernate', 'activate']);
/** Domains a replica must stay out of (siblings of a component built on another component). */
export const Avoid = z.object({ regions: z.array(RegionId).max(16).optional(), zones: z.array(ZoneId).max(16).optional(), areas: z.array(Area).max(16).optional() }).strict();

/** What the component's type said when it was requested (a later redefinition does not change a running contract). */
export const TypeSnapshot = z.object({
  typeId: TypeId, name: TypeName, version: z.number().int().min(1), distribution: Distribution, singleRunning: z.boolean(),
  pool: ResourcePool, hostTypes: z.array(HostType).min(1).max(3),
}).strict();

export const Needs = z.object({
  ...id,
  tenantId: TenantId.optional(),
  projectId: ProjectRef.optional(),
  type: TypeSnapshot,
  sizeName: SizeName.optional(),
  size: SizeSchema,
  access: Access,
  regionId: RegionId.optional(),
  zoneId: ZoneId.optional(),
  replicas: z.number().int().min(1).max(16),
  writers: z.number().int().min(1).max(16),
  /** A replica of another component (the parent holds its replicas as child contracts, e.g. a cache on cloud hosts). */
  parent: z.object({ componentId: ComponentId, replica }).strict().optional(),
  avoid: Avoid.optional(),
  /** Flat instances: the system CContract of the type's bulk pool they are carved in. */
  flatPool: ComponentId.optional(),
}).strict();
export type Needs = z.infer<typeof Needs>;

export const Decision = z.object({
  replica, epoch, hostId: HostId, zoneId: ZoneId, regionId: RegionId, area: Area, xnodeId: XNodeId,
  /** The chosen host's score (higher is better; bin-pack: fuller after placement; spread: emptier). */
  score: z.number(),
}).strict();
export type Decision = z.infer<typeof Decision>;

/** Why the scheduler chose what it chose. */
export const Reasons = z.object({
  policy: Policy,
  /** Hosts looked at (after the scope cut) for the replicas of this decision. */
  candidates: z.number().int().min(0),
  /** Hosts left out, by reason: wrong-type, out-of-scope, not-online, draining, unreachable, no-capacity, same-domain… */
  filtered: z.record(z.string(), z.number().int().min(0)),
  /** The best-scored hosts per replica (at most 5 each), the chosen one first. */
  top: z.array(z.object({ replica, hostId: HostId, score: z.number() }).strict()).max(80),
  why: z.string().max(2000),
}).strict();
export type Reasons = z.infer<typeof Reasons>;

export const ComponentRequested = defineEvent({
  type: 'ComponentRequested', version: 1, category: 'CContract',
  description: 'A component was requested: its needs (type, size, replicas, writers, access scope), never a place. `estimated` = size × replicas.',
  schema: Needs.extend({ estimated: SizeSchema }).strict(),
});
export const ComponentStatusChanged = defineEvent({
  type: 'ComponentStatusChanged', version: 1, category: 'CContract',
  description: 'The lifecycle moved: requested → placing → running | degraded → releasing → released.',
  schema: z.object({ ...id, from: ComponentStatus, to: ComponentStatus, reason: Reason }).strict(),
});
export const PlacementDecided = defineEvent({
  type: 'PlacementDecided', version: 1, category: 'CContract',
  description: 'A scheduler chose hosts for replica slots at their epochs (the claim: no other scheduler places these slots at these epochs), with its reasons. The slices are cut next, under the host streams\' expected revisions. `status`: the lifecycle move this decision makes (requested → placing, degraded → placing), recorded here rather than as a separate ComponentStatusChanged.',
  schema: z.object({
    ...id, decisions: z.array(Decision).min(1).max(16), reasons: Reasons, schedulerId: z.string().min(1).max(100), decidedAt: Iso,
    status: z.object({ from: ComponentStatus, to: ComponentStatus }).strict().optional(),
  }).strict(),
});
export const PlacementFailed = defineEvent({
  type: 'PlacementFailed', version: 1, category: 'CContract',
  description: 'The host refused the slice of a decided placement (capacity taken meanwhile, host drained or gone): the slot is pending again at the next epoch.',
  schema: z.object({ ...id, replica, epoch, hostId: HostId, xnodeId: XNodeId, code: z.string().max(100), message: Reason, nextEpoch: epoch }).strict(),
});
export const PlacementDeferred = defineEvent({
  type: 'PlacementDeferred', version: 1, category: 'CContract',
  description: 'No host can take the pending replicas now (with why): the component is degraded and placed when capacity appears.',
  schema: z.object({ ...id, replicas: z.array(replica).min(1), code: z.string().max(100), message: Reason, candidates: z.number().int().min(0), filtered: z.record(z.string(), z.number().int().min(0)) }).strict(),
});
export const ReplicaObserved = defineEvent({
  type: 'ReplicaObserved', version: 1, category: 'CContract',
  description: 'The slice (or child component) of a replica changed state on its host, as the Resources layer recorded it.',
  schema: z.object({ ...id, replica, epoch, hostId: HostId, xnodeId: XNodeId.optional(), state: XNodeStateSchema, zoneId: ZoneId.optional(), regionId: RegionId.optional(), area: Area.optional() }).strict(),
});
export const ReplicaLost = defineEvent({
  type: 'ReplicaLost', version: 1, category: 'CContract',
  description: 'A replica\'s host became unreachable (or was powered off, or its slice failed or vanished): the replica moves to the next epoch; the old slice is fenced; the replacement is placed not before `notBefore` (when the old one\'s lease has surely expired; absent: at once).',
  schema: z.object({
    ...id, replica, epoch, newEpoch: epoch, hostId: HostId, xnodeId: XNodeId,
    cause: z.enum(['host-unreachable', 'host-powered-off', 'xnode-failed', 'xnode-released', 'host-retired']),
    notBefore: Iso.optional(), lastSeenAt: Iso.optional(), detectedAt: Iso,
  }).strict(),
});
export const ReplacementExpedited = defineEvent({
  type: 'ReplacementExpedited', version: 1, category: 'CContract',
  description: 'The old host of a lost replica was confirmed powered off: the replacement need not wait for the lease.',
  schema: z.object({ ...id, replica, epoch, reason: Reason }).strict(),
});
export const OldReplicaFenced = defineEvent({
  type: 'OldReplicaFenced', version: 1, category: 'CContract',
  description: 'The slice of a superseded incarnation was fenced on its host (its agent refuses it from then on).',
  schema: z.object({ ...id, replica, hostId: HostId, xnodeId: XNodeId, epoch, byEpoch: epoch }).strict(),
});
export const OldReplicaReleased = defineEvent({
  type: 'OldReplicaReleased', version: 1, category: 'CContract',
  description: 'The slice of a superseded incarnation was released (its replacement runs, or the component is released).',
  schema: z.object({ ...id, replica, hostId: HostId, xnodeId: XNodeId, epoch }).strict(),
});
export const ChildRequested = defineEvent({
  type: 'ChildRequested', version: 1, category: 'CContract',
  description: 'A replica of a component built on another component type is held by a child CContract (e.g. a cache replica on a cloud host).',
  schema: z.object({ ...id, replica, epoch, childId: ComponentId }).strict(),
});
export const ComponentPowerRequested = defineEvent({
  type: 'ComponentPowerRequested', version: 1, category: 'CContract',
  description: 'The tenant asked to power the component on or off, hibernate or activate it; the scheduler applies it to every replica.',
  schema: z.object({ ...id, action: PowerAction, desired: PowerState, seq: z.number().int().min(1) }).strict(),
});
export const ComponentResizeRequested = defineEvent({
  type: 'ComponentResizeRequested', version: 1, category: 'CContract',
  description: 'The tenant asked for a new size (the component is powered off); the scheduler resizes each replica\'s slice.',
  schema: z.object({ ...id, size: SizeSchema, previousSize: SizeSchema, sizeName: SizeName.optional(), seq: z.number().int().min(1), estimated: SizeSchema }).strict(),
});
export const ReplicaResized = defineEvent({
  type: 'ReplicaResized', version: 1, category: 'CContract',
  description: 'A replica\'s slice has the size of resize request `seq`.',
  schema: z.object({ ...id, replica, epoch, seq: z.number().int().min(1) }).strict(),
});
export const ComponentReleaseRequested = defineEvent({
  type: 'ComponentReleaseRequested', version: 1, category: 'CContract',
  description: 'The tenant released the component: every slice it holds is released, then the contract ends.',
  schema: z.object({ ...id, reason: Reason.optional() }).strict(),
});
export const ReplicaReleased = defineEvent({
  type: 'ReplicaReleased', version: 1, category: 'CContract',
  description: 'A replica of a released component gave its slice back.',
  schema: z.object({ ...id, replica, epoch, hostId: HostId.optional(), xnodeId: XNodeId.optional() }).strict(),
});
export const ComponentReleased = defineEvent({
  type: 'ComponentReleased', version: 1, category: 'CContract',
  description: 'Everything the component held is given back. Final.',
  schema: z.object({ ...id }).strict(),
});
export const ComponentUsageRecorded = defineEvent({
  type: 'ComponentUsageRecorded', version: 1, category: 'CContract',
  description: 'Actual usage measured over the half-open window [from, to) (average quantities), beside the estimate.',
  schema: z.object({ ...id, from: Iso, to: Iso, usage: SizeSchema }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type CContractEvent =
  | { type: 'ComponentRequested'; data: D<typeof ComponentRequested> }
  | { type: 'ComponentStatusChanged'; data: D<typeof ComponentStatusChanged> }
  | { type: 'PlacementDecided'; data: D<typeof PlacementDecided> }
  | { type: 'PlacementFailed'; data: D<typeof PlacementFailed> }
  | { type: 'PlacementDeferred'; data: D<typeof PlacementDeferred> }
  | { type: 'ReplicaObserved'; data: D<typeof ReplicaObserved> }
  | { type: 'ReplicaLost'; data: D<typeof ReplicaLost> }
  | { type: 'ReplacementExpedited'; data: D<typeof ReplacementExpedited> }
  | { type: 'OldReplicaFenced'; data: D<typeof OldReplicaFenced> }
  | { type: 'OldReplicaReleased'; data: D<typeof OldReplicaReleased> }
  | { type: 'ChildRequested'; data: D<typeof ChildRequested> }
  | { type: 'ComponentPowerRequested'; data: D<typeof ComponentPowerRequested> }
  | { type: 'ComponentResizeRequested'; data: D<typeof ComponentResizeRequested> }
  | { type: 'ReplicaResized'; data: D<typeof ReplicaResized> }
  | { type: 'ComponentReleaseRequested'; data: D<typeof ComponentReleaseRequested> }
  | { type: 'ReplicaReleased'; data: D<typeof ReplicaReleased> }
  | { type: 'ComponentReleased'; data: D<typeof ComponentReleased> }
  | { type: 'ComponentUsageRecorded'; data: D<typeof ComponentUsageRecorded> };

export const CCONTRACT_EVENTS = [
  'ComponentRequested', 'ComponentStatusChanged', 'PlacementDecided', 'PlacementFailed', 'PlacementDeferred', 'ReplicaObserved',
  'ReplicaLost', 'ReplacementExpedited', 'OldReplicaFenced', 'OldReplicaReleased', 'ChildRequested', 'ComponentPowerRequested',
  'ComponentResizeRequested', 'ReplicaResized', 'ComponentReleaseRequested', 'ReplicaReleased', 'ComponentReleased', 'ComponentUsageRecorded',
] as const;
