import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { HostId, ImageId, Name, RContractId, RegionId, stream, XNodeId, ZoneId } from '../common/ids.ts';
import { PartialAllocationRatiosSchema, PartialResourcesSchema, ResourcesSchema, SizeInputSchema } from '../common/quantities.ts';
import { UtcTime } from '../common/time.ts';
import { Area, CopySource, Fencing, HostType, ObservedState, PowerOffMethod } from './events.ts';

const reason = z.string().max(1000).optional();
/** The fencing epoch a component-layer command acts under; refused when an newer epoch of the slice's replica was seen. */
const epoch = z.number().int().min(0).optional();
const onXNode = { hostId: HostId, xnodeId: XNodeId };

export const RegisterHost = defineCommand({
  type: 'RegisterHost', category: 'Host',
  description: 'Register a physical host (operator). The handler checks the zone (zoneAcceptsChildren) and reserves the name in Names-<zoneId> first. reserved = System overhead; allocationRatios default to 1 (no overcommit); BM hosts take neither.',
  schema: z.object({
    hostId: HostId, zoneId: ZoneId, regionId: RegionId, name: Name, type: HostType, area: Area,
    resources: ResourcesSchema, reserved: PartialResourcesSchema.optional(), allocationRatios: PartialAllocationRatiosSchema.optional(),
  }).strict(),
});
export const AdjustHostCapacity = defineCommand({
  type: 'AdjustHostCapacity', category: 'Host', description: 'Change a host\'s resources, System reserve or allocation ratios (operator); refused when the new capacity is below what slices consume.',
  schema: z.object({ hostId: HostId, resources: ResourcesSchema.optional(), reserved: PartialResourcesSchema.optional(), allocationRatios: PartialAllocationRatiosSchema.optional() }).strict(),
});
export const DrainHost = defineCommand({ type: 'DrainHost', category: 'Host', description: 'Drain a host (operator): no new slices; existing ones keep running until moved.', schema: z.object({ hostId: HostId, reason }).strict() });
export const StartHostMaintenance = defineCommand({ type: 'StartHostMaintenance', category: 'Host', description: 'Put a host in maintenance (operator): no new slices, no power-on.', schema: z.object({ hostId: HostId, reason }).strict() });
export const ReturnHostOnline = defineCommand({ type: 'ReturnHostOnline', category: 'Host', description: 'End draining or maintenance (operator).', schema: z.object({ hostId: HostId, reason }).strict() });
export const MarkHostUnreachable = defineCommand({
  type: 'MarkHostUnreachable', category: 'Host', description: 'The health monitor missed too many heartbeats (system).',
  schema: z.object({ hostId: HostId, missedBeats: z.number().int().min(1), lastSeenAt: UtcTime.optional() }).strict(),
});
export const MarkHostReachable = defineCommand({
  type: 'MarkHostReachable', category: 'Host', description: 'Heartbeats of an unreachable host resumed (system).',
  schema: z.object({ hostId: HostId, seenAt: UtcTime.optional() }).strict(),
});
export const ConfirmHostPoweredOff = defineCommand({
  type: 'ConfirmHostPoweredOff', category: 'Host',
  description: 'Record that the host was powered off out of band (IPMI, PDU, operator): HA replicas on it may be replaced at once (operator or fencing agent). Marks the host unreachable when it was not already.',
  schema: z.object({ hostId: HostId, method: PowerOffMethod, confirmedAt: UtcTime, reason }).strict(),
});
export const RetireHost = defineCommand({
  type: 'RetireHost', category: 'Host', description: 'Retire a host (operator); refused while it holds live slices unless force, which releases them.',
  schema: z.object({ hostId: HostId, force: z.boolean().optional(), reason }).strict(),
});

