import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { ImageId, LocalId, Name, RegionId, stream } from '../common/ids.ts';
import { PositiveQuantity } from '../common/quantities.ts';
import { Arch, Digest, ImageFormat, ImageKind, OsInfo, PxeBoot } from './events.ts';

export const RegisterImage = defineCommand({
  type: 'RegisterImage', category: 'Image', description: 'Register an OS image or a host (PXE) image in a region (operator).',
  schema: z.object({
    imageId: ImageId, regionId: RegionId, name: Name, kind: ImageKind, format: ImageFormat, arch: Arch.default('x86_64'),
    os: OsInfo.optional(), boot: PxeBoot.optional(), sizeGiB: PositiveQuantity, digest: Digest,
  }).strict(),
});
export const CreateImageCheckpoint = defineCommand({
  type: 'CreateImageCheckpoint', category: 'Image',
  description: 'Add a checkpoint on top of a branch (default main). `parentCheckpointId`, when given, must be the branch head (refused otherwise, like a git push that is not a fast-forward).',
  schema: z.object({ imageId: ImageId, checkpointId: LocalId, branch: LocalId.default('main'), parentCheckpointId: LocalId.optional(), sizeGiB: PositiveQuantity, digest: Digest, description: z.string().max(1000).optional() }).strict(),
});
export const CreateImageBranch = defineCommand({
  type: 'CreateImageBranch', category: 'Image', description: 'Start a branch from a checkpoint.',
  schema: z.object({ imageId: ImageId, branch: LocalId, fromCheckpointId: LocalId }).strict(),
});
export const DeprecateImage = defineCommand({ type: 'DeprecateImage', category: 'Image', description: 'Flag an image for replacement (operator).', schema: z.object({ imageId: ImageId, reason: z.string().max(1000).optional() }).strict() });
export const RetireImage = defineCommand({ type: 'RetireImage', category: 'Image', description: 'Retire an image: no new slice may use it (operator).', schema: z.object({ imageId: ImageId, reason: z.string().max(1000).optional() }).strict() });

type D<S extends z.ZodType> = z.input<S>;
export type ImageCommand =
  | { type: 'RegisterImage'; data: D<typeof RegisterImage> }
  | { type: 'CreateImageCheckpoint'; data: D<typeof CreateImageCheckpoint> }
  | { type: 'CreateImageBranch'; data: D<typeof CreateImageBranch> }
  | { type: 'DeprecateImage'; data: D<typeof DeprecateImage> }
  | { type: 'RetireImage'; data: D<typeof RetireImage> };

export const imageCommandSchemas = { RegisterImage, CreateImageCheckpoint, CreateImageBranch, DeprecateImage, RetireImage } as const;
export const imageStreamOf = (c: ImageCommand): string => stream.image(c.data.imageId);
