/**
 * The application service of the Resources layer: what the operator API, the seed and the CLI call. Deciders stay
 * pure; this is where
 *   - input is validated (zod, every wrong field named: INVALID_INPUT with one issue per field),
 *   - ids are made (given, derived from an idempotency key, or random),
 *   - cross-stream preconditions are checked (the parent region/zone exists and is active, the image is usable,
 *     a contract's places exist), and names are kept unique within a parent through the Names-<scope> streams
 *     (reserve → register → release the name again when the registration is refused),
 *   - the actor is checked: the physical inventory is the operators' (and the system's) business.
 *
 * Every command is first decided on the current state as a dry run (deciders are pure), so a refusal appends
 * nothing, not even a name reservation. Commands carry a commandId when the caller gives one (the seed) or an
 * idempotency key, so retries change nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { DomainError, type Decider } from '../../core/decider.ts';
import type { CommandContext } from '../../core/command-handler.ts';
import type { Ledger } from '../../core/ledger.ts';
import type { Actor } from '../../schema/envelope.ts';
import { SchemaError } from '../../schema/registry.ts';
import { HostId, ID_PREFIX, ImageId, MoveId, Name, NetworkId, RContractId, RegionId, stream, XNodeId, ZoneId, type IdKind } from './common/ids.ts';
import { PartialAllocationRatiosSchema, PartialResourcesSchema, Quantity, ResourcesSchema, SizeInputSchema } from './common/quantities.ts';
import { Area, HostType } from './host/events.ts';
import { hostDecider, type HostState } from './host/decider.ts';
import { imageDecider, imageUsable } from './image/decider.ts';
import { Arch, Digest, ImageFormat, ImageKind, OsInfo, PxeBoot } from './image/events.ts';
import { resourceCommand } from './index.ts';
import { nameScope } from './names/commands.ts';
import { namesDecider } from './names/decider.ts';
import { PublicIpPool, SwitchCapacity } from './network/events.ts';
import { networkDecider } from './network/decider.ts';
import { rcontractDecider } from './rcontract/decider.ts';
import { Holder, ItemInput } from './rcontract/events.ts';
import { regionAcceptsChildren, regionDecider } from './region/decider.ts';
import { zoneAcceptsChildren, zoneDecider } from './zone/decider.ts';

export { AccessDeniedError, InvalidInputError, type InputIssue } from '../../core/service-errors.ts';
import { AccessDeniedError, IdempotencyKey, InvalidInputError, parseInput } from '../../core/service-errors.ts';

export type { CommandMeta } from '../../core/command-meta.ts';
import type { CommandMeta } from '../../core/command-meta.ts';

/** What an operation did: the id it acted on and the global position of the last event written (0: nothing written). */
export interface Outcome { id: string; position: number; duplicate: boolean }

const Reason = z.string().trim().max(1000);


/** The command, validated and routed; a schema refusal becomes INVALID_INPUT naming the fields. */
function routed(type: string, data: unknown) {
  try {
    return resourceCommand(type, data);
  } catch (error) {
    if (error instanceof SchemaError) {
      throw new InvalidInputError(error.issues.map((text) => {
        const i = text.indexOf(': ');
        const path = i < 0 ? '' : text.slice(0, i);
        return { field: path === '(root)' || path === '' ? [] : path.split('.'), message: i < 0 ? text : text.slice(i + 2) };
      }));
    }
    throw error;
  }
}

const newId = (kind: IdKind, seed?: string[]) => seed
  ? ID_PREFIX[kind] + createHash('sha256').update(seed.join('\u0000')).digest('hex').slice(0, 20)
  : ID_PREFIX[kind] + randomBytes(10).toString('hex');

// ── inputs (what callers send; commands are built from them) ─────────────────────────────────────────────────

