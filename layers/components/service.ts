/**
 * The application service of the Components layer: who may do what, input validation, impossible needs, ids and
 * idempotency keys, and the link to the project. Deciders stay pure; the scheduler does the placing.
 *
 *   - Types are defined by operators (and `ledger seed`); anyone may list them.
 *   - Components are requested by a tenant in one of its projects, and changed (power, resize, release) by their
 *     tenant or an operator. Another tenant's component or project answers exactly like one that does not exist.
 *   - A request is refused before anything is written when its needs can never be met: an unknown or retired type,
 *     an access scope the type does not allow, more replicas than it allows, a size larger than any host of the type,
 *     a region or zone without such hosts, fewer failure domains than replicas.
 *   - Flat types: the instance is carved in the type's pool (no scheduler); the pool itself is a system CContract.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DomainError } from '../../core/decider.ts';
import type { Ledger } from '../../core/ledger.ts';
import type { EventStore } from '../../core/event-store/port.ts';
import type { Actor } from '../../schema/envelope.ts';
import type { CommandMeta } from '../../core/command-meta.ts';
import { validateCommand } from '../../schema/registry.ts';
import { ProjectsService } from '../projects/service.ts';
import { projectDecider } from '../projects/project/decider.ts';
import { stream as projectStream } from '../projects/ids.ts';
import { sizeOf, type Resources } from '../resources/common/quantities.ts';
import { ccontractDecider, type CContractState } from './ccontract/decider.ts';
import type { Needs } from './ccontract/events.ts';
import { executeFresh, loadFresh } from './exec.ts';
import { Access, ComponentId, newComponentId, poolIdOf, ProjectRef, RegionId, SizeInputSchema, SizeName, stream, TypeName, typeIdOf, ZoneId } from './ids.ts';
import { DefineComponentType } from './type/commands.ts';
import { componentTypeDecider, requireActiveType, type ComponentTypeState } from './type/decider.ts';
import type { TypeDefinition } from './type/events.ts';
import { Fleet } from './scheduler/fleet.ts';
import { Planner } from './scheduler/placement.ts';

export { AccessDeniedError, InvalidInputError, type InputIssue } from '../../core/service-errors.ts';
import { AccessDeniedError, IdempotencyKey, InvalidInputError, parseInput } from '../../core/service-errors.ts';


export const RequestInput = z.object({
  projectId: ProjectRef,
  type: TypeName,
  size: SizeInputSchema.optional(),
  template: SizeName.optional(),
  replicas: z.number().int().min(1).max(16).optional(),
  access: Access.optional(),
  regionId: RegionId.optional(),
  zoneId: ZoneId.optional(),
  idempotencyKey: IdempotencyKey.optional(),
}).strict();
export const PowerInput = z.object({ componentId: ComponentId, action: z.enum(['on', 'off', 'hibernate', 'activate']) }).strict();
export const ResizeInput = z.object({ componentId: ComponentId, size: SizeInputSchema.optional(), template: SizeName.optional() }).strict();
export const ReleaseInput = z.object({ componentId: ComponentId, reason: z.string().max(1000).optional() }).strict();

export interface Outcome { id: string; position: number }

/** The conversation a command belongs to (the API request's correlation id; see core/causation.ts). */
const conversation = (meta: CommandMeta) => ({
  ...(meta.correlationId !== undefined && { correlationId: meta.correlationId }),
  ...(meta.causationId !== undefined && { causationId: meta.causationId }),
});

const notFound = (componentId: string) => new DomainError('COMPONENT_NOT_FOUND', `component ${componentId} does not exist`, ['componentId']);

/** The fleet as the Host events say, read incrementally from the store (no subscription to leak). */
class FleetReader {
  readonly fleet = new Fleet();
  readonly planner = new Planner(this.fleet);
  constructor(private readonly store: EventStore) {}
  async current(): Promise<Planner> {
    for (;;) {
      const batch = await this.store.readAll({ after: this.fleet.position, maxCount: 5000, filter: { categories: ['Host'] } });
      for (const e of batch) this.fleet.apply(e);
      if (batch.length < 5000) break;
    }
    return this.planner;
  }
}

