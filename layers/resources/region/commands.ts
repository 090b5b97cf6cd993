import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { Name, RegionId, stream } from '../common/ids.ts';

export const RegisterRegion = defineCommand({
  type: 'RegisterRegion', category: 'Region', description: 'Register a region (operator). Reserve its name in Names-regions first.',
  schema: z.object({ regionId: RegionId, name: Name, description: z.string().max(1000).optional() }).strict(),
});
export const RenameRegion = defineCommand({
  type: 'RenameRegion', category: 'Region', description: 'Rename a region (operator).',
  schema: z.object({ regionId: RegionId, name: Name }).strict(),
});
export const RetireRegion = defineCommand({
  type: 'RetireRegion', category: 'Region', description: 'Retire a region (operator); the handler checks it has no active zones.',
  schema: z.object({ regionId: RegionId, reason: z.string().max(1000).optional() }).strict(),
});

export type RegionCommand =
  | { type: 'RegisterRegion'; data: z.infer<typeof RegisterRegion> }
  | { type: 'RenameRegion'; data: z.infer<typeof RenameRegion> }
  | { type: 'RetireRegion'; data: z.infer<typeof RetireRegion> };

export const regionCommandSchemas = { RegisterRegion, RenameRegion, RetireRegion } as const;
export const regionStreamOf = (c: RegionCommand): string => stream.region(c.data.regionId);
