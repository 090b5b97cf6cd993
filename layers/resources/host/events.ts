import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { ForeignId, HostId, ImageId, LocalId, Name, RContractId, RegionId, XImageId, XNodeId, ZoneId } from '../common/ids.ts';
import { AllocationRatiosSchema, ResourcesSchema, SizeSchema } from '../common/quantities.ts';
import { UtcTime } from '../common/time.ts';
import { XNODE_STATES } from './consumption.ts';

export const HostType = z.enum(['VM', 'CM', 'BM']);
export const HostStatus = z.enum(['online', 'maintenance', 'draining', 'unreachable', 'retired']);
export const AdminStatus = z.enum(['online', 'maintenance', 'draining']);
export const XNodeKind = z.enum(['VNode', 'CNode', 'BNode']);
export const XNodeStateSchema = z.enum(XNODE_STATES);
export const Area = z.string().regex(/^[A-Za-z0-9_.:/]{1,64}$/, 'a rack position label: letters, digits, "_", ".", ":" or "/" (e.g. "dc1/row3/rack12")');
/** Fencing token of an HA slice: replica `replica` of component `componentId`, incarnation `epoch`. */
export const Fencing = z.object({ componentId: ForeignId, replica: z.number().int().min(0).max(1000), epoch: z.number().int().min(0) }).strict();
export type Fencing = z.infer<typeof Fencing>;
/** Where a CopyFrom takes its data: another slice's disk, an image (checkpoint), or a checkpoint of an XImage. */
export const CopySource = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('xnode'), xnodeId: XNodeId, hostId: HostId }).strict(),
  z.object({ kind: z.literal('image'), imageId: ImageId, checkpointId: LocalId.optional() }).strict(),
  z.object({ kind: z.literal('ximage'), ximageId: XImageId, checkpointId: LocalId }).strict(),
]);
export type CopySource = z.infer<typeof CopySource>;
const reason = z.string().max(1000);

const hostRef = { hostId: HostId, zoneId: ZoneId, regionId: RegionId };
const hostShape = { resources: ResourcesSchema, reserved: SizeSchema, allocationRatios: AllocationRatiosSchema, capacity: SizeSchema };

export const HostRegistered = defineEvent({
  type: 'HostRegistered', version: 1, category: 'Host',
  description: 'A physical host was registered in a zone with its resources, System overhead reserve and allocation ratios (capacity = (resources − reserved) × ratio). It starts online.',
  schema: z.object({ ...hostRef, name: Name, type: HostType, area: Area, ...hostShape, status: z.literal('online') }).strict(),
});
export const HostCapacityAdjusted = defineEvent({
  type: 'HostCapacityAdjusted', version: 1, category: 'Host',
  description: 'A host\'s resources, System reserve or allocation ratios changed (hardware added, overhead re-estimated).',
  schema: z.object({ ...hostRef, ...hostShape, previousCapacity: SizeSchema }).strict(),
});
export const HostStatusChanged = defineEvent({
  type: 'HostStatusChanged', version: 1, category: 'Host',
  description: 'A host\'s status changed: by an operator (drain, maintenance, back online) or by the health monitor (missed heartbeats → unreachable, beats resumed → reachable).',
  schema: z.object({
    ...hostRef, from: HostStatus, to: HostStatus, admin: AdminStatus, reachable: z.boolean(),
    cause: z.enum(['operator', 'heartbeat']), reason: reason.optional(),
    missedBeats: z.number().int().min(0).optional(), lastSeenAt: UtcTime.optional(),
  }).strict(),
});
export const HostRetired = defineEvent({
  type: 'HostRetired', version: 1, category: 'Host',
  description: 'A host was retired for good. When forced, the XNodeReleased events of the slices it still held come first in the same append.',
  schema: z.object({ ...hostRef, from: HostStatus, forced: z.boolean(), releasedXNodeIds: z.array(XNodeId), reason: reason.optional() }).strict(),
});

export const PowerOffMethod = z.enum(['ipmi', 'pdu', 'manual']);
export const HostPoweredOff = defineEvent({
  type: 'HostPoweredOff', version: 1, category: 'Host',
  description: 'The host was confirmed powered off out of band (IPMI chassis power off, a PDU outlet switched off, or an operator at the rack): nothing on it runs any more, so HA replicas it held may be replaced at once instead of waiting for their lease to expire. The host is unreachable from then on (until its heartbeats resume).',
  schema: z.object({ ...hostRef, method: PowerOffMethod, confirmedAt: UtcTime, reason: reason.optional() }).strict(),
});

/** Every XNode event carries where the slice is, what it is, its size and its state after the event. */
const xnodeRef = {
  ...hostRef,
  xnodeId: XNodeId,
  kind: XNodeKind,
  size: SizeSchema,
  state: XNodeStateSchema,
  /** Bumped by every change an agent must act on; agents report the generation they have reached. */
  generation: z.number().int().min(1),
  contractId: RContractId.optional(),
  ha: Fencing.optional(),
};
const transition = z.object({
  ...xnodeRef, from: XNodeStateSchema,
  cause: z.enum(['command', 'observed', 'host-retired', 'superseded']), reason: reason.optional(),
}).strict();