export class ComponentsService {
  private readonly projects: ProjectsService;
  private readonly fleet: FleetReader;

  constructor(private readonly ledger: Pick<Ledger, 'execute' | 'load' | 'store'>) {
    this.projects = new ProjectsService(ledger);
    this.fleet = new FleetReader(ledger.store);
  }

  // ── types ──────────────────────────────────────────────────────────────────────────────────────────────

  async defineType(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    if (actor.kind !== 'operator' && actor.kind !== 'system') throw new AccessDeniedError('only operators define component types');
    const raw = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
    const definition = parseInput(DefineComponentType, { ...raw, typeId: typeof raw.name === 'string' ? typeIdOf(raw.name) : undefined });
    validateCommand(DefineComponentType, 'DefineComponentType', definition);
    if (definition.pool.kind === 'component') {
      const base = await this.type(definition.pool.type);
      requireActiveType(base, definition.pool.type);
    }
    const r = await this.ledger.execute(componentTypeDecider, stream.type(definition.typeId), { type: 'DefineComponentType', data: definition }, { actor, ...conversation(meta) });
    return { id: definition.typeId, position: r.position };
  }

  async type(name: string): Promise<ComponentTypeState> {
    if (!TypeName.safeParse(name).success) return componentTypeDecider.initialState();
    return (await loadFresh(this.ledger, componentTypeDecider, stream.type(typeIdOf(name)))).state;
  }

  /**
   * Takes the bulk pool of a Flat type (a system CContract the scheduler places with the type's HA). Chooses the
   * widest access the fleet can hold (Full if enough regions, else Region, else Zone) unless one is given.
   */
  async allocateFlatPool(actor: Actor, typeName: string, scope: { access?: 'Full' | 'Region' | 'Zone'; regionId?: string; zoneId?: string } = {}, meta: CommandMeta = {}): Promise<Outcome & { access: string }> {
    const t = await this.type(typeName);
    const def = requireActiveType(t, typeName);
    if (def.distribution !== 'Flat' || !def.flat) throw new DomainError('NOT_FLAT', `type ${typeName} is not Flat`, ['type']);
    const poolId = poolIdOf(def.typeId);
    const size = sizeOf(def.flat.poolSize);
    const chosen = scope.access ? { access: scope.access, regionId: scope.regionId, zoneId: scope.zoneId } : await this.widestScope(def, size);
    if (!def.access.includes(chosen.access)) throw new DomainError('ACCESS_NOT_ALLOWED', `type ${typeName} allows ${def.access.join(', ')}, not ${chosen.access}`, ['access']);
    await this.ledger.execute(componentTypeDecider, stream.type(def.typeId), { type: 'RequestFlatPool', data: { typeId: def.typeId, poolComponentId: poolId, access: chosen.access, ...(chosen.regionId && { regionId: chosen.regionId }), ...(chosen.zoneId && { zoneId: chosen.zoneId }) } }, { actor, ...conversation(meta) });
    const pool = (await loadFresh(this.ledger, componentTypeDecider, stream.type(def.typeId))).state.pool!;
    const needs: Needs = {
      componentId: pool.componentId,
      type: { typeId: def.typeId, name: def.name, version: t.version, distribution: 'Cell', singleRunning: false, pool: def.pool, hostTypes: def.hostTypes },
      size: pool.size, access: pool.access as Needs['access'], ...(pool.regionId && { regionId: pool.regionId }), ...(pool.zoneId && { zoneId: pool.zoneId }),
      replicas: pool.replicas, writers: def.ha.writers,
    };
    const r = await executeFresh(this.ledger, ccontractDecider, stream.ccontract(pool.componentId), { type: 'RequestComponent', data: needs }, { actor, ...conversation(meta), commandId: `pool:${def.typeId}` });
    return { id: pool.componentId, position: r.position, access: pool.access };
  }

