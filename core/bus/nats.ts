/**
 * NATS JetStream bus (distributed profile), with the v3 clients `@nats-io/transport-node` and `@nats-io/jetstream`.
 * Uses only what nats-server 2.9 offers: one stream, single-filter durable pull consumers, explicit acks.
 *
 * - One stream (default `LEDGER`) stores `ledger.>` on file storage with a duplicate window; `publish` waits for the
 *   PubAck and sends `msgId` as `Nats-Msg-Id`, so the server drops a republished message within the window.
 * - `subscribe` creates (or binds to) a pull consumer filtered on the pattern and reads it with `consume()`, one
 *   message at a time in order: ack when the handler returns, nak (with a delay) when it throws. Buffered messages
 *   a closing subscription never handled are nak'ed, so another subscriber gets them at once instead of after ack wait.
 * - `request` / `serve` are core NATS request/reply with queue groups, outside the stream's subjects.
 */
import { connect, headers as natsHeaders, nanos, NoRespondersError, TimeoutError, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  AckPolicy, DeliverPolicy, DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType,
  jetstream, jetstreamManager, type ConsumerConfig, type ConsumerMessages, type JetStreamClient, type JetStreamManager,
  type JsMsg, type StreamConfig,
} from '@nats-io/jetstream';
import {
  BusClosedError, BusError, BusNoRespondersError, BusRemoteError, BusTimeoutError, InvalidSubjectError,
  DEFAULT_ACK_WAIT_MS, DEFAULT_DUPLICATE_WINDOW_MS, DEFAULT_QUEUE, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_RETRY_DELAY_MS,
  DEFAULT_STREAM_SUBJECTS, DURABLE_NAME, ERROR_HEADER, MSG_ID_HEADER,
  decodeJson, decodeText, encodePayload, errorReply,
  type Bus, type BusSubscription, type Delivery, type DeliveryHandler, type Headers, type Message, type PublishAck,
  type PublishOptions, type RequestHandler, type RequestOptions, type ServeOptions, type Server, type StoredMessage,
  type SubscribeOptions,
} from './port.ts';
import { assertPattern, assertSubject, patternsOverlap, patternWithin, subjectMatches } from './subjects.ts';

export interface NatsBusOptions {
  /** Server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** JetStream stream name. Default `LEDGER`. */
  stream?: string;
  /** Subjects the stream stores (used when creating it). Default `['ledger.>']`. */
  streamSubjects?: string[];
  /** Duplicate window of the stream (used when creating it). Default 2 min. */
  duplicateWindowMs?: number;
  /** Stream storage (used when creating it). Default `file`. */
  storage?: 'file' | 'memory';
  /** Stream replicas (used when creating it). Default 1. */
  replicas?: number;
  /** Connection name shown by the server. */
  name?: string;
  /** How long `publish` waits for the PubAck. Default 5 s. */
  publishTimeoutMs?: number;
  /** Messages each subscription buffers ahead. Default 64. */
  prefetch?: number;
  /** How long to try the first connection. Default 5 s. */
  connectTimeoutMs?: number;
  /** Where the adapter reports problems it recovers from. Default stderr. */
  log?: (message: string, error?: unknown) => void;
}

