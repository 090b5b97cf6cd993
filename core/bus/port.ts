/**
 * The bus port: what every adapter (in-process for the embedded profile, NATS JetStream for the distributed one)
 * provides. Two kinds of traffic:
 *
 * - **Streamed messages** (`publish` / `subscribe`): stored durably before `publish` resolves (JetStream PubAck),
 *   de-duplicated by `msgId` within the adapter's duplicate window, delivered to consumers with explicit
 *   acknowledgement: a handler that returns acks its message, a handler that throws naks it (redelivered later),
 *   a message not acked within `ackWaitMs` is redelivered. Durable consumers remember their position across
 *   subscriptions (and, on NATS, across restarts of either side). Delivery is at least once; use `msgId`
 *   (the relay sets it to the event id) to recognise redeliveries.
 * - **Request/reply** (`request` / `serve`): not stored; the command gateway host agents answer. Request
 *   subjects must lie outside the stored subjects (`ledger.>` by default), or the store would swallow them.
 *
 * Subjects are dot-separated tokens; patterns use the NATS wildcards `*` (one token) and `>` (one or more
 * trailing tokens). Payloads: a `Uint8Array` travels as is; anything else is sent as JSON, and `json()` gives it back.
 */

export type Headers = Record<string, string>;

/** A message as read back: subject, raw bytes, headers. */
export interface Message {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Headers>;
  /** Parses the data as JSON. */
  json<T = unknown>(): T;
  /** The data as UTF-8 text. */
  string(): string;
}

/** A message stored in the bus (its stream). */
export interface StoredMessage extends Message {
  /** Sequence of the message in the bus's stream (grows by one per stored message). */
  readonly seq: number;
  /** The de-duplication id it was published with (header `Nats-Msg-Id`). */
  readonly msgId?: string;
  /** When the bus stored it. */
  readonly time: Date;
}

/** A stored message delivered to a consumer. */
export interface Delivery extends StoredMessage {
  /** 1 on the first delivery, more on redeliveries. */
  readonly deliveryCount: number;
  readonly redelivered: boolean;
  /** Messages of this consumer still waiting after this one (an estimate). */
  readonly pending: number;
  /** Acknowledges now (otherwise done when the handler returns). */
  ack(): void;
  /** Asks for redelivery, after `delayMs` if given (otherwise done when the handler throws). */
  nak(delayMs?: number): void;
  /** Never deliver this message to this consumer again (a poison message). */
  term(): void;
  /** Resets the ack timer: the handler is still working on it. */
  working(): void;
}

export interface PublishOptions {
  /** De-duplication id (`Nats-Msg-Id`): a second publish with the same id within the window is not stored again. */
  msgId?: string;
  headers?: Headers;
  /** How long to wait for the bus to confirm it stored the message. */
  timeoutMs?: number;
}

export interface PublishAck {
  /** Stream sequence of the stored message (of the original one for a duplicate). */
  seq: number;
  /** True when `msgId` was seen within the duplicate window and nothing new was stored. */
  duplicate: boolean;
}

export type DeliverPolicy = 'all' | 'new';

export interface SubscribeOptions {
  /**
   * Durable consumer name ([A-Za-z0-9_-]): the bus remembers what it acked, and a later subscription with the
   * same name resumes there. Several live subscriptions with one durable name share its messages.
   * Without a name the consumer is ephemeral and goes away with the subscription.
   */
  durable?: string;
  /** Where a *new* consumer starts: every stored message (`all`, default) or only those published from now (`new`).
   *  An existing durable keeps its position whatever is given here. */
  deliver?: DeliverPolicy;
  /** Redeliver a message not acked within this time. Default 30 s. Applies when the consumer is created. */
  ackWaitMs?: number;
  /** Stop redelivering a message after this many deliveries. Default unlimited. Applies when the consumer is created. */
  maxDeliver?: number;
  /** Delay before redelivering a message whose handler threw. Default 500 ms. */
  retryDelayMs?: number;
  /** Called with each handler error (after the message was nak'ed). Default: logged to stderr. */
  onError?: (error: unknown, message: Delivery) => void;
}

/**
 * Handles one delivery; the next delivery to this subscription waits for it (in order, one at a time).
 * Returning acks the message (unless the handler already acked, nak'ed or termed it); throwing naks it.
 */
export type DeliveryHandler = (message: Delivery) => void | Promise<void>;

export interface BusSubscription {
  /** The consumer's name (the durable name, or a generated one for an ephemeral consumer). */
  readonly consumer: string;
  /** Stops receiving; waits for the delivery being handled; unhandled buffered deliveries are released for redelivery. */
  close(): Promise<void>;
}

export interface RequestOptions {
  /** Default 5 s. */
  timeoutMs?: number;
  headers?: Headers;
}

