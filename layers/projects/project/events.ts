import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../categories.ts';
import { ComponentId, Description, Name, ProjectId, Quotas, Reason, UserId } from '../ids.ts';

export const ProjectCreated = defineEvent({
  type: 'ProjectCreated', version: 1, category: 'Project', description: 'A user created a project; the user is its owner.',
  schema: z.object({ projectId: ProjectId, ownerId: UserId, name: Name, description: Description.optional() }).strict(),
});
export const ProjectRenamed = defineEvent({
  type: 'ProjectRenamed', version: 1, category: 'Project', description: 'A project got a new name.',
  schema: z.object({ projectId: ProjectId, name: Name, previousName: Name }).strict(),
});
export const ProjectArchived = defineEvent({
  type: 'ProjectArchived', version: 1, category: 'Project', description: 'A project without components was archived: read-only from now on.',
  schema: z.object({ projectId: ProjectId, reason: Reason.optional() }).strict(),
});
export const ProjectQuotasSet = defineEvent({
  type: 'ProjectQuotasSet', version: 1, category: 'Project',
  description: 'A project\'s quotas were replaced (null: unlimited). `previous` holds the quotas before.',
  schema: z.object({ projectId: ProjectId, quotas: Quotas, previous: Quotas }).strict(),
});
export const ProjectComponentLinked = defineEvent({
  type: 'ProjectComponentLinked', version: 1, category: 'Project',
  description: 'A component (CContract of the Components layer) was linked to the project: its usage counts for the project from now on.',
  schema: z.object({ projectId: ProjectId, componentId: ComponentId }).strict(),
});
export const ProjectComponentUnlinked = defineEvent({
  type: 'ProjectComponentUnlinked', version: 1, category: 'Project',
  description: 'A component was unlinked from the project (released, or moved away).',
  schema: z.object({ projectId: ProjectId, componentId: ComponentId, reason: Reason.optional() }).strict(),
});

export type ProjectEvent =
  | { type: 'ProjectCreated'; data: z.infer<typeof ProjectCreated> }
  | { type: 'ProjectRenamed'; data: z.infer<typeof ProjectRenamed> }
  | { type: 'ProjectArchived'; data: z.infer<typeof ProjectArchived> }
  | { type: 'ProjectQuotasSet'; data: z.infer<typeof ProjectQuotasSet> }
  | { type: 'ProjectComponentLinked'; data: z.infer<typeof ProjectComponentLinked> }
  | { type: 'ProjectComponentUnlinked'; data: z.infer<typeof ProjectComponentUnlinked> };

export const PROJECT_EVENT_TYPES = ['ProjectCreated', 'ProjectRenamed', 'ProjectArchived', 'ProjectQuotasSet', 'ProjectComponentLinked', 'ProjectComponentUnlinked'] as const;
