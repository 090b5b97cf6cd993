/**
 * The GraphQL endpoint (mercurius): schema and resolvers assembled from the modules, query limits, the error
 * formatter, GraphQL metrics, GraphiQL (development only) and subscriptions over WebSocket through the PubSub port.
 * Registered inside the API scope, after the auth and rate-limit plugins (fastify-plugin, so its routes share their hooks).
 */
import fp from 'fastify-plugin';
import mercurius from 'mercurius';
import { GraphQLError, Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Ledger } from '../../core/ledger.ts';
import { bearerToken, type Principal, type TokenVerifier } from '../auth/tokens.ts';
import type { ApiContext } from '../graphql/context.ts';
import { createErrorFormatter, safeGraphQLError } from '../graphql/errors.ts';
import { limitRules, validateDocument, type QueryLimits } from '../graphql/hardening.ts';
import type { CursorCodec } from '../graphql/relay.ts';
import type { AssembledApi } from '../graphql/schema.ts';
import { ResponseCache } from '../graphql/response-cache.ts';
import { mercuriusPubSub } from '../pubsub/mercurius.ts';
import type { PubSub } from '../pubsub/port.ts';
import type { ApiMetrics } from './metrics.ts';

export interface GraphQLPluginOptions {
  ledger: Ledger;
  api: AssembledApi;
  verifier: TokenVerifier;
  cursors: CursorCodec;
  pubsub: PubSub;
  metrics: ApiMetrics;
  limits: QueryLimits;
  production: boolean;
  graphiql: boolean;
  path: string;
  /** graphql-jit: compile a query after it was seen this many times (0: off). */
  jit: number;
  /** How long a mutation waits for the read models before answering (read-your-writes). */
  settleTimeoutMs: number;
  /** Serve repeated cacheable queries from the response cache (see response-cache.ts). */
  responseCache: boolean;
  /** Waits until the read models the resolvers use hold the log up to `position` (default: the ledger's projections). */
  readModelsAt?: (position: number, timeoutMs: number) => Promise<void>;
  /** Subscribes to token revocations (api/auth/revocations.ts): open WebSockets of a revoked token are closed. */
  onTokenRevoked?: (listener: (tokenId: string) => void) => () => void;
  /** Whether a token id is revoked now (a connection authorised on its upgrade request is checked again at connection_init). */
  isTokenRevoked?: (tokenId: string) => boolean;
}

/** What the graphql plugin needs of a subscription connection's socket (the `ws` library's WebSocket). */
interface SubscriptionSocket { close(code?: number, reason?: string): void; once(event: 'close', fn: () => void): unknown }

/** WebSocket close code for a connection whose token was revoked (4403: graphql-ws's "Forbidden"). */
export const WS_TOKEN_REVOKED = 4403;

const kOp = Symbol('ledger.graphqlOperation');
const kCache = Symbol('ledger.responseCache');
type CacheState = { key: string; stamp?: string; ok?: boolean };
type OpRecord = { type: string; name: string; started: bigint };

/** Subscription start errors skip the error formatter in mercurius: make them safe here. */
function guardSubscriptions(resolvers: Record<string, any>): Record<string, any> {
  const subs = resolvers.Subscription as Record<string, { subscribe: (...args: any[]) => unknown; resolve?: unknown }> | undefined;
  if (!subs) return resolvers;
  const guarded: Record<string, unknown> = {};
  for (const [field, def] of Object.entries(subs)) {
    guarded[field] = {
      ...def,
      subscribe: async (root: unknown, args: unknown, ctx: ApiContext, info: unknown) => {
        try { return await def.subscribe(root, args, ctx, info); } catch (error) { throw safeGraphQLError(error, ctx.log, ctx.correlationId); }
      },
    };
  }
  return { ...resolvers, Subscription: guarded };
}

function operationOf(document: DocumentNode): OperationDefinitionNode | undefined {
  return document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
}