const RegionInput = z.object({ regionId: RegionId.optional(), name: Name, description: z.string().trim().max(1000).optional() }).strict();
const ZoneInput = z.object({ zoneId: ZoneId.optional(), regionId: RegionId, name: Name }).strict();
const HostInput = z.object({
  hostId: HostId.optional(), zoneId: ZoneId, name: Name, type: HostType, area: Area,
  resources: ResourcesSchema.extend({ diskIops: Quantity.default(0) }).strict(), reserved: PartialResourcesSchema.optional(),
  allocationRatios: PartialAllocationRatiosSchema.optional(),
}).strict();
const NetworkInput = z.object({
  networkId: NetworkId.optional(), zoneId: ZoneId.optional(), regionId: RegionId.optional(), name: Name,
  bandwidthMbps: z.number().int().min(0).max(10_000_000), publicIpPool: PublicIpPool.optional(), switchCapacity: SwitchCapacity,
}).strict().refine((v) => v.zoneId !== undefined || v.regionId !== undefined, { message: 'a network belongs to a zone (zoneId) or a whole region (regionId)', path: ['zoneId'] });
const ImageInput = z.object({
  imageId: ImageId.optional(), regionId: RegionId, name: Name, kind: ImageKind, format: ImageFormat, arch: Arch.optional(),
  os: OsInfo.optional(), boot: PxeBoot.optional(), sizeGiB: z.number().int().min(1).max(1_000_000_000), digest: Digest,
}).strict();
const HostActionInput = z.object({ hostId: HostId, reason: Reason.optional(), force: z.boolean().optional() }).strict();
const SliceInput = z.object({
  hostId: HostId, xnodeId: XNodeId.optional(), size: SizeInputSchema.optional(), imageId: ImageId.optional(), contractId: RContractId.optional(),
}).strict();
const XNodeActionInput = z.object({ hostId: HostId, xnodeId: XNodeId, reason: Reason.optional() }).strict();
const OpenInput = z.object({
  contractId: RContractId.optional(), tenantId: z.string().regex(/^[A-Za-z0-9_]{1,128}$/, 'letters, digits or "_" (1–128)').optional(),
  holder: Holder.optional(), items: z.array(ItemInput).min(1, 'at least one item').max(32, 'at most 32 items'),
}).strict();
const TerminateInput = z.object({ contractId: RContractId, reason: Reason.optional() }).strict();
const MoveInput = z.object({
  moveId: MoveId.optional(), hostId: HostId, xnodeId: XNodeId, targetHostId: HostId, targetXNodeId: XNodeId.optional(),
  mode: z.enum(['move', 'copy']).default('move'), reason: Reason.optional(),
}).strict();

export type XNodeAction = 'PowerOnXNode' | 'PowerOffXNode' | 'HibernateXNode' | 'ActivateXNode' | 'ReleaseXNode';
export type HostAction = 'DrainHost' | 'StartHostMaintenance' | 'ReturnHostOnline' | 'RetireHost';

