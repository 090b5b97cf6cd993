import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { ImageId, LocalId, Name, RegionId } from '../common/ids.ts';
import { PositiveQuantity } from '../common/quantities.ts';

export const ImageKind = z.enum(['os', 'host']);
export const ImageFormat = z.enum(['qcow2', 'raw', 'oci', 'iso', 'pxe']);
export const Arch = z.enum(['x86_64', 'aarch64']);
export const Digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'a content digest like sha256:<64 hex>');
/** What a PXE install of a host image boots. */
export const PxeBoot = z.object({ kernel: z.string().min(1).max(500), initrd: z.string().min(1).max(500), cmdline: z.string().max(2000).default('') }).strict();
export const OsInfo = z.object({ family: z.string().regex(/^[a-z0-9_.]{1,40}$/), version: z.string().regex(/^[A-Za-z0-9_.]{1,40}$/) }).strict();

const ref = { imageId: ImageId, regionId: RegionId };

export const ImageRegistered = defineEvent({
  type: 'ImageRegistered', version: 1, category: 'Image',
  description: 'An image was registered: an OS image for slices, or a host image installed by PXE. Its content is the root checkpoint of branch main.',
  schema: z.object({
    ...ref, name: Name, kind: ImageKind, format: ImageFormat, arch: Arch, os: OsInfo.optional(), boot: PxeBoot.optional(),
    branch: LocalId, checkpointId: LocalId, sizeGiB: PositiveQuantity, digest: Digest,
  }).strict(),
});
export const ImageCheckpointCreated = defineEvent({
  type: 'ImageCheckpointCreated', version: 1, category: 'Image', description: 'A new checkpoint (version) was added on top of a branch; it becomes the branch head.',
  schema: z.object({ ...ref, checkpointId: LocalId, branch: LocalId, parentCheckpointId: LocalId, sizeGiB: PositiveQuantity, digest: Digest, description: z.string().max(1000).optional() }).strict(),
});
export const ImageBranchCreated = defineEvent({
  type: 'ImageBranchCreated', version: 1, category: 'Image', description: 'A branch was started from a checkpoint.',
  schema: z.object({ ...ref, branch: LocalId, fromCheckpointId: LocalId }).strict(),
});
export const ImageDeprecated = defineEvent({
  type: 'ImageDeprecated', version: 1, category: 'Image', description: 'An image was deprecated: still usable, flagged for replacement.',
  schema: z.object({ ...ref, reason: z.string().max(1000).optional() }).strict(),
});
export const ImageRetired = defineEvent({
  type: 'ImageRetired', version: 1, category: 'Image', description: 'An image was retired: no new slice may use it.',
  schema: z.object({ ...ref, reason: z.string().max(1000).optional() }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type ImageEvent =
  | { type: 'ImageRegistered'; data: D<typeof ImageRegistered> }
  | { type: 'ImageCheckpointCreated'; data: D<typeof ImageCheckpointCreated> }
  | { type: 'ImageBranchCreated'; data: D<typeof ImageBranchCreated> }
  | { type: 'ImageDeprecated'; data: D<typeof ImageDeprecated> }
  | { type: 'ImageRetired'; data: D<typeof ImageRetired> };
