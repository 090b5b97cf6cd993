/**
 * The command handler: load a stream's state, decide, append with the stream's expected revision.
 *
 * - State is cached per stream (LRU). A cached state is used optimistically: the append's expected revision is the
 *   check, and on a conflict the handler reloads the stream and decides again, a bounded number of times.
 * - Idempotency by `commandId`, scoped to the target stream: when the stream already holds events written for that
 *   commandId, the handler returns them (the first outcome) and appends nothing.
 * - Every event gets the metadata of the brief: eventId (UUIDv7), occurredAt, actor, tenantId, correlationId,
 *   causationId, commandId, schema version. The store adds recordedAt and the chain hash.
 */
import { uuidv7 } from './ids.ts';
import { isoNow } from './hash-chain.ts';
import type { Actor } from '../schema/envelope.ts';
import { latestVersion } from '../schema/registry.ts';
import type { Command, Decider, DomainEvent } from './decider.ts';
import { WrongExpectedRevisionError, type EventStore, type NewEvent, type StoredEvent } from './event-store/port.ts';

export interface CommandContext {
  actor: Actor;
  tenantId?: string;
  /** Idempotency key: a repeated command with the same id returns the first outcome. */
  commandId?: string;
  correlationId?: string;
  causationId?: string;
  occurredAt?: string;
}

export interface HandleResult<State> {
  state: State;
  /** Events this command produced (or, for a repeated command, the ones it produced the first time). */
  events: StoredEvent[];
  /** Last revision of the stream after the command (-1: no stream). */
  revision: number;
  /** Global position of the last event written (0 when nothing was written). */
  position: number;
  /** True when the command had been handled before and nothing was appended now. */
  duplicate: boolean;
}

interface Cached<State> { state: State; revision: number; commandIds: Map<string, number[]> }

export interface CommandHandlerOptions {
  /** How many times a conflicting append is retried (after reloading the stream). */
  maxRetries?: number;
  /** How many streams' states stay cached. */
  cacheSize?: number;
}

export class RetriesExhaustedError extends Error {
  readonly code = 'CONCURRENCY_CONFLICT';
  constructor(readonly streamId: string, attempts: number) {
    super(`${streamId} kept changing underneath this command; gave up after ${attempts} attempts`);
    this.name = 'RetriesExhaustedError';
  }
}

export class CommandHandler<State, C extends Command, E extends DomainEvent> {
  private readonly cache = new Map<string, Cached<State>>();
  private readonly maxRetries: number;
  private readonly cacheSize: number;

  constructor(readonly store: EventStore, readonly decider: Decider<State, C, E>, options: CommandHandlerOptions = {}) {
    this.maxRetries = options.maxRetries ?? 5;
    this.cacheSize = options.cacheSize ?? 10_000;
  }

