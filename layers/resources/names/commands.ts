import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { ForeignId, Name, stream } from '../common/ids.ts';
import { NameKind } from './events.ts';

const NameRef = z.object({ scope: ForeignId, kind: NameKind, name: Name, ownerId: ForeignId }).strict();
export const ReserveName = defineCommand({
  type: 'ReserveName', category: 'Names', description: 'Reserve a name for an owner within a scope; refused when another owner holds it.', schema: NameRef,
});
export const ReleaseName = defineCommand({
  type: 'ReleaseName', category: 'Names', description: 'Give a reserved name back (only its owner can).', schema: NameRef,
});

export type NamesCommand =
  | { type: 'ReserveName'; data: z.infer<typeof ReserveName> }
  | { type: 'ReleaseName'; data: z.infer<typeof ReleaseName> };

export const namesCommandSchemas = { ReserveName, ReleaseName } as const;
export const namesStreamOf = (c: NamesCommand): string => stream.names(c.data.scope);

/** The scope that keeps names unique within a parent: regions globally, zones per region, hosts/networks per zone, images per region. */
export const nameScope = {
  regions: () => 'regions',
  zonesOf: (regionId: string) => regionId,
  hostsOf: (zoneId: string) => zoneId,
  networksOf: (zoneOrRegionId: string) => zoneOrRegionId,
  imagesOf: (regionId: string) => regionId,
};