export interface ServeOptions {
  /** Servers sharing a queue group split the requests (one of them answers each). Default `ledger`. */
  queue?: string;
  /** Called when a handler throws (the requester gets the error as a `BusRemoteError`). */
  onError?: (error: unknown, request: Message) => void;
}

/**
 * Answers one request. The returned value is the reply payload (`Uint8Array` as is, anything else as JSON;
 * `undefined` replies with an empty body). Throwing replies with an error the requester receives as
 * `BusRemoteError` (with the error's `code` when it has one).
 */
export type RequestHandler = (request: Message) => unknown | Promise<unknown>;

export interface Server {
  close(): Promise<void>;
}

export interface Bus {
  readonly kind: 'in-process' | 'nats';
  /** Stores a message; resolves once the bus has durably accepted it. */
  publish(subject: string, payload: unknown, options?: PublishOptions): Promise<PublishAck>;
  /** Consumes stored messages whose subject matches `subjectPattern`. Resolves once the consumer is ready. */
  subscribe(subjectPattern: string, handler: DeliveryHandler, options?: SubscribeOptions): Promise<BusSubscription>;
  /** Sends a request and waits for the first reply. Throws BusTimeoutError, BusNoRespondersError or BusRemoteError. */
  request(subject: string, payload: unknown, options?: RequestOptions): Promise<Message>;
  /** Answers requests whose subject matches `subjectPattern`. */
  serve(subjectPattern: string, handler: RequestHandler, options?: ServeOptions): Promise<Server>;
  /** The newest stored message whose subject matches `subjectPattern`, or null. */
  lastMessage(subjectPattern: string): Promise<StoredMessage | null>;
  /** Removes a durable consumer and its position; false when there was none. */
  deleteConsumer(durable: string): Promise<boolean>;
  /** Closes every subscription and server, then the connection. */
  close(): Promise<void>;
}

// ---- errors -------------------------------------------------------------------------------------------------

export class BusError extends Error {
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusError';
  }
}

export class InvalidSubjectError extends BusError {
  constructor(readonly subject: string, reason: string) {
    super('INVALID_SUBJECT', `invalid subject ${JSON.stringify(subject)}: ${reason}`);
    this.name = 'InvalidSubjectError';
  }
}

export class BusTimeoutError extends BusError {
  constructor(readonly subject: string, readonly timeoutMs: number, what = 'request') {
    super('TIMEOUT', `${what} on ${subject} got no answer within ${timeoutMs} ms`);
    this.name = 'BusTimeoutError';
  }
}

export class BusNoRespondersError extends BusError {
  constructor(readonly subject: string) {
    super('NO_RESPONDERS', `no server answers requests on ${subject}`);
    this.name = 'BusNoRespondersError';
  }
}

/** The serving side's handler threw; `remoteCode` is the error's `code` when it had one. */
export class BusRemoteError extends BusError {
  constructor(readonly subject: string, readonly remoteCode: string, readonly remoteMessage: string) {
    super('REMOTE_ERROR', `request on ${subject} failed: ${remoteMessage}${remoteCode && remoteCode !== 'ERROR' ? ` (${remoteCode})` : ''}`);
    this.name = 'BusRemoteError';
  }
}

export class BusClosedError extends BusError {
  constructor() {
    super('CLOSED', 'the bus is closed');
    this.name = 'BusClosedError';
  }
}

// ---- shared conventions -------------------------------------------------------------------------------------

/** The header carrying `msgId`, on both adapters. */
export const MSG_ID_HEADER = 'Nats-Msg-Id';
/** Reply header set when a request handler threw: its error code. The body is `{"error": {"message", "code"}}`. */
export const ERROR_HEADER = 'Ledger-Error';
/** What the bus stores by default. */
export const DEFAULT_STREAM_SUBJECTS = ['ledger.>'];
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
export const DEFAULT_ACK_WAIT_MS = 30_000;
export const DEFAULT_RETRY_DELAY_MS = 500;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
export const DEFAULT_QUEUE = 'ledger';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Payload → bytes: `Uint8Array` as is, `undefined` as empty, anything else as JSON. */
export function encodePayload(payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  if (payload === undefined) return new Uint8Array(0);
  return encoder.encode(JSON.stringify(payload));
}

export const decodeText = (data: Uint8Array): string => decoder.decode(data);

/** Parses JSON data; an empty body is `undefined`. */
export function decodeJson<T>(data: Uint8Array): T {
  if (data.length === 0) return undefined as T;
  return JSON.parse(decoder.decode(data)) as T;
}

/** Durable names travel in NATS API subjects: keep them to one safe token. */
export const DURABLE_NAME = /^[A-Za-z0-9_-]{1,128}$/;

export function errorReply(error: unknown): { code: string; body: { error: { message: string; code: string } } } {
  const message = error instanceof Error ? error.message : String(error);
  const raw = (error as { code?: unknown } | null)?.code;
  const code = typeof raw === 'string' && raw ? raw : 'ERROR';
  return { code, body: { error: { message, code } } };
}
