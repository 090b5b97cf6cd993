import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../categories.ts';
import { UserCreated, UserReactivated, UserRenamed, UserSuspended } from './events.ts';

// Each command carries the data of the event it leads to (less what the decider adds): the events' field lists lead.

export const CreateUser = defineCommand({
  type: 'CreateUser', category: 'User', description: 'Create a user (operator only).',
  schema: UserCreated,
});
export const RenameUser = defineCommand({
  type: 'RenameUser', category: 'User', description: 'Rename a user (operator only).',
  schema: UserRenamed.omit({ previousName: true }),
});
export const SuspendUser = defineCommand({
  type: 'SuspendUser', category: 'User', description: 'Suspend a user (operator only): the user keeps read access and can change nothing.',
  schema: UserSuspended,
});
export const ReactivateUser = defineCommand({
  type: 'ReactivateUser', category: 'User', description: 'Reactivate a suspended user (operator only).',
  schema: UserReactivated,
});

export type UserCommand =
  | { type: 'CreateUser'; data: z.infer<typeof CreateUser> }
  | { type: 'RenameUser'; data: z.infer<typeof RenameUser> }
  | { type: 'SuspendUser'; data: z.infer<typeof SuspendUser> }
  | { type: 'ReactivateUser'; data: z.infer<typeof ReactivateUser> };

export const userCommandSchemas = { CreateUser, RenameUser, SuspendUser, ReactivateUser } as const;
