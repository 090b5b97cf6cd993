import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../categories.ts';
import { HostId, XNodeId } from '../../resources/common/ids.ts';
import { XNodeStateSchema, Area } from '../../resources/host/events.ts';
import { ComponentId, Iso, Reason, SizeName, SizeSchema, ZoneId, RegionId } from '../ids.ts';
import { Decision, Needs, PowerAction, Reasons } from './events.ts';

const id = { componentId: ComponentId };
const replica = z.number().int().min(0).max(15);
const epoch = z.number().int().min(1);

export const RequestComponent = defineCommand({
  type: 'RequestComponent', category: 'CContract',
  description: 'Request a component with its needs (the service resolves the type and checks the scope can hold it). The same request again does nothing.',
  schema: Needs,
});
export const DecidePlacement = defineCommand({
  type: 'DecidePlacement', category: 'CContract',
  description: 'A scheduler claims pending replica slots at their current epochs for the hosts it chose, with its reasons. Refused (SLOT_NOT_PENDING) when another scheduler got there first.',
  schema: z.object({ ...id, decisions: z.array(Decision).min(1).max(16), reasons: Reasons, schedulerId: z.string().min(1).max(100), decidedAt: Iso }).strict(),
});
export const FailPlacement = defineCommand({
  type: 'FailPlacement', category: 'CContract', description: 'The host refused the slice of a decided placement: back to pending at the next epoch.',
  schema: z.object({ ...id, replica, epoch, hostId: HostId, xnodeId: XNodeId, code: z.string().max(100), message: Reason }).strict(),
});
export const DeferPlacement = defineCommand({
  type: 'DeferPlacement', category: 'CContract', description: 'No host can take the pending replicas now: degraded until capacity appears.',
  schema: z.object({ ...id, replicas: z.array(replica).min(1), code: z.string().max(100), message: Reason, candidates: z.number().int().min(0), filtered: z.record(z.string(), z.number().int().min(0)) }).strict(),
});
export const ObserveReplica = defineCommand({
  type: 'ObserveReplica', category: 'CContract', description: 'Mirror the state of a replica\'s slice (or child component); stale epochs are ignored.',
  schema: z.object({ ...id, replica, epoch, hostId: HostId, xnodeId: XNodeId.optional(), state: XNodeStateSchema, zoneId: ZoneId.optional(), regionId: RegionId.optional(), area: Area.optional() }).strict(),
});
export const ReportReplicaLost = defineCommand({
  type: 'ReportReplicaLost', category: 'CContract', description: 'A replica\'s incarnation is gone or unreachable: fence it and replace it not before `notBefore`.',
  schema: z.object({
    ...id, replica, epoch, hostId: HostId, xnodeId: XNodeId,
    cause: z.enum(['host-unreachable', 'host-powered-off', 'xnode-failed', 'xnode-released', 'host-retired']),
    notBefore: Iso.optional(), lastSeenAt: Iso.optional(), detectedAt: Iso,
  }).strict(),
});
export const ExpediteReplacement = defineCommand({
  type: 'ExpediteReplacement', category: 'CContract', description: 'The lost replica\'s host is confirmed off: place its replacement at once.',
  schema: z.object({ ...id, replica, epoch, reason: Reason }).strict(),
});
export const RecordOldReplicaFenced = defineCommand({
  type: 'RecordOldReplicaFenced', category: 'CContract', description: 'The superseded slice was fenced on its host.',
  schema: z.object({ ...id, replica, hostId: HostId, xnodeId: XNodeId }).strict(),
});
export const RecordOldReplicaReleased = defineCommand({
  type: 'RecordOldReplicaReleased', category: 'CContract', description: 'The superseded slice was released on its host.',
  schema: z.object({ ...id, replica, hostId: HostId, xnodeId: XNodeId }).strict(),
});
export const RequestChild = defineCommand({
  type: 'RequestChild', category: 'CContract', description: 'Hold a replica through a child CContract (component pools).',
  schema: z.object({ ...id, replica, epoch, childId: ComponentId }).strict(),
});
export const RequestPower = defineCommand({
  type: 'RequestPower', category: 'CContract', description: 'Power the component on or off, hibernate or activate it (tenant).',
  schema: z.object({ ...id, action: PowerAction }).strict(),
});
export const RequestResize = defineCommand({
  type: 'RequestResize', category: 'CContract', description: 'Give the (powered off) component a new size (tenant).',
  schema: z.object({ ...id, size: SizeSchema, sizeName: SizeName.optional() }).strict(),
});
export const RecordReplicaResized = defineCommand({
  type: 'RecordReplicaResized', category: 'CContract', description: 'A replica\'s slice was resized.',
  schema: z.object({ ...id, replica, epoch, seq: z.number().int().min(1) }).strict(),
});
export const RequestRelease = defineCommand({
  type: 'RequestRelease', category: 'CContract', description: 'Release the component (tenant): every slice is given back.',
  schema: z.object({ ...id, reason: Reason.optional() }).strict(),
});
export const RecordReplicaReleased = defineCommand({
  type: 'RecordReplicaReleased', category: 'CContract', description: 'A replica of a releasing component gave its slice back.',
  schema: z.object({ ...id, replica, epoch }).strict(),
});
export const RecordComponentUsage = defineCommand({
  type: 'RecordComponentUsage', category: 'CContract', description: 'Record measured usage over [from, to).',
  schema: z.object({ ...id, from: Iso, to: Iso, usage: SizeSchema }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type CContractCommand =
  | { type: 'RequestComponent'; data: D<typeof RequestComponent> }
  | { type: 'DecidePlacement'; data: D<typeof DecidePlacement> }
  | { type: 'FailPlacement'; data: D<typeof FailPlacement> }
  | { type: 'DeferPlacement'; data: D<typeof DeferPlacement> }
  | { type: 'ObserveReplica'; data: D<typeof ObserveReplica> }
  | { type: 'ReportReplicaLost'; data: D<typeof ReportReplicaLost> }
  | { type: 'ExpediteReplacement'; data: D<typeof ExpediteReplacement> }
  | { type: 'RecordOldReplicaFenced'; data: D<typeof RecordOldReplicaFenced> }
  | { type: 'RecordOldReplicaReleased'; data: D<typeof RecordOldReplicaReleased> }
  | { type: 'RequestChild'; data: D<typeof RequestChild> }
  | { type: 'RequestPower'; data: D<typeof RequestPower> }
  | { type: 'RequestResize'; data: D<typeof RequestResize> }
  | { type: 'RecordReplicaResized'; data: D<typeof RecordReplicaResized> }
  | { type: 'RequestRelease'; data: D<typeof RequestRelease> }
  | { type: 'RecordReplicaReleased'; data: D<typeof RecordReplicaReleased> }
  | { type: 'RecordComponentUsage'; data: D<typeof RecordComponentUsage> };

export const ccontractCommandSchemas = {
  RequestComponent, DecidePlacement, FailPlacement, DeferPlacement, ObserveReplica, ReportReplicaLost, ExpediteReplacement,
  RecordOldReplicaFenced, RecordOldReplicaReleased, RequestChild, RequestPower, RequestResize, RecordReplicaResized, RequestRelease,
  RecordReplicaReleased, RecordComponentUsage,
} as const;
