/**
 * In-process bus (embedded profile): the semantics of the NATS JetStream adapter, in memory.
 *
 * - One stream of messages (subjects `ledger.>` by default) with sequence numbers, `msgId` de-duplication within a
 *   window, and a retention limit (oldest messages dropped first, as a JetStream limits stream would).
 * - Consumers with a filter pattern and a position. A durable consumer outlives its subscriptions (for the life of
 *   this bus object) and resumes where it was; subscriptions sharing a durable split its messages. A delivery is
 *   pending until acked; nak'ed messages come back after their delay, un-acked ones after `ackWaitMs`.
 * - Each subscription handles one delivery at a time, in stream order (redeliveries go before new messages).
 * - Request/reply with queue groups; no responders and timeouts fail like NATS does.
 *
 * Nothing survives the process: it is the bus of a single-process deployment and of tests.
 */
import { randomUUID } from 'node:crypto';
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

export interface InProcessBusOptions {
  /** Subjects the stream stores. Default `['ledger.>']`. */
  streamSubjects?: string[];
  /** How long a `msgId` is remembered. Default 2 min (JetStream's default). */
  duplicateWindowMs?: number;
  /** Keep at most this many messages (oldest dropped). Default 100,000. */
  maxMessages?: number;
}

interface StoredRecord { seq: number; subject: string; data: Uint8Array; headers: Headers; msgId?: string; time: Date }

interface PendingEntry { count: number; timer: NodeJS.Timeout | null }

class ConsumerState {
  /** Next stream sequence to look at for a first delivery. */
  nextSeq: number;
  /** Delivered, waiting for an ack. */
  readonly pending = new Map<number, PendingEntry>();
  /** Ready to be delivered again, ascending. */
  readonly redeliver: number[] = [];
  /** Delivery counts of messages delivered at least once and not yet acked. */
  readonly counts = new Map<number, number>();
  readonly timers = new Set<NodeJS.Timeout>();
  readonly subs: LocalSubscription[] = [];
  rr = 0;
  constructor(
    readonly name: string,
    readonly filter: string,
    readonly ephemeral: boolean,
    readonly ackWaitMs: number,
    readonly maxDeliver: number,
    startSeq: number,
  ) { this.nextSeq = startSeq; }
}

class LocalSubscription implements BusSubscription {
  busy = false;
  closed = false;
  current: Promise<void> = Promise.resolve();
  constructor(
    readonly consumerState: ConsumerState,
    readonly handler: DeliveryHandler,
    readonly retryDelayMs: number,
    readonly onError: (error: unknown, message: Delivery) => void,
    private readonly onClose: (sub: LocalSubscription) => Promise<void>,
  ) {}
  get consumer() { return this.consumerState.name; }
  close(): Promise<void> { return this.onClose(this); }
}

interface LocalServer { pattern: string; queue: string; handler: RequestHandler; onError?: ServeOptions['onError']; closed: boolean }

function message(subject: string, data: Uint8Array, headers: Headers): Message {
  return {
    subject, data, headers,
    json: <T>() => decodeJson<T>(data),
    string: () => decodeText(data),
  };
}

function stored(r: StoredRecord): StoredMessage {
  return { ...message(r.subject, r.data, r.headers), seq: r.seq, msgId: r.msgId, time: r.time };
}

export class InProcessBus implements Bus {
  readonly kind = 'in-process' as const;
  private readonly streamSubjects: string[];
  private readonly duplicateWindowMs: number;
  private readonly maxMessages: number;
  private log: StoredRecord[] = [];
  /** Sequence of log[0]. */
  private firstSeq = 1;
  private lastSeq = 0;
  private readonly msgIds = new Map<string, { seq: number; at: number }>();
  private readonly consumers = new Map<string, ConsumerState>();
  private readonly servers = new Set<LocalServer>();
  private readonly queueCursor = new Map<string, number>();
  private closed = false;

  constructor(options: InProcessBusOptions = {}) {
    this.streamSubjects = options.streamSubjects ?? DEFAULT_STREAM_SUBJECTS;
    for (const s of this.streamSubjects) assertPattern(s);
    this.duplicateWindowMs = options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
    this.maxMessages = options.maxMessages ?? 100_000;
  }

