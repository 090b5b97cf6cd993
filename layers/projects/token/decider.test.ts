import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spec } from '../../../core/spec.ts';
import { validateCommand } from '../../../schema/registry.ts';
import { RevokeToken } from './commands.ts';
import { tokenDecider } from './decider.ts';

const token = spec(tokenDecider);
const ID = '0123456789abcdef01234567';

test('revoke a token; revoking it again changes nothing', () => {
  token.given([]).when({ type: 'RevokeToken', data: { tokenId: ID, subject: 'tenant:u_ada', reason: 'laptop stolen' } })
    .then([{ type: 'TokenRevoked', data: { tokenId: ID, subject: 'tenant:u_ada', reason: 'laptop stolen' } }]);
  token.given([]).when({ type: 'RevokeToken', data: { tokenId: ID, reason: '' } }).then([{ type: 'TokenRevoked', data: { tokenId: ID } }]);
  token.given([{ type: 'TokenRevoked', data: { tokenId: ID } }]).when({ type: 'RevokeToken', data: { tokenId: ID, reason: 'again' } }).thenNothing();
});

test('malformed revocations are refused by the schema', () => {
  for (const data of [{ tokenId: 'eyJhbGciOi' }, { tokenId: ID, subject: 'somebody' }, { tokenId: ID, extra: 1 }, {}]) {
    assert.throws(() => validateCommand(RevokeToken, 'RevokeToken', data), undefined, JSON.stringify(data));
  }
});

test.run();
