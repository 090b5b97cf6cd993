/**
 * The scheduler's I/O shell around the pure placement core.
 *
 *  - Views: the fleet (Host events) and the contracts (CContract, ComponentType events), from catch-up
 *    subscriptions on the store (views.ts).
 *  - Triggers: a durable JetStream consumer of CContract events (`ledger.components.CContract.>`), and a durable
 *    consumer of Host events (`ledger.resources.Host.>`) for failover and replica states; several schedulers share
 *    each durable consumer, so each event is handled by one of them. Without a bus (embedded profile, or `bus: null`)
 *    the same handlers run from the store subscriptions. A sweep every `sweepIntervalMs` picks up what no message
 *    asked for (a replacement whose lease just expired, a degraded contract when capacity appeared, a scheduler that
 *    died mid-placement).
 *  - Work on one contract (`work`) reads its state fresh, then: fences and releases superseded incarnations; places
 *    pending replicas (DecidePlacement claims the slots with reasons — only one scheduler wins — then SliceXNode on
 *    each chosen host with the host stream's expected revision, retried against the fresh host state on a conflict;
 *    a refusal records PlacementFailed and the slot is re-planned at the next epoch); defers with reasons when nothing
 *    fits; applies power and resize requests; releases everything when the component is released.
 *
 * Idempotence: every command carries a deterministic command id per (component, replica, epoch, step) and the
 * deciders ignore steps already taken, so a redelivered message, a sweep, or two schedulers doing the same step
 * change nothing twice. Malformed bus messages are logged and terminated, never retried and never fatal.
 */
import { z } from 'zod';
import { DomainError } from '../../../core/decider.ts';
import type { CommandContext } from '../../../core/command-handler.ts';
import { causedBy } from '../../../core/causation.ts';
import type { Ledger } from '../../../core/ledger.ts';
import type { StoredEvent } from '../../../core/event-store/port.ts';
import type { Bus, BusSubscription, Delivery } from '../../../core/bus/port.ts';
import { categorySubjects, eventFromMessage } from '../../../core/relay.ts';
import { categoryOf, idOf } from '../../../schema/envelope.ts';
import { validateEvent } from '../../../schema/registry.ts';
import { resourceCommand } from '../../resources/index.ts';
import { projectDecider } from '../../projects/project/decider.ts';
import { stream as projectStream } from '../../projects/ids.ts';
import type { HostEvent } from '../../resources/host/events.ts';
import { ccontractDecider, isPlaced, wantedState, type CContractState, type Slot } from '../ccontract/decider.ts';
import type { CContractCommand } from '../ccontract/commands.ts';
import { CCONTRACT_EVENTS } from '../ccontract/events.ts';
import { executeFresh, loadFresh } from '../exec.ts';
import { childIdOf, commandIds, stream, typeIdOf, xnodeIdOf, type Policy } from '../ids.ts';
import { componentTypeDecider } from '../type/decider.ts';
import type { HostView } from './fleet.ts';
import { Planner, type PlacedReplica } from './placement.ts';
import { startViews, type Views } from './views.ts';

export interface SchedulerOptions {
  /** Scheduler id (logs, the actor of its commands, recorded in decisions). Default `scheduler-<pid>`. */
  name?: string;
  /** The bus to consume from. Default: `ledger.bus`; `null` (or no bus on the ledger): driven by the store. */
  bus?: Bus | null;
  /** Durable consumer of CContract events shared by all schedulers. Default `components-scheduler`. */
  durable?: string;
  /** Durable consumer of Host events shared by all schedulers. Default `components-hosts`. */
  hostDurable?: string;
  policy?: Policy;
  /**
   * Several schedulers at once: this one is `index` of `of`, and bin-packs the hosts of its share of every pool
   * first (fewer conflicts on the host streams; see Planner's `share`). Default: none (every host alike).
   */
  share?: { index: number; of: number };
  /** The HA lease of host agents: an agent that cannot renew it stops its HA slices. Default 15 s. */
  leaseMs?: number;
  /** Added to the lease before a replacement starts (clock skew, timer slack). Default 1 s. */
  clockSkewMs?: number;
  /** Default 1 s. */
  sweepIntervalMs?: number;
  /** A decided placement whose slice is not cut after this long is taken over by any scheduler. Default 10 s. */
  placementTimeoutMs?: number;
  /** Ack wait of the durable consumers. Default 30 s. */
  ackWaitMs?: number;
  log?: (line: string) => void;
  now?: () => number;
}

export interface SchedulerStats {
  decisions: number;
  replicasPlaced: number;
  claimsLost: number;
  slicesRefused: number;
  deferred: number;
  lost: number;
  fenced: number;
  released: number;
  malformed: number;
  errors: number;
}

