/**
 * The state of one stream at a past point: its events up to a revision, or up to a recorded time, folded by the
 * decider of its category (core/decider-registry.ts). Times are `recordedAt` — what the ledger knew then — so the
 * answer never changes later. A category without a registered decider gets its events instead.
 */
import { categoryOf, STREAM_NAME } from '../../schema/envelope.ts';
import { deciderFor } from '../decider-registry.ts';
import type { EventStore, StoredEvent } from '../event-store/port.ts';

export interface StateQuery {
  /** Recorded at or before this time (canonical UTC ISO). */
  asOf?: string;
  /** Up to and including this revision. */
  atRevision?: number;
}

export interface StateAt {
  streamId: string;
  category: string;
  /** True when the category's decider folded the state; false: `events` holds the events instead. */
  folded: boolean;
  /** Last revision included (-1: the stream did not exist yet at that point). */
  revision: number;
  /** The stream's newest revision now. */
  headRevision: number;
  /** Global position and recorded time of the last event included. */
  position: number | null;
  recordedAt: string | null;
  eventCount: number;
  asOf?: string;
  atRevision?: number;
  state?: unknown;
  events?: StoredEvent[];
}

export class StreamNotFoundError extends Error {
  readonly code = 'STREAM_NOT_FOUND';
  constructor(readonly streamId: string) { super(`stream ${streamId} has no events`); this.name = 'StreamNotFoundError'; }
}

export async function stateAt(store: EventStore, streamId: string, q: StateQuery = {}): Promise<StateAt> {
  if (!STREAM_NAME.test(streamId)) throw new Error(`stream ${JSON.stringify(streamId)}: expected <Category>-<id>, e.g. Host-h_1`);
  if (q.asOf !== undefined && q.atRevision !== undefined) throw new Error('give either an as-of time or a revision, not both');
  const headRevision = await store.streamRevision(streamId);
  if (headRevision < 0) throw new StreamNotFoundError(streamId);
  if (q.atRevision !== undefined && (!Number.isInteger(q.atRevision) || q.atRevision < 0 || q.atRevision > headRevision)) {
    throw new Error(`revision ${q.atRevision} of ${streamId} does not exist: its revisions are 0 to ${headRevision}`);
  }
  const category = categoryOf(streamId);
  const decider = deciderFor(category);
  let state = decider?.initialState();
  const events: StoredEvent[] = [];
  let last: StoredEvent | undefined;
  let count = 0;
  let from = 0;
  outer: for (;;) {
    const batch = await store.readStream(streamId, { fromRevision: from, maxCount: 1000 });
    for (const e of batch) {
      if (q.atRevision !== undefined && e.revision > q.atRevision) break outer;
      if (q.asOf !== undefined && e.metadata.recordedAt > q.asOf) break outer;
      if (decider) state = decider.evolve(state, e); else events.push(e);
      last = e;
      count++;
    }
    if (batch.length < 1000) break;
    from = batch[batch.length - 1].revision + 1;
  }
  return {
    streamId, category, folded: !!decider, revision: last ? last.revision : -1, headRevision,
    position: last ? last.position : null, recordedAt: last ? last.metadata.recordedAt : null, eventCount: count,
    ...(q.asOf !== undefined && { asOf: q.asOf }), ...(q.atRevision !== undefined && { atRevision: q.atRevision }),
    ...(decider ? { state } : { events }),
  };
}
