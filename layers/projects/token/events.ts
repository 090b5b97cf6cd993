import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../categories.ts';
import { Reason, TokenId, TokenSubject } from '../ids.ts';

export const TokenRevoked = defineEvent({
  type: 'TokenRevoked', version: 1, category: 'Token',
  description: 'An operator revoked an API token: the API refuses it from then on, though its signature and lifetime are still good.',
  schema: z.object({ tokenId: TokenId, subject: TokenSubject.optional(), reason: Reason.optional() }).strict(),
});

export type TokenEvent = { type: 'TokenRevoked'; data: z.infer<typeof TokenRevoked> };
