/**
 * The host health monitor: heartbeats in, host status out, as events.
 *
 * Agents beat every `intervalMs` on `ledger.agent.<hostId>.heartbeat` (heartbeat.ts). The monitor remembers when it
 * last heard each host; once `misses` whole intervals pass without a beat it executes `MarkHostUnreachable
 * {missedBeats, lastSeenAt}` on the host's stream (→ HostStatusChanged to unreachable, cause heartbeat), and when
 * beats come back `MarkHostReachable {seenAt}`. The Host decider makes both idempotent, so several monitors (one
 * per `ledger serve` of the distributed profile) agree without coordination.
 *
 * Which hosts are watched: every host that has sent a beat since the monitor started, and every host whose last
 * beat the bus still holds (NATS JetStream keeps them across restarts). A host whose agent never beat is not
 * judged (it has no agent yet), unless `watchRegistered` is set: then every registered, reachable host is watched
 * from the monitor's start. Malformed beats and beats from unknown or retired hosts are logged and dropped.
 */
import type { Bus, BusSubscription, Delivery } from '../../../core/bus/port.ts';
import { DomainError } from '../../../core/decider.ts';
import type { Ledger } from '../../../core/ledger.ts';
import type { Actor } from '../../../schema/envelope.ts';
import { stream } from '../common/ids.ts';
import { hostDecider, type HostState } from '../host/decider.ts';
import { HEARTBEAT_SUBJECTS, heartbeatSubject, parseHeartbeat } from './heartbeat.ts';

export const HEALTH_ACTOR: Actor = { kind: 'system', id: 'health-monitor' };

export interface HealthLog {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}
const consoleLog: HealthLog = {
  warn: (fields, message) => console.error(`health: ${message}`, JSON.stringify(fields)),
  info: () => {},
};

export interface HealthMonitorOptions {
  ledger: Pick<Ledger, 'execute' | 'load' | 'store'>;
  bus: Bus;
  /** How often agents beat (LEDGER_HEARTBEAT_INTERVAL_MS). */
  intervalMs: number;
  /** Whole intervals without a beat before a host is unreachable (LEDGER_HEARTBEAT_MISSES). */
  misses: number;
  /** How often hosts are checked (default: a quarter interval, at least 10 ms). */
  checkEveryMs?: number;
  /** Watch every registered host from the start, not only hosts that beat. Default false. */
  watchRegistered?: boolean;
  /** Clock in ms (tests). */
  now?: () => number;
  log?: HealthLog;
}

export interface HealthStats { received: number; dropped: number; markedUnreachable: number; markedReachable: number }

interface Watched { lastSeen: number; /** what the ledger said last time we looked */ reachable: boolean }

