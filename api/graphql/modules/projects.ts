/**
 * The Projects layer's part of the API: users (operators manage them), projects (their owners manage them),
 * `viewer`, and the `projectChanged` subscription.
 *
 * Scoping: reads go through visibleUser / visibleProject, which return null for anything the caller may not see,
 * exactly as for ids that do not exist; writes go through ProjectsService, which answers another tenant's project
 * with the same PROJECT_NOT_FOUND (same text) as a project that does not exist.
 */
import { idOf } from '../../../schema/envelope.ts';
import { ProjectsService } from '../../../layers/projects/service.ts';
import { projectsProjection } from '../../../projections/projects.ts';
import { ProjectsReadModel, type ProjectRow, type UserRow } from '../../../projections/projects-read.ts';
import type { ProjectsRead } from '../../../projections/read-ports.ts';
import { redisReadModelsOf } from '../../../projections/redis/readers.ts';
import { requireOperator, requirePrincipal, requireTenant } from '../access.ts';
import type { ApiContext } from '../context.ts';
import { ClientError, mutation } from '../errors.ts';
import { defineModule, perLedger } from '../module.ts';
import { connection, pageArgs, type PageArgs } from '../relay.ts';

const service = perLedger((ledger) => new ProjectsService(ledger));
// the distributed profile reads the shared registers from Redis (projections/redis/readers.ts), else SQLite
const readModel = perLedger((ledger): ProjectsRead => redisReadModelsOf(ledger)?.projects ?? new ProjectsReadModel(ledger.readModels));

export interface UserNode { __typename: 'User'; id: string; name: string; status: string; createdAt: string; updatedAt: string }
export interface ProjectNode {
  __typename: 'Project'; id: string; ownerId: string; name: string; description: string | null; status: string;
  quotas: ProjectRow['quotas']; createdAt: string; updatedAt: string;
}

const userNode = (r: UserRow): UserNode => ({
  __typename: 'User', id: r.userId, name: r.name, status: r.status.toUpperCase(), createdAt: r.createdAt, updatedAt: r.updatedAt,
});
const projectNode = (r: ProjectRow): ProjectNode => ({
  __typename: 'Project', id: r.projectId, ownerId: r.ownerId, name: r.name, description: r.description,
  status: r.status.toUpperCase(), quotas: r.quotas, createdAt: r.createdAt, updatedAt: r.updatedAt,
});

/** The user as the caller may see it: operators any, a tenant only itself. */
export async function visibleUser(ctx: ApiContext, userId: string): Promise<UserNode | null> {
  const p = requirePrincipal(ctx);
  if (p.kind === 'tenant' && p.userId !== userId) return null;
  const row = await readModel(ctx.ledger).user(userId);
  return row ? userNode(row) : null;
}

/** The project as the caller may see it: operators any, a tenant only the projects it is a member of. */
export async function visibleProject(ctx: ApiContext, projectId: string): Promise<ProjectNode | null> {
  const p = requirePrincipal(ctx);
  const read = readModel(ctx.ledger);
  if (p.kind === 'tenant' && !(await read.isMember(p.userId, projectId))) return null;
  const row = await read.project(projectId);
  return row ? projectNode(row) : null;
}

const meta = (ctx: ApiContext, idempotencyKey?: unknown) => ({
  correlationId: ctx.correlationId,
  ...(typeof idempotencyKey === 'string' && { idempotencyKey }),
});
/** Drops nulls GraphQL passes for omitted optional fields (services treat absent and null alike for these). */
const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));

export const PROJECT_TOPIC = (projectId: string) => `projectChanged:${projectId}`;

