/**
 * The Resources layer's part of the API: the operator's view and control of the exact inventory (regions, zones,
 * hosts, networks, images), the slices cut from it, RContracts and moves. Reads come from the RRegister
 * (projections/rregister.ts); writes go through ResourcesService (validation, ids, preconditions, names); a Host
 * `asOf` a time is folded from its stream.
 *
 * Operators only. A tenant token gets FORBIDDEN for every list and mutation (as for `users`), and null for every
 * object by id (`host(id)`, `node(id)`, …), exactly as for an id that does not exist.
 */
import { DomainError } from '../../../core/decider.ts';
import { RESOURCE_KEYS, type Resources } from '../../../layers/resources/common/quantities.ts';
import { consumption, type XNodeKind as Kind, type XNodeState as State } from '../../../layers/resources/host/consumption.ts';
import { freeOf, hostDecider, hostStatus, type HostState } from '../../../layers/resources/host/decider.ts';
import { InvalidInputError, ResourcesService, type HostAction, type XNodeAction } from '../../../layers/resources/service.ts';
import { RRegisterReadModel, type HostFilter, type HostRow, type ImageRow, type MoveRow, type NetworkRow, type RContractItemRow, type RContractRow, type RegionRow, type XImageRow, type XNetworkRow, type XNodeRow, type ZoneRow } from '../../../projections/rregister-read.ts';
import { rregisterProjection } from '../../../projections/rregister.ts';
import type { MaybePromise, RRegisterRead } from '../../../projections/read-ports.ts';
import { redisReadModelsOf } from '../../../projections/redis/readers.ts';
import { requireOperator, requirePrincipal } from '../access.ts';
import type { ApiContext } from '../context.ts';
import { mutation } from '../errors.ts';
import { defineModule, perLedger } from '../module.ts';
import { connection, pageArgs, type PageArgs } from '../relay.ts';

const service = perLedger((ledger) => new ResourcesService(ledger));
// the distributed profile reads the shared registers from Redis (projections/redis/readers.ts), else SQLite
const register = perLedger((ledger): RRegisterRead => redisReadModelsOf(ledger)?.rregister ?? new RRegisterReadModel(ledger.readModels));
const read = (ctx: ApiContext) => register(ctx.ledger);

/** Object reads: operators see everything; anyone else gets null, as for an id that does not exist. */
const isOperator = (ctx: ApiContext): boolean => requirePrincipal(ctx).kind === 'operator';

const up = (v: string) => v.toUpperCase();
const upKind = (k: string) => k.toUpperCase(); // VNode → VNODE
const phaseEnum = (p: string) => p.toUpperCase().replace(/-/g, '_');

// ── nodes ──────────────────────────────────────────────────────────────────────────────────────────────────────

type Obj = Record<string, unknown> & { __typename: string; id: string };

