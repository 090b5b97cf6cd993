import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { Name, RegionId, ZoneId } from '../common/ids.ts';

export const ZoneRegistered = defineEvent({
  type: 'ZoneRegistered', version: 1, category: 'Zone', description: 'A zone was registered in a region (for good: a zone never changes region).',
  schema: z.object({ zoneId: ZoneId, regionId: RegionId, name: Name }).strict(),
});
export const ZoneRenamed = defineEvent({
  type: 'ZoneRenamed', version: 1, category: 'Zone', description: 'A zone got a new name (unique within its region).',
  schema: z.object({ zoneId: ZoneId, regionId: RegionId, name: Name, previousName: Name }).strict(),
});
export const ZoneRetired = defineEvent({
  type: 'ZoneRetired', version: 1, category: 'Zone', description: 'A zone was retired: no new hosts or networks in it.',
  schema: z.object({ zoneId: ZoneId, regionId: RegionId, reason: z.string().max(1000).optional() }).strict(),
});

export type ZoneEvent =
  | { type: 'ZoneRegistered'; data: z.infer<typeof ZoneRegistered> }
  | { type: 'ZoneRenamed'; data: z.infer<typeof ZoneRenamed> }
  | { type: 'ZoneRetired'; data: z.infer<typeof ZoneRetired> };