  private async widestScope(def: TypeDefinition, size: Resources): Promise<{ access: 'Full' | 'Region' | 'Zone'; regionId?: string; zoneId?: string }> {
    const planner = await this.fleet.current();
    const r = def.ha.replicas;
    const base = { size, hostTypes: def.hostTypes, replicas: r };
    if (def.access.includes('Full') && planner.feasibility({ ...base, access: 'Full' }).ok) return { access: 'Full' };
    const hosts = planner.fleet.hosts;
    const regions = [...new Set(hosts.map((h) => h.regionId))].sort();
    if (def.access.includes('Region')) for (const regionId of regions) if (planner.feasibility({ ...base, access: 'Region', regionId }).ok) return { access: 'Region', regionId };
    const zones = [...new Set(hosts.map((h) => `${h.regionId}|${h.zoneId}`))].sort();
    if (def.access.includes('Zone')) for (const z of zones) { const [regionId, zoneId] = z.split('|'); if (planner.feasibility({ ...base, access: 'Zone', regionId, zoneId }).ok) return { access: 'Zone', regionId, zoneId }; }
    return def.access.includes('Full') ? { access: 'Full' } : { access: def.defaultAccess, ...(regions[0] && { regionId: regions[0] }) };
  }

  // ── components ─────────────────────────────────────────────────────────────────────────────────────────

