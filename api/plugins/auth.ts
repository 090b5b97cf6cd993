/**
 * Bearer-token authentication for the GraphQL endpoint (fastify-plugin: it applies to the scope that registers it,
 * the API scope, and never to the health endpoints). Sets `request.principal`.
 *
 * A WebSocket upgrade may come without an Authorization header (browsers cannot set one): its token then comes in the
 * `connection_init` payload (see graphql.ts). A header that is present must be valid, on upgrades too.
 */
import fp from 'fastify-plugin';
import { bearerToken, InvalidTokenError, type Principal, type TokenVerifier } from '../auth/tokens.ts';
import { ClientError } from '../graphql/errors.ts';

declare module 'fastify' {
  interface FastifyRequest { principal: Principal | null }
}

export const authPlugin = fp<{ verifier: TokenVerifier; paths: string[] }>(async (app, { verifier, paths }) => {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request, reply) => {
    if (!paths.includes(request.routeOptions.url ?? '')) return;
    const header = request.headers.authorization;
    if (!header) {
      if (String(request.headers.upgrade).toLowerCase() === 'websocket') return;
      reply.header('www-authenticate', 'Bearer realm="ledger"');
      throw new ClientError('UNAUTHENTICATED', 'a bearer token is required: send "Authorization: Bearer <token>" (see `ledger token issue`)', 401);
    }
    const token = bearerToken(header);
    if (!token) {
      reply.header('www-authenticate', 'Bearer realm="ledger", error="invalid_request"');
      throw new ClientError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"', 401);
    }
    try {
      request.principal = await verifier.verify(token);
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      reply.header('www-authenticate', 'Bearer realm="ledger", error="invalid_token"');
      throw new ClientError('UNAUTHENTICATED', error.message, 401);
    }
  });
  // A refused upgrade never reaches @fastify/websocket's hooks (which destroy the socket of an answered upgrade), and
  // an upgraded socket has no HTTP parser to notice the client leaving: close it here, or it stays half-open forever.
  app.addHook('onResponse', async (request) => {
    if ((request as { ws?: boolean | null }).ws === true) return;
    if (request.headers.upgrade && !request.raw.socket.destroyed) request.raw.socket.destroy();
  });
}, { name: 'ledger-auth' });
