import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { ImageId, LocalId, RContractId, RegionId, XImageId, XNodeId } from '../common/ids.ts';
import { PositiveQuantity, Quantity } from '../common/quantities.ts';

export const XImageQuota = z.object({ checkpoints: z.number().int().min(0).max(10_000), sizeGiB: Quantity }).strict();
export type XImageQuota = z.infer<typeof XImageQuota>;
export const XImageUsage = XImageQuota;

const ref = { ximageId: XImageId, regionId: RegionId, contractId: RContractId.optional() };

export const XImageAllocated = defineEvent({
  type: 'XImageAllocated', version: 1, category: 'XImage', description: 'A quota of checkpoints (count and total size) was allocated in a region\'s image store.',
  schema: z.object({ ...ref, imageId: ImageId.optional(), quota: XImageQuota }).strict(),
});
export const XImageCheckpointTaken = defineEvent({
  type: 'XImageCheckpointTaken', version: 1, category: 'XImage', description: 'A checkpoint (of a slice\'s disk) was stored within the quota.',
  schema: z.object({ ...ref, checkpointId: LocalId, parentCheckpointId: LocalId.optional(), sizeGiB: PositiveQuantity, xnodeId: XNodeId.optional(), usage: XImageUsage }).strict(),
});
export const XImageCheckpointDeleted = defineEvent({
  type: 'XImageCheckpointDeleted', version: 1, category: 'XImage', description: 'A checkpoint was deleted; its size and count are free again.',
  schema: z.object({ ...ref, checkpointId: LocalId, sizeGiB: PositiveQuantity, usage: XImageUsage }).strict(),
});
export const XImageQuotaChanged = defineEvent({
  type: 'XImageQuotaChanged', version: 1, category: 'XImage', description: 'The quota changed (never below what is stored).',
  schema: z.object({ ...ref, quota: XImageQuota, previousQuota: XImageQuota }).strict(),
});
export const XImageReleased = defineEvent({
  type: 'XImageReleased', version: 1, category: 'XImage', description: 'The quota was released with every checkpoint in it. Final.',
  schema: z.object({ ...ref, droppedCheckpointIds: z.array(LocalId), reason: z.string().max(1000).optional() }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type XImageEvent =
  | { type: 'XImageAllocated'; data: D<typeof XImageAllocated> }
  | { type: 'XImageCheckpointTaken'; data: D<typeof XImageCheckpointTaken> }
  | { type: 'XImageCheckpointDeleted'; data: D<typeof XImageCheckpointDeleted> }
  | { type: 'XImageQuotaChanged'; data: D<typeof XImageQuotaChanged> }
  | { type: 'XImageReleased'; data: D<typeof XImageReleased> };
