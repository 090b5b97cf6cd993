/**
 * The Components layer's part of the API: component types (anyone reads, operators define), tenants' components
 * (request, power, resize, release), `Project.components`, `component(id)`, and the `componentChanged` subscription.
 *
 * Scoping as in the projects module: reads go through visibleComponent, which returns null for anything the caller
 * may not see, exactly as for ids that do not exist; writes go through ComponentsService, which answers another
 * tenant's component (or project) with the same COMPONENT_NOT_FOUND (PROJECT_NOT_FOUND) as one that does not exist.
 * Reads come from the CRegister (projections/cregister.ts).
 */
import { idOf } from '../../../schema/envelope.ts';
import '../../../layers/components/index.ts';
import { ComponentsService } from '../../../layers/components/service.ts';
import type { ComponentTypeState } from '../../../layers/components/type/decider.ts';
import { CRegisterReadModel, type ComponentRow } from '../../../projections/cregister-read.ts';
import { cregisterProjection } from '../../../projections/cregister.ts';
import { ProjectsReadModel } from '../../../projections/projects-read.ts';
import type { CRegisterRead, ProjectsRead } from '../../../projections/read-ports.ts';
import { redisReadModelsOf } from '../../../projections/redis/readers.ts';
import { requireOperator, requirePrincipal, requireTenant } from '../access.ts';
import type { ApiContext } from '../context.ts';
import { ClientError, mutation } from '../errors.ts';
import { defineModule, perLedger } from '../module.ts';
import { connection, pageArgs, type PageArgs } from '../relay.ts';
import { visibleProject } from './projects.ts';

const service = perLedger((ledger) => new ComponentsService(ledger));
// the distributed profile reads the shared registers from Redis (projections/redis/readers.ts), else SQLite
const register = perLedger((ledger): CRegisterRead => redisReadModelsOf(ledger)?.cregister ?? new CRegisterReadModel(ledger.readModels));
const projects = perLedger((ledger): ProjectsRead => redisReadModelsOf(ledger)?.projects ?? new ProjectsReadModel(ledger.readModels));

export const COMPONENT_TOPIC = 'componentChanged';
const up = (v: string) => v.toUpperCase();
const lower = (v: string | null | undefined) => (typeof v === 'string' ? v.toLowerCase() : v);
const cap = (v: string) => v.charAt(0).toUpperCase() + v.slice(1).toLowerCase(); // FULL → Full
const sizeOut = (s: { cpuCores: number; ramMiB: number; diskGiB: number; cpuMHz?: number; diskIops?: number }) =>
  ({ cpuCores: s.cpuCores, ramMiB: s.ramMiB, diskGiB: s.diskGiB, cpuMHz: s.cpuMHz ?? 0, diskIops: s.diskIops ?? 0 });

export interface ComponentNode { __typename: 'Component'; id: string; row: ComponentRow }

/** The component as the caller may see it: operators any; a tenant its own, or those of projects it is a member of. */
export async function visibleComponent(ctx: ApiContext, componentId: string): Promise<ComponentNode | null> {
  const p = requirePrincipal(ctx);
  const row = await register(ctx.ledger).component(componentId);
  if (!row) return null;
  if (p.kind === 'tenant' && row.tenantId !== p.userId && !(row.projectId && (await projects(ctx.ledger).isMember(p.userId, row.projectId)))) return null;
  return { __typename: 'Component', id: row.componentId, row };
}
const node = (row: ComponentRow): ComponentNode => ({ __typename: 'Component', id: row.componentId, row });

/** A type as `ctx`'s caller may see it: a Flat pool's usage sums every tenant's instances, so only operators see it. */
function typeOut(t: ComponentTypeState, ctx: ApiContext) {
  const operator = requirePrincipal(ctx).kind === 'operator';
  const d = t.definition!;
  return {
    name: d.name, version: t.version, description: d.description, distribution: up(d.distribution), access: d.access.map(up), defaultAccess: up(d.defaultAccess),
    ha: d.ha, maxReplicas: d.maxReplicas, singleRunning: d.singleRunning, hostTypes: d.hostTypes,
    pool: d.pool.kind === 'resources' ? 'resources' : `component:${d.pool.type}`,
    sizes: { normal: sizeOut(d.sizes.normal), standard: sizeOut(d.sizes.standard), enhanced: sizeOut(d.sizes.enhanced) },
    retired: t.status === 'retired',
    flatPool: t.pool ? { componentId: t.pool.componentId, size: sizeOut(t.pool.size), used: operator ? sizeOut(t.used) : null, replicas: t.pool.replicas, access: up(t.pool.access) } : null,
  };
}

