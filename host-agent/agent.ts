/**
 * The host agent: one per host. It consumes its host's stream from the bus (durable consumer on
 * `ledger.resources.Host.<hostId>.>`), makes the slices really be in the state the ledger asks for through a driver,
 * and reports what it then observes through the command gateway (request/reply on `cmd.agent.<hostId>.report`,
 * gateway.ts). The ledger records running/stopped/hibernated/failed from these reports, never from what was asked.
 *
 * - Idempotent: the last applied generation of every slice is kept on disk (`<stateDir>/agent-state.json`, written
 *   atomically before the event is acknowledged); an event whose generation is not newer changes nothing, so a
 *   redelivered event is harmless (and drivers are idempotent too: a crash between the driver call and the state
 *   write re-runs a no-op).
 * - Fencing: the highest epoch seen per HA replica (`componentId/replica`) is kept on the same disk file; an event
 *   that would make a slice of an older epoch run is refused (reported with the reason, never executed). Stopping,
 *   fencing and releasing are always allowed: they only make things safer.
 * - Lease and self-fencing: every heartbeat published (and acknowledged by the bus) renews the lease. When no beat got
 *   through for `leaseMs`, the agent stops (force) every HA slice it runs on its own, and reports them stopped once
 *   the bus answers again. It never restarts them by itself: only a newer command does.
 * - Heartbeats on `ledger.agent.<hostId>.heartbeat` (payload: layers/resources/health/heartbeat.ts), load reports
 *   (driver.load()) on `ledger.agent.<hostId>.load`.
 * - Reconciliation at start and every `reconcileIntervalMs`: driver.list() against the applied state. Differences are
 *   reported (ReportXNodeObserved for ledger slices; `ledger.agent.<hostId>.drift` for slices the ledger does not
 *   know), never fixed silently.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Bus, BusSubscription, Delivery } from '../core/bus/port.ts';
import { BusRemoteError } from '../core/bus/port.ts';
import { eventFromMessage, streamSubjects } from '../core/relay.ts';
import { Heartbeat, heartbeatSubject } from '../layers/resources/health/heartbeat.ts';
import {
  DriverError, type FencingSpec, type ImageSpec, type ObservedState, type SliceDriver, type SliceKind, type SliceSpecInput,
} from './drivers/port.ts';
import { reportSubject, type AgentReport, type ReportReply } from './gateway.ts';

export const AGENT_VERSION = '0.1.0';
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;
export const DEFAULT_LEASE_MS = 15_000;
export const loadSubject = (hostId: string): string => `ledger.agent.${hostId}.load`;
export const driftSubject = (hostId: string): string => `ledger.agent.${hostId}.drift`;
export const agentDurable = (hostId: string): string => `agent_${hostId}`;

/** Ledger states of an XNode (the `state` of its events). */
type LedgerState = 'provisioning' | 'running' | 'stopped' | 'hibernated' | 'failed' | 'fenced' | 'released';

export interface AppliedSlice {
  generation: number;
  /** The ledger state of the last applied event. */
  state: LedgerState;
  kind: SliceKind;
  spec: SliceSpecInput;
  ha?: FencingSpec;
  /** Set when the agent stopped the slice itself because its lease ran out. */
  selfFencedAt?: string;
}

interface AgentStateFile {
  hostId: string;
  slices: Record<string, AppliedSlice>;
  /** Highest epoch seen per `componentId/replica`. */
  epochs: Record<string, number>;
}

export interface AgentLog { (line: string): void }