const regionNode = (r: RegionRow): Obj => ({ __typename: 'Region', id: r.regionId, name: r.name, description: r.description, status: up(r.status), createdAt: r.createdAt, updatedAt: r.updatedAt });
const zoneNode = (z: ZoneRow): Obj => ({ __typename: 'Zone', id: z.zoneId, regionId: z.regionId, name: z.name, status: up(z.status), createdAt: z.createdAt, updatedAt: z.updatedAt });
const hostNode = (h: HostRow): Obj => ({
  __typename: 'Host', id: h.hostId, name: h.name, type: h.type, status: up(h.status), area: h.area, zoneId: h.zoneId, regionId: h.regionId,
  resources: h.resources, reserved: h.reserved, allocationRatios: h.allocationRatios, capacity: h.capacity, used: h.used, free: h.free,
  reachable: h.reachable, statusReason: h.statusReason, lastSeenAt: h.lastSeenAt, liveXNodes: h.liveXNodes, asOf: null, revision: null,
  createdAt: h.createdAt, updatedAt: h.updatedAt,
});
const xnodeNode = (x: XNodeRow): Obj => ({
  __typename: 'XNode', id: x.xnodeId, kind: upKind(x.kind), state: up(x.state), hostId: x.hostId, zoneId: x.zoneId, regionId: x.regionId,
  size: x.size, consumes: consumption(x.kind as Kind, x.size, x.state as State), generation: x.generation, contractId: x.contractId,
  imageId: x.imageId, ha: x.ha, observed: x.observed === null ? null : { state: up(x.observed), generation: x.observedGeneration, observedAt: x.observedAt },
  drift: x.drift, copying: x.copyId !== null, stateReason: x.stateReason, createdAt: x.createdAt, updatedAt: x.updatedAt,
});
const networkNode = (n: NetworkRow): Obj => ({ __typename: 'Network', id: n.networkId, ...n, status: up(n.status) });
const xnetworkNode = (x: XNetworkRow): Obj => ({ __typename: 'XNetwork', id: x.xnetworkId, ...x, status: up(x.status) });
const imageNode = (i: ImageRow): Obj => ({ __typename: 'Image', id: i.imageId, ...i, kind: up(i.kind), format: up(i.format), arch: up(i.arch), status: up(i.status) });
const ximageNode = (x: XImageRow): Obj => ({ __typename: 'XImage', id: x.ximageId, ...x, status: up(x.status) });
const rcontractNode = (c: RContractRow): Obj => ({
  __typename: 'RContract', id: c.contractId, status: up(c.status), tenantId: c.tenantId, holderKind: c.holder?.kind ?? null, holderId: c.holder?.id ?? null,
  compensated: c.compensated, reserved: c.reserved, failure: c.failure, createdAt: c.createdAt, updatedAt: c.updatedAt,
});
const moveNode = (m: MoveRow): Obj => ({
  __typename: 'Move', id: m.moveId, mode: up(m.mode), phase: phaseEnum(m.phase), finished: ['done', 'rolled-back', 'failed'].includes(m.phase),
  sourceRef: m.source, targetRef: m.target, contractId: m.contractId, failure: m.failure, warning: m.warning, createdAt: m.createdAt, updatedAt: m.updatedAt,
});

/** A Host as the ledger had recorded it: folded from its stream up to `asOf` (recordedAt ≤ asOf). */
async function hostAsOf(ctx: ApiContext, hostId: string, asOf: string): Promise<Obj | null> {
  const events = await ctx.ledger.store.readStream(`Host-${hostId}`);
  let state: HostState = hostDecider.initialState();
  let revision = -1;
  let createdAt = '';
  let updatedAt = '';
  const until = Date.parse(asOf);
  for (const e of events) {
    if (Date.parse(e.metadata.recordedAt) > until) break;
    state = hostDecider.evolve(state, e as any);
    revision = e.revision;
    if (!createdAt) createdAt = e.metadata.occurredAt;
    updatedAt = e.metadata.occurredAt;
  }
  if (!state.registered) return null;
  const slices = Object.values(state.slices);
  return {
    __typename: 'Host', id: state.hostId, name: state.name, type: state.type, status: up(hostStatus(state)), area: state.area,
    zoneId: state.zoneId, regionId: state.regionId, resources: state.resources, reserved: state.reserved, allocationRatios: state.allocationRatios,
    capacity: state.capacity, used: state.used, free: freeOf(state), reachable: state.reachable, statusReason: null, lastSeenAt: null,
    liveXNodes: slices.filter((s) => s.state !== 'released').length, asOf, revision, createdAt, updatedAt,
    // the slices as they were, for Host.xnodes
    historicalXNodes: slices.map((s, i): Obj => ({
      __typename: 'XNode', id: s.xnodeId, seq: i + 1, kind: upKind(s.kind), state: up(s.state), hostId: state.hostId, zoneId: state.zoneId, regionId: state.regionId,
      size: s.size, consumes: consumption(s.kind, s.size, s.state), generation: s.generation, contractId: s.contractId ?? null, imageId: s.imageId ?? null,
      ha: s.ha ?? null, observed: s.observed ? { state: up(s.observed.state), generation: s.observed.generation, observedAt: s.observed.observedAt } : null,
      drift: false, copying: s.copy !== undefined, stateReason: null, createdAt, updatedAt,
    })),
  };
}

