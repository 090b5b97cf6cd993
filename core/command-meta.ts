/**
 * What an edge (the API, the CLI, the seed, a reactor) tells a layer's application service about a command besides
 * its input: the conversation it belongs to and how to make it idempotent. Shared by every layer's service.
 */
export interface CommandMeta {
  /** The conversation: the API request's correlation id, or the causing event's (see core/causation.ts). */
  correlationId?: string;
  /** The event this command reacts to. */
  causationId?: string;
  /** Makes a create idempotent: the same key (from the same actor) gives the same id and appends once. */
  idempotencyKey?: string;
  /** A fixed command id (the seed): steps of the operation get `<commandId>:<step>`. */
  commandId?: string;
}
