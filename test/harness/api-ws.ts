/**
 * A small GraphQL-over-WebSocket client (the `graphql-transport-ws` protocol) on the `ws` package (which mercurius
 * itself depends on), for subscription tests against a real server.
 */
import { createRequire } from 'node:module';

const WebSocketCtor = createRequire(import.meta.url)('ws') as new (url: string, protocols: string | string[], options?: { headers?: Record<string, string> }) => WsLike;

interface WsLike {
  readyState: number;
  send(data: string): void;
  close(code?: number): void;
  on(event: 'message', fn: (data: Buffer) => void): void;
  on(event: 'open', fn: () => void): void;
  on(event: 'close', fn: (code: number, reason: Buffer) => void): void;
  on(event: 'error', fn: (error: Error) => void): void;
  on(event: 'unexpected-response', fn: (req: { destroy(): void }, res: { statusCode: number }) => void): void;
}

export interface WsMessage { type: string; id?: string; payload?: any }

export class GraphQLWsClient {
  private readonly messages: WsMessage[] = [];
  private readonly waiters: { match: (m: WsMessage) => boolean; resolve: (m: WsMessage) => void }[] = [];
  closed: { code: number; reason: string } | null = null;
  private closeWaiters: (() => void)[] = [];

  private constructor(private readonly ws: WsLike) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as WsMessage;
      const i = this.waiters.findIndex((w) => w.match(m));
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(m); else this.messages.push(m);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      for (const w of this.closeWaiters) w();
    });
  }

  /** Opens the socket (optionally with an Authorization header on the upgrade). Rejects with the HTTP status when the upgrade is refused. */
  static open(url: string, options: { headers?: Record<string, string>; protocol?: string } = {}): Promise<GraphQLWsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocketCtor(url, options.protocol ?? 'graphql-transport-ws', { headers: options.headers });
      ws.on('open', () => resolve(new GraphQLWsClient(ws)));
      ws.on('unexpected-response', (req, res) => { req.destroy(); reject(Object.assign(new Error(`upgrade refused: HTTP ${res.statusCode}`), { statusCode: res.statusCode })); });
      ws.on('error', reject);
    });
  }

  send(message: WsMessage) { this.ws.send(JSON.stringify(message)); }

  /** connection_init with a payload; resolves with the server's answer (connection_ack or connection_error). */
  async init(payload?: Record<string, unknown>, timeoutMs = 5000): Promise<WsMessage> {
    this.send({ type: 'connection_init', ...(payload && { payload }) });
    return this.next((m) => m.type === 'connection_ack' || m.type === 'connection_error', timeoutMs);
  }

  subscribe(id: string, query: string, variables?: Record<string, unknown>) {
    this.send({ id, type: 'subscribe', payload: { query, ...(variables && { variables }) } });
  }

  complete(id: string) { this.send({ id, type: 'complete' }); }

  /** The next message matching `match` (already received or arriving within `timeoutMs`). */
  next(match: (m: WsMessage) => boolean = () => true, timeoutMs = 5000): Promise<WsMessage> {
    const i = this.messages.findIndex(match);
    if (i >= 0) return Promise.resolve(this.messages.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (m: WsMessage) => { clearTimeout(timer); resolve(m); } };
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(new Error(`no matching message within ${timeoutMs} ms; unmatched: ${JSON.stringify(this.messages)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Messages received and not yet taken. */
  pending(): WsMessage[] { return [...this.messages]; }

  waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket not closed in time')), timeoutMs);
      this.closeWaiters.push(() => { clearTimeout(timer); resolve(this.closed!); });
    });
  }

  close() { if (!this.closed) this.ws.close(); }
}
