/**
 * Token: revocation of one API token, by its id. Tokens themselves are never stored (they are signed, not looked up);
 * only the fact that one was revoked is, so every API instance can refuse it (api/auth/revocations.ts).
 */
import './events.ts';
import './commands.ts';
import type { Decider } from '../../../core/decider.ts';
import type { TokenCommand } from './commands.ts';
import type { TokenEvent } from './events.ts';

export interface TokenState { revoked: boolean }

export const tokenDecider: Decider<TokenState, TokenCommand, TokenEvent> = {
  initialState: () => ({ revoked: false }),
  evolve: (state, event) => (event.type === 'TokenRevoked' ? { revoked: true } : state),
  decide(command, state) {
    if (state.revoked) return []; // revoked once is revoked for good: again changes nothing
    const { tokenId, subject, reason } = command.data;
    return [{ type: 'TokenRevoked', data: { tokenId, ...(subject !== undefined && { subject }), ...(reason && { reason }) } }];
  },
};