export const graphqlPlugin = fp<GraphQLPluginOptions>(async (app, o) => {
  const { ledger, api, metrics } = o;
  const settle = async (position: number) => {
    if (!(position > 0)) return;
    try { await (o.readModelsAt ?? ((p, t) => ledger.projections.waitFor(p, t)))(position, o.settleTimeoutMs); } catch (error) {
      app.log.warn({ err: error, position }, 'read models did not catch up in time; answering with what they hold');
    }
  };
  const shared = { ledger, cursors: o.cursors, nodes: api.nodeTypes, settle };
  const contextOf = (request: { principal: Principal | null; id: string; log: ApiContext['log'] }) =>
    ({ ...shared, principal: request.principal ?? null, correlationId: request.id, log: request.log });
  // An HTTP request's context, with every property mercurius adds to it declared up front (it assigns about fifteen:
  // reply, app, pubsub, the hook lists…; all overwritten before execution). Added one by one they sent each context
  // through a chain of hidden-class transitions into a slow dictionary object: the largest single item of the
  // uncached tenant query's profile after GC. Subscriptions keep contextOf: their context is built differently.
  const httpContextOf = (request: { principal: Principal | null; id: string; log: ApiContext['log'] }) => ({
    ledger, cursors: o.cursors, nodes: api.nodeTypes, settle,
    principal: request.principal ?? null, correlationId: request.id, log: request.log,
    reply: null, app: null, pubsub: null, __currentQuery: null, errors: null,
    preParsing: null, preValidation: null, preExecution: null, onResolution: null, preSubscriptionParsing: null,
    preSubscriptionExecution: null, onSubscriptionResolution: null, onSubscriptionEnd: null,
    onSubscriptionConnectionClose: null, onSubscriptionConnectionError: null,
    [kOp]: null as OpRecord | null,
  });

  // Open subscription connections by the token they were authorised with, so that a revocation cuts them at once
  // (a connection is authorised once, at connection_init; without this it would live on with a revoked token).
  const socketsByToken = new Map<string, Set<SubscriptionSocket>>();
  /** Registers an authorised connection; false when its token is revoked by now (it is then refused). */
  const track = (socket: SubscriptionSocket | undefined, principal: Principal | null | undefined): boolean => {
    if (!principal) return false;
    if (o.isTokenRevoked?.(principal.tokenId)) return false;
    if (!socket) return true;
    let set = socketsByToken.get(principal.tokenId);
    if (!set) { set = new Set(); socketsByToken.set(principal.tokenId, set); }
    set.add(socket);
    socket.once('close', () => {
      set!.delete(socket);
      if (set!.size === 0 && socketsByToken.get(principal.tokenId) === set) socketsByToken.delete(principal.tokenId);
    });
    return true;
  };
  const stopWatching = o.onTokenRevoked?.((tokenId) => {
    const set = socketsByToken.get(tokenId);
    if (!set) return;
    socketsByToken.delete(tokenId);
    app.log.info({ tokenId, connections: set.size }, 'token revoked: closing its WebSocket connections');
    for (const socket of set) socket.close(WS_TOKEN_REVOKED, 'the bearer token was revoked');
  });
  if (stopWatching) app.addHook('onClose', async () => { stopWatching(); });

  await app.register(mercurius, {
    schema: api.typeDefs,
    resolvers: guardSubscriptions(api.resolvers as Record<string, any>) as any,
    path: o.path,
    graphiql: o.graphiql,
    allowBatchedQueries: false,
    jit: o.jit,
    validationRules: limitRules(o.limits),
    graphql: { parseOptions: { maxTokens: o.limits.maxTokens } },
    errorFormatter: createErrorFormatter({ production: o.production, onError: (code) => metrics.graphqlErrors.inc({ code }) }) as any,
    context: (request) => httpContextOf(request),
    subscription: {
      pubsub: mercuriusPubSub(o.pubsub, {
        onSubscribe: () => metrics.subscriptions.inc(),
        onUnsubscribe: () => metrics.subscriptions.dec(),
        onDrop: (topic) => app.log.warn({ topic }, 'a subscriber is not reading; dropped a change message'),
      }) as any,
      context: (_socket, request) => contextOf(request),
      // The token may come in the connection_init payload: { authorization: "Bearer <token>" } (or { token }), or in
      // the upgrade request's Authorization header. A connection with neither is refused at connection_init.
      // (mercurius calls onConnect as a method of the connection, whose context holds the upgrade's principal; if it
      // ever stops doing so, every subscription resolver still requires a principal.)
      onConnect: async function (this: { context?: { principal?: Principal | null }; socket?: SubscriptionSocket } | undefined, { payload }: { payload: unknown }) {
        const p = (payload ?? {}) as Record<string, any>;
        const raw = p.authorization ?? p.Authorization ?? p.headers?.authorization ?? p.headers?.Authorization ?? p.token;
        if (raw === undefined || raw === null) {
          if (!this?.context) return true;
          return track(this.socket, this.context.principal);
        }
        const token = typeof raw === 'string' ? (bearerToken(raw) ?? (/^[A-Za-z0-9_\-.]+$/.test(raw) ? raw : null)) : null;
        if (!token) return false;
        let principal: Principal;
        try { principal = await o.verifier.verify(token); } catch { return false; }
        return track(this?.socket, principal) ? { principal } : false;
      } as any,
    },
  });

  // mercurius does not validate subscription documents: apply the spec rules and our limits here.
  app.graphql.addHook('preSubscriptionExecution', async (schema, document) => {
    const errors = validateDocument(schema, document, o.limits);
    if (errors.length) throw new GraphQLError(errors.map((e) => e.message).join('; '));
  });

  const cache = o.responseCache && api.modules.some((m) => m.cacheable) ? new ResponseCache(ledger, api) : null;
  if (cache) {
    app.addHook('preHandler', async (request, reply) => {
      if (request.method !== 'POST' || request.routeOptions.url !== o.path || !request.principal || Array.isArray(request.body)) return;
      const key = ResponseCache.key(request.principal.subject, request.body as Record<string, unknown>);
      if (!key) return;
      const hit = cache.get(key);
      if (hit !== null) {
        metrics.responseCache.inc({ result: 'hit' });
        return reply.header('content-type', 'application/json; charset=utf-8').send(hit);
      }
      metrics.responseCache.inc({ result: 'miss' });
      (request as any)[kCache] = { key } satisfies CacheState;
    });
    app.addHook('onSend', async (request, reply, payload) => {
      const state = (request as any)[kCache] as CacheState | undefined;
      if (state?.stamp && state.ok && reply.statusCode === 200 && typeof payload === 'string') cache.set(state.key, state.stamp, payload);
      return payload;
    });
  }

  app.graphql.addHook('preExecution', async (_schema, document, context) => {
    const op = operationOf(document);
    (context as any)[kOp] = { type: op?.operation ?? 'unknown', name: metrics.operationLabel(op?.name?.value), started: process.hrtime.bigint() } satisfies OpRecord;
    const state = (context as any).reply?.request?.[kCache] as CacheState | undefined;
    if (state && cache) {
      const body = (context as any).reply.request.body as { operationName?: unknown };
      state.stamp = cache.stampOf(document, typeof body?.operationName === 'string' ? body.operationName : undefined) ?? undefined;
    }
  });
  app.graphql.addHook('onResolution', async (execution, context) => {
    const op = (context as any)[kOp] as OpRecord | undefined;
    const state = (context as any).reply?.request?.[kCache] as CacheState | undefined;
    if (state) state.ok = !execution.errors?.length;
    if (!op) return;
    metrics.graphqlOperations.inc({ type: op.type, name: op.name, outcome: execution.errors?.length ? 'error' : 'ok' });
    metrics.graphqlDuration.observe({ type: op.type }, Number(process.hrtime.bigint() - op.started) / 1e9);
  });
}, { name: 'ledger-graphql' });