export const module = defineModule({
  name: 'projects',
  schema: ['projects.graphql'],
  projections: [projectsProjection],
  // Every field below reads only the projects read model (and the caller's token, which is part of the cache key).
  cacheable: {
    fields: ['Query.viewer', 'Query.user', 'Query.users', 'Query.project', 'User.projects', 'Project.owner'],
    version: (ledger) => readModel(ledger).version(),
  },
  nodeTypes: [
    { prefix: 'u', typename: 'User', load: (id, ctx) => visibleUser(ctx, id) },
    { prefix: 'p', typename: 'Project', load: (id, ctx) => visibleProject(ctx, id) },
  ],
  changeFeeds: [{
    name: 'projectChanged',
    filter: { categories: ['Project'] },
    messages: (e) => [{
      topic: PROJECT_TOPIC(idOf(e.streamId)),
      payload: { projectId: idOf(e.streamId), eventType: e.type, occurredAt: e.metadata.occurredAt, revision: e.revision },
    }],
  }],
  resolvers: {
    Query: {
      viewer: (_r: unknown, _a: unknown, ctx: ApiContext) => {
        const p = requirePrincipal(ctx);
        return p.kind === 'tenant' ? visibleUser(ctx, p.userId) : null;
      },
      user: (_r: unknown, { id }: { id: string }, ctx: ApiContext) => visibleUser(ctx, id),
      users: async (_r: unknown, args: PageArgs, ctx: ApiContext) => {
        requireOperator(ctx, 'users');
        const read = readModel(ctx.ledger);
        const { first, after } = pageArgs(ctx.cursors, 'users', args);
        return connection(ctx.cursors, 'users', await read.users(after, first), {
          after, sortKey: (r) => r.seq, node: userNode, totalCount: () => read.userCount(),
        });
      },
      project: (_r: unknown, { id }: { id: string }, ctx: ApiContext) => visibleProject(ctx, id),
    },
    User: {
      projects: async (user: UserNode, args: PageArgs & { includeArchived?: boolean | null }, ctx: ApiContext) => {
        const read = readModel(ctx.ledger);
        const list = args.includeArchived ? 'User.projects+archived' : 'User.projects';
        const { first, after } = pageArgs(ctx.cursors, list, args);
        const includeArchived = args.includeArchived === true;
        return connection(ctx.cursors, list, await read.projectsOf(user.id, after, first, includeArchived), {
          after, sortKey: (r) => r.seq, node: projectNode, totalCount: () => read.projectCountOf(user.id, includeArchived),
        });
      },
    },
    Project: {
      owner: async (project: ProjectNode, _a: unknown, ctx: ApiContext) => {
        const row = await readModel(ctx.ledger).user(project.ownerId);
        // the read model applies UserCreated before any ProjectCreated of that user, so the owner is always there
        return row ? userNode(row) : { __typename: 'User', id: project.ownerId, name: '', status: 'ACTIVE', createdAt: project.createdAt, updatedAt: project.createdAt };
      },
    },
    ProjectChange: {
      project: (change: { projectId: string }, _a: unknown, ctx: ApiContext) => visibleProject(ctx, change.projectId),
    },
    Mutation: {
      userCreate: mutation<{ name: string; idempotencyKey?: string }>(async (input, ctx) => {
        const p = requireOperator(ctx, 'userCreate');
        const { idempotencyKey, ...rest } = input;
        const out = await service(ctx.ledger).createUser(p.actor, defined(rest), meta(ctx, idempotencyKey));
        await ctx.settle(out.position);
        return { user: await visibleUser(ctx, out.id) };
      }),
      userRename: mutation(async (input, ctx) => {
        const p = requireOperator(ctx, 'userRename');
        const out = await service(ctx.ledger).renameUser(p.actor, defined(input), meta(ctx));
        await ctx.settle(out.position);
        return { user: await visibleUser(ctx, out.id) };
      }),
      userSuspend: mutation(async (input, ctx) => {
        const p = requireOperator(ctx, 'userSuspend');
        const out = await service(ctx.ledger).suspendUser(p.actor, defined(input), meta(ctx));
        await ctx.settle(out.position);
        return { user: await visibleUser(ctx, out.id) };
      }),
      userReactivate: mutation(async (input, ctx) => {
        const p = requireOperator(ctx, 'userReactivate');
        const out = await service(ctx.ledger).reactivateUser(p.actor, defined(input), meta(ctx));
        await ctx.settle(out.position);
        return { user: await visibleUser(ctx, out.id) };
      }),
      projectCreate: mutation<{ name: string; description?: string; idempotencyKey?: string }>(async (input, ctx) => {
        const p = requireTenant(ctx, 'projectCreate');
        const { idempotencyKey, ...rest } = input;
        const out = await service(ctx.ledger).createProject(p.actor, defined(rest), meta(ctx, idempotencyKey));
        await ctx.settle(out.position);
        return { project: await visibleProject(ctx, out.id) };
      }),
      projectRename: mutation(async (input, ctx) => {
        const p = requirePrincipal(ctx);
        const out = await service(ctx.ledger).renameProject(p.actor, defined(input), meta(ctx));
        await ctx.settle(out.position);
        return { project: await visibleProject(ctx, out.id) };
      }),
      projectArchive: mutation(async (input, ctx) => {
        const p = requirePrincipal(ctx);
        const out = await service(ctx.ledger).archiveProject(p.actor, defined(input), meta(ctx));
        await ctx.settle(out.position);
        return { project: await visibleProject(ctx, out.id) };
      }),
      projectSetQuotas: mutation<{ projectId: string; quotas: Record<string, unknown> }>(async (input, ctx) => {
        const p = requirePrincipal(ctx);
        const out = await service(ctx.ledger).setProjectQuotas(p.actor, input, meta(ctx));
        await ctx.settle(out.position);
        return { project: await visibleProject(ctx, out.id) };
      }),
    },
    Subscription: {
      projectChanged: {
        subscribe: async (_r: unknown, { projectId }: { projectId: string }, ctx: ApiContext) => {
          requirePrincipal(ctx);
          if (!(await visibleProject(ctx, projectId))) throw new ClientError('NOT_FOUND', `project ${projectId} does not exist`);
          return ctx.pubsub.subscribe(PROJECT_TOPIC(projectId));
        },
        resolve: (payload: unknown) => payload,
      },
    },
  } as any,
});