export interface Scheduler {
  readonly name: string;
  readonly views: Views;
  readonly stats: SchedulerStats;
  /** Handles one contract now (tests, operators). */
  work(componentId: string): Promise<void>;
  /** Resolves when the views have caught up with the store and no work is in flight. */
  idle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The shape every relayed event message must have. */
const RelayedEvent = z.object({
  streamId: z.string().regex(/^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9_]{1,128}$/),
  revision: z.number().int().min(0),
  position: z.number().int().min(1),
  type: z.string().min(1).max(200),
  data: z.record(z.string(), z.unknown()),
  metadata: z.object({ eventId: z.string().min(1), occurredAt: z.string().min(1) }).passthrough(),
}).passthrough();

class Malformed extends Error { constructor(message: string) { super(message); this.name = 'MalformedMessage'; } }

const toSizeInput = (r: { cpuCores: number; cpuMHz: number; ramMiB: number; diskGiB: number; diskIops: number }) =>
  ({ cpuCores: r.cpuCores, ramMiB: r.ramMiB, diskGiB: r.diskGiB, cpuMHz: r.cpuMHz, diskIops: r.diskIops });
const iso = (ms: number) => new Date(ms).toISOString();
const HA_XNODE_EVENTS = new Set(['XNodeSliced', 'XNodeProvisioned', 'XNodePoweredOn', 'XNodePoweredOff', 'XNodeHibernated', 'XNodeActivated', 'XNodeFailed', 'XNodeFenced', 'XNodeReleased', 'XNodeResized']);
const GROWTH_EVENTS = new Set(['HostRegistered', 'HostCapacityAdjusted', 'HostStatusChanged', 'XNodeReleased', 'XNodeHibernated', 'XNodeFenced', 'XNodeResized']);

