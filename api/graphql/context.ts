/** What every resolver gets as its context (HTTP requests and WebSocket subscriptions alike). */
import type { FastifyBaseLogger } from 'fastify';
import type { Ledger } from '../../core/ledger.ts';
import type { Principal } from '../auth/tokens.ts';
import type { NodeType } from './module.ts';
import type { CursorCodec } from './relay.ts';

export interface ApiContext {
  ledger: Ledger;
  /** Who calls: null only on a WebSocket that has not authenticated (HTTP requests without a token never get here). */
  principal: Principal | null;
  /** The request's correlation id: logged with every line, and the correlationId of every event it writes. */
  correlationId: string;
  log: FastifyBaseLogger;
  cursors: CursorCodec;
  /** Node types by id prefix (the part of an id before the first "_"). */
  nodes: Map<string, NodeType>;
  /** Waits (bounded) until the read models have applied everything up to `position` (read-your-writes). */
  settle(position: number): Promise<void>;
  /** mercurius's pubsub: in a subscription resolver, `subscribe(topic)` returns the async iterator. */
  pubsub: { subscribe(topic: string | string[]): Promise<AsyncIterable<unknown>> } & Record<string, any>;
}
