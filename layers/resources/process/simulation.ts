/**
 * An in-memory, deterministic stand-in for the I/O wiring of the Resources process managers, for tests and as a
 * reference for the real wiring: streams are arrays, commands go through the real deciders with per-stream
 * commandId idempotency, refusals come back as CommandRejected, and the order in which produced events reach the
 * process (and whether they arrive twice) is chosen by a seeded generator.
 */
import { DomainError, type Decider } from '../../../core/decider.ts';
import { categoryOf } from '../../../schema/envelope.ts';
import { validateEvent } from '../../../schema/registry.ts';
import { hostDecider } from '../host/decider.ts';
import { networkDecider } from '../network/decider.ts';
import { rcontractDecider } from '../rcontract/decider.ts';
import { xnetworkDecider } from '../xnetwork/decider.ts';
import { ximageDecider } from '../ximage/decider.ts';
import { rejected, type OutgoingCommand, type ProcessEvent } from './types.ts';

const deciders: Record<string, Decider<any, any, any>> = {
  Host: hostDecider, Network: networkDecider, XNetwork: xnetworkDecider, XImage: ximageDecider, RContract: rcontractDecider,
};

export interface Stored extends ProcessEvent { stream: string }

export class Simulation {
  readonly streams = new Map<string, Stored[]>();
  readonly rejections: ProcessEvent[] = [];
  private inbox: ProcessEvent[] = [];
  private outbox: OutgoingCommand[] = [];
  private seed: number;
  private n = 0;

  /**
   * @param duplicates deliver some events twice (at-least-once delivery)
   * @param inFlight   commands a process sends stay in flight and land in random order with event deliveries,
   *                   as with a real bus; otherwise they are handled at once
   */
  constructor(seed = 1, private readonly duplicates = false, private readonly inFlight = false) { this.seed = seed; }

  rnd(n: number): number {
    this.seed = (this.seed + 0x6d2b79f5) | 0;
    let t = Math.imul(this.seed ^ (this.seed >>> 15), 1 | this.seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) / 4_294_967_296 * n) | 0;
  }

  state<S>(streamId: string): S {
    const d = deciders[categoryOf(streamId)];
    return (this.streams.get(streamId) ?? []).reduce((s, e) => d.evolve(s, e), d.initialState()) as S;
  }

  /** Runs one command through its decider; events go to the stream and to the inbox. */
  dispatch(c: OutgoingCommand): void {
    const events = this.streams.get(c.stream) ?? [];
    if (events.some((e) => e.metadata.commandId === c.commandId)) return; // idempotent: handled before
    const decider = deciders[categoryOf(c.stream)];
    let produced;
    try {
      produced = decider.decide(c.command, this.state(c.stream));
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const r = rejected(c, error);
      this.rejections.push(r);
      this.inbox.push(r);
      return;
    }
    for (const e of produced) {
      validateEvent(e.type, e.data);
      const stored: Stored = { stream: c.stream, type: e.type, data: e.data, metadata: { eventId: `ev_${++this.n}`, commandId: c.commandId, causationId: c.causationId, correlationId: c.correlationId } };
      events.push(stored);
      this.inbox.push(stored);
      if (this.duplicates && this.rnd(3) === 0) this.inbox.push(stored); // at-least-once delivery
    }
    this.streams.set(c.stream, events);
  }

  /** Delivers inbox events in a random order to `react` until nothing is left; returns how many were delivered. */
  run(react: (event: ProcessEvent) => OutgoingCommand[], limit = 10_000): number {
    let delivered = 0;
    while (this.inbox.length > 0 || this.outbox.length > 0) {
      if (++delivered > limit) throw new Error('the process does not settle');
      if (this.outbox.length > 0 && (this.inbox.length === 0 || this.rnd(2) === 0)) {
        const [c] = this.outbox.splice(this.rnd(this.outbox.length), 1);
        this.dispatch(c);
        continue;
      }
      const [event] = this.inbox.splice(this.rnd(this.inbox.length), 1);
      for (const c of react(event)) {
        if (this.inFlight) this.outbox.push(c); else this.dispatch(c);
      }
    }
    return delivered;
  }
}