  async handle(streamId: string, command: C, ctx: CommandContext): Promise<HandleResult<State>> {
    let cached = this.cache.get(streamId);
    let fresh = false;
    if (!cached) { cached = await this.load(streamId); fresh = true; }
    for (let attempt = 0; ; attempt++) {
      if (ctx.commandId !== undefined) {
        const seen = cached.commandIds.get(ctx.commandId);
        if (seen) return this.repeated(streamId, cached, seen);
      }
      let decided: E[];
      try {
        decided = this.decider.decide(command, cached.state);
      } catch (error) {
        // A refusal decided on a cached state may be stale (another process freed what was missing):
        // catch up once and decide again before saying no.
        if (fresh) throw error;
        const before = cached.revision;
        cached = await this.load(streamId, cached);
        fresh = true;
        if (cached.revision === before) throw error;
        attempt--;
        continue;
      }
      if (decided.length === 0) return { state: cached.state, events: [], revision: cached.revision, position: 0, duplicate: false };
      try {
        const result = await this.store.append(streamId, this.envelope(decided, ctx), {
          expected: cached.revision === -1 ? 'no_stream' : cached.revision,
        });
        let state = cached.state;
        const written = result.events;
        for (let i = 0; i < written.length; i++) state = this.decider.evolve(state, written[i] as unknown as E);
        const next = remember({ state, revision: result.nextExpectedRevision, commandIds: cached.commandIds }, result.events);
        this.put(streamId, next);
        return { state, events: result.events, revision: result.nextExpectedRevision, position: result.position, duplicate: false };
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
        if (attempt >= this.maxRetries) throw new RetriesExhaustedError(streamId, attempt + 1);
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 2 ** attempt));
        cached = await this.load(streamId, cached);
        fresh = true;
      }
    }
  }

  /** State of a stream as this handler sees it (loads and caches it). */
  async state(streamId: string): Promise<{ state: State; revision: number }> {
    const c = this.cache.get(streamId) ?? await this.load(streamId);
    return { state: c.state, revision: c.revision };
  }

  private async repeated(streamId: string, cached: Cached<State>, revisions: number[]): Promise<HandleResult<State>> {
    const events = await this.store.readStream(streamId, { fromRevision: revisions[0], maxCount: revisions[revisions.length - 1] - revisions[0] + 1 });
    const first = events.filter((e) => revisions.includes(e.revision));
    return { state: cached.state, events: first, revision: cached.revision, position: 0, duplicate: true };
  }

  /** Loads a stream, or the part of it after what is already known. */
  private async load(streamId: string, from?: Cached<State>): Promise<Cached<State>> {
    let cached: Cached<State> = from
      ? { state: from.state, revision: from.revision, commandIds: from.commandIds }
      : { state: this.decider.initialState(), revision: -1, commandIds: new Map() };
    for (;;) {
      const batch = await this.store.readStream(streamId, { fromRevision: cached.revision + 1, maxCount: 1000 });
      if (batch.length === 0) break;
      let state = cached.state;
      for (const e of batch) state = this.decider.evolve(state, e as unknown as E);
      cached = remember({ state, revision: batch[batch.length - 1].revision, commandIds: cached.commandIds }, batch);
      if (batch.length < 1000) break;
    }
    this.put(streamId, cached);
    return cached;
  }

  private put(streamId: string, cached: Cached<State>) {
    this.cache.delete(streamId);
    this.cache.set(streamId, cached);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
  }

  /** Drops cached state (after a projection rebuild, tests, or memory pressure). */
  forget(streamId?: string) {
    if (streamId) this.cache.delete(streamId); else this.cache.clear();
  }

  private envelope(events: E[], ctx: CommandContext): NewEvent[] {
    const occurredAt = ctx.occurredAt ?? isoNow();
    const first = uuidv7();
    // A command that starts a conversation is correlated by its id, or by its first event's id.
    const correlationId = ctx.correlationId ?? ctx.commandId ?? first;
    const causationId = ctx.causationId ?? ctx.commandId;
    const out: NewEvent[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      // plain assignments, not conditional spreads: this runs for every event written (absent keys stay absent)
      const metadata: Record<string, unknown> = { eventId: i === 0 ? first : uuidv7(), occurredAt, actor: ctx.actor, correlationId, version: latestVersion(e.type) ?? 1 };
      if (ctx.tenantId !== undefined) metadata.tenantId = ctx.tenantId;
      if (causationId !== undefined) metadata.causationId = causationId;
      if (ctx.commandId !== undefined) metadata.commandId = ctx.commandId;
      out[i] = { type: e.type, data: e.data, metadata: metadata as unknown as NewEvent['metadata'] };
    }
    return out;
  }
}

function remember<State>(cached: Cached<State>, events: StoredEvent[]): Cached<State> {
  for (const e of events) {
    const id = e.metadata.commandId;
    if (id === undefined) continue;
    const list = cached.commandIds.get(id);
    if (!list) cached.commandIds.set(id, [e.revision]);
    else if (!list.includes(e.revision)) list.push(e.revision);
  }
  return cached;
}
