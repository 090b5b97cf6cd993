/**
 * User: create, rename, suspend, reactivate. Who may send these (operators only) is checked by the application
 * service (../service.ts); the decider protects the user's own lifecycle.
 */
import './events.ts';
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import type { UserCommand } from './commands.ts';
import type { UserEvent } from './events.ts';

export type UserStatus = 'none' | 'active' | 'suspended';
export interface UserState { status: UserStatus; userId?: string; name?: string }

const mustExist = (state: UserState, userId: string) => {
  if (state.status === 'none') throw new DomainError('USER_NOT_FOUND', `user ${userId} does not exist`, ['userId']);
  if (state.userId !== userId) throw new DomainError('USER_MISMATCH', `command for user ${userId} sent to the stream of ${state.userId}`, ['userId']);
};

export const userDecider: Decider<UserState, UserCommand, UserEvent> = {
  initialState: () => ({ status: 'none' }),
  evolve(state, event) {
    switch (event.type) {
      case 'UserCreated': return { status: 'active', userId: event.data.userId, name: event.data.name };
      case 'UserRenamed': return { ...state, name: event.data.name };
      case 'UserSuspended': return { ...state, status: 'suspended' };
      case 'UserReactivated': return { ...state, status: 'active' };
      default: return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'CreateUser': {
        const { userId, name } = command.data;
        if (state.status !== 'none') {
          if (state.userId === userId && state.name === name) return []; // a retried create
          throw new DomainError('USER_EXISTS', `user ${userId} already exists`, ['userId']);
        }
        return [{ type: 'UserCreated', data: { userId, name } }];
      }
      case 'RenameUser': {
        mustExist(state, command.data.userId);
        if (state.name === command.data.name) return [];
        return [{ type: 'UserRenamed', data: { userId: command.data.userId, name: command.data.name, previousName: state.name! } }];
      }
      case 'SuspendUser': {
        mustExist(state, command.data.userId);
        if (state.status === 'suspended') return [];
        const { userId, reason } = command.data;
        return [{ type: 'UserSuspended', data: { userId, ...(reason !== undefined && reason !== '' && { reason }) } }];
      }
      case 'ReactivateUser': {
        mustExist(state, command.data.userId);
        if (state.status === 'active') return [];
        return [{ type: 'UserReactivated', data: { userId: command.data.userId } }];
      }
    }
  },
};
