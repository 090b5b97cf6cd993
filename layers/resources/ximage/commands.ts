import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { ImageId, LocalId, RContractId, RegionId, stream, XImageId, XNodeId } from '../common/ids.ts';
import { PositiveQuantity } from '../common/quantities.ts';
import { XImageQuota } from './events.ts';

export const AllocateXImage = defineCommand({
  type: 'AllocateXImage', category: 'XImage', description: 'Allocate a checkpoint quota (count, total GiB) in a region\'s image store, optionally based on an image.',
  schema: z.object({ ximageId: XImageId, regionId: RegionId, imageId: ImageId.optional(), quota: XImageQuota, contractId: RContractId.optional() }).strict(),
});
export const TakeXImageCheckpoint = defineCommand({
  type: 'TakeXImageCheckpoint', category: 'XImage', description: 'Store a checkpoint within the quota; refused with XIMAGE_QUOTA_EXCEEDED when count or size would exceed it.',
  schema: z.object({ ximageId: XImageId, checkpointId: LocalId, parentCheckpointId: LocalId.optional(), sizeGiB: PositiveQuantity, xnodeId: XNodeId.optional() }).strict(),
});
export const DeleteXImageCheckpoint = defineCommand({
  type: 'DeleteXImageCheckpoint', category: 'XImage', description: 'Delete a checkpoint that no other checkpoint builds on.',
  schema: z.object({ ximageId: XImageId, checkpointId: LocalId }).strict(),
});
export const ChangeXImageQuota = defineCommand({
  type: 'ChangeXImageQuota', category: 'XImage', description: 'Change the quota; not below what is stored.', schema: z.object({ ximageId: XImageId, quota: XImageQuota }).strict(),
});
export const ReleaseXImage = defineCommand({
  type: 'ReleaseXImage', category: 'XImage', description: 'Release the quota and every checkpoint in it; releasing again does nothing.',
  schema: z.object({ ximageId: XImageId, reason: z.string().max(1000).optional() }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type XImageCommand =
  | { type: 'AllocateXImage'; data: D<typeof AllocateXImage> }
  | { type: 'TakeXImageCheckpoint'; data: D<typeof TakeXImageCheckpoint> }
  | { type: 'DeleteXImageCheckpoint'; data: D<typeof DeleteXImageCheckpoint> }
  | { type: 'ChangeXImageQuota'; data: D<typeof ChangeXImageQuota> }
  | { type: 'ReleaseXImage'; data: D<typeof ReleaseXImage> };

export const ximageCommandSchemas = { AllocateXImage, TakeXImageCheckpoint, DeleteXImageCheckpoint, ChangeXImageQuota, ReleaseXImage } as const;
export const ximageStreamOf = (c: XImageCommand): string => stream.ximage(c.data.ximageId);