  // ---- streamed messages ----------------------------------------------------------------------------------

  async publish(subject: string, payload: unknown, options: PublishOptions = {}): Promise<PublishAck> {
    if (this.closed) throw new BusClosedError();
    assertSubject(subject);
    if (!this.streamSubjects.some((p) => subjectMatches(p, subject))) {
      throw new InvalidSubjectError(subject, `no stream stores it (the bus stores ${this.streamSubjects.join(', ')})`);
    }
    const now = Date.now();
    this.expireMsgIds(now);
    const msgId = options.msgId;
    if (msgId !== undefined) {
      const seen = this.msgIds.get(msgId);
      if (seen) return { seq: seen.seq, duplicate: true };
    }
    const data = payload instanceof Uint8Array ? payload.slice() : encodePayload(payload);
    const headers: Headers = { ...(options.headers ?? {}) };
    if (msgId !== undefined) headers[MSG_ID_HEADER] = msgId;
    const seq = ++this.lastSeq;
    this.log.push({ seq, subject, data, headers, msgId, time: new Date(now) });
    if (msgId !== undefined) this.msgIds.set(msgId, { seq, at: now });
    this.trim();
    for (const c of this.consumers.values()) {
      if (c.subs.length && subjectMatches(c.filter, subject)) this.schedulePump(c);
    }
    return { seq, duplicate: false };
  }

  private expireMsgIds(now: number): void {
    for (const [id, v] of this.msgIds) {
      if (now - v.at < this.duplicateWindowMs) break; // insertion order = time order
      this.msgIds.delete(id);
    }
  }

  private trim(): void {
    const excess = this.log.length - this.maxMessages;
    if (excess <= 0) return;
    // Drop in chunks so trimming stays cheap.
    const drop = Math.max(excess, Math.min(this.log.length, Math.ceil(this.maxMessages / 100)));
    this.log = this.log.slice(drop);
    this.firstSeq += drop;
  }

  private record(seq: number): StoredRecord | undefined {
    return seq >= this.firstSeq && seq <= this.lastSeq ? this.log[seq - this.firstSeq] : undefined;
  }

  async subscribe(subjectPattern: string, handler: DeliveryHandler, options: SubscribeOptions = {}): Promise<BusSubscription> {
    if (this.closed) throw new BusClosedError();
    assertPattern(subjectPattern);
    if (!patternWithin(subjectPattern, this.streamSubjects)) {
      throw new InvalidSubjectError(subjectPattern, `outside the stored subjects (${this.streamSubjects.join(', ')})`);
    }
    let state: ConsumerState | undefined;
    if (options.durable !== undefined) {
      if (!DURABLE_NAME.test(options.durable)) throw new BusError('INVALID_CONSUMER', `invalid durable name ${JSON.stringify(options.durable)}: use 1-128 of [A-Za-z0-9_-]`);
      state = this.consumers.get(options.durable);
      if (state && state.filter !== subjectPattern) {
        throw new BusError('CONSUMER_CONFLICT', `durable consumer ${options.durable} already exists with filter ${state.filter}, not ${subjectPattern}; delete it first or use another name`);
      }
    }
    if (!state) {
      const name = options.durable ?? `eph_${randomUUID().replace(/-/g, '')}`;
      const start = (options.deliver ?? 'all') === 'new' ? this.lastSeq + 1 : this.firstSeq;
      state = new ConsumerState(name, subjectPattern, options.durable === undefined, options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS, options.maxDeliver ?? -1, start);
      this.consumers.set(name, state);
    }
    const onError = options.onError ?? ((error, m) => console.error(`bus: handler of ${state!.name} failed on ${m.subject} (seq ${m.seq}, delivery ${m.deliveryCount}):`, error));
    const sub = new LocalSubscription(state, handler, options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS, onError, (s) => this.closeSubscription(s));
    state.subs.push(sub);
    this.schedulePump(state);
    return sub;
  }

  private async closeSubscription(sub: LocalSubscription): Promise<void> {
    if (!sub.closed) {
      sub.closed = true;
      const c = sub.consumerState;
      const i = c.subs.indexOf(sub);
      if (i >= 0) c.subs.splice(i, 1);
      await sub.current;
      if (c.ephemeral && c.subs.length === 0) this.dropConsumer(c);
      else this.schedulePump(c);
    } else {
      await sub.current;
    }
  }

