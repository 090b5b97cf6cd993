import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { Name, RegionId } from '../common/ids.ts';

export const RegionRegistered = defineEvent({
  type: 'RegionRegistered', version: 1, category: 'Region', description: 'A region was registered.',
  schema: z.object({ regionId: RegionId, name: Name, description: z.string().max(1000).optional() }).strict(),
});
export const RegionRenamed = defineEvent({
  type: 'RegionRenamed', version: 1, category: 'Region', description: 'A region got a new name.',
  schema: z.object({ regionId: RegionId, name: Name, previousName: Name }).strict(),
});
export const RegionRetired = defineEvent({
  type: 'RegionRetired', version: 1, category: 'Region', description: 'A region was retired: no new zones, networks or images in it.',
  schema: z.object({ regionId: RegionId, reason: z.string().max(1000).optional() }).strict(),
});

export type RegionEvent =
  | { type: 'RegionRegistered'; data: z.infer<typeof RegionRegistered> }
  | { type: 'RegionRenamed'; data: z.infer<typeof RegionRenamed> }
  | { type: 'RegionRetired'; data: z.infer<typeof RegionRetired> };