  /** A tenant requests a component in one of its projects. */
  async request(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    if (actor.kind !== 'tenant') throw new AccessDeniedError('components are requested by a tenant in one of its projects: use a tenant token');
    const i = parseInput(RequestInput, input);
    const project = await this.projects.visibleProject(actor, i.projectId);
    if (!project) throw new DomainError('PROJECT_NOT_FOUND', `project ${i.projectId} does not exist`, ['projectId']);
    if (project.status === 'archived') throw new DomainError('PROJECT_ARCHIVED', `project ${i.projectId} is archived`, ['projectId']);
    const t = await this.type(i.type);
    const def = requireActiveType(t, i.type);
    const access = i.access ?? def.defaultAccess;
    if (!def.access.includes(access)) throw new DomainError('ACCESS_NOT_ALLOWED', `type ${def.name} allows access ${def.access.map((a) => a.toUpperCase()).join(', ')}, not ${access.toUpperCase()}`, ['access']);
    if (!i.size && !i.template) throw new InvalidInputError([{ field: ['size'], message: 'give a size (or a template: normal, standard, enhanced)' }]);
    const size = sizeOf(i.size ?? def.sizes[i.template!]);
    const replicas = i.replicas ?? def.ha.replicas;
    if (def.distribution === 'Flat' && i.replicas !== undefined && i.replicas !== def.ha.replicas) throw new DomainError('REPLICAS_FIXED', `the HA of ${def.name} is the type's: ${def.ha.replicas} replicas`, ['replicas']);
    if (def.distribution === 'Cell' && replicas > def.maxReplicas) throw new DomainError('TOO_MANY_REPLICAS', `type ${def.name} allows at most ${def.maxReplicas} replica(s), got ${replicas}`, ['replicas']);
    if (def.ha.writers > replicas) throw new DomainError('TOO_FEW_REPLICAS', `type ${def.name} has ${def.ha.writers} writers: at least ${def.ha.writers} replicas`, ['replicas']);
    let regionId = i.regionId;
    const zoneId = i.zoneId;
    if (access === 'Full' && (i.regionId || i.zoneId)) throw new DomainError('SCOPE_NOT_ALLOWED', 'access FULL spans every region: give neither regionId nor zoneId', [i.regionId ? 'regionId' : 'zoneId']);
    if (access === 'Region' && !regionId) throw new DomainError('SCOPE_REQUIRED', 'access REGION needs a regionId', ['regionId']);
    if (access === 'Region' && zoneId) throw new DomainError('SCOPE_NOT_ALLOWED', 'access REGION spans the zones of a region: give no zoneId', ['zoneId']);
    if (access === 'Zone' && !zoneId) throw new DomainError('SCOPE_REQUIRED', 'access ZONE needs a zoneId', ['zoneId']);

    const planner = await this.fleet.current();
    if (access === 'Zone') {
      const inZone = planner.fleet.hosts.find((h) => h.zoneId === zoneId);
      if (regionId && inZone && inZone.regionId !== regionId) throw new DomainError('ZONE_REGION_MISMATCH', `zone ${zoneId} is not in region ${regionId}`, ['zoneId']);
      regionId = inZone?.regionId ?? regionId;
    }
    if (def.distribution === 'Cell') {
      const hostTypes = def.pool.kind === 'component' ? requireActiveType(await this.type(def.pool.type), def.pool.type).hostTypes : def.hostTypes;
      const f = planner.feasibility({ size, hostTypes, access, regionId: access === 'Full' ? undefined : regionId, zoneId, replicas });
      if (!f.ok) throw new DomainError(f.code, f.message, f.field);
    }

    const componentId = i.idempotencyKey ? newComponentId(actor.id, 'componentRequest', i.idempotencyKey) : newComponentId();
    const commandId = i.idempotencyKey ? `${actor.kind}:${actor.id}:componentRequest:${createHash('sha256').update(i.idempotencyKey).digest('hex').slice(0, 32)}` : undefined;
    const ctx = { actor, tenantId: actor.id, ...conversation(meta), ...(commandId && { commandId }) };
    let flatPool: string | undefined;
    if (def.distribution === 'Flat') {
      if (!t.pool) throw new DomainError('POOL_NOT_ALLOCATED', `the bulk pool of ${def.name} has not been taken yet (ledger seed takes it)`, ['type']);
      await this.ledger.execute(componentTypeDecider, stream.type(def.typeId), { type: 'CarveFlatInstance', data: { typeId: def.typeId, componentId, size: { cpuCores: size.cpuCores, ramMiB: size.ramMiB, diskGiB: size.diskGiB, cpuMHz: size.cpuMHz, diskIops: size.diskIops } } }, ctx);
      flatPool = t.pool.componentId;
    }
    const release = async () => {
      if (flatPool) await this.ledger.execute(componentTypeDecider, stream.type(def.typeId), { type: 'ReleaseFlatInstance', data: { typeId: def.typeId, componentId } }, { actor, ...conversation(meta) }).catch(() => undefined);
    };
    try {
      await this.ledger.execute(projectDecider, projectStream.project(i.projectId), { type: 'LinkComponent', data: { projectId: i.projectId, componentId } }, { actor, tenantId: project.ownerId ?? actor.id, ...conversation(meta) });
    } catch (error) { await release(); throw error; }
    const needs: Needs = {
      componentId, tenantId: actor.id, projectId: i.projectId,
      type: { typeId: def.typeId, name: def.name, version: t.version, distribution: def.distribution, singleRunning: def.singleRunning, pool: def.pool, hostTypes: def.hostTypes },
      ...(i.template && !i.size && { sizeName: i.template }), size, access,
      ...(access !== 'Full' && regionId && { regionId }), ...(access === 'Zone' && zoneId && { zoneId }),
      replicas: def.distribution === 'Flat' ? def.ha.replicas : replicas, writers: def.ha.writers, ...(flatPool && { flatPool }),
    };
    try {
      const r = await executeFresh(this.ledger, ccontractDecider, stream.ccontract(componentId), { type: 'RequestComponent', data: needs }, ctx);
      return { id: componentId, position: r.position };
    } catch (error) {
      await this.ledger.execute(projectDecider, projectStream.project(i.projectId), { type: 'UnlinkComponent', data: { projectId: i.projectId, componentId, reason: 'request refused' } }, { actor, tenantId: actor.id, ...conversation(meta) }).catch(() => undefined);
      await release();
      throw error;
    }
  }