// ── inputs ─────────────────────────────────────────────────────────────────────────────────────────────────────

/** Drops nulls (GraphQL's "left out") from input objects, recursively. */
function compact(value: unknown): any {
  if (Array.isArray(value)) return value.map(compact);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, compact(v)]));
  return value;
}
const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);
const states = (list: unknown) => (Array.isArray(list) ? list.map((s) => String(s).toLowerCase()) : undefined);

/** Rewrites the field paths of a business error from the service's input names to the mutation's. */
function remapFields(error: unknown, map: (field: string[]) => string[]): unknown {
  if (error instanceof InvalidInputError) return new InvalidInputError(error.issues.map((i) => ({ field: map(i.field), message: i.message })));
  if (error instanceof DomainError && error.field) return new DomainError(error.code, error.message, map(error.field));
  return error;
}
const renameFirst = (from: string, to: string) => (f: string[]) => (f[0] === from ? [to, ...f.slice(1)] : f);

type Meta = { correlationId: string; idempotencyKey?: string };
const meta = (ctx: ApiContext, key?: unknown): Meta => ({ correlationId: ctx.correlationId, ...(typeof key === 'string' && { idempotencyKey: key }) });

/** An operator mutation: operator check, field names of the input in userErrors, read-your-writes. */
function operatorMutation(name: string, run: (input: Record<string, any>, ctx: ApiContext, actor: { kind: 'operator'; id: string }) => Promise<Record<string, unknown>>, map: (f: string[]) => string[] = (f) => f) {
  return mutation<Record<string, any>>(async (input, ctx) => {
    const p = requireOperator(ctx, name);
    try {
      return await run(compact(input), ctx, p.actor as { kind: 'operator'; id: string });
    } catch (error) {
      throw remapFields(error, map);
    }
  });
}

/** The host of a slice, from the register (the API addresses slices by their global id alone). */
async function hostOfXNode(ctx: ApiContext, xnodeId: string): Promise<string> {
  const x = await read(ctx).xnode(xnodeId);
  if (!x) throw new DomainError('XNODE_NOT_FOUND', `slice ${xnodeId} does not exist`, ['xnodeId']);
  return x.hostId;
}

/** Mutations that address a slice by its id alone: a refusal about its host names no input field. */
const hostIsNoField = (f: string[]) => (f[0] === 'hostId' ? [] : f);

const POWER: Record<string, XNodeAction> = { ON: 'PowerOnXNode', OFF: 'PowerOffXNode', HIBERNATE: 'HibernateXNode', ACTIVATE: 'ActivateXNode' };

function hostFilter(f: Record<string, any> | undefined | null): HostFilter {
  const c = compact(f ?? {});
  return {
    ...(c.regionId !== undefined && { regionId: c.regionId }), ...(c.zoneId !== undefined && { zoneId: c.zoneId }),
    ...(c.hostIds !== undefined && { hostIds: c.hostIds }), ...(c.type !== undefined && { type: c.type }),
    ...(c.status !== undefined && { status: states(c.status) }), ...(c.area !== undefined && { area: c.area }),
    ...(c.areaPrefix !== undefined && { areaPrefix: c.areaPrefix }), ...(c.minFree !== undefined && { minFree: c.minFree }),
  };
}

// ── the module ─────────────────────────────────────────────────────────────────────────────────────────────────

const listOf = async <Row extends { seq: number }>(ctx: ApiContext, list: string, args: PageArgs, page: (after: number, first: number) => MaybePromise<{ rows: Row[]; hasNextPage: boolean }>, node: (r: Row) => Obj, total: () => MaybePromise<number>) => {
  const { first, after } = pageArgs(ctx.cursors, list, args);
  return connection(ctx.cursors, list, await page(after, first), { after, sortKey: (r) => r.seq, node, totalCount: total });
};

