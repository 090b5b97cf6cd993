/**
 * Correlation and causation of commands issued in reaction to an event (a scheduler placing a requested component,
 * a process manager opening an RContract, an agent reporting on a slice it was asked to run).
 *
 * A tenant's request starts a conversation: its events carry the request's correlationId. Everything done because of
 * one of those events carries the SAME correlationId and names that event as its cause (causationId = its eventId),
 * so `ledger audit log --correlation <id>` shows the whole chain, through every layer and the agents, as a tree.
 * Every reactor builds this metadata with `causedBy`, never by hand.
 */

/** What `causedBy` needs of an event: stored events, process-manager inputs and relayed messages all have it. */
export interface CausingEvent {
  metadata: { eventId: string; correlationId?: string };
}

export interface Causation {
  correlationId: string;
  causationId: string;
}

/** The correlation/causation metadata of a command issued because of `event`. */
export function causedBy(event: CausingEvent): Causation {
  const { eventId, correlationId } = event.metadata;
  // an event written before correlation ids existed starts its own conversation
  return { correlationId: correlationId ?? eventId, causationId: eventId };
}

