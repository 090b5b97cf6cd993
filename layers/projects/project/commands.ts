import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../categories.ts';
import { ProjectArchived, ProjectComponentLinked, ProjectComponentUnlinked, ProjectCreated, ProjectQuotasSet, ProjectRenamed } from './events.ts';

// Each command carries the data of the event it leads to (less what the decider adds), so the field lists are the
// events': one definition of a project's shapes, and the stored (versioned) contract is the one that leads.

export const CreateProject = defineCommand({
  type: 'CreateProject', category: 'Project', description: 'Create a project owned by a user (the tenant itself).',
  schema: ProjectCreated,
});
export const RenameProject = defineCommand({
  type: 'RenameProject', category: 'Project', description: 'Rename a project (its owner, or an operator).',
  schema: ProjectRenamed.omit({ previousName: true }),
});
export const ArchiveProject = defineCommand({
  type: 'ArchiveProject', category: 'Project', description: 'Archive a project that holds no components (its owner, or an operator).',
  schema: ProjectArchived,
});
export const SetProjectQuotas = defineCommand({
  type: 'SetProjectQuotas', category: 'Project', description: 'Replace a project\'s quotas; null is unlimited (its owner, or an operator).',
  schema: ProjectQuotasSet.omit({ previous: true }),
});
export const LinkComponent = defineCommand({
  type: 'LinkComponent', category: 'Project', description: 'Link a component (CContract) to the project (sent by the Components layer when a tenant requests a component).',
  schema: ProjectComponentLinked,
});
export const UnlinkComponent = defineCommand({
  type: 'UnlinkComponent', category: 'Project', description: 'Unlink a component from the project (sent by the Components layer when a component is released).',
  schema: ProjectComponentUnlinked,
});

export type ProjectCommand =
  | { type: 'CreateProject'; data: z.infer<typeof CreateProject> }
  | { type: 'RenameProject'; data: z.infer<typeof RenameProject> }
  | { type: 'ArchiveProject'; data: z.infer<typeof ArchiveProject> }
  | { type: 'SetProjectQuotas'; data: z.infer<typeof SetProjectQuotas> }
  | { type: 'LinkComponent'; data: z.infer<typeof LinkComponent> }
  | { type: 'UnlinkComponent'; data: z.infer<typeof UnlinkComponent> };

export const projectCommandSchemas = { CreateProject, RenameProject, ArchiveProject, SetProjectQuotas, LinkComponent, UnlinkComponent } as const;
