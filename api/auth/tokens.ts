/**
 * API tokens: JWTs signed with HS256 (jose). Two kinds:
 *   - operator: `{ kind: 'operator', sub: <operator name> }`
 *   - tenant:   `{ kind: 'tenant',   sub: <userId> }` — bound to one user
 * The secret is LEDGER_TOKEN_SECRET, or a key file `<data>/token.key` created once with mode 0600.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Config } from '../../core/config.ts';
import { USER_ID } from '../../layers/projects/ids.ts';
import type { Actor } from '../../schema/envelope.ts';

export const TOKEN_ISSUER = 'resource-ledger';
export const TOKEN_AUDIENCE = 'ledger-api';
export const TOKEN_KEY_FILE = 'token.key';
const OPERATOR_NAME = /^[A-Za-z0-9_.@:]{1,100}$/;

export type Principal =
  | { kind: 'operator'; subject: string; name: string; actor: Actor; tokenId: string; expiresAt: number | null }
  | { kind: 'tenant'; subject: string; userId: string; actor: Actor; tokenId: string; expiresAt: number | null };

export type TokenRequest = { kind: 'operator'; name?: string } | { kind: 'tenant'; userId: string };

const REVOKED = 'the bearer token was revoked: ask an operator for a new one (`ledger token issue`)';

export class InvalidTokenError extends Error {
  readonly code = 'UNAUTHENTICATED';
  readonly statusCode = 401;
  constructor(message = 'the bearer token is invalid or expired') { super(message); this.name = 'InvalidTokenError'; }
}

/**
 * The signing secret: LEDGER_TOKEN_SECRET when set, else the key file of the data directory (created when missing,
 * atomically, mode 0600, so concurrent `serve` and `token issue` agree on one key).
 */
export function loadTokenSecret(config: Pick<Config, 'dataDir' | 'LEDGER_TOKEN_SECRET'>): Uint8Array {
  if (config.LEDGER_TOKEN_SECRET) return new TextEncoder().encode(config.LEDGER_TOKEN_SECRET);
  const path = join(config.dataDir, TOKEN_KEY_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    try {
      linkSync(tmp, path); // fails with EEXIST when another process won the race; then its key is the key
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      unlinkSync(tmp);
    }
    text = readFileSync(path, 'utf8');
  }
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) chmodSync(path, 0o600); // tighten a key file someone loosened
  const secret = text.trim();
  if (secret.length < 32) throw new Error(`${path}: the token key is too short (at least 32 characters); delete it to make a new one`);
  return new TextEncoder().encode(secret);
}

export async function issueToken(secret: Uint8Array, request: TokenRequest, options: { ttl?: string | number } = {}): Promise<string> {
  let subject: string;
  if (request.kind === 'tenant') {
    if (!USER_ID.test(request.userId)) throw new Error(`not a user id: ${JSON.stringify(request.userId)} (expected u_ followed by letters, digits or "_")`);
    subject = request.userId;
  } else {
    subject = request.name ?? 'operator';
    if (!OPERATOR_NAME.test(subject)) throw new Error(`not an operator name: ${JSON.stringify(subject)} (letters, digits, "_", ".", "@", ":")`);
  }
  const jwt = new SignJWT({ kind: request.kind })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(subject)
    .setJti(randomBytes(12).toString('hex'))
    .setIssuedAt();
  const ttl = options.ttl ?? '30d';
  if (ttl !== 0 && ttl !== 'never') jwt.setExpirationTime(typeof ttl === 'number' ? Math.floor(Date.now() / 1000) + ttl : ttl);
  return jwt.sign(secret);
}

export interface TokenVerifierOptions {
  /** How many verified tokens are remembered. Default 10,000. */
  cacheSize?: number;
  /** True for a token id (jti) that was revoked (api/auth/revocations.ts); asked on every request, cached or not. */
  isRevoked?: (tokenId: string) => boolean;
}

/** Verifies tokens, remembering good ones (until they expire) so the hot path does no crypto. */
export class TokenVerifier {
  private readonly cache = new Map<string, Principal>();
  private readonly cacheSize: number;
  private readonly isRevoked: (tokenId: string) => boolean;

  constructor(private readonly secret: Uint8Array, options: TokenVerifierOptions = {}) {
    this.cacheSize = options.cacheSize ?? 10_000;
    this.isRevoked = options.isRevoked ?? (() => false);
  }

  async verify(token: string): Promise<Principal> {
    const hit = this.cache.get(token);
    if (hit) {
      if (this.isRevoked(hit.tokenId)) throw new InvalidTokenError(REVOKED);
      if (hit.expiresAt === null || hit.expiresAt * 1000 > Date.now()) return hit;
      this.cache.delete(token);
      throw new InvalidTokenError();
    }
    const principal = await this.verifyUncached(token);
    if (this.isRevoked(principal.tokenId)) throw new InvalidTokenError(REVOKED);
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(token, principal);
    return principal;
  }

  private async verifyUncached(token: string): Promise<Principal> {
    if (token.length > 4096) throw new InvalidTokenError();
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.secret, { algorithms: ['HS256'], issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE }));
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError) throw new InvalidTokenError();
      throw error;
    }
    const { kind, sub, jti, exp } = payload as { kind?: unknown; sub?: string; jti?: string; exp?: number };
    const tokenId = typeof jti === 'string' ? jti : '';
    const expiresAt = typeof exp === 'number' ? exp : null;
    if (kind === 'tenant' && typeof sub === 'string' && USER_ID.test(sub)) {
      return { kind: 'tenant', subject: `tenant:${sub}`, userId: sub, actor: { kind: 'tenant', id: sub }, tokenId, expiresAt };
    }
    if (kind === 'operator' && typeof sub === 'string' && OPERATOR_NAME.test(sub)) {
      return { kind: 'operator', subject: `operator:${sub}`, name: sub, actor: { kind: 'operator', id: sub }, tokenId, expiresAt };
    }
    throw new InvalidTokenError();
  }
}

/**
 * The id (jti) and subject of a token signed with `secret`, for revoking it: verified, but accepted even when expired
 * (revoking an expired token is harmless, refusing to is unhelpful). Throws InvalidTokenError for anything else.
 */
export async function tokenIdentity(secret: Uint8Array, token: string): Promise<{ tokenId: string; subject: string }> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, secret, { algorithms: ['HS256'], issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, currentDate: new Date(0) }));
  } catch (error) {
    if (error instanceof joseErrors.JOSEError || error instanceof TypeError) throw new InvalidTokenError('not a token of this ledger (bad signature or format; check LEDGER_TOKEN_SECRET / --data)');
    throw error;
  }
  const { kind, sub, jti } = payload as { kind?: unknown; sub?: unknown; jti?: unknown };
  if ((kind !== 'tenant' && kind !== 'operator') || typeof sub !== 'string' || typeof jti !== 'string') throw new InvalidTokenError('the token carries no id to revoke');
  return { tokenId: jti, subject: `${kind}:${sub}` };
}

/** The token of an `Authorization: Bearer <token>` header value, or null. */
export function bearerToken(header: string | string[] | undefined): string | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return null;
  const m = /^Bearer[ ]+([A-Za-z0-9_\-.~+/]+=*)\s*$/i.exec(value);
  return m ? m[1] : null;
}
