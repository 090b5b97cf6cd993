/**
 * The I/O side of the Resources process managers (the reactors in open-rcontract.ts and move-xnode.ts are pure).
 *
 * A runner is a catch-up subscription on the event store from its own checkpoint, filtered to the event types its
 * process reacts to. Each event is handed to the process in log order; the commands the process returns are
 * validated (resourceCommand) and executed through `ledger.execute` with their deterministic commandIds, as the
 * system actor; a decider's refusal is fed back to the same process as a `CommandRejected` input. The checkpoint
 * moves after each batch, so after a crash the runner re-reads at most one batch: the commands it then sends again
 * carry the same commandIds, and the command handler turns them into no-ops (idempotent, at least once).
 */
import type { CheckpointStore } from '../../../core/checkpoint.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import type { EventStore, StoredEvent, Subscription } from '../../../core/event-store/port.ts';
import type { Ledger } from '../../../core/ledger.ts';
import type { Actor } from '../../../schema/envelope.ts';
import { SchemaError } from '../../../schema/registry.ts';
import { resourceCommand } from '../index.ts';
import { rejected, type OutgoingCommand, type ProcessEvent } from './types.ts';

export type RunnerLedger = Pick<Ledger, 'store' | 'execute'>;
export type RunnerLog = (message: string, error?: unknown) => void;

export interface ProcessRunner {
  readonly name: string;
  /** Position of the last event handled. */
  readonly position: number;
  /** Resolves once the runner has handled everything up to `position` (default: the head of the log now). */
  waitFor(position?: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface RunnerOptions {
  ledger: RunnerLedger;
  /** Checkpoint name (`process:<name>`). */
  name: string;
  eventTypes: readonly string[];
  checkpoints: CheckpointStore;
  handle(event: StoredEvent): Promise<void>;
  batchSize?: number;
  log?: RunnerLog;
}

export const defaultLog: RunnerLog = (message, error) => console.error(`ledger processes: ${message}`, error ?? '');

/** The event as a process sees it. */
export const processEvent = (e: StoredEvent): ProcessEvent => ({
  type: e.type, data: e.data,
  metadata: {
    eventId: e.metadata.eventId,
    ...(e.metadata.correlationId !== undefined && { correlationId: e.metadata.correlationId }),
    ...(e.metadata.causationId !== undefined && { causationId: e.metadata.causationId }),
    ...(e.metadata.commandId !== undefined && { commandId: e.metadata.commandId }),
  },
});

/** Folds a stream as stored (not a cached state: other processes write too). */
export async function storedState<S>(store: Pick<EventStore, 'readStream'>, decider: Decider<S, any, any>, streamId: string): Promise<S> {
  const events = await store.readStream(streamId);
  return events.reduce((s, e) => decider.evolve(s, e as any), decider.initialState());
}

/**
 * Sends one command a process returned. Resolves with null when it was executed (or was a repeat), or with the
 * refusal (a DomainError, or a malformed command reported as INVALID_COMMAND) for the process to react to.
 */
export async function sendCommand(ledger: RunnerLedger, c: OutgoingCommand, actor: Actor, tenantId?: string): Promise<{ code: string; message: string } | null> {
  let routed;
  try {
    routed = resourceCommand(c.command.type, c.command.data);
  } catch (error) {
    if (error instanceof SchemaError) return { code: 'INVALID_COMMAND', message: error.message };
    throw error;
  }
  if (routed.stream !== c.stream) return { code: 'INVALID_COMMAND', message: `${c.command.type} for ${routed.stream} was addressed to ${c.stream}` };
  try {
    await ledger.execute(routed.decider, c.stream, routed.command, {
      actor, commandId: c.commandId, causationId: c.causationId, correlationId: c.correlationId, ...(tenantId !== undefined && { tenantId }),
    });
    return null;
  } catch (error) {
    if (error instanceof DomainError) return { code: error.code, message: error.message };
    throw error;
  }
}

/**
 * Runs a reaction: sends its commands in order; each refusal goes back to `react` as a CommandRejected input, whose
 * commands are sent the same way (bounded: a process that keeps answering refusals with refused commands is a bug).
 */
export async function runReaction(
  ledger: RunnerLedger, actor: Actor, commands: OutgoingCommand[],
  onRejected: (rejection: ProcessEvent) => Promise<OutgoingCommand[]>, tenantId?: string, depth = 0,
): Promise<void> {
  for (const c of commands) {
    const refusal = await sendCommand(ledger, c, actor, tenantId);
    if (!refusal) continue;
    if (depth >= 8) throw new Error(`process gave up on ${c.command.type} ${c.commandId}: refusals keep coming back (${refusal.code})`);
    const next = await onRejected(rejected(c, refusal));
    await runReaction(ledger, actor, next, onRejected, tenantId, depth + 1);
  }
}

export async function startRunner(opts: RunnerOptions): Promise<ProcessRunner> {
  const checkpointName = `process:${opts.name}`;
  const log = opts.log ?? defaultLog;
  const after = await opts.checkpoints.load(checkpointName);
  const sub: Subscription = opts.ledger.store.subscribe({
    after,
    filter: { eventTypes: [...opts.eventTypes] },
    batchSize: opts.batchSize ?? 100,
    onBatch: async (events, position) => {
      for (const e of events) await opts.handle(e);
      await opts.checkpoints.save(checkpointName, position);
    },
    onError: (error) => log(`${opts.name}: a batch failed and will be retried`, error),
  });
  return {
    name: opts.name,
    get position() { return sub.position; },
    async waitFor(position, timeoutMs = 10_000) {
      await sub.waitFor(position ?? await opts.ledger.store.headPosition(), timeoutMs);
    },
    stop: () => sub.close(),
  };
}
