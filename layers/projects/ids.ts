/**
 * Identifiers and value shapes of the Projects layer. Ids are `<prefix>_<body>` with body of [A-Za-z0-9_] (never '-',
 * which would make the stream category ambiguous), so `User-u_7f3a` and `Project-p_91be` parse unambiguously.
 * The prefix also names the type, so the same ids serve as the GraphQL API's global ids.
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';

const BODY = '[A-Za-z0-9_]{1,60}';
export const USER_ID = new RegExp(`^u_${BODY}$`);
export const PROJECT_ID = new RegExp(`^p_${BODY}$`);

export const UserId = z.string().regex(USER_ID, 'a user id: "u_" followed by letters, digits or "_"');
export const ProjectId = z.string().regex(PROJECT_ID, 'a project id: "p_" followed by letters, digits or "_"');
/** A CContract id of the Components layer: opaque here, but stream- and subject-safe. */
export const ComponentId = z.string().regex(/^[A-Za-z0-9_]{1,128}$/, 'a component (CContract) id: letters, digits or "_"');

/** Human names: trimmed, 1–100 characters, no control characters. */
export const Name = z.string().trim().min(1, 'a name is required').max(100, 'at most 100 characters')
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters');
export const Reason = z.string().trim().max(1000, 'at most 1000 characters');
export const Description = z.string().trim().max(1000, 'at most 1000 characters');

const limit = z.number().int('a whole number').min(0, 'at least 0').max(1_000_000_000, 'at most 1000000000').nullable();
/** A project's quotas; null means unlimited. Quantities in named units. */
export const Quotas = z.object({
  cpuCores: limit,
  ramMiB: limit,
  diskGiB: limit,
  /** How many components (CContracts) the project may hold. */
  components: limit,
}).strict();
export type Quotas = z.infer<typeof Quotas>;
export const UNLIMITED: Quotas = { cpuCores: null, ramMiB: null, diskGiB: null, components: null };

/** An API token's id (the JWT's `jti`: 24 hex digits, see api/auth/tokens.ts). */
export const TOKEN_ID = /^[0-9a-f]{24}$/;
export const TokenId = z.string().regex(TOKEN_ID, 'a token id: 24 hex digits (the token\'s jti)');
/** Whose a token was, when the revoker knows it: `tenant:<userId>` or `operator:<name>` (for the audit log). */
export const TokenSubject = z.string().regex(/^(tenant|operator):[A-Za-z0-9_.@:]{1,100}$/, 'tenant:<userId> or operator:<name>');

export const stream = {
  user: (id: string) => `User-${id}`,
  project: (id: string) => `Project-${id}`,
  token: (id: string) => `Token-${id}`,
};

const body = (seed?: string[]) => seed
  ? createHash('sha256').update(seed.join('\u0000')).digest('hex').slice(0, 20)
  : randomBytes(10).toString('hex');
/** A new user id; deterministic when seeded (an idempotency key), so a retried create lands on the same stream. */
export const newUserId = (...seed: string[]) => `u_${body(seed.length ? seed : undefined)}`;
export const newProjectId = (...seed: string[]) => `p_${body(seed.length ? seed : undefined)}`;