export class HealthMonitor {
  readonly stats: HealthStats = { received: 0, dropped: 0, markedUnreachable: 0, markedReachable: 0 };
  private readonly watched = new Map<string, Watched>();
  private readonly now: () => number;
  private readonly log: HealthLog;
  private sub: BusSubscription | null = null;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly opts: HealthMonitorOptions) {
    if (!Number.isInteger(opts.intervalMs) || opts.intervalMs < 1) throw new Error(`intervalMs must be a positive integer (got ${opts.intervalMs})`);
    if (!Number.isInteger(opts.misses) || opts.misses < 1) throw new Error(`misses must be a positive integer (got ${opts.misses})`);
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? consoleLog;
  }

  /** Hosts being watched, with when they were last heard (ms). */
  hosts(): { hostId: string; lastSeen: number; reachable: boolean }[] {
    return [...this.watched].map(([hostId, w]) => ({ hostId, ...w })).sort((a, b) => a.hostId.localeCompare(b.hostId));
  }

  async start(): Promise<this> {
    await this.adoptKnownHosts();
    this.sub = await this.opts.bus.subscribe(HEARTBEAT_SUBJECTS, (m) => this.onBeat(m), {
      deliver: 'new', ackWaitMs: Math.max(5_000, this.opts.intervalMs * 2), retryDelayMs: 100,
      onError: (error, m) => this.log.warn({ subject: m.subject, err: String(error) }, 'heartbeat handling failed; it will be redelivered'),
    });
    const every = this.opts.checkEveryMs ?? Math.max(10, Math.floor(this.opts.intervalMs / 4));
    this.timer = setInterval(() => { this.checking = this.checking.then(() => this.check()).catch((e) => this.log.warn({ err: String(e) }, 'health check failed')); }, every);
    this.timer.unref?.();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sub?.close();
    this.sub = null;
    await this.checking;
  }

  /** Hosts the ledger knows that beat before this monitor started (their last beat is still on the bus). */
  private async adoptKnownHosts(): Promise<void> {
    const hosts = new Map<string, boolean>();
    for (let after = 0; ;) {
      const batch = await this.opts.ledger.store.readAll({ after, maxCount: 1000, filter: { eventTypes: ['HostRegistered', 'HostRetired', 'HostStatusChanged'] } });
      for (const e of batch) {
        const d = e.data as { hostId: string; reachable?: boolean };
        if (e.type === 'HostRetired') hosts.delete(d.hostId);
        else hosts.set(d.hostId, e.type === 'HostStatusChanged' ? d.reachable !== false : true);
      }
      if (batch.length < 1000) break;
      after = batch[batch.length - 1].position;
    }
    const started = this.now();
    for (const [hostId, reachable] of hosts) {
      const last = await this.opts.bus.lastMessage(heartbeatSubject(hostId)).catch(() => null);
      if (last && parseHeartbeat(last).ok) this.watched.set(hostId, { lastSeen: Math.min(started, last.time.getTime()), reachable });
      else if (this.opts.watchRegistered && reachable) this.watched.set(hostId, { lastSeen: started, reachable });
    }
  }

  private async hostState(hostId: string): Promise<HostState> {
    return (await this.opts.ledger.load(hostDecider, stream.host(hostId))).state;
  }

  private async onBeat(message: Delivery): Promise<void> {
    const at = this.now();
    const parsed = parseHeartbeat(message);
    if (!parsed.ok) {
      this.stats.dropped++;
      this.log.warn({ subject: message.subject, reason: parsed.reason }, 'malformed heartbeat dropped');
      return;
    }
    const { hostId } = parsed.heartbeat;
    let state = await this.hostState(hostId);
    if (!state.registered || state.retired) {
      // the handler's cache may be behind another process: look at the stream as stored before saying no
      const events = await this.opts.ledger.store.readStream(stream.host(hostId));
      state = events.reduce((s, e) => hostDecider.evolve(s, e as any), hostDecider.initialState());
    }
    if (!state.registered || state.retired) {
      this.stats.dropped++;
      this.log.warn({ hostId, reason: state.retired ? 'retired' : 'unknown host' }, 'heartbeat of a host the ledger does not watch dropped');
      return;
    }
    this.stats.received++;
    const w = this.watched.get(hostId);
    this.watched.set(hostId, { lastSeen: at, reachable: state.reachable });
    if (!state.reachable || (w && !w.reachable)) await this.markReachable(hostId, at);
  }

  /** Checks every watched host once (also run by the timer). */
  async check(): Promise<void> {
    if (this.stopped) return;
    const now = this.now();
    for (const [hostId, w] of this.watched) {
      const missed = Math.floor((now - w.lastSeen) / this.opts.intervalMs);
      if (missed < this.opts.misses) continue;
      const state = await this.hostState(hostId);
      if (!state.registered || state.retired) { this.watched.delete(hostId); continue; }
      w.reachable = state.reachable;
      if (!state.reachable) continue;
      await this.execute(hostId, { type: 'MarkHostUnreachable', data: { hostId, missedBeats: missed, lastSeenAt: new Date(w.lastSeen).toISOString() } }, 'markedUnreachable', w);
    }
  }

  private async markReachable(hostId: string, at: number): Promise<void> {
    const w = this.watched.get(hostId)!;
    await this.execute(hostId, { type: 'MarkHostReachable', data: { hostId, seenAt: new Date(at).toISOString() } }, 'markedReachable', w);
  }

  private async execute(hostId: string, command: { type: 'MarkHostUnreachable' | 'MarkHostReachable'; data: any }, counter: 'markedUnreachable' | 'markedReachable', w: Watched): Promise<void> {
    try {
      const r = await this.opts.ledger.execute(hostDecider, stream.host(hostId), command, { actor: HEALTH_ACTOR });
      w.reachable = r.state.reachable;
      if (r.events.length) {
        this.stats[counter]++;
        this.log.info({ hostId, reachable: r.state.reachable, ...command.data }, command.type === 'MarkHostUnreachable' ? 'host unreachable: heartbeats missed' : 'host reachable again: heartbeats resumed');
      }
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      this.log.warn({ hostId, code: error.code, message: error.message }, `${command.type} refused`);
    }
  }
}

export async function startHealthMonitor(options: HealthMonitorOptions): Promise<HealthMonitor> {
  return new HealthMonitor(options).start();
}