const byId = <Row>(load: (ctx: ApiContext, id: string) => MaybePromise<Row | null>, node: (r: Row) => Obj) => async (ctx: ApiContext, id: string): Promise<Obj | null> => {
  if (!isOperator(ctx)) return null;
  const r = await load(ctx, id);
  return r ? node(r) : null;
};
const region = byId((ctx, id) => read(ctx).region(id), regionNode);
const zone = byId((ctx, id) => read(ctx).zone(id), zoneNode);
const host = byId((ctx, id) => read(ctx).host(id), hostNode);
const xnode = byId((ctx, id) => read(ctx).xnode(id), xnodeNode);
const network = byId((ctx, id) => read(ctx).network(id), networkNode);
const xnetwork = byId((ctx, id) => read(ctx).xnetwork(id), xnetworkNode);
const image = byId((ctx, id) => read(ctx).image(id), imageNode);
const ximage = byId((ctx, id) => read(ctx).ximage(id), ximageNode);
const rcontract = byId((ctx, id) => read(ctx).rcontract(id), rcontractNode);
const move = byId((ctx, id) => read(ctx).move(id), moveNode);

/** A parent that must be there (the register applies parents before children); null only for non-operators. */
const parent = (load: (ctx: ApiContext, id: string) => Promise<Obj | null>) => (ctx: ApiContext, id: string | null | undefined) => (id ? load(ctx, id) : null);

const capacityOf = (ctx: ApiContext, scope: { regionId?: string; zoneId?: string }) => read(ctx).capacity(scope);
const sameKeys = (r: Resources) => Object.fromEntries(RESOURCE_KEYS.map((k) => [k, r[k]]));