export interface StreamState { messages: number; firstSeq: number; lastSeq: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function toHeaders(h: MsgHdrs | undefined): Headers {
  const out: Headers = {};
  if (!h) return out;
  for (const [k, values] of h) if (values.length) out[k] = values[values.length - 1];
  return out;
}

function fromHeaders(h: Headers | undefined, msgId?: string): MsgHdrs | undefined {
  const keys = h ? Object.keys(h) : [];
  if (!keys.length && msgId === undefined) return undefined;
  const out = natsHeaders();
  for (const k of keys) out.set(k, String(h![k]));
  if (msgId !== undefined) out.set(MSG_ID_HEADER, msgId);
  return out;
}

function plainMessage(subject: string, data: Uint8Array, headers: Headers): Message {
  return { subject, data, headers, json: <T>() => decodeJson<T>(data), string: () => decodeText(data) };
}

const isApiError = (e: unknown, code: number) => e instanceof JetStreamApiError && e.code === code;

function isNoResponders(e: unknown): boolean {
  return e instanceof NoRespondersError || (e instanceof Error && e.cause instanceof NoRespondersError);
}
function isTimeout(e: unknown): boolean {
  return e instanceof TimeoutError || (e instanceof Error && e.cause instanceof TimeoutError);
}

/** Connects, makes sure the stream exists, and returns the bus. */
export async function connectNatsBus(options: NatsBusOptions): Promise<NatsBus> {
  const servers = Array.isArray(options.servers) ? options.servers : [options.servers];
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: options.name ?? 'ledger',
      timeout: options.connectTimeoutMs ?? 5_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
  } catch (error) {
    throw new BusError('CONNECT_FAILED', `cannot connect to NATS at ${servers.join(', ')}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  try {
    const jsm = await jetstreamManager(nc);
    const bus = new NatsBus(nc, jsm, options);
    await bus.ensureStream();
    return bus;
  } catch (error) {
    await nc.close().catch(() => undefined);
    if (error instanceof BusError) throw error;
    throw new BusError('JETSTREAM_UNAVAILABLE', `NATS at ${servers.join(', ')} does not offer JetStream (start nats-server with -js): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

class NatsSubscription implements BusSubscription {
  private closing = false;
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> = Promise.resolve();
  /** Settles once close() has made the server forget our pull requests; nothing is nak'ed on close before. */
  private purged: Promise<void> = Promise.resolve();
  constructor(
    private readonly bus: NatsBus,
    readonly consumer: string,
    private readonly ephemeral: boolean,
    private readonly handler: DeliveryHandler,
    private readonly retryDelayMs: number,
    private readonly onError: (error: unknown, message: Delivery) => void,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.closing) {
      try {
        const c = await this.bus.js.consumers.get(this.bus.stream, this.consumer);
        if (this.closing) return;
        const messages = await c.consume({ max_messages: this.bus.prefetch });
        this.messages = messages;
        if (this.closing) { // close() came while we were starting: release what this pull brings, as close() does
          const stopped = messages.close();
          this.purged = this.bus.jsm.consumers.info(this.bus.stream, this.consumer).then(() => undefined, () => undefined);
          void stopped;
        }
        for await (const m of messages) {
          if (this.closing) { await this.purged; m.nak(); continue; } // buffered, never handled: release it now
          await this.handle(m);
        }
      } catch (error) {
        if (this.closing) return;
        this.bus.log(`bus: consumer ${this.consumer} stopped receiving; retrying`, error);
      }
      if (!this.closing) await sleep(500);
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    const headers = toHeaders(m.headers);
    let settled = false;
    const once = (fn: () => void) => () => { if (!settled) { settled = true; fn(); } };
    const delivery: Delivery = {
      subject: m.subject,
      data: m.data,
      headers,
      msgId: headers[MSG_ID_HEADER],
      seq: m.seq,
      time: m.time,
      deliveryCount: m.info.deliveryCount,
      redelivered: m.redelivered,
      pending: m.info.pending,
      json: <T>() => decodeJson<T>(m.data),
      string: () => decodeText(m.data),
      ack: once(() => m.ack()),
      nak: (delayMs?: number) => once(() => (delayMs && delayMs > 0 ? m.nak(delayMs) : m.nak()))(),
      term: once(() => m.term()),
      working: () => { if (!settled) m.working(); },
    };
    try {
      await this.handler(delivery);
      delivery.ack();
    } catch (error) {
      delivery.nak(this.retryDelayMs);
      try { this.onError(error, delivery); } catch { /* a failing error hook must not stop delivery */ }
    }
  }

  async close(): Promise<void> {
    if (!this.closing) {
      // Unsubscribe first (the loop then naks what is still buffered, so others get it at once). nats-server 2.9
      // keeps our pull request until it expires and would hand the nak'ed messages straight back to it (lost until
      // ack wait); a consumer info request, sent after the unsubscribe, makes it drop requests without interest.
      const stopped = this.messages?.close();
      this.purged = this.bus.jsm.consumers.info(this.bus.stream, this.consumer).then(() => undefined, () => undefined);
      this.closing = true;
      await stopped;
    }
    await this.loop;
    this.bus.forget(this);
    if (this.ephemeral) await this.bus.deleteConsumer(this.consumer).catch(() => false);
  }
}

export class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  readonly stream: string;
  readonly streamSubjects: string[];
  readonly js: JetStreamClient;
  readonly prefetch: number;
  private readonly publishTimeoutMs: number;
  private readonly subs = new Set<NatsSubscription>();
  private readonly servers = new Set<{ close(): Promise<void> }>();
  private closed = false;
  readonly log: (message: string, error?: unknown) => void;

  constructor(readonly connection: NatsConnection, readonly jsm: JetStreamManager, private readonly options: NatsBusOptions) {
    this.stream = options.stream ?? 'LEDGER';
    this.streamSubjects = options.streamSubjects ?? DEFAULT_STREAM_SUBJECTS;
    for (const s of this.streamSubjects) assertPattern(s);
    this.js = jetstream(connection);
    this.prefetch = options.prefetch ?? 64;
    this.publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
    this.log = options.log ?? ((message, error) => console.error(message, error ?? ''));
  }

  /** Creates the stream when missing; checks an existing one stores our subjects. */
  async ensureStream(): Promise<void> {
    const config: Partial<StreamConfig> & { name: string } = {
      name: this.stream,
      subjects: this.streamSubjects,
      storage: this.options.storage === 'memory' ? StorageType.Memory : StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(this.options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS),
      num_replicas: this.options.replicas ?? 1,
    };
    for (let attempt = 0; ; attempt++) {
      try {
        const info = await this.jsm.streams.info(this.stream);
        const missing = this.streamSubjects.filter((s) => !patternWithin(s, info.config.subjects ?? []));
        if (missing.length) {
          throw new BusError('STREAM_MISMATCH', `JetStream stream ${this.stream} exists but does not store ${missing.join(', ')} (it stores ${(info.config.subjects ?? []).join(', ') || 'nothing'})`);
        }
        return;
      } catch (error) {
        if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
      }
      try {
        await this.jsm.streams.add(config);
        return;
      } catch (error) {
        // Another process may have created it between our look and our add: look again once.
        if (attempt >= 1) throw new BusError('STREAM_CREATE_FAILED', `cannot create JetStream stream ${this.stream}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    }
  }

  /** Message count and sequences of the stream (for operators and tests). */
  async streamState(): Promise<StreamState> {
    // Just after a server restart JetStream's API may not answer yet (a request timeout): ask up to three times.
    for (let attempt = 1; ; attempt++) {
      try {
        const info = await this.jsm.streams.info(this.stream);
        return { messages: info.state.messages, firstSeq: info.state.first_seq, lastSeq: info.state.last_seq };
      } catch (error) {
        if (attempt >= 3 || !/timeout/i.test(error instanceof Error ? `${error.name} ${error.message}` : String(error))) throw error;
      }
    }
  }

  private assertOpen(): void {
    if (this.closed || this.connection.isClosed()) throw new BusClosedError();
  }

  async publish(subject: string, payload: unknown, options: PublishOptions = {}): Promise<PublishAck> {
    this.assertOpen();
    assertSubject(subject);
    if (!this.streamSubjects.some((p) => subjectMatches(p, subject))) {
      throw new InvalidSubjectError(subject, `no stream stores it (stream ${this.stream} stores ${this.streamSubjects.join(', ')})`);
    }
    const timeout = options.timeoutMs ?? this.publishTimeoutMs;
    try {
      const ack = await this.js.publish(subject, encodePayload(payload), {
        msgID: options.msgId,
        headers: fromHeaders(options.headers),
        timeout,
      });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      if (isTimeout(error)) throw new BusTimeoutError(subject, timeout, 'publish');
      throw new BusError('PUBLISH_FAILED', `publish on ${subject} was not stored: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  async subscribe(subjectPattern: string, handler: DeliveryHandler, options: SubscribeOptions = {}): Promise<BusSubscription> {
    this.assertOpen();
    assertPattern(subjectPattern);
    if (!patternWithin(subjectPattern, this.streamSubjects)) {
      throw new InvalidSubjectError(subjectPattern, `outside the subjects of stream ${this.stream} (${this.streamSubjects.join(', ')})`);
    }
    const durable = options.durable;
    if (durable !== undefined && !DURABLE_NAME.test(durable)) {
      throw new BusError('INVALID_CONSUMER', `invalid durable name ${JSON.stringify(durable)}: use 1-128 of [A-Za-z0-9_-]`);
    }
    const config: Partial<ConsumerConfig> = {
      ack_policy: AckPolicy.Explicit,
      deliver_policy: (options.deliver ?? 'all') === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
      filter_subject: subjectPattern,
      ack_wait: nanos(options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
      max_deliver: options.maxDeliver ?? -1,
    };
    let name: string;
    if (durable !== undefined) {
      const existing = await this.jsm.consumers.info(this.stream, durable).catch((error) => {
        if (isApiError(error, JetStreamApiCodes.ConsumerNotFound)) return null;
        throw error;
      });
      if (existing) {
        const filters = existing.config.filter_subject ? [existing.config.filter_subject] : (existing.config.filter_subjects ?? []);
        if (filters.length !== 1 || filters[0] !== subjectPattern) {
          throw new BusError('CONSUMER_CONFLICT', `durable consumer ${durable} already exists with filter ${filters.join(', ') || '(none)'}, not ${subjectPattern}; delete it first or use another name`);
        }
      } else {
        await this.jsm.consumers.add(this.stream, { ...config, durable_name: durable });
      }
      name = durable;
    } else {
      // Ephemeral: the server removes it after a minute without a client, should we die before deleting it.
      const info = await this.jsm.consumers.add(this.stream, { ...config, inactive_threshold: nanos(60_000) });
      name = info.name;
    }
    const onError = options.onError ?? ((error, m) => this.log(`bus: handler of ${name} failed on ${m.subject} (seq ${m.seq}, delivery ${m.deliveryCount}):`, error));
    const sub = new NatsSubscription(this, name, durable === undefined, handler, options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS, onError);
    this.subs.add(sub);
    sub.start();
    return sub;
  }

  /** @internal */
  forget(sub: NatsSubscription): void { this.subs.delete(sub); }

  async deleteConsumer(durable: string): Promise<boolean> {
    this.assertOpen();
    try {
      return await this.jsm.consumers.delete(this.stream, durable);
    } catch (error) {
      if (isApiError(error, JetStreamApiCodes.ConsumerNotFound)) return false;
      throw error;
    }
  }

  async lastMessage(subjectPattern: string): Promise<StoredMessage | null> {
    this.assertOpen();
    assertPattern(subjectPattern);
    let m;
    try {
      m = await this.jsm.streams.getMessage(this.stream, { last_by_subj: subjectPattern });
    } catch (error) {
      if (isApiError(error, JetStreamApiCodes.NoMessageFound)) return null;
      throw error;
    }
    if (!m) return null;
    const headers = toHeaders(m.header);
    return { ...plainMessage(m.subject, m.data, headers), seq: m.seq, msgId: headers[MSG_ID_HEADER], time: m.time };
  }

  private assertOutsideStream(subject: string): void {
    const clash = this.streamSubjects.find((s) => patternsOverlap(s, subject));
    if (clash) throw new InvalidSubjectError(subject, `request subjects must lie outside the stored subjects (${clash}); use e.g. cmd.…`);
  }

  async request(subject: string, payload: unknown, options: RequestOptions = {}): Promise<Message> {
    this.assertOpen();
    assertSubject(subject);
    this.assertOutsideStream(subject);
    const timeout = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    let reply: Msg;
    try {
      reply = await this.connection.request(subject, encodePayload(payload), { timeout, headers: fromHeaders(options.headers) });
    } catch (error) {
      if (isNoResponders(error)) throw new BusNoRespondersError(subject);
      if (isTimeout(error)) throw new BusTimeoutError(subject, timeout);
      throw new BusError('REQUEST_FAILED', `request on ${subject} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const headers = toHeaders(reply.headers);
    const message = plainMessage(reply.subject, reply.data, headers);
    const errCode = headers[ERROR_HEADER];
    if (errCode !== undefined) {
      let text = 'remote error';
      try { text = message.json<{ error?: { message?: string } }>()?.error?.message ?? text; } catch { /* keep default */ }
      throw new BusRemoteError(subject, errCode, text);
    }
    return message;
  }

  async serve(subjectPattern: string, handler: RequestHandler, options: ServeOptions = {}): Promise<Server> {
    this.assertOpen();
    assertPattern(subjectPattern);
    this.assertOutsideStream(subjectPattern);
    const sub: Subscription = this.connection.subscribe(subjectPattern, { queue: options.queue ?? DEFAULT_QUEUE });
    const inFlight = new Set<Promise<void>>();
    const answer = async (m: Msg) => {
      const request = plainMessage(m.subject, m.data, toHeaders(m.headers));
      try {
        const result = await handler(request);
        if (m.reply) m.respond(encodePayload(result));
      } catch (error) {
        try { options.onError?.(error, request); } catch { /* ignore */ }
        const { code, body } = errorReply(error);
        if (m.reply) m.respond(encodePayload(body), { headers: fromHeaders({ [ERROR_HEADER]: code }) });
      }
    };
    const loop = (async () => {
      for await (const m of sub) {
        const p = answer(m).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    })();
    await this.connection.flush(); // the subscription is registered on the server before serve() resolves
    const server = {
      close: async () => {
        this.servers.delete(server);
        if (!sub.isClosed()) await sub.drain().catch(() => undefined);
        await loop.catch(() => undefined);
        await Promise.all([...inFlight]);
        await this.connection.flush().catch(() => undefined);
      },
    };
    this.servers.add(server);
    return server;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.subs].map((s) => s.close().catch(() => undefined)));
    await Promise.all([...this.servers].map((s) => s.close().catch(() => undefined)));
    this.closed = true;
    if (!this.connection.isClosed()) await this.connection.drain().catch(() => this.connection.close());
  }
}