export async function startScheduler(ledger: Ledger, options: SchedulerOptions = {}): Promise<Scheduler> {
  const name = options.name ?? `scheduler-${process.pid}`;
  const log = options.log ?? ((line: string) => console.error(`${new Date().toISOString()} ${name}: ${line}`));
  const now = options.now ?? Date.now;
  const leaseMs = options.leaseMs ?? 15_000;
  const skewMs = options.clockSkewMs ?? 1_000;
  const sweepMs = options.sweepIntervalMs ?? 1_000;
  const placementTimeoutMs = options.placementTimeoutMs ?? 10_000;
  const bus = options.bus === null ? undefined : (options.bus ?? ledger.bus);
  const actor = { kind: 'system' as const, id: name.slice(0, 200) };
  const stats: SchedulerStats = { decisions: 0, replicasPlaced: 0, claimsLost: 0, slicesRefused: 0, deferred: 0, lost: 0, fenced: 0, released: 0, malformed: 0, errors: 0 };

  const views = startViews(ledger.store, { now, onError: (e) => log(`view subscription: ${e instanceof Error ? e.message : String(e)}`) });
  const { fleet, contracts } = views;
  const planner = new Planner(fleet, { policy: options.policy ?? 'binpack', ...(options.share && { share: options.share }) });
  await views.caughtUp;

  let stopped = false;
  const chains = new Map<string, Promise<void>>();
  const inFlight = new Set<Promise<unknown>>();
  const timers = new Map<string, NodeJS.Timeout>();
  /** Contracts this process deferred, and the fleet version it deferred at (retry once the fleet moved). */
  const deferredAt = new Map<string, number>();
  const track = <T>(p: Promise<T>): Promise<T> => { inFlight.add(p); p.finally(() => inFlight.delete(p)).catch(() => undefined); return p; };

  /**
   * What each contract's current work reacts to: the newest event of its stream when the work began (the request, a
   * power change, a replica lost…). Commands issued by that work carry its correlation id and name it as their cause
   * (core/causation.ts), so a tenant's request can be followed through placement, slices and the agents' reports.
   */
  const causes = new Map<string, StoredEvent>();
  const ctx = (commandId: string | undefined, cause?: StoredEvent, tenantId?: string): CommandContext => ({
    actor, ...(commandId && { commandId: commandId.length <= 200 ? commandId : commandId.slice(0, 200) }),
    ...(cause && causedBy(cause)),
    ...(tenantId && { tenantId }),
  });
  const onContract = (c: CContractCommand, commandId?: string, cause?: StoredEvent, tenantId?: string) =>
    executeFresh(ledger, ccontractDecider, stream.ccontract(c.data.componentId), c, ctx(commandId, cause ?? causes.get(c.data.componentId), tenantId));
  /** A Resources command; returns the DomainError instead of throwing it. */
  const onResources = async (type: string, data: Record<string, unknown>, commandId: string | undefined, cause: StoredEvent | undefined): Promise<DomainError | null> => {
    const { stream: s, decider, command } = resourceCommand(type, data);
    try {
      await ledger.execute(decider, s, command, ctx(commandId, cause));
      return null;
    } catch (error) {
      if (error instanceof DomainError) return error;
      if (error && typeof error === 'object' && (error as { code?: string }).code === 'CONCURRENCY_CONFLICT') return new DomainError('CONCURRENCY_CONFLICT', (error as Error).message);
      throw error;
    }
  };

  // ── work on one contract ───────────────────────────────────────────────────────────────────────────────

  function work(componentId: string): Promise<void> {
    const prev = chains.get(componentId) ?? Promise.resolve();
    const next = prev.then(() => (stopped ? undefined : doWork(componentId))).catch((error) => {
      stats.errors++;
      log(`work on ${componentId} failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      throw error;
    });
    const settled = next.catch(() => undefined);
    chains.set(componentId, settled);
    settled.then(() => { if (chains.get(componentId) === settled) chains.delete(componentId); });
    return track(next);
  }

  async function doWork(componentId: string): Promise<void> {
    const [last] = await ledger.store.readStream(stream.ccontract(componentId), { direction: 'backwards', maxCount: 1 });
    if (!last) return;
    causes.set(componentId, last);
    try { await workOn(componentId); } finally { causes.delete(componentId); }
  }

  async function workOn(componentId: string): Promise<void> {
    let { state, revision } = await loadContract(componentId); // eslint-disable-line prefer-const
    if (revision < 0 || !state.needs || state.status === 'released') return;
    const cid = componentId;
    const tenant = state.needs.tenantId;

    if (state.status === 'releasing') return releaseAll(cid, state);

    // a replica on a host that is unreachable (a message about it may have been missed): report it lost
    for (const slot of state.slots) {
      if (slot.child || !slot.placement || slot.state === 'pending' || slot.state === 'released' || slot.state === 'fenced') continue;
      const host = fleet.host(slot.placement.hostId);
      if (!host || host.reachable) continue;
      const lastSeen = Date.parse(host.lastSeenAt ?? iso(now()));
      const r = await onContract({ type: 'ReportReplicaLost', data: { componentId: cid, replica: slot.replica, epoch: slot.epoch, hostId: host.hostId, xnodeId: slot.placement.xnodeId, cause: host.poweredOffAt ? 'host-powered-off' : 'host-unreachable', ...(!host.poweredOffAt && { notBefore: iso(lastSeen + leaseMs + skewMs) }), ...(host.lastSeenAt && { lastSeenAt: host.lastSeenAt }), detectedAt: iso(now()) } }, `lost:sweep:${cid}:${slot.replica}:${slot.epoch}`, undefined, tenant);
      if (r.events.length) { stats.lost++; log(`${cid}/${slot.replica}@${slot.epoch} found on unreachable ${host.hostId}: lost`); }
    }
    state = (await loadContract(cid)).state;
    for (const slot of state.slots) await superseded(cid, slot, tenant);

    // reconcile placing slots with what the hosts say
    for (const slot of state.slots) {
      if (slot.child) { await mirrorChild(cid, slot, tenant); continue; }
      if (!slot.placement || slot.state === 'pending' || slot.state === 'released') continue;
      const host = fleet.host(slot.placement.hostId);
      const slice = host?.slices.get(slot.placement.xnodeId);
      if (slot.state === 'placing' && !slice) {
        const age = now() - Date.parse(slot.decidedAt ?? iso(0));
        if (age >= placementTimeoutMs) await cutSlice(cid, state, slot.replica, slot.epoch, slot.placement.hostId, slot.placement.xnodeId);
        continue;
      }
      if (slice && slice.state !== slot.state && slice.ha?.epoch === slot.epoch) {
        await onContract({ type: 'ObserveReplica', data: { componentId: cid, replica: slot.replica, epoch: slot.epoch, hostId: host!.hostId, xnodeId: slice.xnodeId, state: slice.state } }, undefined, undefined, tenant);
      }
    }

    const fresh = (await loadContract(cid)).state;
    if (fresh.status === 'releasing' || fresh.status === 'released') return;
    await placePending(cid, fresh);
    await applyPower(cid, (await loadContract(cid)).state);
  }

  const loadContract = (componentId: string) => loadFresh(ledger, ccontractDecider, stream.ccontract(componentId));

  /** Fence superseded incarnations; release them once the replacement runs. */
  async function superseded(cid: string, slot: Slot, tenant?: string): Promise<void> {
    for (const old of slot.old) {
      if (!old.fenced) {
        const err = await onResources('FenceXNode', { hostId: old.hostId, xnodeId: old.xnodeId, epoch: old.byEpoch, reason: `replica ${slot.replica} of ${cid} moved to epoch ${old.byEpoch}` }, commandIds.fence(cid, slot.replica, old.byEpoch, old.hostId), causes.get(cid));
        if (err && !['XNODE_NOT_FOUND', 'HOST_NOT_FOUND', 'STALE_EPOCH', 'XNODE_NOT_HA'].includes(err.code)) { log(`fence ${old.xnodeId} on ${old.hostId}: ${err.code} ${err.message}`); continue; }
        stats.fenced++;
        await onContract({ type: 'RecordOldReplicaFenced', data: { componentId: cid, replica: slot.replica, hostId: old.hostId, xnodeId: old.xnodeId } }, undefined, undefined, tenant);
      }
      if (slot.state === wantedState('on') || slot.state === 'stopped' || slot.state === 'hibernated') {
        const err = await onResources('ReleaseXNode', { hostId: old.hostId, xnodeId: old.xnodeId, reason: `superseded by epoch ${old.byEpoch}, which runs` }, commandIds.release(cid, old.xnodeId), causes.get(cid));
        if (err && !['XNODE_NOT_FOUND', 'HOST_NOT_FOUND'].includes(err.code)) { log(`release ${old.xnodeId}: ${err.code} ${err.message}`); continue; }
        await onContract({ type: 'RecordOldReplicaReleased', data: { componentId: cid, replica: slot.replica, hostId: old.hostId, xnodeId: old.xnodeId } }, undefined, undefined, tenant);
      }
    }
  }

  const placedOf = (state: CContractState, except: number[]): PlacedReplica[] => state.slots
    .filter((s) => !except.includes(s.replica) && s.placement && s.state !== 'pending' && s.state !== 'released' && s.placement.hostId)
    .map((s) => ({ hostId: s.placement!.hostId, regionId: s.placement!.regionId, zoneId: s.placement!.zoneId, area: s.placement!.area }));

  async function placePending(cid: string, state: CContractState): Promise<void> {
    const needs = state.needs!;
    const t = now();
    const due = state.slots.filter((s) => s.state === 'pending' && (!s.notBefore || Date.parse(s.notBefore) <= t));
    for (const s of state.slots) {
      if (s.state === 'pending' && s.notBefore && Date.parse(s.notBefore) > t) wake(cid, Date.parse(s.notBefore) - t + 5);
    }
    if (due.length === 0) return;
    if (needs.type.pool.kind === 'component') return placeChildren(cid, state, due);
    if (state.deferred && deferredAt.get(cid) === fleet.version) return; // nothing moved since the last try
    const replicas = due.map((s) => s.replica);
    const outcome = planner.plan({
      componentId: cid, size: state.size, hostTypes: needs.type.hostTypes, access: needs.access, regionId: needs.regionId, zoneId: needs.zoneId,
      replicas, placed: placedOf(state, replicas), avoid: needs.avoid,
      excludeHosts: new Set(state.slots.flatMap((s) => s.old.map((o) => o.hostId))),
    });
    if (!outcome.ok) {
      deferredAt.set(cid, fleet.version);
      const r = await onContract({ type: 'DeferPlacement', data: { componentId: cid, replicas, code: outcome.code, message: outcome.message.slice(0, 1000), candidates: outcome.reasons.candidates, filtered: outcome.reasons.filtered } }, undefined, undefined, needs.tenantId)
        .catch((e) => { if (e instanceof DomainError) return null; throw e; });
      if (r && r.events.length) { stats.deferred++; log(`${cid}: deferred ${replicas.length} replica(s): ${outcome.message}`); }
      return;
    }
    deferredAt.delete(cid);
    const decisions = outcome.choices.map((c) => {
      const epoch = state.slots[c.replica].epoch;
      return { replica: c.replica, epoch, hostId: c.host.hostId, zoneId: c.host.zoneId, regionId: c.host.regionId, area: c.host.area, xnodeId: xnodeIdOf(cid, c.replica, epoch), score: c.score };
    });
    for (const d of decisions) fleet.reserve(d.hostId, d.xnodeId, state.size);
    let decided: StoredEvent | undefined;
    try {
      [decided] = (await onContract({ type: 'DecidePlacement', data: { componentId: cid, decisions, reasons: outcome.reasons, schedulerId: name, decidedAt: iso(t) } }, `decide:${cid}:${decisions.map((d) => `${d.replica}.${d.epoch}`).join(',')}:${name}`, undefined, needs.tenantId)).events;
    } catch (error) {
      for (const d of decisions) fleet.unreserve(d.xnodeId);
      if (error instanceof DomainError) { stats.claimsLost++; return; } // another scheduler claimed these slots first
      throw error;
    }
    stats.decisions++;
    const latest = (await loadContract(cid)).state;
    // the slices are caused by the decision (PlacementDecided), which was caused by what asked for a placement
    await Promise.all(decisions.map((d) => cutSlice(cid, latest, d.replica, d.epoch, d.hostId, d.xnodeId, decided ?? causes.get(cid))));
  }

  /** Cuts the slice of a decided placement (idempotent); a refusal sends the slot back to pending at the next epoch. */
  async function cutSlice(cid: string, state: CContractState, replica: number, epoch: number, hostId: string, xnodeId: string, cause = causes.get(cid)): Promise<void> {
    const err = await onResources('SliceXNode', { hostId, xnodeId, size: toSizeInput(state.size), ha: { componentId: cid, replica, epoch } }, commandIds.slice(cid, replica, epoch), cause);
    if (!err) { stats.replicasPlaced++; return; }
    fleet.unreserve(xnodeId);
    stats.slicesRefused++;
    log(`${cid}/${replica}@${epoch}: ${hostId} refused the slice: ${err.code} ${err.message}`);
    await onContract({ type: 'FailPlacement', data: { componentId: cid, replica, epoch, hostId, xnodeId, code: err.code.slice(0, 100), message: err.message.slice(0, 1000) } }, undefined, cause, state.needs?.tenantId);
    wake(cid, Math.min(2000, 25 * 2 ** Math.min(6, state.slots[replica]?.failures ?? 0)));
  }

  /** A component built on another component: each replica is a child CContract, requested one after the other. */
  async function placeChildren(cid: string, state: CContractState, due: Slot[]): Promise<void> {
    const needs = state.needs!;
    if (state.slots.some((s) => s.child && s.state === 'placing' && !s.placement?.hostId)) return; // wait for the sibling to land
    const typeId = typeIdOf((needs.type.pool as { type: string }).type);
    const type = contracts.types.get(typeId) ?? (await ledger.load(componentTypeDecider, stream.type(typeId))).state;
    if (!type.definition) {
      await onContract({ type: 'DeferPlacement', data: { componentId: cid, replicas: due.map((s) => s.replica), code: 'POOL_TYPE_MISSING', message: `pool type ${typeId} is not defined`, candidates: 0, filtered: {} } }, undefined, undefined, needs.tenantId).catch(() => undefined);
      return;
    }
    const slot = due[0];
    const placed = placedOf(state, [slot.replica]);
    const avoid = needs.access === 'Full' ? { regions: placed.map((p) => p.regionId) } : needs.access === 'Region' ? { zones: placed.map((p) => p.zoneId) } : { areas: placed.map((p) => p.area) };
    const childId = childIdOf(cid, slot.replica * 1000 + slot.epoch);
    const def = type.definition;
    await executeFresh(ledger, ccontractDecider, stream.ccontract(childId), {
      type: 'RequestComponent',
      data: {
        componentId: childId, ...(needs.tenantId && { tenantId: needs.tenantId }),
        type: { typeId: def.typeId, name: def.name, version: type.version, distribution: def.distribution, singleRunning: def.singleRunning, pool: def.pool, hostTypes: def.hostTypes },
        size: state.size, access: needs.access, ...(needs.regionId && { regionId: needs.regionId }), ...(needs.zoneId && { zoneId: needs.zoneId }),
        replicas: 1, writers: 1, parent: { componentId: cid, replica: slot.replica }, avoid,
      },
    }, ctx(commandIds.child(cid, slot.replica * 1000 + slot.epoch), causes.get(cid), needs.tenantId));
    await onContract({ type: 'RequestChild', data: { componentId: cid, replica: slot.replica, epoch: slot.epoch, childId } }, undefined, undefined, needs.tenantId)
      .catch((e) => { if (!(e instanceof DomainError)) throw e; });
    wake(childId, 0);
  }

  async function mirrorChild(cid: string, slot: Slot, tenant?: string): Promise<void> {
    const child = contracts.get(slot.child!);
    if (!child) return;
    const c0 = child.slots[0];
    if (child.status === 'released' || (child.status === 'releasing')) {
      if (slot.state !== 'released' && slot.placement) {
        await onContract({ type: 'ReportReplicaLost', data: { componentId: cid, replica: slot.replica, epoch: slot.epoch, hostId: slot.placement.hostId, xnodeId: slot.placement.xnodeId || 'xn_none', cause: 'xnode-released', detectedAt: iso(now()) } }, undefined, undefined, tenant).catch(() => undefined);
      }
      return;
    }
    if (!c0?.placement) return;
    const state = c0.state === 'pending' || c0.state === 'placing' ? 'provisioning' : c0.state;
    if (slot.state === state && slot.placement?.hostId === c0.placement.hostId) return;
    await onContract({ type: 'ObserveReplica', data: { componentId: cid, replica: slot.replica, epoch: slot.epoch, hostId: c0.placement.hostId, xnodeId: c0.placement.xnodeId, state: state as never, zoneId: c0.placement.zoneId, regionId: c0.placement.regionId, area: c0.placement.area } }, undefined, undefined, tenant);
  }

  async function applyPower(cid: string, state: CContractState): Promise<void> {
    if (!state.needs) return;
    for (const slot of state.slots) {
      if (!isPlaced(slot) || slot.child || !slot.placement) continue;
      const { hostId, xnodeId } = slot.placement;
      const base = { hostId, xnodeId, epoch: slot.epoch };
      // resize first (the component is off): a stopped or provisioning slice takes the new size
      if (state.resizeSeq > slot.resized && (slot.state === 'stopped' || slot.state === 'provisioning')) {
        const err = await onResources('ResizeXNode', { ...base, size: toSizeInput(state.size) }, commandIds.resize(cid, slot.replica, slot.epoch, state.resizeSeq), causes.get(cid));
        if (err) log(`${cid}/${slot.replica}: resize refused by ${hostId}: ${err.code} ${err.message}`);
        else await onContract({ type: 'RecordReplicaResized', data: { componentId: cid, replica: slot.replica, epoch: slot.epoch, seq: state.resizeSeq } }, undefined, undefined, state.needs.tenantId);
      }
      let type: string | null = null;
      if (state.power === 'on') type = slot.state === 'stopped' || slot.state === 'failed' ? 'PowerOnXNode' : slot.state === 'hibernated' ? 'ActivateXNode' : null;
      else if (state.power === 'off') type = slot.state === 'running' ? 'PowerOffXNode' : null;
      else type = slot.state === 'running' || slot.state === 'stopped' ? 'HibernateXNode' : null;
      if (!type || state.powerSeq === 0) continue;
      const err = await onResources(type, { ...base, reason: `component ${cid} power ${state.power}` }, `${commandIds.power(cid, slot.replica, slot.epoch, state.powerSeq)}:${type}`, causes.get(cid));
      if (err) log(`${cid}/${slot.replica}: ${type} refused by ${hostId}: ${err.code} ${err.message}`);
    }
  }

  async function releaseAll(cid: string, state: CContractState): Promise<void> {
    for (const slot of state.slots) {
      if (slot.state === 'released') continue;
      if (slot.child) {
        const child = contracts.get(slot.child);
        if (child && child.status !== 'released') {
          await executeFresh(ledger, ccontractDecider, stream.ccontract(slot.child), { type: 'RequestRelease', data: { componentId: slot.child, reason: `parent ${cid} released` } }, ctx(undefined, causes.get(cid), state.needs?.tenantId));
          wake(slot.child, 0);
          continue;
        }
        if (!child) continue;
      } else {
        const targets = [...(slot.placement ? [slot.placement] : []), ...slot.old];
        let ok = true;
        for (const t of targets) {
          const err = await onResources('ReleaseXNode', { hostId: t.hostId, xnodeId: t.xnodeId, reason: `component ${cid} released` }, commandIds.release(cid, t.xnodeId), causes.get(cid));
          if (err && !['XNODE_NOT_FOUND', 'HOST_NOT_FOUND'].includes(err.code)) { ok = false; log(`release ${t.xnodeId} on ${t.hostId}: ${err.code} ${err.message}`); }
        }
        if (!ok) continue;
        stats.released++;
      }
      await onContract({ type: 'RecordReplicaReleased', data: { componentId: cid, replica: slot.replica, epoch: slot.epoch } }, undefined, undefined, state.needs?.tenantId);
    }
    const after = (await loadContract(cid)).state;
    if (after.status === 'released') {
      if (after.needs?.projectId) {
        await ledger.execute(projectDecider, projectStream.project(after.needs.projectId), { type: 'UnlinkComponent', data: { projectId: after.needs.projectId, componentId: cid, reason: 'released' } }, ctx(`unlink:${cid}`, causes.get(cid), after.needs.tenantId))
          .catch((e) => { if (!(e instanceof DomainError)) throw e; });
      }
      const parent = after.needs?.parent?.componentId;
      if (parent) wake(parent, 0);
    }
  }

  /** Runs `work` for a contract after `ms` (one timer per contract: the earliest wins). */
  function wake(componentId: string, ms: number): void {
    if (stopped) return;
    if (ms <= 0) { void work(componentId).catch(() => undefined); return; }
    const existing = timers.get(componentId);
    if (existing) return;
    const t = setTimeout(() => { timers.delete(componentId); void work(componentId).catch(() => undefined); }, ms);
    timers.set(componentId, t);
  }

  // ── host events: replica states, failover, orphans, capacity ─────────────────────────────────────────

  async function onHostEvent(e: StoredEvent): Promise<void> {
    const ev = { type: e.type, data: e.data } as HostEvent;
    const hostId = (e.data as { hostId?: string }).hostId;
    const host = hostId ? fleet.host(hostId) : undefined;
    if (ev.type === 'HostStatusChanged' && !ev.data.reachable && host) {
      const lastSeen = ev.data.lastSeenAt ? Date.parse(ev.data.lastSeenAt) : Date.parse(e.metadata.occurredAt);
      await replicasLost(host, e, host.poweredOffAt ? 'host-powered-off' : 'host-unreachable', host.poweredOffAt ? undefined : iso(lastSeen + leaseMs + skewMs), ev.data.lastSeenAt);
    } else if (ev.type === 'HostPoweredOff' && host) {
      await replicasLost(host, e, 'host-powered-off', undefined);
      for (const [cid, entry] of contracts.contracts) {
        for (const slot of entry.state.slots) {
          if (slot.state === 'pending' && slot.notBefore && slot.old.some((o) => o.hostId === host.hostId)) {
            await onContract({ type: 'ExpediteReplacement', data: { componentId: cid, replica: slot.replica, epoch: slot.epoch, reason: `${host.hostId} was powered off out of band (${ev.data.method})` } }, `expedite:${e.metadata.eventId}:${cid}:${slot.replica}`, e, entry.state.needs?.tenantId);
            wake(cid, 0);
          }
        }
      }
    } else if (ev.type === 'HostRetired' && host) {
      // a forced retirement released the slices first (XNodeReleased, handled below)
    } else if (HA_XNODE_EVENTS.has(ev.type)) {
      const d = e.data as { xnodeId: string; hostId: string; state: string; ha?: { componentId: string; replica: number; epoch: number }; cause?: string };
      if (d.ha) await haSliceEvent(e, d as Required<Pick<typeof d, 'ha'>> & typeof d);
    }
    if (GROWTH_EVENTS.has(ev.type)) kickDeferred();
  }

  async function replicasLost(host: HostView, e: StoredEvent, cause: 'host-unreachable' | 'host-powered-off', notBefore: string | undefined, lastSeenAt?: string): Promise<void> {
    for (const slice of [...host.slices.values()]) {
      if (!slice.ha || slice.state === 'released' || slice.state === 'fenced') continue;
      const c = contracts.get(slice.ha.componentId);
      const slot = c?.slots[slice.ha.replica];
      if (!c || !slot || slot.epoch !== slice.ha.epoch || slot.placement?.xnodeId !== slice.xnodeId) continue;
      const r = await onContract({ type: 'ReportReplicaLost', data: { componentId: slice.ha.componentId, replica: slice.ha.replica, epoch: slice.ha.epoch, hostId: host.hostId, xnodeId: slice.xnodeId, cause, ...(notBefore && { notBefore }), ...(lastSeenAt && { lastSeenAt }), detectedAt: e.metadata.occurredAt } }, `lost:${e.metadata.eventId}:${slice.ha.componentId}:${slice.ha.replica}`, e, c.needs?.tenantId);
      if (r.events.length) { stats.lost++; log(`${slice.ha.componentId}/${slice.ha.replica}@${slice.ha.epoch} lost on ${host.hostId} (${cause}); replacement ${notBefore ? `not before ${notBefore}` : 'now'}`); }
      wake(slice.ha.componentId, 0);
    }
  }

  async function haSliceEvent(e: StoredEvent, d: { xnodeId: string; hostId: string; state: string; ha: { componentId: string; replica: number; epoch: number }; cause?: string }): Promise<void> {
    const c = contracts.get(d.ha.componentId);
    const slot = c?.slots[d.ha.replica];
    if (!c || !slot) return;
    const current = slot.epoch === d.ha.epoch && slot.placement?.xnodeId === d.xnodeId && slot.placement.hostId === d.hostId;
    if (!current) {
      // an incarnation the contract does not want (a late slice of an abandoned epoch): give it back
      const known = slot.old.some((o) => o.xnodeId === d.xnodeId) || (slot.placement?.xnodeId === d.xnodeId);
      if (e.type === 'XNodeSliced' && !known && d.ha.epoch <= slot.epoch) {
        log(`orphan slice ${d.xnodeId} of ${d.ha.componentId}/${d.ha.replica}@${d.ha.epoch} on ${d.hostId}: releasing it`);
        await onResources('ReleaseXNode', { hostId: d.hostId, xnodeId: d.xnodeId, reason: `orphan: ${d.ha.componentId} replica ${d.ha.replica} is at epoch ${slot.epoch}` }, commandIds.release(d.ha.componentId, d.xnodeId), e);
      }
      return;
    }
    if (e.type === 'XNodeFailed' || e.type === 'XNodeReleased' || (e.type === 'XNodeFenced' && d.cause !== 'command')) {
      if (c.status === 'releasing' || c.status === 'released') { wake(d.ha.componentId, 0); return; }
      const cause = e.type === 'XNodeFailed' ? 'xnode-failed' : d.cause === 'host-retired' ? 'host-retired' : 'xnode-released';
      const r = await onContract({ type: 'ReportReplicaLost', data: { componentId: d.ha.componentId, replica: d.ha.replica, epoch: d.ha.epoch, hostId: d.hostId, xnodeId: d.xnodeId, cause, detectedAt: e.metadata.occurredAt } }, `lost:${e.metadata.eventId}:${d.ha.componentId}:${d.ha.replica}`, e, c.needs?.tenantId);
      if (r.events.length) stats.lost++;
    } else if (e.type !== 'XNodeResized') {
      await onContract({ type: 'ObserveReplica', data: { componentId: d.ha.componentId, replica: d.ha.replica, epoch: d.ha.epoch, hostId: d.hostId, xnodeId: d.xnodeId, state: d.state as never } }, `obs:${e.metadata.eventId}`, e, c.needs?.tenantId);
    }
    wake(d.ha.componentId, 0);
  }

  function kickDeferred(): void {
    for (const [cid, entry] of contracts.contracts) {
      if (entry.state.deferred && entry.state.status !== 'released' && entry.state.status !== 'releasing') wake(cid, 0);
    }
  }

  // ── triggers ───────────────────────────────────────────────────────────────────────────────────────────

  const parse = (m: Delivery, category: string): StoredEvent => {
    let raw: unknown;
    try { raw = eventFromMessage(m); } catch { throw new Malformed(`not JSON (${m.data.length} bytes)`); }
    const parsed = RelayedEvent.safeParse(raw);
    if (!parsed.success) throw new Malformed(parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
    const e = parsed.data as unknown as StoredEvent;
    if (categoryOf(e.streamId) !== category) throw new Malformed(`stream ${e.streamId} is not a ${category} stream`);
    if (category === 'CContract' && !(CCONTRACT_EVENTS as readonly string[]).includes(e.type)) throw new Malformed(`unknown CContract event type ${e.type}`);
    try { validateEvent(e.type, e.data); } catch (error) { throw new Malformed(error instanceof Error ? error.message : String(error)); }
    return e;
  };
  const guarded = (category: string, handle: (e: StoredEvent) => Promise<void>) => async (m: Delivery) => {
    let e: StoredEvent;
    try { e = parse(m, category); } catch (error) {
      stats.malformed++;
      log(`rejected a malformed message on ${m.subject} (seq ${m.seq}): ${error instanceof Error ? error.message : String(error)}`);
      m.term();
      return;
    }
    await views.waitFor(e.position, 5000);
    await handle(e);
  };

  const onContractEvent = async (e: StoredEvent) => {
    const cid = idOf(e.streamId);
    await work(cid);
    const parent = contracts.get(cid)?.needs?.parent?.componentId;
    if (parent) await work(parent);
  };

  const subs: BusSubscription[] = [];
  const storeSubs: { close(): Promise<void> }[] = [];
  if (bus) {
    const common = { ackWaitMs: options.ackWaitMs ?? 30_000, retryDelayMs: 500, onError: (error: unknown, m: Delivery) => log(`handling ${m.subject} failed (delivery ${m.deliveryCount}), will retry: ${error instanceof Error ? error.message : String(error)}`) };
    subs.push(await bus.subscribe(categorySubjects('CContract'), guarded('CContract', onContractEvent), { durable: options.durable ?? 'components-scheduler', ...common }));
    subs.push(await bus.subscribe(categorySubjects('Host'), guarded('Host', onHostEvent), { durable: options.hostDurable ?? 'components-hosts', ...common }));
  } else {
    // embedded: the store's own subscriptions trigger the work, from the head at start (the sweep covers the past)
    const head = await ledger.store.headPosition();
    storeSubs.push(ledger.store.subscribe({
      after: head, filter: { categories: ['CContract'] },
      onBatch: async (events) => { await views.waitFor(events[events.length - 1].position); for (const e of events) void onContractEvent(e).catch(() => undefined); },
    }));
    storeSubs.push(ledger.store.subscribe({
      after: head, filter: { categories: ['Host'] },
      onBatch: async (events) => { await views.waitFor(events[events.length - 1].position); for (const e of events) await onHostEvent(e).catch((err) => { stats.errors++; log(`host event ${e.type}: ${err instanceof Error ? err.message : err}`); }); },
    }));
  }

  /** What still needs doing on a contract that no message may announce. */
  const needsWork = (s: CContractState, quietFor: number): boolean => {
    if (!s.needs || s.status === 'released') return false;
    const t = now();
    if (s.status === 'releasing') return quietFor > 2 * sweepMs;
    for (const slot of s.slots) {
      if (slot.placement && !slot.child && slot.state !== 'pending' && slot.state !== 'released' && slot.state !== 'fenced' && fleet.host(slot.placement.hostId)?.reachable === false) return quietFor > 2 * sweepMs;
      if (slot.old.some((o) => !o.fenced)) return quietFor > 2 * sweepMs;
      if (slot.state === 'pending' && (!slot.notBefore || Date.parse(slot.notBefore) <= t)) {
        if (s.deferred) return deferredAt.get(s.needs.componentId) !== fleet.version;
        return quietFor > sweepMs || !!slot.notBefore;
      }
      if (slot.state === 'placing' && !slot.child && slot.decidedAt && t - Date.parse(slot.decidedAt) >= placementTimeoutMs) return true;
    }
    return false;
  };
  const sweep = setInterval(() => {
    if (stopped) return;
    const t = now();
    for (const [cid, entry] of contracts.contracts) {
      if (chains.has(cid)) continue;
      if (needsWork(entry.state, t - entry.changedAt)) void work(cid).catch(() => undefined);
    }
  }, sweepMs);
  sweep.unref?.();

  log(`started (${bus ? `${bus.kind} bus, durable consumers ${options.durable ?? 'components-scheduler'} / ${options.hostDurable ?? 'components-hosts'}` : 'store-driven'}, policy ${planner.policy}, lease ${leaseMs} ms + ${skewMs} ms); fleet ${fleet.hosts.length} hosts, ${contracts.contracts.size} contracts`);

  return {
    name, views, stats, work,
    async idle(timeoutMs = 10_000) {
      const deadline = now() + timeoutMs;
      await views.waitFor(await ledger.store.headPosition(), timeoutMs);
      while (inFlight.size && now() < deadline) await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, 50))]);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(sweep);
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      await Promise.all(subs.map((s) => s.close().catch(() => undefined)));
      await Promise.all(storeSubs.map((s) => s.close().catch(() => undefined)));
      await Promise.allSettled([...inFlight]);
      await views.close();
      log('stopped');
    },
  };
}