export const SliceXNode = defineCommand({
  type: 'SliceXNode', category: 'Host',
  description: 'Cut a slice from this exact host: a VNode (VM host), CNode (CM host) or the BNode (BM host; size omitted = the whole machine). Refused with INSUFFICIENT_CAPACITY when it does not fit.',
  schema: z.object({
    ...onXNode, size: SizeInputSchema.optional(), imageId: ImageId.optional(), contractId: RContractId.optional(),
    ha: Fencing.optional(), copyFrom: CopySource.optional(),
  }).strict(),
});
export const ResizeXNode = defineCommand({ type: 'ResizeXNode', category: 'Host', description: 'Give a stopped (or provisioning) slice a new size; disk never shrinks.', schema: z.object({ ...onXNode, size: SizeInputSchema, epoch }).strict() });
export const CopyXNodeFrom = defineCommand({ type: 'CopyXNodeFrom', category: 'Host', description: 'Fill a stopped or provisioning slice\'s disk from another slice, an image or a checkpoint.', schema: z.object({ ...onXNode, source: CopySource, epoch }).strict() });
export const ReportXNodeCopy = defineCommand({
  type: 'ReportXNodeCopy', category: 'Host', description: 'The agent reports the outcome of a CopyFrom (agent).',
  schema: z.object({ ...onXNode, copyId: z.string().regex(/^[A-Za-z0-9_]{1,64}$/), outcome: z.enum(['completed', 'failed']), message: reason }).strict(),
});
export const PowerOnXNode = defineCommand({ type: 'PowerOnXNode', category: 'Host', description: 'Power on a stopped or failed slice.', schema: z.object({ ...onXNode, epoch, reason }).strict() });
export const PowerOffXNode = defineCommand({ type: 'PowerOffXNode', category: 'Host', description: 'Power off a running (or failed) slice; it keeps its reservation.', schema: z.object({ ...onXNode, epoch, reason }).strict() });
export const HibernateXNode = defineCommand({ type: 'HibernateXNode', category: 'Host', description: 'Hibernate a running or stopped slice: keep the disk, give back CPU and RAM.', schema: z.object({ ...onXNode, epoch, reason }).strict() });
export const ActivateXNode = defineCommand({ type: 'ActivateXNode', category: 'Host', description: 'Activate a hibernated slice: take CPU and RAM again (refused when they are no longer free).', schema: z.object({ ...onXNode, epoch, reason }).strict() });
export const ReleaseXNode = defineCommand({ type: 'ReleaseXNode', category: 'Host', description: 'Release a slice: give everything back. Releasing a released slice does nothing (compensations retry safely).', schema: z.object({ ...onXNode, reason }).strict() });
export const FenceXNode = defineCommand({
  type: 'FenceXNode', category: 'Host', description: 'Fence an HA slice because epoch `epoch` (newer than its own) of its replica now exists elsewhere; older epochs are refused from then on.',
  schema: z.object({ ...onXNode, epoch: z.number().int().min(0), reason }).strict(),
});
export const ReportXNodeObserved = defineCommand({
  type: 'ReportXNodeObserved', category: 'Host',
  description: 'The agent reports what it sees of a slice and the generation it has applied (agent). Reports of the current generation move the ledger to reality (provisioned, stopped, failed); older ones are recorded only.',
  schema: z.object({ ...onXNode, observed: ObservedState, generation: z.number().int().min(0), observedAt: UtcTime, message: reason }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type HostCommand =
  | { type: 'RegisterHost'; data: D<typeof RegisterHost> }
  | { type: 'AdjustHostCapacity'; data: D<typeof AdjustHostCapacity> }
  | { type: 'DrainHost'; data: D<typeof DrainHost> }
  | { type: 'StartHostMaintenance'; data: D<typeof StartHostMaintenance> }
  | { type: 'ReturnHostOnline'; data: D<typeof ReturnHostOnline> }
  | { type: 'MarkHostUnreachable'; data: D<typeof MarkHostUnreachable> }
  | { type: 'MarkHostReachable'; data: D<typeof MarkHostReachable> }
  | { type: 'RetireHost'; data: D<typeof RetireHost> }
  | { type: 'ConfirmHostPoweredOff'; data: D<typeof ConfirmHostPoweredOff> }
  | { type: 'SliceXNode'; data: D<typeof SliceXNode> }
  | { type: 'ResizeXNode'; data: D<typeof ResizeXNode> }
  | { type: 'CopyXNodeFrom'; data: D<typeof CopyXNodeFrom> }
  | { type: 'ReportXNodeCopy'; data: D<typeof ReportXNodeCopy> }
  | { type: 'PowerOnXNode'; data: D<typeof PowerOnXNode> }
  | { type: 'PowerOffXNode'; data: D<typeof PowerOffXNode> }
  | { type: 'HibernateXNode'; data: D<typeof HibernateXNode> }
  | { type: 'ActivateXNode'; data: D<typeof ActivateXNode> }
  | { type: 'ReleaseXNode'; data: D<typeof ReleaseXNode> }
  | { type: 'FenceXNode'; data: D<typeof FenceXNode> }
  | { type: 'ReportXNodeObserved'; data: D<typeof ReportXNodeObserved> };

export const hostCommandSchemas = {
  RegisterHost, AdjustHostCapacity, DrainHost, StartHostMaintenance, ReturnHostOnline, MarkHostUnreachable, MarkHostReachable, RetireHost, ConfirmHostPoweredOff,
  SliceXNode, ResizeXNode, CopyXNodeFrom, ReportXNodeCopy, PowerOnXNode, PowerOffXNode, HibernateXNode, ActivateXNode, ReleaseXNode,
  FenceXNode, ReportXNodeObserved,
} as const;
export const hostStreamOf = (c: HostCommand): string => stream.host(c.data.hostId);