export interface AgentOptions {
  hostId: string;
  driver: SliceDriver;
  bus: Bus;
  /** Where the agent keeps its applied generations and fencing epochs (created if missing). */
  stateDir: string;
  /** Image of a slice from its ledger imageId (CNode: a rootfs directory; VNode: a disk image). Default:
   *  `images[imageId]`, else `<imagesDir>/<imageId>` (VNode: `<imagesDir>/<imageId>.qcow2`), else `defaultImage`. */
  resolveImage?: (imageId: string | undefined, kind: SliceKind) => ImageSpec | undefined;
  images?: Record<string, ImageSpec>;
  imagesDir?: string;
  defaultImage?: ImageSpec;
  /** CNode process (default: the driver's, `/sbin/init`). */
  command?: string[];
  /** LEDGER_HEARTBEAT_INTERVAL_MS (default 5 s). */
  heartbeatIntervalMs?: number;
  /** LEDGER_AGENT_LEASE_MS: how long without a renewed lease before HA slices are stopped (default 15 s). */
  leaseMs?: number;
  /** Load report period (default 3 heartbeats; 0 = never). */
  loadIntervalMs?: number;
  /** Reconciliation period (default 60 s; 0 = only at start). */
  reconcileIntervalMs?: number;
  /** Timeout of one report request (default 5 s). */
  requestTimeoutMs?: number;
  /** Durable consumer name (default `agent_<hostId>`). */
  durable?: string;
  /** How long the bus waits for the agent to finish an event before redelivering it (default 60 s). */
  ackWaitMs?: number;
  /** Graceful stop time given to the driver (driver default otherwise). */
  stopTimeoutMs?: number;
  log?: AgentLog;
}

export interface AgentStats {
  applied: number;
  skipped: number;
  refused: number;
  ignored: number;
  reportsSent: number;
  reportsRefused: number;
  beatsOk: number;
  beatsFailed: number;
  selfFenced: number;
  driftReported: number;
  errors: number;
}

export interface DriftItem {
  xnodeId: string;
  /** What the ledger wants (applied state) or `unknown` for a slice the ledger does not know. */
  expected: LedgerState | 'unknown';
  observed: ObservedState;
  managed: boolean;
}

export interface Agent {
  readonly hostId: string;
  readonly stats: AgentStats;
  /** The applied state (a copy). */
  applied(): Record<string, AppliedSlice>;
  epochs(): Record<string, number>;
  /** True while the lease is lost (HA slices stopped, not restarted by the agent). */
  readonly leaseLost: boolean;
  /** Compares what runs with what the ledger asked for; reports every difference. */
  reconcile(): Promise<DriftItem[]>;
  /** Sends the reports still waiting for the gateway. */
  flushReports(): Promise<void>;
  /** One heartbeat now (renews the lease when the bus acknowledges it). */
  beat(): Promise<boolean>;
  /** Stops consuming, timers, and closes the driver when `closeDriver` (default true). Leaves slices running. */
  close(opts?: { closeDriver?: boolean }): Promise<void>;
}

const XNodeEventData = z.object({
  hostId: z.string(),
  xnodeId: z.string(),
  kind: z.enum(['VNode', 'CNode', 'BNode']),
  size: z.object({ cpuCores: z.number(), ramMiB: z.number(), diskGiB: z.number() }).passthrough(),
  state: z.enum(['provisioning', 'running', 'stopped', 'hibernated', 'failed', 'fenced', 'released']),
  generation: z.number().int().min(0),
  imageId: z.string().optional(),
  ha: z.object({ componentId: z.string(), replica: z.number().int(), epoch: z.number().int() }).optional(),
}).passthrough();

/** Events that carry a generation the agent acts on. XNodeObserved (its own reports echoed) never bumps it. */
const ACTED_ON = new Set([
  'XNodeSliced', 'XNodeProvisioned', 'XNodePoweredOn', 'XNodePoweredOff', 'XNodeHibernated', 'XNodeActivated', 'XNodeFailed',
  'XNodeFenced', 'XNodeReleased', 'XNodeResized', 'XNodeCopyStarted', 'XNodeCopyCompleted', 'XNodeCopyFailed',
]);

