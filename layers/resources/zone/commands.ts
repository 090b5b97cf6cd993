import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { Name, RegionId, stream, ZoneId } from '../common/ids.ts';

export const RegisterZone = defineCommand({
  type: 'RegisterZone', category: 'Zone',
  description: 'Register a zone in a region (operator). The handler checks the region is active (regionAcceptsChildren) and reserves the name in Names-<regionId> first.',
  schema: z.object({ zoneId: ZoneId, regionId: RegionId, name: Name }).strict(),
});
export const RenameZone = defineCommand({
  type: 'RenameZone', category: 'Zone', description: 'Rename a zone (operator); reserve the new name in Names-<regionId> first.',
  schema: z.object({ zoneId: ZoneId, name: Name }).strict(),
});
export const RetireZone = defineCommand({
  type: 'RetireZone', category: 'Zone', description: 'Retire a zone (operator); the handler checks it has no active hosts or networks.',
  schema: z.object({ zoneId: ZoneId, reason: z.string().max(1000).optional() }).strict(),
});

export type ZoneCommand =
  | { type: 'RegisterZone'; data: z.infer<typeof RegisterZone> }
  | { type: 'RenameZone'; data: z.infer<typeof RenameZone> }
  | { type: 'RetireZone'; data: z.infer<typeof RetireZone> };

export const zoneCommandSchemas = { RegisterZone, RenameZone, RetireZone } as const;
export const zoneStreamOf = (c: ZoneCommand): string => stream.zone(c.data.zoneId);