export const module = defineModule({
  name: 'resources',
  schema: ['resources.graphql'],
  projections: [rregisterProjection],
  nodeTypes: [
    { prefix: 'r', typename: 'Region', load: (id, ctx) => region(ctx, id) },
    { prefix: 'z', typename: 'Zone', load: (id, ctx) => zone(ctx, id) },
    { prefix: 'h', typename: 'Host', load: (id, ctx) => host(ctx, id) },
    { prefix: 'xn', typename: 'XNode', load: (id, ctx) => xnode(ctx, id) },
    { prefix: 'n', typename: 'Network', load: (id, ctx) => network(ctx, id) },
    { prefix: 'xnet', typename: 'XNetwork', load: (id, ctx) => xnetwork(ctx, id) },
    { prefix: 'i', typename: 'Image', load: (id, ctx) => image(ctx, id) },
    { prefix: 'xi', typename: 'XImage', load: (id, ctx) => ximage(ctx, id) },
    { prefix: 'rc', typename: 'RContract', load: (id, ctx) => rcontract(ctx, id) },
    { prefix: 'mv', typename: 'Move', load: (id, ctx) => move(ctx, id) },
  ],
  resolvers: {
    Query: {
      regions: (_r: unknown, args: PageArgs, ctx: ApiContext) => {
        requireOperator(ctx, 'regions');
        return listOf(ctx, 'regions', args, (a, f) => read(ctx).regions(a, f), regionNode, () => read(ctx).regionCount());
      },
      region: (_r: unknown, { id }: { id: string }, ctx: ApiContext) => region(ctx, id),
      zones: (_r: unknown, args: PageArgs & { regionId?: string | null }, ctx: ApiContext) => {
        requireOperator(ctx, 'zones');
        const filter = args.regionId ? { regionId: args.regionId } : {};
        return listOf(ctx, 'zones', args, (a, f) => read(ctx).zones(filter, a, f), zoneNode, () => read(ctx).zoneCount(filter));
      },
      zone: (_r: unknown, { id }: { id: string }, ctx: ApiContext) => zone(ctx, id),
      hosts: (_r: unknown, args: PageArgs & { filter?: Record<string, any> | null }, ctx: ApiContext) => {
        requireOperator(ctx, 'hosts');
        const filter = hostFilter(args.filter);
        return listOf(ctx, 'hosts', args, (a, f) => read(ctx).hosts(filter, a, f), hostNode, () => read(ctx).hostCount(filter));
      },
      host: async (_r: unknown, { id, asOf }: { id: string; asOf?: string | null }, ctx: ApiContext) => {
        if (!isOperator(ctx)) return null;
        if (!asOf) return host(ctx, id);
        if (!/^h_[A-Za-z0-9_]{1,60}$/.test(id)) return null;
        return hostAsOf(ctx, id, asOf);
      },
      xnodes: (_r: unknown, args: PageArgs & { filter?: Record<string, any> | null }, ctx: ApiContext) => {
        requireOperator(ctx, 'xnodes');
        const c = compact(args.filter ?? {});
        const filter = { ...c, ...(c.kind !== undefined && { kind: ({ VNODE: 'VNode', CNODE: 'CNode', BNODE: 'BNode' } as Record<string, string>)[c.kind] }), ...(c.state !== undefined && { state: states(c.state) }) };
        return listOf(ctx, 'xnodes', args, (a, f) => read(ctx).xnodes(filter, a, f), xnodeNode, () => read(ctx).xnodeCount(filter));
      },
      xnode: (_r: unknown, { id }: { id: string }, ctx: ApiContext) => xnode(ctx, id),
      networks: (_r: unknown, args: PageArgs & { regionId?: string | null; zoneId?: string | null }, ctx: ApiContext) => {
        requireOperator(ctx, 'networks');
        const filter = compact({ regionId: args.regionId, zoneId: args.zoneId });
        return listOf(ctx, 'networks', args, (a, f) => read(ctx).networks(filter, a, f), networkNode, () => read(ctx).networkCount(filter));
      },
      network: (_r: unknown, { id }: { id: string }, ctx: ApiContext) => network(ctx, id),
      images: (_r: unknown, args: PageArgs & { regionId?: string | null }, ctx: ApiContext) => {
        requireOperator(ctx, 'images');
        const filter = compact({ regionId: args.regionId });
        return listOf(ctx, 'images', args, (a, f) => read(ctx).images(filter, a, f), imageNode, () => read(ctx).imageCount(filter));
      },
      image: (_r: unknown, { id }: { id: string }, ctx: ApiContext) => image(ctx, id),
      rcontracts: (_r: unknown, args: PageArgs & { filter?: Record<string, any> | null }, ctx: ApiContext) => {
        requireOperator(ctx, 'rcontracts');
        const c = compact(args.filter ?? {});
        const filter = { ...(c.status !== undefined && { status: states(c.status) }), ...(c.tenantId !== undefined && { tenantId: c.tenantId }) };
        return listOf(ctx, 'rcontracts', args, (a, f) => read(ctx).rcontracts(filter, a, f), rcontractNode, () => read(ctx).rcontractCount(filter));
      },
      rcontract: (_r: unknown, { id }: { id: string }, ctx: ApiContext) => rcontract(ctx, id),
      move: (_r: unknown, { id }: { id: string }, ctx: ApiContext) => move(ctx, id),
      capacity: (_r: unknown, args: { regionId?: string | null; zoneId?: string | null }, ctx: ApiContext) => {
        requireOperator(ctx, 'capacity');
        return capacityOf(ctx, compact({ regionId: args.regionId, zoneId: args.zoneId }));
      },
    },

    Region: {
      zones: (r: Obj, args: PageArgs, ctx: ApiContext) =>
        listOf(ctx, 'Region.zones', args, (a, f) => read(ctx).zones({ regionId: r.id }, a, f), zoneNode, () => read(ctx).zoneCount({ regionId: r.id })),
      capacity: (r: Obj, _a: unknown, ctx: ApiContext) => capacityOf(ctx, { regionId: r.id }),
    },
    Zone: {
      region: (z: Obj, _a: unknown, ctx: ApiContext) => parent(region)(ctx, z.regionId as string),
      hosts: (z: Obj, args: PageArgs & { filter?: Record<string, any> | null }, ctx: ApiContext) => {
        const filter = { ...hostFilter(args.filter), zoneId: z.id };
        return listOf(ctx, 'Zone.hosts', args, (a, f) => read(ctx).hosts(filter, a, f), hostNode, () => read(ctx).hostCount(filter));
      },
      capacity: (z: Obj, _a: unknown, ctx: ApiContext) => capacityOf(ctx, { zoneId: z.id }),
    },
    Host: {
      zone: (h: Obj, _a: unknown, ctx: ApiContext) => parent(zone)(ctx, h.zoneId as string),
      region: (h: Obj, _a: unknown, ctx: ApiContext) => parent(region)(ctx, h.regionId as string),
      resources: (h: Obj) => sameKeys(h.resources as Resources),
      xnodes: (h: Obj, args: PageArgs & { state?: string[] | null }, ctx: ApiContext) => {
        const wanted = states(args.state ?? undefined);
        if (Array.isArray(h.historicalXNodes)) {
          const all = (h.historicalXNodes as (Obj & { seq: number })[]).filter((x) => (wanted ? wanted.includes(String(x.state).toLowerCase()) : x.state !== 'RELEASED'));
          return listOf(ctx, 'Host.xnodes@asOf', args, (a, f) => {
            const rows = all.filter((x) => x.seq > a);
            return { rows: rows.slice(0, f), hasNextPage: rows.length > f };
          }, (x) => x, () => all.length);
        }
        const filter = { hostId: h.id, ...(wanted && { state: wanted }) };
        return listOf(ctx, 'Host.xnodes', args, (a, f) => read(ctx).xnodes(filter, a, f), xnodeNode, () => read(ctx).xnodeCount(filter));
      },
    },
    XNode: {
      host: (x: Obj, _a: unknown, ctx: ApiContext) => parent(host)(ctx, x.hostId as string),
      zone: (x: Obj, _a: unknown, ctx: ApiContext) => parent(zone)(ctx, x.zoneId as string),
      region: (x: Obj, _a: unknown, ctx: ApiContext) => parent(region)(ctx, x.regionId as string),
      contract: (x: Obj, _a: unknown, ctx: ApiContext) => parent(rcontract)(ctx, x.contractId as string | null),
    },
    Network: {
      region: (n: Obj, _a: unknown, ctx: ApiContext) => parent(region)(ctx, n.regionId as string),
      zone: (n: Obj, _a: unknown, ctx: ApiContext) => parent(zone)(ctx, n.zoneId as string | null),
      xnetworks: async (n: Obj, _a: unknown, ctx: ApiContext) => (await read(ctx).xnetworksOf(n.id)).map(xnetworkNode),
    },
    XNetwork: {
      network: (x: Obj, _a: unknown, ctx: ApiContext) => parent(network)(ctx, x.networkId as string),
      contract: (x: Obj, _a: unknown, ctx: ApiContext) => parent(rcontract)(ctx, x.contractId as string | null),
    },
    Image: { region: (i: Obj, _a: unknown, ctx: ApiContext) => parent(region)(ctx, i.regionId as string) },
    XImage: {
      region: (x: Obj, _a: unknown, ctx: ApiContext) => parent(region)(ctx, x.regionId as string),
      image: (x: Obj, _a: unknown, ctx: ApiContext) => parent(image)(ctx, x.imageId as string | null),
      contract: (x: Obj, _a: unknown, ctx: ApiContext) => parent(rcontract)(ctx, x.contractId as string | null),
    },
    RContract: {
      items: async (c: Obj, _a: unknown, ctx: ApiContext) => (await read(ctx).rcontractItems(c.id)).map((i: RContractItemRow) => ({ ...i, kind: up(i.kind), status: up(i.status), contractId: c.id })),
    },
    RContractItem: {
      host: (i: RContractItemRow, _a: unknown, ctx: ApiContext) => parent(host)(ctx, i.hostId),
      network: (i: RContractItemRow, _a: unknown, ctx: ApiContext) => parent(network)(ctx, i.networkId),
      region: (i: RContractItemRow, _a: unknown, ctx: ApiContext) => parent(region)(ctx, i.regionId),
      xnode: (i: RContractItemRow, _a: unknown, ctx: ApiContext) => (i.kind.toLowerCase() === 'compute' ? xnode(ctx, i.sliceId) : null),
      xnetwork: (i: RContractItemRow, _a: unknown, ctx: ApiContext) => (i.kind.toLowerCase() === 'network' ? xnetwork(ctx, i.sliceId) : null),
      ximage: (i: RContractItemRow, _a: unknown, ctx: ApiContext) => (i.kind.toLowerCase() === 'image' ? ximage(ctx, i.sliceId) : null),
    },
    Move: {
      source: (m: Obj, _a: unknown, ctx: ApiContext) => xnode(ctx, (m.sourceRef as { xnodeId: string }).xnodeId),
      target: (m: Obj, _a: unknown, ctx: ApiContext) => xnode(ctx, (m.targetRef as { xnodeId: string }).xnodeId),
      sourceHost: (m: Obj, _a: unknown, ctx: ApiContext) => host(ctx, (m.sourceRef as { hostId: string }).hostId),
      targetHost: (m: Obj, _a: unknown, ctx: ApiContext) => host(ctx, (m.targetRef as { hostId: string }).hostId),
      contract: (m: Obj, _a: unknown, ctx: ApiContext) => parent(rcontract)(ctx, m.contractId as string | null),
    },

    Mutation: {
      regionRegister: operatorMutation('regionRegister', async ({ id, idempotencyKey, ...rest }, ctx, actor) => {
        const out = await service(ctx.ledger).registerRegion(actor, { ...rest, ...(id !== undefined && { regionId: id }) }, meta(ctx, idempotencyKey));
        await ctx.settle(out.position);
        return { region: await region(ctx, out.id) };
      }, renameFirst('regionId', 'id')),
      zoneRegister: operatorMutation('zoneRegister', async ({ id, idempotencyKey, ...rest }, ctx, actor) => {
        const out = await service(ctx.ledger).registerZone(actor, { ...rest, ...(id !== undefined && { zoneId: id }) }, meta(ctx, idempotencyKey));
        await ctx.settle(out.position);
        return { zone: await zone(ctx, out.id) };
      }, renameFirst('zoneId', 'id')),
      hostRegister: operatorMutation('hostRegister', async ({ id, idempotencyKey, ...rest }, ctx, actor) => {
        const out = await service(ctx.ledger).registerHost(actor, { ...rest, ...(id !== undefined && { hostId: id }) }, meta(ctx, idempotencyKey));
        await ctx.settle(out.position);
        return { host: await host(ctx, out.id) };
      }, renameFirst('hostId', 'id')),
      networkRegister: operatorMutation('networkRegister', async ({ id, idempotencyKey, switchSegments, ...rest }, ctx, actor) => {
        const out = await service(ctx.ledger).registerNetwork(actor, {
          ...rest, ...(id !== undefined && { networkId: id }), ...(switchSegments !== undefined && { switchCapacity: { segments: switchSegments } }),
        }, meta(ctx, idempotencyKey));
        await ctx.settle(out.position);
        return { network: await network(ctx, out.id) };
      }, (f) => (f[0] === 'networkId' ? ['id', ...f.slice(1)] : f[0] === 'switchCapacity' ? ['switchSegments'] : f)),
      imageRegister: operatorMutation('imageRegister', async ({ id, idempotencyKey, kind, format, arch, ...rest }, ctx, actor) => {
        const out = await service(ctx.ledger).registerImage(actor, {
          ...rest, ...(id !== undefined && { imageId: id }), kind: lower(kind), format: lower(format), ...(arch !== undefined && { arch: lower(arch) }),
        }, meta(ctx, idempotencyKey));
        await ctx.settle(out.position);
        return { image: await image(ctx, out.id) };
      }, renameFirst('imageId', 'id')),

      xnodeSlice: operatorMutation('xnodeSlice', async ({ id, idempotencyKey, ...rest }, ctx, actor) => {
        const out = await service(ctx.ledger).sliceXNode(actor, { ...rest, ...(id !== undefined && { xnodeId: id }) }, meta(ctx, idempotencyKey));
        await ctx.settle(out.position);
        return { xnode: await xnode(ctx, out.id) };
      }, renameFirst('xnodeId', 'id')),
      xnodePower: operatorMutation('xnodePower', async ({ xnodeId, action, reason }, ctx, actor) => {
        const hostId = await hostOfXNode(ctx, xnodeId);
        const out = await service(ctx.ledger).xnodeAction(actor, POWER[action], { hostId, xnodeId, ...(reason !== undefined && { reason }) }, meta(ctx));
        await ctx.settle(out.position);
        return { xnode: await xnode(ctx, xnodeId) };
      }, hostIsNoField),
      xnodeRelease: operatorMutation('xnodeRelease', async ({ xnodeId, reason }, ctx, actor) => {
        const hostId = await hostOfXNode(ctx, xnodeId);
        const out = await service(ctx.ledger).xnodeAction(actor, 'ReleaseXNode', { hostId, xnodeId, ...(reason !== undefined && { reason }) }, meta(ctx));
        await ctx.settle(out.position);
        return { xnode: await xnode(ctx, xnodeId) };
      }, hostIsNoField),
      xnodeMove: operatorMutation('xnodeMove', async ({ id, idempotencyKey, xnodeId, mode, ...rest }, ctx, actor) => {
        const hostId = await hostOfXNode(ctx, xnodeId);
        const out = await service(ctx.ledger).requestMove(actor, {
          ...rest, hostId, xnodeId, ...(mode !== undefined && { mode: lower(mode) }), ...(id !== undefined && { moveId: id }),
        }, meta(ctx, idempotencyKey));
        await ctx.settle(out.position);
        return { move: await move(ctx, out.id) };
      }, (f) => (f[0] === 'moveId' ? ['id', ...f.slice(1)] : f[0] === 'hostId' ? ['xnodeId'] : f)),

      rcontractOpen: operatorMutation('rcontractOpen', async ({ id, idempotencyKey, items, ...rest }, ctx, actor) => {
        const list: Record<string, any>[] = (items ?? []).map((item: Record<string, any>, i: number) => {
          const given = (['compute', 'network', 'image'] as const).filter((k) => item[k] !== undefined);
          if (given.length !== 1) {
            throw new InvalidInputError([{ field: ['items', String(i)], message: `give exactly one of compute, network, image (got ${given.length ? given.join(', ') : 'none'})` }]);
          }
          return { kind: given[0], ...item[given[0]] };
        });
        // the service names item fields as `items.<i>.<field>`; the input has them under the item's kind
        const inItem = (f: string[]) => (f[0] === 'items' && f.length > 2 && list[Number(f[1])] ? ['items', f[1], list[Number(f[1])].kind, ...f.slice(2)] : f);
        let out;
        try {
          out = await service(ctx.ledger).openRContract(actor, { ...rest, items: list, ...(id !== undefined && { contractId: id }) }, meta(ctx, idempotencyKey));
        } catch (error) { throw remapFields(error, inItem); }
        await ctx.settle(out.position);
        return { rcontract: await rcontract(ctx, out.id) };
      }, (f) => {
        if (f[0] === 'contractId') return ['id', ...f.slice(1)];
        return f;
      }),
      rcontractTerminate: operatorMutation('rcontractTerminate', async ({ rcontractId, reason }, ctx, actor) => {
        const out = await service(ctx.ledger).terminateRContract(actor, { contractId: rcontractId, ...(reason !== undefined && { reason }) }, meta(ctx));
        await ctx.settle(out.position);
        return { rcontract: await rcontract(ctx, rcontractId) };
      }, renameFirst('contractId', 'rcontractId')),

      hostDrain: hostMutation('hostDrain', 'DrainHost'),
      hostMaintenance: hostMutation('hostMaintenance', 'StartHostMaintenance'),
      hostOnline: hostMutation('hostOnline', 'ReturnHostOnline'),
      hostRetire: hostMutation('hostRetire', 'RetireHost'),
    },
  } as any,
});

function hostMutation(name: string, action: HostAction) {
  return operatorMutation(name, async (input, ctx, actor) => {
    const out = await service(ctx.ledger).hostAction(actor, action, input, meta(ctx));
    await ctx.settle(out.position);
    return { host: await host(ctx, out.id) };
  });
}
