/** Who may call what: helpers for resolvers. */
import type { Principal } from '../auth/tokens.ts';
import type { ApiContext } from './context.ts';
import { ClientError, forbidden } from './errors.ts';

export function requirePrincipal(ctx: ApiContext): Principal {
  if (!ctx.principal) throw new ClientError('UNAUTHENTICATED', 'a bearer token is required', 401);
  return ctx.principal;
}

export function requireOperator(ctx: ApiContext, what: string): Principal & { kind: 'operator' } {
  const p = requirePrincipal(ctx);
  if (p.kind !== 'operator') throw forbidden(`${what} needs an operator token`);
  return p;
}

export function requireTenant(ctx: ApiContext, what: string): Principal & { kind: 'tenant' } {
  const p = requirePrincipal(ctx);
  if (p.kind !== 'tenant') throw forbidden(`${what} needs a tenant token`);
  return p;
}
