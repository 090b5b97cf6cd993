import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../categories.ts';
import { TokenRevoked } from './events.ts';

export const RevokeToken = defineCommand({
  type: 'RevokeToken', category: 'Token', description: 'Revoke an API token by its id (operator only); revoking it again changes nothing.',
  schema: TokenRevoked, // the command carries the data of the event it leads to
});

export type TokenCommand = { type: 'RevokeToken'; data: z.infer<typeof RevokeToken> };
