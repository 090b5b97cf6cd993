import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { ForeignId, HostId, ImageId, LocalId, NetworkId, RContractId, RegionId, XImageId, XNetworkId, XNodeId } from '../common/ids.ts';
import { Cidr } from '../common/ipv4.ts';
import { SizeInputSchema } from '../common/quantities.ts';
import { UtcTime } from '../common/time.ts';
import { Fencing } from '../host/events.ts';
import { XImageQuota } from '../ximage/events.ts';

/** Named integer units an RContract reserves and meters. */
export const UNITS = ['cpuCores', 'cpuMHz', 'ramMiB', 'diskGiB', 'diskIops', 'bandwidthMbps', 'publicIps', 'checkpoints', 'checkpointGiB'] as const;
export const Unit = z.enum(UNITS);
export const Amounts = z.partialRecord(Unit, z.number().int().min(0).max(1_000_000_000));
export type Amounts = z.infer<typeof Amounts>;

/** An item as requested: compute (an XNode on an exact host), network (an XNetwork on an exact network), image (an XImage quota in a region). */
export const ComputeItemInput = z.object({
  kind: z.literal('compute'), hostId: HostId, xnodeId: XNodeId.optional(), size: SizeInputSchema.optional(),
  imageId: ImageId.optional(), checkpointId: LocalId.optional(), ha: Fencing.optional(),
}).strict();
export const NetworkItemInput = z.object({
  kind: z.literal('network'), networkId: NetworkId, xnetworkId: XNetworkId.optional(), cidr: Cidr, public: z.boolean().default(false),
  bandwidthMbps: z.number().int().min(0), publicIps: z.number().int().min(0).max(1024).default(0),
}).strict();
export const ImageItemInput = z.object({
  kind: z.literal('image'), regionId: RegionId, ximageId: XImageId.optional(), imageId: ImageId.optional(), quota: XImageQuota,
}).strict();
export const ItemInput = z.discriminatedUnion('kind', [ComputeItemInput, NetworkItemInput, ImageItemInput]);

/** An item as recorded: its index, the id of the slice it becomes, and the request. */
export const Item = z.discriminatedUnion('kind', [
  ComputeItemInput.extend({ index: z.number().int().min(0), xnodeId: XNodeId }).strict(),
  NetworkItemInput.extend({ index: z.number().int().min(0), xnetworkId: XNetworkId, public: z.boolean(), publicIps: z.number().int().min(0) }).strict(),
  ImageItemInput.extend({ index: z.number().int().min(0), ximageId: XImageId }).strict(),
]);
export type Item = z.infer<typeof Item>;
export const Holder = z.object({ kind: z.enum(['ccontract', 'operator']), id: ForeignId }).strict();

const ref = { contractId: RContractId };
const itemRef = { ...ref, index: z.number().int().min(0), sliceId: z.string() };

export const RContractOpened = defineEvent({
  type: 'RContractOpened', version: 1, category: 'RContract',
  description: 'A lease of exact slices was requested: every item names its exact place. Items are reserved by the opening process (all or nothing).',
  schema: z.object({ ...ref, tenantId: ForeignId.optional(), holder: Holder.optional(), items: z.array(Item).min(1).max(32), requested: z.array(Amounts) }).strict(),
});
export const RContractItemReserved = defineEvent({
  type: 'RContractItemReserved', version: 1, category: 'RContract', description: 'An item\'s slice was cut at its place; `reserved` is what it holds.',
  schema: z.object({ ...itemRef, reserved: Amounts }).strict(),
});
export const RContractItemFailed = defineEvent({
  type: 'RContractItemFailed', version: 1, category: 'RContract', description: 'An item could not be reserved (the slice command was refused).',
  schema: z.object({ ...itemRef, code: z.string(), message: z.string() }).strict(),
});
export const RContractConfirmed = defineEvent({
  type: 'RContractConfirmed', version: 1, category: 'RContract', description: 'Every item was reserved: the lease is active.',
  schema: z.object({ ...ref, reserved: Amounts }).strict(),
});
export const RContractFailed = defineEvent({
  type: 'RContractFailed', version: 1, category: 'RContract', description: 'The lease could not be opened (an item failed, or it was cancelled); what was taken is being given back.',
  schema: z.object({ ...ref, code: z.string(), message: z.string(), failedIndex: z.number().int().min(0).optional() }).strict(),
});
export const RContractCompensated = defineEvent({
  type: 'RContractCompensated', version: 1, category: 'RContract', description: 'Everything a failed lease had taken was given back.',
  schema: z.object(ref).strict(),
});
export const RContractItemReleased = defineEvent({
  type: 'RContractItemReleased', version: 1, category: 'RContract', description: 'An item\'s slice was released (termination, compensation, or lost with its host).',
  schema: z.object({ ...itemRef, reason: z.string().max(1000).optional() }).strict(),
});
export const RContractItemMoved = defineEvent({
  type: 'RContractItemMoved', version: 1, category: 'RContract', description: 'A compute item now lives in another slice (after a move).',
  schema: z.object({ ...ref, index: z.number().int().min(0), from: z.object({ xnodeId: XNodeId, hostId: HostId }).strict(), to: z.object({ xnodeId: XNodeId, hostId: HostId }).strict() }).strict(),
});
export const RContractTerminationRequested = defineEvent({
  type: 'RContractTerminationRequested', version: 1, category: 'RContract', description: 'The lease is ending: every item is being released.',
  schema: z.object({ ...ref, reason: z.string().max(1000).optional() }).strict(),
});
export const RContractTerminated = defineEvent({
  type: 'RContractTerminated', version: 1, category: 'RContract', description: 'Every item of the lease was released. Final.',
  schema: z.object(ref).strict(),
});
export const RContractUsageRecorded = defineEvent({
  type: 'RContractUsageRecorded', version: 1, category: 'RContract', description: 'Actual usage of an item over the half-open window [from, to).',
  schema: z.object({ ...itemRef, from: UtcTime, to: UtcTime, usage: Amounts }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type RContractEvent =
  | { type: 'RContractOpened'; data: D<typeof RContractOpened> }
  | { type: 'RContractItemReserved'; data: D<typeof RContractItemReserved> }
  | { type: 'RContractItemFailed'; data: D<typeof RContractItemFailed> }
  | { type: 'RContractConfirmed'; data: D<typeof RContractConfirmed> }
  | { type: 'RContractFailed'; data: D<typeof RContractFailed> }
  | { type: 'RContractCompensated'; data: D<typeof RContractCompensated> }
  | { type: 'RContractItemReleased'; data: D<typeof RContractItemReleased> }
  | { type: 'RContractItemMoved'; data: D<typeof RContractItemMoved> }
  | { type: 'RContractTerminationRequested'; data: D<typeof RContractTerminationRequested> }
  | { type: 'RContractTerminated'; data: D<typeof RContractTerminated> }
  | { type: 'RContractUsageRecorded'; data: D<typeof RContractUsageRecorded> };