  async power(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    const i = parseInput(PowerInput, input);
    const s = await this.owned(actor, i.componentId);
    const r = await executeFresh(this.ledger, ccontractDecider, stream.ccontract(i.componentId), { type: 'RequestPower', data: i }, this.ctx(actor, s, meta));
    return { id: i.componentId, position: r.position };
  }

  async resize(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    const i = parseInput(ResizeInput, input);
    const s = await this.owned(actor, i.componentId);
    if (!i.size && !i.template) throw new InvalidInputError([{ field: ['size'], message: 'give a size (or a template)' }]);
    let size = i.size ? sizeOf(i.size) : undefined;
    if (!size) {
      const def = requireActiveType(await this.type(s.needs!.type.name), s.needs!.type.name);
      size = sizeOf(def.sizes[i.template!]);
    }
    const needs = s.needs!;
    if (needs.type.pool.kind === 'resources' && !needs.flatPool) {
      const planner = await this.fleet.current();
      const f = planner.feasibility({ size, hostTypes: needs.type.hostTypes, access: needs.access, regionId: needs.access === 'Full' ? undefined : needs.regionId, zoneId: needs.zoneId, replicas: needs.replicas });
      if (!f.ok) throw new DomainError(f.code, f.message, f.field);
    }
    const r = await executeFresh(this.ledger, ccontractDecider, stream.ccontract(i.componentId), { type: 'RequestResize', data: { componentId: i.componentId, size, ...(i.template && !i.size && { sizeName: i.template }) } }, this.ctx(actor, s, meta));
    return { id: i.componentId, position: r.position };
  }

  async release(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    const i = parseInput(ReleaseInput, input);
    const s = await this.owned(actor, i.componentId);
    const r = await executeFresh(this.ledger, ccontractDecider, stream.ccontract(i.componentId), { type: 'RequestRelease', data: i }, this.ctx(actor, s, meta));
    let position = r.position;
    const needs = s.needs!;
    if (needs.flatPool) { // no scheduler involved: give the share back and unlink now
      await this.ledger.execute(componentTypeDecider, stream.type(needs.type.typeId), { type: 'ReleaseFlatInstance', data: { typeId: needs.type.typeId, componentId: i.componentId } }, this.ctx(actor, s, meta));
      if (needs.projectId) {
        const u = await this.ledger.execute(projectDecider, projectStream.project(needs.projectId), { type: 'UnlinkComponent', data: { projectId: needs.projectId, componentId: i.componentId, reason: 'released' } }, this.ctx(actor, s, meta));
        position = Math.max(position, u.position);
      }
    }
    return { id: i.componentId, position };
  }

  /** The component if `actor` may see it (a tenant: only its own), else null. */
  async visible(actor: Actor, componentId: string): Promise<CContractState | null> {
    if (!ComponentId.safeParse(componentId).success) return null;
    const { state } = await loadFresh(this.ledger, ccontractDecider, stream.ccontract(componentId));
    if (state.status === 'none' || !state.needs) return null;
    if (actor.kind === 'tenant' && state.needs.tenantId !== actor.id) return null;
    return state;
  }

  private async owned(actor: Actor, componentId: string): Promise<CContractState> {
    const s = await this.visible(actor, componentId);
    if (!s || (actor.kind !== 'tenant' && actor.kind !== 'operator')) throw notFound(componentId);
    return s;
  }

  private ctx(actor: Actor, s: CContractState, meta: CommandMeta) {
    return { actor, ...(s.needs?.tenantId && { tenantId: s.needs.tenantId }), ...conversation(meta) };
  }
}
