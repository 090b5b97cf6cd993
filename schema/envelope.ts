/**
 * The envelope every stored event carries: metadata of the brief §3, and the rules for stream names.
 */
import { z } from 'zod';

/** `<Category>-<id>`: the category is everything before the first `-`, so an id never contains `-`.
 *  Ids are also NATS-subject safe (no dots, spaces or wildcards). */
export const STREAM_NAME = /^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9_]{1,128}$/;
export const streamName = z.string().regex(STREAM_NAME, 'stream names are <Category>-<id>: letters/digits, one "-", id of [A-Za-z0-9_]');

export const ActorKind = z.enum(['tenant', 'operator', 'system', 'agent']);
export const Actor = z.object({ kind: ActorKind, id: z.string().min(1).max(200) });
export type Actor = z.infer<typeof Actor>;

const isoUtc = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/, 'a UTC ISO 8601 time ending in Z');

/** Metadata given by the writer (the command handler), before the store records the event. */
export const EventMetadataInput = z.object({
  eventId: z.string().uuid(),
  occurredAt: isoUtc,
  actor: Actor,
  tenantId: z.string().min(1).max(200).optional(),
  correlationId: z.string().min(1).max(200),
  causationId: z.string().min(1).max(200).optional(),
  commandId: z.string().min(1).max(200).optional(),
  version: z.number().int().positive(),
}).strict();
export type EventMetadataInput = z.infer<typeof EventMetadataInput>;

/** Metadata as stored: what the writer gave, plus what the store adds at append. */
export type EventMetadata = EventMetadataInput & {
  /** When the store committed the event (UTC ISO). */
  recordedAt: string;
  /** sha256(prevHash ‖ canonical(event)) of this stream's chain, hex. */
  hash: string;
};

export const categoryOf = (stream: string): string => {
  const i = stream.indexOf('-');
  return i < 0 ? stream : stream.slice(0, i);
};
export const idOf = (stream: string): string => stream.slice(stream.indexOf('-') + 1);
