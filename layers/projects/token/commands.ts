import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../categories.ts';
import { Reason, TokenId, TokenSubject } from '../ids.ts';

export const RevokeToken = defineCommand({
  type: 'RevokeToken', category: 'Token', description: 'Revoke an API token by its id (operator only); revoking it again changes nothing.',
  schema: z.object({ tokenId: TokenId, subject: TokenSubject.optional(), reason: Reason.optional() }).strict(),
});

export type TokenCommand = { type: 'RevokeToken'; data: z.infer<typeof RevokeToken> };
