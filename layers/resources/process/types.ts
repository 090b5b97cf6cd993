/**
 * Shapes shared by the process managers of the Resources layer, so the I/O wiring stays small:
 *
 *   for each event a process is interested in:
 *     const out = react(event, state)                         // pure
 *     for (const c of out) {
 *       try { await handlerFor(c.stream).handle(c.stream, c.command, { actor: SYSTEM, commandId: c.commandId,
 *                                                                     causationId: c.causationId, correlationId: c.correlationId }) }
 *       catch (e) { if (e instanceof DomainError) feed(rejected(c, e)) else throw e }   // a refusal is an input too
 *     }
 *
 * Command ids are derived from the triggering event id and the step, so re-processing an event after a crash sends
 * the same commands with the same ids, and the command handler's idempotency turns them into no-ops.
 */
import type { DomainError } from '../../../core/decider.ts';
import { causedBy } from '../../../core/causation.ts';
import { deriveCommandId } from '../common/ids.ts';

/** An event as a process sees it: type, data and the metadata it needs. */
export interface ProcessEvent<T extends string = string, D = any> {
  type: T;
  data: D;
  metadata: { eventId: string; correlationId?: string; causationId?: string; commandId?: string };
}

/** A command a process wants sent: to which stream, and with which idempotency key and lineage. */
export interface OutgoingCommand {
  stream: string;
  command: { type: string; data: Record<string, unknown> };
  commandId: string;
  causationId: string;
  correlationId: string;
}

/** What the wiring feeds back when a command a process sent was refused by a decider. */
export interface CommandRejectedData {
  stream: string;
  command: { type: string; data: Record<string, any> };
  commandId: string;
  code: string;
  message: string;
}
export type CommandRejected = ProcessEvent<'CommandRejected', CommandRejectedData>;

export function rejected(sent: OutgoingCommand, error: Pick<DomainError, 'code' | 'message'>): CommandRejected {
  return {
    type: 'CommandRejected',
    data: { stream: sent.stream, command: sent.command, commandId: sent.commandId, code: error.code, message: error.message },
    metadata: { eventId: `${sent.commandId}:rejected`, correlationId: sent.correlationId, causationId: sent.commandId },
  };
}

/** Builds the outgoing commands of one reaction, with ids derived from the trigger. */
export function sender(trigger: ProcessEvent, correlationId?: string) {
  const out: OutgoingCommand[] = [];
  const cause = causedBy(trigger);
  const corr = correlationId ?? cause.correlationId;
  return {
    send(step: string, stream: string, type: string, data: Record<string, unknown>) {
      out.push({ stream, command: { type, data }, commandId: deriveCommandId(trigger.metadata.eventId, step), causationId: cause.causationId, correlationId: corr });
    },
    out,
  };
}
