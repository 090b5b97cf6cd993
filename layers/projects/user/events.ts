import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../categories.ts';
import { Name, Reason, UserId } from '../ids.ts';

export const UserCreated = defineEvent({
  type: 'UserCreated', version: 1, category: 'User', description: 'An operator created a user (tenant).',
  schema: z.object({ userId: UserId, name: Name }).strict(),
});
export const UserRenamed = defineEvent({
  type: 'UserRenamed', version: 1, category: 'User', description: 'A user got a new name.',
  schema: z.object({ userId: UserId, name: Name, previousName: Name }).strict(),
});
export const UserSuspended = defineEvent({
  type: 'UserSuspended', version: 1, category: 'User', description: 'A user was suspended: their tokens may read but change nothing.',
  schema: z.object({ userId: UserId, reason: Reason.optional() }).strict(),
});
export const UserReactivated = defineEvent({
  type: 'UserReactivated', version: 1, category: 'User', description: 'A suspended user was reactivated.',
  schema: z.object({ userId: UserId }).strict(),
});

export type UserEvent =
  | { type: 'UserCreated'; data: z.infer<typeof UserCreated> }
  | { type: 'UserRenamed'; data: z.infer<typeof UserRenamed> }
  | { type: 'UserSuspended'; data: z.infer<typeof UserSuspended> }
  | { type: 'UserReactivated'; data: z.infer<typeof UserReactivated> };