  private dropConsumer(c: ConsumerState): void {
    for (const t of c.timers) clearTimeout(t);
    c.timers.clear();
    for (const p of c.pending.values()) if (p.timer) clearTimeout(p.timer);
    c.pending.clear();
    if (this.consumers.get(c.name) === c) this.consumers.delete(c.name);
  }

  async deleteConsumer(durable: string): Promise<boolean> {
    const c = this.consumers.get(durable);
    if (!c) return false;
    for (const s of [...c.subs]) { s.closed = true; }
    c.subs.length = 0;
    this.dropConsumer(c);
    return true;
  }

  private readonly pumpScheduled = new Set<ConsumerState>();

  private schedulePump(c: ConsumerState): void {
    if (this.pumpScheduled.has(c)) return;
    this.pumpScheduled.add(c);
    setImmediate(() => { this.pumpScheduled.delete(c); this.pump(c); });
  }

  /** Hands the next messages to idle subscriptions of `c`. */
  private pump(c: ConsumerState): void {
    if (this.closed || this.consumers.get(c.name) !== c) return;
    for (let n = 0; n < c.subs.length; n++) {
      const sub = c.subs[(c.rr + n) % c.subs.length];
      if (sub.busy || sub.closed) continue;
      const seq = this.nextFor(c);
      if (seq === undefined) return;
      c.rr = (c.rr + n + 1) % Math.max(1, c.subs.length);
      this.deliver(c, sub, seq);
    }
  }

  /** The next sequence to deliver: due redeliveries first, then new matching messages. */
  private nextFor(c: ConsumerState): number | undefined {
    while (c.redeliver.length) {
      const seq = c.redeliver.shift()!;
      if (!this.record(seq)) { c.counts.delete(seq); continue; } // dropped by retention
      if (!c.pending.has(seq)) return seq;
    }
    if (c.nextSeq < this.firstSeq) c.nextSeq = this.firstSeq;
    while (c.nextSeq <= this.lastSeq) {
      const seq = c.nextSeq++;
      const r = this.record(seq);
      if (r && subjectMatches(c.filter, r.subject)) return seq;
    }
    return undefined;
  }

  private deliver(c: ConsumerState, sub: LocalSubscription, seq: number): void {
    const r = this.record(seq)!;
    const count = (c.counts.get(seq) ?? 0) + 1;
    if (c.maxDeliver > 0 && count > c.maxDeliver) { c.counts.delete(seq); this.schedulePump(c); return; }
    c.counts.set(seq, count);
    const entry: PendingEntry = { count, timer: null };
    const armTimer = () => {
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = setTimeout(() => {
        // Not acked in time: back in line for redelivery (the running handler may still ack it).
        if (c.pending.get(seq) !== entry) return;
        c.pending.delete(seq);
        insertSorted(c.redeliver, seq);
        this.schedulePump(c);
      }, c.ackWaitMs);
    };
    c.pending.set(seq, entry);
    armTimer();

    let settled = false;
    const settle = (outcome: 'ack' | 'nak' | 'term', delayMs = 0) => {
      if (settled) return;
      settled = true;
      if (c.pending.get(seq) !== entry) return; // ack wait expired: the redelivery already issued stands (as on JetStream)
      if (entry.timer) clearTimeout(entry.timer);
      c.pending.delete(seq);
      if (outcome !== 'nak') { c.counts.delete(seq); return; }
      if (this.consumers.get(c.name) !== c) return;
      if (delayMs <= 0) { insertSorted(c.redeliver, seq); this.schedulePump(c); return; }
      const t = setTimeout(() => { c.timers.delete(t); insertSorted(c.redeliver, seq); this.schedulePump(c); }, delayMs);
      c.timers.add(t);
    };
    const remaining = this.lastSeq - c.nextSeq + 1 + c.redeliver.length;
    const delivery: Delivery = {
      ...stored(r),
      deliveryCount: count,
      redelivered: count > 1,
      pending: Math.max(0, remaining),
      ack: () => settle('ack'),
      nak: (delayMs?: number) => settle('nak', delayMs ?? 0),
      term: () => settle('term'),
      working: () => { if (!settled && c.pending.get(seq) === entry) armTimer(); },
    };
    sub.busy = true;
    sub.current = (async () => {
      try {
        await sub.handler(delivery);
        settle('ack');
      } catch (error) {
        settle('nak', sub.retryDelayMs);
        try { sub.onError(error, delivery); } catch { /* a failing error hook must not stop delivery */ }
      } finally {
        sub.busy = false;
        this.schedulePump(c);
      }
    })();
  }