const isoNow = () => new Date().toISOString();
const epochKey = (ha: { componentId: string; replica: number }) => `${ha.componentId}/${ha.replica}`;
const errMsg = (e: unknown) => (e instanceof Error ? e.message : String(e));

function loadStateFile(path: string, hostId: string): AgentStateFile {
  if (!existsSync(path)) return { hostId, slices: {}, epochs: {} };
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as AgentStateFile;
  if (parsed.hostId !== hostId) {
    throw new Error(`${path} belongs to host ${parsed.hostId}, not ${hostId}: give each agent its own --state-dir`);
  }
  return { hostId, slices: parsed.slices ?? {}, epochs: parsed.epochs ?? {} };
}

export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const { hostId, driver, bus } = opts;
  if (!/^h_[A-Za-z0-9_]{1,60}$/.test(hostId)) throw new Error(`invalid host id ${JSON.stringify(hostId)}: "h_" followed by letters, digits or "_"`);
  const log: AgentLog = opts.log ?? ((l) => console.error(`${isoNow()} agent ${hostId}: ${l}`));
  const intervalMs = opts.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  const loadEvery = opts.loadIntervalMs ?? intervalMs * 3;
  const reconcileEvery = opts.reconcileIntervalMs ?? 60_000;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 5_000;
  mkdirSync(opts.stateDir, { recursive: true });
  const statePath = join(opts.stateDir, 'agent-state.json');
  const st = loadStateFile(statePath, hostId);
  const persist = () => {
    const tmp = `${statePath}.tmp`;
    writeFileSync(tmp, JSON.stringify(st));
    renameSync(tmp, statePath);
  };
  const stats: AgentStats = { applied: 0, skipped: 0, refused: 0, ignored: 0, reportsSent: 0, reportsRefused: 0, beatsOk: 0, beatsFailed: 0, selfFenced: 0, driftReported: 0, errors: 0 };
  const startedAt = isoNow();
  let seq = 0;
  let lastRenewal = Date.now();
  let leaseLost = false;
  let closed = false;
  let closing: Promise<void> | undefined;
  /** Latest report per slice not yet accepted by the gateway. */
  const pending = new Map<string, AgentReport>();
  /** Last observation the gateway accepted per slice (to report changes only during periodic reconciliation). */
  const lastReported = new Map<string, string>();

  const resolveImage = opts.resolveImage ?? ((imageId: string | undefined, kind: SliceKind): ImageSpec | undefined => {
    if (kind === 'BNode') return undefined;
    if (imageId && opts.images?.[imageId]) return opts.images[imageId];
    if (imageId && opts.imagesDir) return { name: imageId, path: join(opts.imagesDir, kind === 'VNode' ? `${imageId}.qcow2` : imageId), boot: 'overlay' };
    return opts.defaultImage;
  });

  const specOf = (d: z.infer<typeof XNodeEventData>): SliceSpecInput => ({
    id: d.xnodeId, kind: d.kind,
    cpuCores: Math.max(1, Math.ceil(d.size.cpuCores)), ramMiB: Math.max(16, Math.ceil(d.size.ramMiB)), diskGiB: Math.max(1, Math.ceil(d.size.diskGiB)),
    ...(resolveImage(d.imageId, d.kind) && { image: resolveImage(d.imageId, d.kind) }),
    ...(d.ha && { fencing: { componentId: d.ha.componentId, replica: d.ha.replica, epoch: d.ha.epoch } }),
    ...(d.kind === 'CNode' && opts.command && { command: opts.command }),
  });

  // ---- reports ------------------------------------------------------------------------------------------
  /** `cause`: the Host event being enacted, so the gateway records the report in that event's conversation. */
  const queueReport = (xnodeId: string, observed: ObservedState, generation: number, message?: string, cause?: AgentReport['cause']) => {
    pending.set(xnodeId, {
      type: 'ReportXNodeObserved',
      data: { hostId, xnodeId, observed, generation, observedAt: isoNow(), ...(message && { message: message.slice(0, 1000) }) },
      ...(cause && { cause }),
    });
  };
  let flushing: Promise<void> | undefined;
  let transportWarned = false;
  /** Sends each pending report once; false when the transport failed (what is left stays pending for the next tick). */
  const sendPending = async (): Promise<boolean> => {
    for (const [xnodeId, report] of [...pending]) {
      if (closed) return false;
      try {
        const reply = (await bus.request(reportSubject(hostId), report, { timeoutMs: requestTimeoutMs })).json<ReportReply>();
        if (pending.get(xnodeId) === report) pending.delete(xnodeId);
        transportWarned = false;
        if (reply?.ok) {
          stats.reportsSent++;
          lastReported.set(xnodeId, `${report.data.observed}@${report.data.generation}`);
        } else {
          stats.reportsRefused++;
          log(`report on ${xnodeId} refused by the gateway: ${reply?.error?.code ?? '?'} ${reply?.error?.message ?? ''}`);
        }
      } catch (e) {
        if (e instanceof BusRemoteError) {
          if (pending.get(xnodeId) === report) pending.delete(xnodeId);
          stats.reportsRefused++;
          log(`report on ${xnodeId} failed at the gateway: ${e.message}`);
        } else {
          // transport: the bus or the gateway is away; keep it for the next tick
          if (!transportWarned) log(`report on ${xnodeId} not delivered (kept for retry): ${errMsg(e)}`);
          transportWarned = true;
          return false;
        }
      }
    }
    return true;
  };
  const flushReports = (): Promise<void> => {
    flushing ??= (async () => {
      await null; // never settle synchronously: the finally below must run after the assignment
      try {
        // rounds until nothing is pending: reports queued while one was in flight go in the next round
        while (pending.size && await sendPending()) { /* next round */ }
      } finally { flushing = undefined; }
    })();
    return flushing;
  };

  // ---- executing one event ------------------------------------------------------------------------------
  const observe = async (id: string): Promise<ObservedState> => {
    try { return await driver.status(id); } catch (e) { log(`status ${id}: ${errMsg(e)}`); return 'failed'; }
  };

  /** Brings the slice to the ledger state; resolves with what the driver then observes. */
  const enact = async (slice: AppliedSlice, id: string, isNew: boolean): Promise<ObservedState> => {
    const stopOpts = { ...(opts.stopTimeoutMs !== undefined && { timeoutMs: opts.stopTimeoutMs }) };
    switch (slice.state) {
      case 'provisioning':
      case 'running': {
        // a slice new to the agent is created at once (create is idempotent); a known one is looked at first
        let now = isNew ? await driver.create(slice.spec) : await driver.status(id);
        if (now === 'absent') now = await driver.create(slice.spec);
        if (now === 'running') return now;
        if (now === 'hibernated') return driver.resume(id);
        return driver.start(id);
      }
      case 'stopped': return driver.stop(id, stopOpts);
      case 'hibernated': {
        const now = await driver.status(id);
        if (now === 'running') return driver.hibernate(id);
        return now; // a stopped slice holds nothing in memory to save: reported as it is
      }
      case 'fenced': {
        const now = await driver.status(id);
        return now === 'running' || now === 'hibernated' ? driver.stop(id, { force: true }) : now;
      }
      case 'released': return driver.destroy(id);
      case 'failed': return observe(id); // the ledger learnt it from us: nothing to do
    }
  };

  const handle = async (msg: Delivery): Promise<void> => {
    let type: string;
    let raw: unknown;
    let cause: AgentReport['cause'];
    try {
      const ev = eventFromMessage<unknown>(msg);
      type = ev.type;
      raw = ev.data;
      const m = ev.metadata as { eventId?: unknown; correlationId?: unknown } | undefined;
      if (typeof m?.eventId === 'string' && typeof m.correlationId === 'string') cause = { eventId: m.eventId, correlationId: m.correlationId };
    } catch (e) {
      stats.ignored++;
      log(`undecodable message on ${msg.subject} (seq ${msg.seq}) dropped: ${errMsg(e)}`);
      return;
    }
    if (!ACTED_ON.has(type)) { stats.ignored++; return; }
    const parsed = XNodeEventData.safeParse(raw);
    if (!parsed.success || parsed.data.hostId !== hostId) {
      stats.ignored++;
      log(`malformed or foreign ${type} on ${msg.subject} refused: ${parsed.success ? `names host ${parsed.data.hostId}` : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return;
    }
    const d = parsed.data;
    const prev = st.slices[d.xnodeId];
    if (prev && d.generation <= prev.generation) { stats.skipped++; return; }

    const spec = prev && type !== 'XNodeSliced' && type !== 'XNodeResized' ? { ...prev.spec, ...(d.ha && { fencing: d.ha }) } : specOf(d);
    const next: AppliedSlice = { generation: d.generation, state: d.state, kind: d.kind, spec, ...(d.ha && { ha: d.ha }) };

    // Fencing: refuse to run a slice of an older epoch than seen for its replica.
    if (d.ha) {
      const key = epochKey(d.ha);
      const seen = st.epochs[key] ?? -1;
      if (d.ha.epoch < seen && (d.state === 'running' || d.state === 'provisioning')) {
        stats.refused++;
        log(`refused ${type} on ${d.xnodeId}: epoch ${d.ha.epoch} < ${seen} for ${key}`);
        if (!prev) return; // nothing of it runs here: a stale or forged slice is not adopted
        st.slices[d.xnodeId] = { ...next, state: prev.state };
        persist();
        queueReport(d.xnodeId, await observe(d.xnodeId), d.generation, `refused ${type}: epoch ${d.ha.epoch} of ${key} is older than epoch ${seen} seen by the agent`, cause);
        await flushReports();
        return;
      }
      if (d.ha.epoch > seen) { st.epochs[key] = d.ha.epoch; persist(); }
    }

    if (type === 'XNodeCopyStarted') {
      // No driver copies disks yet: say so instead of pretending.
      st.slices[d.xnodeId] = next;
      persist();
      const copyId = String((raw as { copyId?: unknown }).copyId ?? '');
      pending.set(`${d.xnodeId}#copy`, { type: 'ReportXNodeCopy', data: { hostId, xnodeId: d.xnodeId, copyId, outcome: 'failed', message: `the ${driver.kind} driver of this agent cannot copy disks` }, ...(cause && { cause }) });
      stats.applied++;
      await flushReports();
      return;
    }

    let observed: ObservedState;
    let message: string | undefined;
    try {
      if (type === 'XNodeResized' && prev) {
        // A stopped slice gets its new size by being prepared again (the driver refuses another spec under one id).
        const now = await driver.status(d.xnodeId);
        if (now !== 'absent' && now !== 'running') await driver.destroy(d.xnodeId);
        observed = now === 'running' ? now : await driver.create(spec);
      } else {
        observed = await enact(next, d.xnodeId, !prev);
      }
      if (leaseLost && d.ha && observed === 'running') {
        // should not happen (no events arrive without the bus), but never run an HA slice without a lease
        observed = await driver.stop(d.xnodeId, { force: true });
        message = 'stopped: the agent holds no lease';
      }
    } catch (e) {
      stats.errors++;
      message = `${type}: ${e instanceof DriverError ? `${e.code}: ` : ''}${errMsg(e)}`;
      log(`executing ${type} on ${d.xnodeId} failed: ${message}`);
      observed = await observe(d.xnodeId);
      if (observed === 'absent' && d.state !== 'released') observed = 'failed';
      if (observed === 'stopped' && (d.state === 'running' || d.state === 'provisioning')) observed = 'failed';
    }
    st.slices[d.xnodeId] = next;
    persist();
    stats.applied++;
    queueReport(d.xnodeId, observed, d.generation, message, cause);
    // Not awaited: the agent goes on with the next event while the report is recorded. Waiting for the gateway (a
    // request/reply and the ledger's commit) before taking the next slice cost 2 ms a container in-process and 3–7
    // through NATS (`ledger bench agent`). Delivery stays at least once: an undelivered report stays pending and is
    // retried on every beat, and a restarted agent reports every slice at its start reconciliation.
    void flushReports();
  };

  // ---- lease, heartbeats, load ------------------------------------------------------------------------------
  const selfFence = async () => {
    for (const [id, s] of Object.entries(st.slices)) {
      if (!s.ha || s.state === 'released' || s.selfFencedAt) continue;
      try {
        const now = await driver.status(id);
        if (now === 'running' || now === 'hibernated') {
          const after = await driver.stop(id, { force: true });
          stats.selfFenced++;
          log(`lease lost for ${Date.now() - lastRenewal} ms: stopped HA slice ${id} (${s.ha.componentId}/${s.ha.replica} epoch ${s.ha.epoch}) → ${after}`);
          st.slices[id] = { ...s, selfFencedAt: isoNow() };
          persist();
          queueReport(id, after, s.generation, `self-fenced: the agent could not renew its lease for ${leaseMs} ms`);
        }
      } catch (e) {
        stats.errors++;
        log(`self-fencing ${id} failed: ${errMsg(e)}`);
      }
    }
  };

  let beating: Promise<boolean> | undefined;
  const beat = (): Promise<boolean> => {
    beating ??= (async () => {
      await null;
      try {
        const hb = Heartbeat.parse({
          hostId, sentAt: isoNow(), seq: seq++, agent: { version: AGENT_VERSION, driver: driver.kind, startedAt },
          load: { xnodes: Object.values(st.slices).filter((s) => s.state !== 'released').length },
        });
        await bus.publish(heartbeatSubject(hostId), hb, { timeoutMs: Math.max(500, Math.min(intervalMs, 3_000)) });
        stats.beatsOk++;
        lastRenewal = Date.now();
        if (leaseLost) {
          leaseLost = false;
          log('lease renewed: the bus answers again (self-fenced slices stay stopped until the ledger asks otherwise)');
          for (const [id, s] of Object.entries(st.slices)) if (s.selfFencedAt) { st.slices[id] = { ...s, selfFencedAt: undefined }; }
          persist();
        }
        return true;
      } catch (e) {
        stats.beatsFailed++;
        if (stats.beatsFailed === 1 || stats.beatsFailed % 10 === 0) log(`heartbeat failed: ${errMsg(e)}`);
        return false;
      } finally {
        beating = undefined;
      }
    })();
    return beating;
  };

  const checkLease = async () => {
    if (Date.now() - lastRenewal > leaseMs && !leaseLost) {
      leaseLost = true;
      await selfFence();
    }
  };

  const publishLoad = async () => {
    try {
      const report = await driver.load();
      await bus.publish(loadSubject(hostId), { hostId, ...report }, { timeoutMs: 3_000 });
    } catch (e) { log(`load report failed: ${errMsg(e)}`); }
  };

  // ---- reconciliation ------------------------------------------------------------------------------------------
  const expectedObserved = (s: LedgerState): ObservedState[] => {
    switch (s) {
      case 'provisioning': case 'running': return ['running'];
      case 'stopped': return ['stopped'];
      case 'hibernated': return ['hibernated', 'stopped'];
      case 'failed': return ['failed', 'stopped'];
      case 'fenced': return ['stopped', 'absent', 'failed'];
      case 'released': return ['absent'];
    }
  };
  const reconcile = async (all: boolean): Promise<DriftItem[]> => {
    const seen = await driver.list();
    const byId = new Map(seen.map((s) => [s.id, s]));
    const drift: DriftItem[] = [];
    for (const [id, s] of Object.entries(st.slices)) {
      const o = byId.get(id);
      const observed: ObservedState = o?.state ?? 'absent';
      byId.delete(id);
      const ok = expectedObserved(s.state).includes(observed);
      if (!ok) drift.push({ xnodeId: id, expected: s.state, observed, managed: o?.managed ?? true });
      if (s.state === 'released' && observed === 'absent') continue;
      if (!ok || all || lastReported.get(id) !== `${observed}@${s.generation}`) {
        if (!ok || all) queueReport(id, observed, s.generation, ok ? undefined : `reconciliation: the ledger wants ${s.state}, the host shows ${observed}`);
      }
    }
    for (const o of byId.values()) drift.push({ xnodeId: o.id, expected: 'unknown', observed: o.state, managed: o.managed });
    const unknown = drift.filter((x) => x.expected === 'unknown');
    if (unknown.length) {
      try {
        await bus.publish(driftSubject(hostId), { hostId, at: isoNow(), unknown }, { timeoutMs: 3_000 });
      } catch (e) { log(`drift report failed: ${errMsg(e)}`); }
    }
    stats.driftReported += drift.length;
    if (drift.length) log(`reconciliation: ${drift.length} difference(s): ${drift.map((x) => `${x.xnodeId} ${x.expected}≠${x.observed}`).join(', ')}`);
    await flushReports();
    return drift;
  };

  // ---- start ----------------------------------------------------------------------------------------------
  await beat();
  try { await reconcile(true); } catch (e) { log(`initial reconciliation failed: ${errMsg(e)}`); }
  const sub: BusSubscription = await bus.subscribe(streamSubjects(`Host-${hostId}`), handle, {
    durable: opts.durable ?? agentDurable(hostId), deliver: 'all', ackWaitMs: opts.ackWaitMs ?? 60_000,
    onError: (e, m) => { stats.errors++; log(`event ${m.subject} seq ${m.seq} failed (will be redelivered): ${errMsg(e)}`); },
  });
  let lastLoad = 0;
  let lastReconcile = Date.now();
  let ticking = false;
  const tick = async () => {
    if (ticking || closed) return;
    ticking = true;
    try {
      await beat();
      await checkLease();
      if (closed) return;
      if (!leaseLost && pending.size) await flushReports();
      if (loadEvery > 0 && Date.now() - lastLoad >= loadEvery && !leaseLost) { lastLoad = Date.now(); await publishLoad(); }
      if (reconcileEvery > 0 && Date.now() - lastReconcile >= reconcileEvery && !leaseLost) {
        lastReconcile = Date.now();
        await reconcile(false).catch((e) => log(`reconciliation failed: ${errMsg(e)}`));
      }
    } finally { ticking = false; }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  // the lease is watched more often than beats are sent, so self-fencing happens within a beat of the deadline
  const leaseTimer = setInterval(() => void checkLease(), Math.max(100, Math.min(intervalMs, leaseMs / 4)));
  log(`started: driver ${driver.kind}${driver.simulated ? ' (SIMULATED)' : ''}, ${Object.keys(st.slices).length} known slice(s), lease ${leaseMs} ms, beats every ${intervalMs} ms`);

  return {
    hostId,
    stats,
    get leaseLost() { return leaseLost; },
    applied: () => structuredClone(st.slices),
    epochs: () => ({ ...st.epochs }),
    reconcile: () => reconcile(false),
    flushReports,
    beat,
    close(o = {}) {
      closing ??= (async () => {
        clearInterval(timer);
        clearInterval(leaseTimer);
        await sub.close();
        // the event handler does not wait for its report: send what is left while the bus still answers
        if (!leaseLost) await flushReports();
        closed = true;
        await flushing;
        await beating;
        if (o.closeDriver !== false) await driver.close();
      })();
      return closing;
    },
  };
}
