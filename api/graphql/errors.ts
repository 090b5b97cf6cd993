/**
 * How errors reach clients.
 *   - Business errors of mutations (DomainError, malformed input) become `userErrors` in the payload (see mutation()).
 *   - Client errors (ClientError: UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT…; HTTP 4xx errors; GraphQL syntax and
 *     validation errors) are answered with their message and `extensions.code`.
 *   - Anything else is unexpected: logged with the correlation id and answered as "Internal server error" with the
 *     correlation id, never with its message or stack.
 */
import { AccessDeniedError } from '../../core/service-errors.ts';
import { GraphQLError } from 'graphql';
import { DomainError } from '../../core/decider.ts';
import type { ApiContext } from './context.ts';

export class ClientError extends Error {
  constructor(readonly code: string, message: string, readonly statusCode?: number) {
    super(message);
    this.name = 'ClientError';
  }
}
export const forbidden = (message: string) => new ClientError('FORBIDDEN', message);
export const badInput = (message: string) => new ClientError('BAD_USER_INPUT', message);
export const unauthenticated = () => new ClientError('UNAUTHENTICATED', 'a bearer token is required', 401);

export interface UserError { field: string[] | null; message: string; code: string }

/** The userErrors for a business error (prefixing field paths with "input"), or null when it is not one. */
export function userErrorsOf(error: unknown): UserError[] | null {
  if (!(error instanceof DomainError)) return null;
  const issues = (error as DomainError & { issues?: { field: string[]; message: string }[] }).issues;
  if (Array.isArray(issues)) return issues.map((i) => ({ field: ['input', ...i.field], message: i.message, code: error.code }));
  return [{ field: error.field && error.field.length ? ['input', ...error.field] : null, message: error.message, code: error.code }];
}

/** Errors that say "you may not" (every layer's service raises core's AccessDeniedError) become FORBIDDEN client errors. */
function asClientError(error: unknown): unknown {
  if (error instanceof AccessDeniedError) return forbidden(error.message);
  // a backing service that is away (the Redis read models, projections/redis/readers.ts): say so, retryable
  if (error instanceof Error && (error as { code?: unknown }).code === 'UNAVAILABLE') return new ClientError('UNAVAILABLE', error.message);
  return error;
}

/**
 * Wraps a mutation resolver: `run` gets the input (a plain object) and returns the payload's fields;
 * business errors come back as `userErrors`, nothing else is swallowed.
 */
export function mutation<I = Record<string, unknown>>(run: (input: I, ctx: ApiContext) => Promise<Record<string, unknown>>) {
  return async (_root: unknown, args: { input: I }, ctx: ApiContext) => {
    try {
      const payload = await run(plain(args.input) as I, ctx);
      return { userErrors: [], ...payload };
    } catch (error) {
      const userErrors = userErrorsOf(error);
      if (userErrors) return { userErrors };
      throw asClientError(error);
    }
  };
}

/** graphql-js hands input objects over with a null prototype; services get plain objects. */
export function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

const HTTP_CODES: Record<number, string> = {
  400: 'BAD_REQUEST', 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 429: 'RATE_LIMITED',
};

type Execution = { data?: unknown; errors: readonly GraphQLError[]; statusCode?: number };
interface FormatterContext { reply?: { log: ApiContext['log']; request: { id: string } }; app?: { log: ApiContext['log'] }; correlationId?: string }

export interface ErrorFormatterOptions {
  production: boolean;
  /** Called once per formatted error with its code (for metrics). */
  onError?: (code: string) => void;
}

export function createErrorFormatter(options: ErrorFormatterOptions) {
  const stripSuggestions = (message: string) => options.production ? message.replace(/ ?Did you mean .*\?$/s, '') : message;

  return (execution: Execution, ctx: FormatterContext) => {
    const log = ctx.reply?.log ?? ctx.app?.log;
    const correlationId = ctx.correlationId ?? ctx.reply?.request.id;
    const out: { message: string; locations?: unknown; path?: unknown; extensions: Record<string, unknown> }[] = [];
    let statusCode: number | undefined;
    const push = (message: string, code: string, e?: GraphQLError, extra: Record<string, unknown> = {}) => {
      options.onError?.(code);
      out.push({
        message,
        ...(e?.locations && { locations: e.locations }),
        ...(e?.path && { path: e.path }),
        extensions: { code, ...extra },
      });
    };

    for (const error of execution.errors) {
      const original = error.originalError as (Error & { code?: string; statusCode?: number; errors?: unknown[] }) | undefined;
      if (original && Array.isArray(original.errors)) {
        // mercurius wraps syntax/validation errors (and armor's limits) in one error carrying the list
        statusCode = original.statusCode ?? 400;
        for (const inner of original.errors as GraphQLError[]) {
          push(stripSuggestions(String(inner.message)), String(inner.extensions?.code ?? 'GRAPHQL_VALIDATION_FAILED'), inner instanceof GraphQLError ? inner : undefined);
        }
        continue;
      }
      if (!original || original instanceof GraphQLError) {
        push(stripSuggestions(error.message), String(error.extensions?.code ?? original?.extensions?.code ?? 'GRAPHQL_VALIDATION_FAILED'), error);
        continue;
      }
      const client = asClientError(original);
      if (client instanceof ClientError) {
        if (client.statusCode) statusCode = client.statusCode;
        push(client.message, client.code, error);
        continue;
      }
      if (original instanceof DomainError) {
        push(original.message, original.code, error);
        continue;
      }
      const status = typeof original.statusCode === 'number' ? original.statusCode : undefined;
      if (status !== undefined && status >= 400 && status < 500) {
        statusCode = status;
        push(original.message, HTTP_CODES[status] ?? String(original.code ?? 'BAD_REQUEST'), error);
        continue;
      }
      log?.error({ err: original, correlationId, path: error.path }, 'unexpected error while answering a GraphQL request');
      push('Internal server error', 'INTERNAL_SERVER_ERROR', error, { correlationId });
    }

    const response = { data: execution.data ?? null, errors: out };
    return { statusCode: execution.data ? 200 : statusCode ?? 200, response };
  };
}

/**
 * For paths that send errors without the formatter (subscription starts in mercurius): a GraphQLError with a safe
 * message and `extensions.code`; unexpected errors are logged and hidden.
 */
export function safeGraphQLError(error: unknown, log: ApiContext['log'] | undefined, correlationId: string | undefined): GraphQLError {
  const e = asClientError(error);
  if (e instanceof GraphQLError) return e;
  if (e instanceof ClientError || e instanceof DomainError) return new GraphQLError(e.message, { extensions: { code: e.code } });
  log?.error({ err: error, correlationId }, 'unexpected error while starting a subscription');
  return new GraphQLError('Internal server error', { extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId } });
}