  async lastMessage(subjectPattern: string): Promise<StoredMessage | null> {
    if (this.closed) throw new BusClosedError();
    assertPattern(subjectPattern);
    for (let i = this.log.length - 1; i >= 0; i--) {
      if (subjectMatches(subjectPattern, this.log[i].subject)) return stored(this.log[i]);
    }
    return null;
  }

  // ---- request / reply ------------------------------------------------------------------------------------

  private assertOutsideStream(subject: string): void {
    const clash = this.streamSubjects.find((s) => patternsOverlap(s, subject));
    if (clash) throw new InvalidSubjectError(subject, `request subjects must lie outside the stored subjects (${clash}); use e.g. cmd.…`);
  }

  async request(subject: string, payload: unknown, options: RequestOptions = {}): Promise<Message> {
    if (this.closed) throw new BusClosedError();
    assertSubject(subject);
    this.assertOutsideStream(subject);
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const data = encodePayload(payload).slice();
    const request = message(subject, data, { ...(options.headers ?? {}) });
    const matching = [...this.servers].filter((s) => !s.closed && subjectMatches(s.pattern, subject));
    if (matching.length === 0) throw new BusNoRespondersError(subject);
    // One server per queue group answers.
    const groups = new Map<string, LocalServer[]>();
    for (const s of matching) groups.set(s.queue, [...(groups.get(s.queue) ?? []), s]);
    const chosen = [...groups.entries()].map(([queue, members]) => {
      const i = (this.queueCursor.get(queue) ?? 0) % members.length;
      this.queueCursor.set(queue, i + 1);
      return members[i];
    });
    return new Promise<Message>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => { if (!done) { done = true; reject(new BusTimeoutError(subject, timeoutMs)); } }, timeoutMs);
      for (const server of chosen) {
        setImmediate(async () => {
          let reply: Message;
          try {
            const result = await server.handler(request);
            reply = message(subject, encodePayload(result).slice(), {});
          } catch (error) {
            try { server.onError?.(error, request); } catch { /* ignore */ }
            const { code, body } = errorReply(error);
            reply = message(subject, encodePayload(body), { [ERROR_HEADER]: code });
          }
          if (done) return;
          done = true;
          clearTimeout(timer);
          const errCode = reply.headers[ERROR_HEADER];
          if (errCode !== undefined) {
            const body = reply.json<{ error?: { message?: string } }>();
            reject(new BusRemoteError(subject, errCode, body?.error?.message ?? 'remote error'));
          } else resolve(reply);
        });
      }
    });
  }

  async serve(subjectPattern: string, handler: RequestHandler, options: ServeOptions = {}): Promise<Server> {
    if (this.closed) throw new BusClosedError();
    assertPattern(subjectPattern);
    this.assertOutsideStream(subjectPattern);
    const server: LocalServer = { pattern: subjectPattern, queue: options.queue ?? DEFAULT_QUEUE, handler, onError: options.onError, closed: false };
    this.servers.add(server);
    return {
      close: async () => { server.closed = true; this.servers.delete(server); },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const subs = [...this.consumers.values()].flatMap((c) => c.subs);
    await Promise.all(subs.map((s) => s.close()));
    this.closed = true;
    for (const c of [...this.consumers.values()]) this.dropConsumer(c);
    for (const s of this.servers) s.closed = true;
    this.servers.clear();
  }
}

function insertSorted(list: number[], seq: number): void {
  if (list.includes(seq)) return;
  let i = list.length;
  while (i > 0 && list[i - 1] > seq) i--;
  list.splice(i, 0, seq);
}