export const XNodeSliced = defineEvent({
  type: 'XNodeSliced', version: 1, category: 'Host',
  description: 'A slice (VNode on a VM host, CNode on a CM host, BNode = the whole BM host) was cut from a host: its capacity is reserved (state provisioning).',
  schema: z.object({ ...xnodeRef, imageId: ImageId.optional() }).strict(),
});
export const XNodeProvisioned = defineEvent({ type: 'XNodeProvisioned', version: 1, category: 'Host', description: 'The agent saw the new slice running: provisioning → running.', schema: transition });
export const XNodePoweredOn = defineEvent({ type: 'XNodePoweredOn', version: 1, category: 'Host', description: 'A stopped or failed slice was powered on.', schema: transition });
export const XNodePoweredOff = defineEvent({ type: 'XNodePoweredOff', version: 1, category: 'Host', description: 'A slice was powered off (by command, or the agent saw it stop); it keeps its reservation.', schema: transition });
export const XNodeHibernated = defineEvent({ type: 'XNodeHibernated', version: 1, category: 'Host', description: 'A slice was hibernated: it keeps its disk and gives back CPU and RAM.', schema: transition });
export const XNodeActivated = defineEvent({ type: 'XNodeActivated', version: 1, category: 'Host', description: 'A hibernated slice was activated: it takes CPU and RAM again and runs.', schema: transition });
export const XNodeFailed = defineEvent({ type: 'XNodeFailed', version: 1, category: 'Host', description: 'The agent saw the slice fail (crash, provisioning error, gone); it keeps its reservation until released or restarted.', schema: transition });
export const XNodeFenced = defineEvent({
  type: 'XNodeFenced', version: 1, category: 'Host',
  description: 'An HA slice was fenced: a newer epoch of its replica exists; it must never run again. It keeps its disk until released.',
  schema: transition.extend({ fencedByEpoch: z.number().int().min(0) }).strict(),
});
export const XNodeReleased = defineEvent({ type: 'XNodeReleased', version: 1, category: 'Host', description: 'A slice was released: everything it held is given back. Final.', schema: transition });
export const XNodeResized = defineEvent({
  type: 'XNodeResized', version: 1, category: 'Host', description: 'A stopped or provisioning slice got a new size (disk never shrinks).',
  schema: z.object({ ...xnodeRef, previousSize: SizeSchema }).strict(),
});
export const XNodeCopyStarted = defineEvent({
  type: 'XNodeCopyStarted', version: 1, category: 'Host', description: 'The agent is to fill this slice\'s disk from another slice, an image or a checkpoint (CopyFrom).',
  schema: z.object({ ...xnodeRef, copyId: LocalId, source: CopySource }).strict(),
});
export const XNodeCopyCompleted = defineEvent({
  type: 'XNodeCopyCompleted', version: 1, category: 'Host', description: 'The agent finished a CopyFrom.',
  schema: z.object({ ...xnodeRef, copyId: LocalId, source: CopySource }).strict(),
});
export const XNodeCopyFailed = defineEvent({
  type: 'XNodeCopyFailed', version: 1, category: 'Host', description: 'A CopyFrom failed; the slice is as before the copy.',
  schema: z.object({ ...xnodeRef, copyId: LocalId, source: CopySource, message: reason.optional() }).strict(),
});
export const ObservedState = z.enum(['running', 'stopped', 'hibernated', 'failed', 'absent']);
export const XNodeObserved = defineEvent({
  type: 'XNodeObserved', version: 1, category: 'Host',
  description: 'What the host agent saw of a slice (recorded when it changes). drift = the agent has not (yet) brought the slice to the ledger\'s state.',
  schema: z.object({
    ...xnodeRef, observed: ObservedState, observedGeneration: z.number().int().min(0), observedAt: UtcTime,
    drift: z.boolean(), message: reason.optional(),
  }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type XNodeTransitionData = D<typeof XNodeProvisioned>;
export type HostEvent =
  | { type: 'HostRegistered'; data: D<typeof HostRegistered> }
  | { type: 'HostCapacityAdjusted'; data: D<typeof HostCapacityAdjusted> }
  | { type: 'HostStatusChanged'; data: D<typeof HostStatusChanged> }
  | { type: 'HostRetired'; data: D<typeof HostRetired> }
  | { type: 'HostPoweredOff'; data: D<typeof HostPoweredOff> }
  | { type: 'XNodeSliced'; data: D<typeof XNodeSliced> }
  | { type: 'XNodeProvisioned' | 'XNodePoweredOn' | 'XNodePoweredOff' | 'XNodeHibernated' | 'XNodeActivated' | 'XNodeFailed' | 'XNodeReleased'; data: XNodeTransitionData }
  | { type: 'XNodeFenced'; data: D<typeof XNodeFenced> }
  | { type: 'XNodeResized'; data: D<typeof XNodeResized> }
  | { type: 'XNodeCopyStarted'; data: D<typeof XNodeCopyStarted> }
  | { type: 'XNodeCopyCompleted'; data: D<typeof XNodeCopyCompleted> }
  | { type: 'XNodeCopyFailed'; data: D<typeof XNodeCopyFailed> }
  | { type: 'XNodeObserved'; data: D<typeof XNodeObserved> };

export const XNODE_TRANSITION_EVENTS = ['XNodeProvisioned', 'XNodePoweredOn', 'XNodePoweredOff', 'XNodeHibernated', 'XNodeActivated', 'XNodeFailed', 'XNodeFenced', 'XNodeReleased'] as const;
