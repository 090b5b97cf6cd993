import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { ForeignId, Name } from '../common/ids.ts';

export const NameKind = z.enum(['region', 'zone', 'host', 'network', 'image']);
export type NameKind = z.infer<typeof NameKind>;

export const NameReserved = defineEvent({
  type: 'NameReserved', version: 1, category: 'Names', description: 'A name was reserved for one owner within its parent scope.',
  schema: z.object({ scope: ForeignId, kind: NameKind, name: Name, key: z.string(), ownerId: ForeignId }).strict(),
});
export const NameReleased = defineEvent({
  type: 'NameReleased', version: 1, category: 'Names', description: 'A reserved name was given back (renamed, retired, or a registration that failed).',
  schema: z.object({ scope: ForeignId, kind: NameKind, name: Name, key: z.string(), ownerId: ForeignId }).strict(),
});

export type NamesEvent =
  | { type: 'NameReserved'; data: z.infer<typeof NameReserved> }
  | { type: 'NameReleased'; data: z.infer<typeof NameReleased> };
