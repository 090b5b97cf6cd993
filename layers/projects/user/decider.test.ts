import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spec } from '../../../core/spec.ts';
import { validateCommand, validateEvent } from '../../../schema/registry.ts';
import { CreateUser } from './commands.ts';
import { userDecider } from './decider.ts';
import type { UserEvent } from './events.ts';

const user = spec(userDecider);
const created: UserEvent = { type: 'UserCreated', data: { userId: 'u_ada', name: 'Ada' } };
const suspended: UserEvent = { type: 'UserSuspended', data: { userId: 'u_ada', reason: 'unpaid' } };

test('create a user; a retried create does nothing; another name under the same id is refused', () => {
  user.given([]).when({ type: 'CreateUser', data: { userId: 'u_ada', name: 'Ada' } }).then([created]);
  user.given([created]).when({ type: 'CreateUser', data: { userId: 'u_ada', name: 'Ada' } }).thenNothing();
  user.given([created]).when({ type: 'CreateUser', data: { userId: 'u_ada', name: 'Grace' } }).thenThrows('USER_EXISTS');
});

test('rename; the same name does nothing; an unknown user is refused', () => {
  user.given([created]).when({ type: 'RenameUser', data: { userId: 'u_ada', name: 'Ada L.' } })
    .then([{ type: 'UserRenamed', data: { userId: 'u_ada', name: 'Ada L.', previousName: 'Ada' } }]);
  user.given([created]).when({ type: 'RenameUser', data: { userId: 'u_ada', name: 'Ada' } }).thenNothing();
  user.given([]).when({ type: 'RenameUser', data: { userId: 'u_ada', name: 'x' } }).thenThrows('USER_NOT_FOUND');
  user.given([created]).when({ type: 'RenameUser', data: { userId: 'u_bob', name: 'x' } }).thenThrows('USER_MISMATCH');
});

test('suspend and reactivate, each idempotent', () => {
  user.given([created]).when({ type: 'SuspendUser', data: { userId: 'u_ada', reason: 'unpaid' } }).then([suspended]);
  user.given([created]).when({ type: 'SuspendUser', data: { userId: 'u_ada', reason: '' } })
    .then([{ type: 'UserSuspended', data: { userId: 'u_ada' } }]);
  user.given([created, suspended]).when({ type: 'SuspendUser', data: { userId: 'u_ada' } }).thenNothing();
  user.given([created, suspended]).when({ type: 'ReactivateUser', data: { userId: 'u_ada' } })
    .then([{ type: 'UserReactivated', data: { userId: 'u_ada' } }]);
  user.given([created]).when({ type: 'ReactivateUser', data: { userId: 'u_ada' } }).thenNothing();
  user.given([]).when({ type: 'SuspendUser', data: { userId: 'u_ada' } }).thenThrows('USER_NOT_FOUND');
  user.given([]).when({ type: 'ReactivateUser', data: { userId: 'u_ada' } }).thenThrows('USER_NOT_FOUND');
});

test('a suspended user can still be renamed', () => {
  user.given([created, suspended]).when({ type: 'RenameUser', data: { userId: 'u_ada', name: 'Ada' + ' B' } })
    .then([{ type: 'UserRenamed', data: { userId: 'u_ada', name: 'Ada B', previousName: 'Ada' } }]);
});

test('schemas refuse malformed ids and names', () => {
  assert.throws(() => validateCommand(CreateUser, 'CreateUser', { userId: 'u_a-b', name: 'x' }), /userId/);
  assert.throws(() => validateCommand(CreateUser, 'CreateUser', { userId: 'p_ab', name: 'x' }), /userId/);
  assert.throws(() => validateCommand(CreateUser, 'CreateUser', { userId: 'u_ab', name: ' ' }), /name/);
  assert.throws(() => validateCommand(CreateUser, 'CreateUser', { userId: 'u_ab', name: 'a\u0000b' }), /name/);
  assert.throws(() => validateCommand(CreateUser, 'CreateUser', { userId: 'u_ab', name: 'x'.repeat(101) }), /name/);
  assert.throws(() => validateCommand(CreateUser, 'CreateUser', { userId: 'u_ab', name: 'x', admin: true }), /admin|Unrecognized/);
  assert.equal(validateEvent('UserCreated', created.data).data, created.data);
  assert.throws(() => validateEvent('UserSuspended', { userId: 'u_ab', reason: 'x'.repeat(1001) }), /reason/);
});

test.run();