const settleAndLoad = async (ctx: ApiContext, position: number, id: string) => {
  await ctx.settle(position);
  return { component: await visibleComponent(ctx, id) };
};

/** GraphQL enums → service input (lower-case actions and templates, capitalised access). */
function requestInput(i: Record<string, any>) {
  const { access, template, ...rest } = i;
  return { ...rest, ...(access && { access: cap(access) }), ...(template && { template: lower(template) }) };
}
const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));

export const module = defineModule({
  name: 'components',
  schema: ['components.graphql'],
  projections: [cregisterProjection],
  nodeTypes: [{ prefix: 'c', typename: 'Component', load: (id, ctx) => visibleComponent(ctx, id) }],
  changeFeeds: [{
    name: 'componentChanged',
    filter: { categories: ['CContract'] },
    messages: (e) => [{
      topic: COMPONENT_TOPIC,
      payload: { componentId: idOf(e.streamId), projectId: (e.data as { projectId?: string }).projectId ?? null, eventType: e.type, occurredAt: e.metadata.occurredAt, revision: e.revision },
    }],
  }],
  resolvers: {
    Query: {
      componentTypes: async (_r: unknown, _a: unknown, ctx: ApiContext) => {
        requirePrincipal(ctx);
        return (await register(ctx.ledger).types()).filter((t) => t.definition).map((t) => typeOut(t, ctx));
      },
      component: (_r: unknown, { id }: { id: string }, ctx: ApiContext) => visibleComponent(ctx, id),
      components: async (_r: unknown, args: PageArgs, ctx: ApiContext) => {
        requireOperator(ctx, 'components');
        const read = register(ctx.ledger);
        const { first, after } = pageArgs(ctx.cursors, 'components', args);
        return connection(ctx.cursors, 'components', await read.components(after, first), { after, sortKey: (r) => r.seq, node, totalCount: () => read.count() });
      },
    },
    Project: {
      components: async (project: { id: string }, args: PageArgs & { includeReleased?: boolean | null }, ctx: ApiContext) => {
        const read = register(ctx.ledger);
        const list = args.includeReleased ? 'Project.components+released' : 'Project.components';
        const { first, after } = pageArgs(ctx.cursors, list, args);
        const all = args.includeReleased === true;
        return connection(ctx.cursors, list, await read.componentsOf(project.id, after, first, all), { after, sortKey: (r) => r.seq, node, totalCount: () => read.countOf(project.id, all) });
      },
    },
    Component: {
      type: (c: ComponentNode) => c.row.typeName,
      state: (c: ComponentNode) => up(c.row.status),
      power: (c: ComponentNode) => up(c.row.power),
      project: (c: ComponentNode, _a: unknown, ctx: ApiContext) => (c.row.projectId ? visibleProject(ctx, c.row.projectId) : null),
      size: (c: ComponentNode) => sizeOut(c.row.size),
      template: (c: ComponentNode) => (c.row.sizeName ? up(c.row.sizeName) : null),
      access: (c: ComponentNode) => up(c.row.access),
      regionId: (c: ComponentNode) => c.row.regionId,
      zoneId: (c: ComponentNode) => c.row.zoneId,
      replicaCount: (c: ComponentNode) => c.row.replicas,
      writers: (c: ComponentNode) => c.row.writers,
      replicas: async (c: ComponentNode, _a: unknown, ctx: ApiContext) => {
        const read = register(ctx.ledger);
        // a Flat instance lives in its type's pool: its replicas are the pool's
        const rows = await read.replicas(c.row.flatPool ?? c.row.componentId);
        return rows.map((r) => ({
          index: r.replica, epoch: r.epoch, state: up(r.state), host: r.hostId, zone: r.zoneId, region: r.regionId, area: r.area,
          notBefore: r.notBefore, lastError: r.lastError,
        }));
      },
      estimated: (c: ComponentNode) => sizeOut(c.row.state.estimated),
      actual: (c: ComponentNode) => (c.row.state.usage ? sizeOut(c.row.state.usage.usage) : null),
      degradedReason: (c: ComponentNode) => (c.row.status === 'degraded' ? c.row.deferred?.message ?? 'a replica is being replaced' : null),
      lastDecision: (c: ComponentNode) => {
        const d = c.row.state.lastDecision;
        if (!d) return null;
        return { policy: d.policy, candidates: d.candidates, filtered: Object.entries(d.filtered).map(([reason, count]) => ({ reason, count })), top: d.top.map((t) => ({ replica: t.replica, host: t.hostId, score: t.score })), why: d.why, scheduler: d.schedulerId, decidedAt: d.decidedAt };
      },
      createdAt: (c: ComponentNode) => c.row.createdAt,
      updatedAt: (c: ComponentNode) => c.row.updatedAt,
    },
    ComponentChange: {
      component: (change: { componentId: string }, _a: unknown, ctx: ApiContext) => visibleComponent(ctx, change.componentId),
    },
    Mutation: {
      componentRequest: mutation<Record<string, any>>(async (input, ctx) => {
        const p = requireTenant(ctx, 'componentRequest');
        const out = await service(ctx.ledger).request(p.actor, defined(requestInput(input)), { correlationId: ctx.correlationId });
        return settleAndLoad(ctx, out.position, out.id);
      }),
      componentPower: mutation<{ componentId: string; action: string }>(async (input, ctx) => {
        const p = requirePrincipal(ctx);
        const out = await service(ctx.ledger).power(p.actor, { componentId: input.componentId, action: lower(input.action) }, { correlationId: ctx.correlationId });
        return settleAndLoad(ctx, out.position, out.id);
      }),
      componentResize: mutation<Record<string, any>>(async (input, ctx) => {
        const p = requirePrincipal(ctx);
        const out = await service(ctx.ledger).resize(p.actor, defined(requestInput(input)), { correlationId: ctx.correlationId });
        return settleAndLoad(ctx, out.position, out.id);
      }),
      componentRelease: mutation<Record<string, any>>(async (input, ctx) => {
        const p = requirePrincipal(ctx);
        const out = await service(ctx.ledger).release(p.actor, defined(input), { correlationId: ctx.correlationId });
        return settleAndLoad(ctx, out.position, out.id);
      }),
      componentTypeDefine: mutation<Record<string, any>>(async (input, ctx) => {
        const p = requireOperator(ctx, 'componentTypeDefine');
        const i = input;
        const definition = defined({
          name: i.name, description: i.description, distribution: cap(i.distribution), access: (i.access ?? []).map(cap), defaultAccess: i.defaultAccess && cap(i.defaultAccess),
          ha: { writers: i.writers, replicas: i.replicas }, maxReplicas: i.maxReplicas, singleRunning: i.singleRunning ?? false, hostTypes: i.hostTypes,
          pool: i.poolType ? { kind: 'component', type: i.poolType } : { kind: 'resources' },
          sizes: i.sizes && { normal: defined(i.sizes.normal), standard: defined(i.sizes.standard), enhanced: defined(i.sizes.enhanced) },
          ...(i.flatPoolSize && { flat: { poolSize: defined(i.flatPoolSize) } }),
        });
        const svc = service(ctx.ledger);
        const out = await svc.defineType(p.actor, definition, { correlationId: ctx.correlationId });
        if (definition.distribution === 'Flat' && !(await svc.type(String(i.name))).pool) await svc.allocateFlatPool(p.actor, String(i.name), {}, { correlationId: ctx.correlationId });
        await ctx.settle(Math.max(out.position, await ctx.ledger.store.headPosition()));
        const t = await register(ctx.ledger).type(String(i.name));
        return { componentType: t && t.definition ? typeOut(t, ctx) : null };
      }),
    },
    Subscription: {
      componentChanged: {
        subscribe: async (_r: unknown, { projectId }: { projectId: string }, ctx: ApiContext) => {
          requirePrincipal(ctx);
          if (!(await visibleProject(ctx, projectId))) throw new ClientError('NOT_FOUND', `project ${projectId} does not exist`);
          const source = await ctx.pubsub.subscribe(COMPONENT_TOPIC);
          const read = register(ctx.ledger);
          const known = new Map<string, string | null>(); // a component's project never changes
          const projectOf = async (componentId: string, depth = 0): Promise<string | null> => {
            if (known.has(componentId)) return known.get(componentId)!;
            const row = await read.component(componentId);
            if (!row) return null;
            const p = row.projectId ?? (row.parentId && depth < 3 ? await projectOf(row.parentId, depth + 1) : null);
            if (known.size > 10_000) known.clear();
            known.set(componentId, p);
            return p;
          };
          return (async function* filtered() {
            for await (const payload of source as AsyncIterable<{ componentChanged: { componentId: string; projectId: string | null } } | { componentId: string; projectId: string | null }>) {
              const change = 'componentChanged' in payload ? payload.componentChanged : payload;
              if ((change.projectId ?? await projectOf(change.componentId).catch(() => null)) === projectId) yield { componentChanged: change };
            }
          })();
        },
        resolve: (payload: { componentChanged: unknown }) => payload.componentChanged,
      },
    },
  } as any,
});
