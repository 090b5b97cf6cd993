import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../categories.ts';
import { ComponentId, Description, Name, ProjectId, Quotas, Reason, UserId } from '../ids.ts';

export const CreateProject = defineCommand({
  type: 'CreateProject', category: 'Project', description: 'Create a project owned by a user (the tenant itself).',
  schema: z.object({ projectId: ProjectId, ownerId: UserId, name: Name, description: Description.optional() }).strict(),
});
export const RenameProject = defineCommand({
  type: 'RenameProject', category: 'Project', description: 'Rename a project (its owner, or an operator).',
  schema: z.object({ projectId: ProjectId, name: Name }).strict(),
});
export const ArchiveProject = defineCommand({
  type: 'ArchiveProject', category: 'Project', description: 'Archive a project that holds no components (its owner, or an operator).',
  schema: z.object({ projectId: ProjectId, reason: Reason.optional() }).strict(),
});
export const SetProjectQuotas = defineCommand({
  type: 'SetProjectQuotas', category: 'Project', description: 'Replace a project\'s quotas; null is unlimited (its owner, or an operator).',
  schema: z.object({ projectId: ProjectId, quotas: Quotas }).strict(),
});
export const LinkComponent = defineCommand({
  type: 'LinkComponent', category: 'Project', description: 'Link a component (CContract) to the project (sent by the Components layer when a tenant requests a component).',
  schema: z.object({ projectId: ProjectId, componentId: ComponentId }).strict(),
});
export const UnlinkComponent = defineCommand({
  type: 'UnlinkComponent', category: 'Project', description: 'Unlink a component from the project (sent by the Components layer when a component is released).',
  schema: z.object({ projectId: ProjectId, componentId: ComponentId, reason: Reason.optional() }).strict(),
});

export type ProjectCommand =
  | { type: 'CreateProject'; data: z.infer<typeof CreateProject> }
  | { type: 'RenameProject'; data: z.infer<typeof RenameProject> }
  | { type: 'ArchiveProject'; data: z.infer<typeof ArchiveProject> }
  | { type: 'SetProjectQuotas'; data: z.infer<typeof SetProjectQuotas> }
  | { type: 'LinkComponent'; data: z.infer<typeof LinkComponent> }
  | { type: 'UnlinkComponent'; data: z.infer<typeof UnlinkComponent> };

export const projectCommandSchemas = { CreateProject, RenameProject, ArchiveProject, SetProjectQuotas, LinkComponent, UnlinkComponent } as const;
