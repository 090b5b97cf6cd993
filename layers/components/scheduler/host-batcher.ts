/**
 * Commits slice commands to host streams in batches: every command queued for one host while its previous append is
 * in flight goes into the next append, decided one after the other on the host's state and appended together with
 * ONE expected revision (the plan check). A conflict (another writer appended) reloads the host and decides the whole
 * batch again; a command the Host decider refuses fails alone, the others of its batch still commit.
 *
 * This is the per-node plan queue of Nomad's plan applier, without the central queue: bin-packing sends most
 * placements to the few hosts being filled, and one append per host per round keeps those hot streams from spinning
 * on conflicts while appends to different hosts still share the store's group commit.
 *
 * Each host's state is this batcher's own (never handed out to be kept) and is evolved IN PLACE, O(1) per event,
 * where the pure evolve copies the host's whole slice map per slice: a batch is decided on one copy taken for it,
 * which becomes the state once the append succeeded. A conflict reads only the events that are new, and a refusal
 * is re-checked once against the stored stream before it is returned (capacity may have been freed meanwhile).
 */
import { uuidv7 } from '../../../core/ids.ts';
import { isoNow } from '../../../core/hash-chain.ts';
import { DomainError } from '../../../core/decider.ts';
import type { CommandContext } from '../../../core/command-handler.ts';
import { WrongExpectedRevisionError, type EventStore, type NewEvent, type StoredEvent } from '../../../core/event-store/port.ts';
import { latestVersion } from '../../../schema/registry.ts';
import type { HostCommand } from '../../resources/host/commands.ts';
import { evolveInPlace, hostDecider, ownedHostState, type HostState } from '../../resources/host/decider.ts';
import type { HostEvent } from '../../resources/host/events.ts';

interface Pending { command: HostCommand; ctx: CommandContext; resolve: (events: StoredEvent[]) => void; reject: (e: unknown) => void }
interface HostEntry { state: HostState; revision: number; commandIds: Set<string>; queue: Pending[]; busy: boolean }

/** Command ids remembered per host (the most recent ones): an older repeated slice is decided again, which the Host
 *  decider answers with "the same request again" (no events), so forgetting them is safe and keeps memory flat. */
const REMEMBERED_COMMANDS = 1024;
function remember(entry: HostEntry, commandId: string): void {
  entry.commandIds.add(commandId);
  if (entry.commandIds.size > REMEMBERED_COMMANDS) entry.commandIds.delete(entry.commandIds.values().next().value!);
}

/** The metadata of one event, as the command handler writes it (plain assignments: this runs per slice). */
function envelope(ctx: CommandContext, type: string, occurredAt: string): NewEvent['metadata'] {
  const eventId = uuidv7();
  const m: Record<string, unknown> = { eventId, occurredAt: ctx.occurredAt ?? occurredAt, actor: ctx.actor };
  if (ctx.tenantId !== undefined) m.tenantId = ctx.tenantId;
  m.correlationId = ctx.correlationId ?? ctx.commandId ?? eventId;
  const causationId = ctx.causationId ?? ctx.commandId;
  if (causationId !== undefined) m.causationId = causationId;
  if (ctx.commandId !== undefined) m.commandId = ctx.commandId;
  m.version = latestVersion(type) ?? 1;
  return m as NewEvent['metadata'];
}

export class HostBatcher {
  private readonly hosts = new Map<string, HostEntry>();
  appends = 0;
  conflicts = 0;

  constructor(private readonly store: EventStore, private readonly options: { maxRetries?: number; maxBatch?: number } = {}) {}

  /** Queues a command for `Host-<hostId>`; resolves with its stored events (none: nothing to do), rejects with its DomainError. */
  execute(command: HostCommand, ctx: CommandContext): Promise<StoredEvent[]> {
    const streamId = `Host-${command.data.hostId}`;
    let entry = this.hosts.get(streamId);
    if (!entry) { entry = { state: ownedHostState(hostDecider.initialState()), revision: -2, commandIds: new Set(), queue: [], busy: false }; this.hosts.set(streamId, entry); }
    return new Promise((resolve, reject) => {
      entry!.queue.push({ command, ctx, resolve, reject });
      if (!entry!.busy) void this.drain(streamId, entry!);
    });
  }