const defined = <T extends Record<string, unknown>>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export class ResourcesService {
  constructor(private readonly ledger: Pick<Ledger, 'execute' | 'load' | 'store'>) {}

  // ── physical planning (operator) ─────────────────────────────────────────────────────────────────────────

  async registerRegion(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'register regions');
    const d = parseInput(RegionInput, input);
    const regionId = d.regionId ?? this.idFor('region', actor, 'regionRegister', meta);
    return this.registerNamed(actor, meta, 'regionRegister', { scope: nameScope.regions(), kind: 'region', name: d.name, ownerId: regionId },
      'RegisterRegion', defined({ regionId, name: d.name, description: d.description }), regionId);
  }

  async registerZone(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'register zones');
    const d = parseInput(ZoneInput, input);
    await this.activeRegion(d.regionId, ['regionId']);
    const zoneId = d.zoneId ?? this.idFor('zone', actor, 'zoneRegister', meta);
    return this.registerNamed(actor, meta, 'zoneRegister', { scope: nameScope.zonesOf(d.regionId), kind: 'zone', name: d.name, ownerId: zoneId },
      'RegisterZone', { zoneId, regionId: d.regionId, name: d.name }, zoneId);
  }

  async registerHost(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'register hosts');
    const d = parseInput(HostInput, input);
    const regionId = await this.activeZone(d.zoneId, undefined, ['zoneId']);
    const hostId = d.hostId ?? this.idFor('host', actor, 'hostRegister', meta);
    return this.registerNamed(actor, meta, 'hostRegister', { scope: nameScope.hostsOf(d.zoneId), kind: 'host', name: d.name, ownerId: hostId },
      'RegisterHost', defined({ hostId, zoneId: d.zoneId, regionId, name: d.name, type: d.type, area: d.area, resources: d.resources, reserved: d.reserved, allocationRatios: d.allocationRatios }), hostId);
  }

  async registerNetwork(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'register networks');
    const d = parseInput(NetworkInput, input);
    let regionId = d.regionId!;
    if (d.zoneId !== undefined) regionId = await this.activeZone(d.zoneId, d.regionId, ['zoneId']);
    else await this.activeRegion(regionId, ['regionId']);
    const networkId = d.networkId ?? this.idFor('network', actor, 'networkRegister', meta);
    return this.registerNamed(actor, meta, 'networkRegister', { scope: nameScope.networksOf(d.zoneId ?? regionId), kind: 'network', name: d.name, ownerId: networkId },
      'RegisterNetwork', defined({ networkId, regionId, zoneId: d.zoneId, name: d.name, bandwidthMbps: d.bandwidthMbps, publicIpPool: d.publicIpPool, switchCapacity: d.switchCapacity }), networkId);
  }

  async registerImage(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'register images');
    const d = parseInput(ImageInput, input);
    await this.activeRegion(d.regionId, ['regionId']);
    const imageId = d.imageId ?? this.idFor('image', actor, 'imageRegister', meta);
    return this.registerNamed(actor, meta, 'imageRegister', { scope: nameScope.imagesOf(d.regionId), kind: 'image', name: d.name, ownerId: imageId },
      'RegisterImage', defined({ imageId, regionId: d.regionId, name: d.name, kind: d.kind, format: d.format, arch: d.arch, os: d.os, boot: d.boot, sizeGiB: d.sizeGiB, digest: d.digest }), imageId);
  }

  /** Drain, maintenance, back online, retire (refused while the host holds live slices, unless force). */
  async hostAction(actor: Actor, action: HostAction, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'change hosts');
    const d = parseInput(HostActionInput, input);
    if (d.force !== undefined && action !== 'RetireHost') throw new InvalidInputError([{ field: ['force'], message: 'only a retirement can be forced' }]);
    return this.run(actor, meta, 'host', action, defined({ hostId: d.hostId, reason: d.reason, force: d.force }), d.hostId);
  }

  // ── slices (operator; the Components layer sends its own commands through ledger.execute) ─────────────────

  async sliceXNode(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome & { hostId: string }> {
    requireOperator(actor, 'slice hosts');
    const d = parseInput(SliceInput, input);
    if (d.imageId !== undefined) await this.usableImage(d.imageId, undefined, ['imageId']);
    const xnodeId = d.xnodeId ?? this.idFor('xnode', actor, 'xnodeSlice', meta);
    const out = await this.run(actor, meta, 'slice', 'SliceXNode', defined({ hostId: d.hostId, xnodeId, size: d.size, imageId: d.imageId, contractId: d.contractId }), xnodeId);
    return { ...out, hostId: d.hostId };
  }

  async xnodeAction(actor: Actor, action: XNodeAction, input: unknown, meta: CommandMeta = {}): Promise<Outcome & { hostId: string }> {
    requireOperator(actor, 'change slices');
    const d = parseInput(XNodeActionInput, input);
    const out = await this.run(actor, meta, 'xnode', action, defined({ hostId: d.hostId, xnodeId: d.xnodeId, reason: d.reason }), d.xnodeId);
    return { ...out, hostId: d.hostId };
  }

  // ── contracts and moves ───────────────────────────────────────────────────────────────────────────────────

  /**
   * Opens an RContract. Places that do not exist (host, network, region, image) are refused here with the item's
   * field; capacity is the opening process's business (all or nothing, with compensation).
   */
  async openRContract(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'open resource contracts');
    const d = parseInput(OpenInput, input);
    for (const [i, item] of d.items.entries()) {
      const at = (...f: string[]) => ['items', String(i), ...f];
      if (item.kind === 'compute') {
        await this.exists(hostDecider, stream.host(item.hostId), (s) => s.registered, () => new DomainError('HOST_NOT_FOUND', `item ${i}: host ${item.hostId} does not exist`, at('hostId')));
        if (item.imageId !== undefined) await this.usableImage(item.imageId, item.checkpointId, at('imageId'));
      } else if (item.kind === 'network') {
        await this.exists(networkDecider, stream.network(item.networkId), (s) => s.registered, () => new DomainError('NETWORK_NOT_FOUND', `item ${i}: network ${item.networkId} does not exist`, at('networkId')));
      } else {
        await this.activeRegion(item.regionId, at('regionId'));
        if (item.imageId !== undefined) await this.usableImage(item.imageId, undefined, at('imageId'));
      }
    }
    const contractId = d.contractId ?? this.idFor('rcontract', actor, 'rcontractOpen', meta);
    return this.run(actor, meta, 'open', 'OpenRContract', defined({ contractId, tenantId: d.tenantId, holder: d.holder, items: d.items }), contractId, d.tenantId);
  }

  async terminateRContract(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'terminate resource contracts');
    const d = parseInput(TerminateInput, input);
    const { state } = await this.ledger.load(rcontractDecider, stream.rcontract(d.contractId));
    return this.run(actor, meta, 'terminate', 'TerminateRContract', defined({ contractId: d.contractId, reason: d.reason }), d.contractId, state.tenantId);
  }

  /** Requests a move (or copy) of a slice to an exact host; the move process does the rest (layers/resources/process/runner-move.ts). */
  async requestMove(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'move slices');
    const d = parseInput(MoveInput, input);
    const host = await this.stored(hostDecider, stream.host(d.hostId)); // the source as stored now: its state decides the move
    if (!host.registered) throw new DomainError('HOST_NOT_FOUND', `host ${d.hostId} does not exist`, ['hostId']);
    const slice = host.slices[d.xnodeId];
    if (!slice) throw new DomainError('XNODE_NOT_FOUND', `slice ${d.xnodeId} is not on host ${d.hostId}`, ['xnodeId']);
    await this.exists(hostDecider, stream.host(d.targetHostId), (s) => s.registered, () => new DomainError('HOST_NOT_FOUND', `target host ${d.targetHostId} does not exist`, ['targetHostId']));
    let contract: { contractId: string; index: number } | undefined;
    if (slice.contractId !== undefined && d.mode === 'move') {
      const rc = await this.stored(rcontractDecider, stream.rcontract(slice.contractId));
      const item = rc.items.find((it) => it.sliceId === slice.xnodeId);
      if (item) contract = { contractId: slice.contractId, index: item.item.index };
    }
    const moveId = d.moveId ?? this.idFor('move', actor, 'xnodeMove', meta);
    return this.run(actor, meta, 'move', 'RequestMove', defined({
      moveId, mode: d.mode,
      source: defined({ hostId: host.hostId, xnodeId: slice.xnodeId, kind: slice.kind, state: slice.state, size: slice.size, imageId: slice.imageId, ha: slice.ha, contractId: slice.contractId }),
      target: defined({ hostId: d.targetHostId, xnodeId: d.targetXNodeId }), contract, reason: d.reason,
    }), moveId);
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────────────────────────

  private idFor(kind: IdKind, actor: Actor, op: string, meta: CommandMeta): string {
    const key = meta.idempotencyKey === undefined ? undefined : parseInput(z.object({ idempotencyKey: IdempotencyKey }), { idempotencyKey: meta.idempotencyKey }).idempotencyKey;
    if (key !== undefined) return newId(kind, [actor.kind, actor.id, op, key]);
    if (meta.commandId !== undefined) return newId(kind, [meta.commandId]);
    return newId(kind);
  }

  private commandIdOf(actor: Actor, meta: CommandMeta, op: string, step?: string): string | undefined {
    let base: string | undefined;
    if (meta.commandId !== undefined) base = meta.commandId;
    else if (meta.idempotencyKey !== undefined) base = `${actor.kind}:${actor.id}:${op}:${meta.idempotencyKey}`;
    if (base === undefined) return undefined;
    const id = step ? `${base}:${step}` : base;
    return id.length <= 200 ? id : createHash('sha256').update(id).digest('hex');
  }

  private ctx(actor: Actor, meta: CommandMeta, commandId?: string, tenantId?: string): CommandContext {
    return defined({ actor, tenantId, correlationId: meta.correlationId, causationId: meta.causationId, commandId });
  }

  /** Validates and executes (a refusal appends nothing). */
  private async exec(actor: Actor, meta: CommandMeta, type: string, data: unknown, commandId: string | undefined, tenantId?: string) {
    const r = routed(type, data);
    return this.ledger.execute(r.decider as Decider<any, any, any>, r.stream, r.command, this.ctx(actor, meta, commandId, tenantId));
  }

  private async run(actor: Actor, meta: CommandMeta, op: string, type: string, data: unknown, id: string, tenantId?: string): Promise<Outcome> {
    const r = await this.exec(actor, meta, type, data, this.commandIdOf(actor, meta, op), tenantId);
    return { id, position: r.position, duplicate: r.duplicate };
  }

  /** Reserve the name in its scope, register, and give the name back when the registration is refused. */
  private async registerNamed(actor: Actor, meta: CommandMeta, op: string, name: { scope: string; kind: string; name: string; ownerId: string },
    type: string, data: Record<string, unknown>, id: string): Promise<Outcome> {
    const register = routed(type, data);
    // refused before any name is taken (decided on the cached state, and on the stream as stored before saying no)
    await this.check(register.decider, register.stream, (state) => register.decider.decide(register.command, state));
    const reserved = await this.exec(actor, meta, 'ReserveName', name, this.commandIdOf(actor, meta, op, 'name'));
    try {
      const r = await this.ledger.execute(register.decider as Decider<any, any, any>, register.stream, register.command, this.ctx(actor, meta, this.commandIdOf(actor, meta, op)));
      return { id, position: Math.max(r.position, reserved.position), duplicate: r.duplicate };
    } catch (error) {
      if (error instanceof DomainError && reserved.events.length > 0) {
        await this.exec(actor, meta, 'ReleaseName', name, this.commandIdOf(actor, meta, op, 'release-name')).catch(() => undefined);
      }
      throw error;
    }
  }

  /**
   * Runs a precondition on a stream's state: on the handler's cached state first, and when that says no, once more on
   * the stream as stored (another process may have changed it), so a stale cache never refuses wrongly.
   */
  private async check<S, T>(decider: Decider<S, any, any>, streamId: string, precondition: (state: S) => T): Promise<T> {
    const { state } = await this.ledger.load(decider, streamId);
    try {
      return precondition(state);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      return precondition(await this.stored(decider, streamId));
    }
  }

  private async activeRegion(regionId: string, field: string[]): Promise<void> {
    try {
      await this.check(regionDecider, stream.region(regionId), (state) => regionAcceptsChildren(state, regionId));
    } catch (e) { throw withField(e, field); }
  }

  /** Checks the zone is active (and in `regionId` when given); returns its region. */
  private async activeZone(zoneId: string, regionId: string | undefined, field: string[]): Promise<string> {
    try {
      return await this.check(zoneDecider, stream.zone(zoneId), (state) => { zoneAcceptsChildren(state, zoneId, regionId); return state.regionId!; });
    } catch (e) { throw withField(e, (e as DomainError).code === 'ZONE_REGION_MISMATCH' ? ['regionId'] : field); }
  }

  private async usableImage(imageId: string, checkpointId: string | undefined, field: string[]): Promise<void> {
    try {
      await this.check(imageDecider, stream.image(imageId), (state) => imageUsable(state, imageId, checkpointId));
    } catch (e) { throw withField(e, (e as DomainError).code === 'CHECKPOINT_NOT_FOUND' ? [...field.slice(0, -1), 'checkpointId'] : field); }
  }

  /** A stream's state folded from the store (not from a cache). */
  private async stored<S>(decider: Decider<S, any, any>, streamId: string): Promise<S> {
    const events = await this.ledger.store.readStream(streamId);
    return events.reduce((s, e) => decider.evolve(s, e as any), decider.initialState());
  }

  private async exists<S>(decider: Decider<S, any, any>, streamId: string, registered: (s: S) => boolean, error: () => DomainError): Promise<void> {
    await this.check(decider, streamId, (state) => { if (!registered(state)) throw error(); });
  }

  /** The host's state as the handler sees it (for operations that need a slice's host). */
  async hostState(hostId: string): Promise<HostState> {
    return (await this.ledger.load(hostDecider, stream.host(hostId))).state;
  }
}

function withField(error: unknown, field: string[]): unknown {
  return error instanceof DomainError ? new DomainError(error.code, error.message, field) : error;
}

function requireOperator(actor: Actor, what: string): void {
  if (actor.kind !== 'operator' && actor.kind !== 'system') throw new AccessDeniedError(`only operators may ${what}`);
}