  state(hostId: string): HostState | undefined { return this.hosts.get(`Host-${hostId}`)?.state; }
  /** Last revision of the host's stream its state includes (-1: none; -2: to be reloaded). */
  revision(hostId: string): number | undefined { return this.hosts.get(`Host-${hostId}`)?.revision; }

  private async load(streamId: string, entry: HostEntry): Promise<void> {
    let from = entry.revision < 0 ? 0 : entry.revision + 1;
    if (entry.revision === -2) { entry.state = ownedHostState(hostDecider.initialState()); entry.revision = -1; from = 0; }
    for (;;) {
      const batch = await this.store.readStream(streamId, { fromRevision: from, maxCount: 1000 });
      for (const e of batch) {
        entry.state = evolveInPlace(entry.state, e as unknown as HostEvent);
        entry.revision = e.revision;
        if (e.metadata.commandId) remember(entry, e.metadata.commandId);
      }
      if (batch.length < 1000) return;
      from = entry.revision + 1;
    }
  }

  private async drain(streamId: string, entry: HostEntry): Promise<void> {
    entry.busy = true;
    try {
      if (entry.revision === -2) await this.load(streamId, entry);
      while (entry.queue.length) {
        const batch = entry.queue.splice(0, this.options.maxBatch ?? 256);
        await this.commit(streamId, entry, batch);
      }
    } finally {
      entry.busy = false;
    }
  }

  private async commit(streamId: string, entry: HostEntry, batch: Pending[]): Promise<void> {
    let caughtUp = false;
    for (let attempt = 0; ; attempt++) {
      // The batch is decided on a copy taken at its first event (one copy per batch, then O(1) per event), so the
      // entry's state stays exactly the stored prefix: a conflict or a failed append only reads what is new.
      let draft: HostState | null = null;
      const events: NewEvent[] = [];
      const owners: { p: Pending; from: number; count: number }[] = [];
      const failed: { p: Pending; error: unknown }[] = [];
      const occurredAt = isoNow();
      for (const p of batch) {
        if (p.ctx.commandId && entry.commandIds.has(p.ctx.commandId)) { owners.push({ p, from: events.length, count: 0 }); continue; }
        let decided: HostEvent[];
        try { decided = hostDecider.decide(p.command, draft ?? entry.state); } catch (error) { failed.push({ p, error }); continue; }
        if (decided.length && !draft) draft = ownedHostState(entry.state);
        for (const e of decided) draft = evolveInPlace(draft!, e);
        owners.push({ p, from: events.length, count: decided.length });
        for (const e of decided) events.push({ type: e.type, data: e.data, metadata: envelope(p.ctx, e.type, occurredAt) });
      }
      if (failed.length && !caughtUp) {
        // a refusal decided on a state another writer has since changed (capacity freed) may be stale: catch up
        // once and decide the whole batch again before saying no (as the command handler does)
        caughtUp = true;
        const before = entry.revision;
        await this.load(streamId, entry);
        if (entry.revision !== before) continue;
      }
      if (events.length === 0) {
        for (const o of owners) o.p.resolve([]);
        for (const f of failed) f.p.reject(f.error);
        return;
      }
      try {
        const result = await this.store.append(streamId, events, { expected: entry.revision === -1 ? 'no_stream' : entry.revision });
        this.appends++;
        entry.state = draft!;
        entry.revision = result.nextExpectedRevision;
        for (const o of owners) {
          if (o.p.ctx.commandId) remember(entry, o.p.ctx.commandId);
          o.p.resolve(result.events.slice(o.from, o.from + o.count));
        }
        for (const f of failed) f.p.reject(f.error);
        return;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= (this.options.maxRetries ?? 8)) {
          for (const p of batch) p.reject(error);
          return;
        }
        this.conflicts++;
        await this.load(streamId, entry); // what the other writer appended, then the batch is decided again
      }
    }
  }
}

export { DomainError };
