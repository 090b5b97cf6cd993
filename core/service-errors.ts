/**
 * Errors the layers' application services raise at their edge, shared so every layer and the API agree on them.
 */
import { z } from 'zod';
import { DomainError } from './decider.ts';

/** The actor may not do this at all (a tenant calling an operator operation…). The API answers FORBIDDEN. */
export class AccessDeniedError extends Error {
  readonly code = 'FORBIDDEN';
  constructor(message: string) { super(message); this.name = 'AccessDeniedError'; }
}

export interface InputIssue { field: string[]; message: string }

/** Malformed input: nothing was decided, nothing appended. `issues` name every wrong field. */
export class InvalidInputError extends DomainError {
  constructor(readonly issues: InputIssue[]) {
    super('INVALID_INPUT', issues.map((i) => `${i.field.join('.') || '(input)'}: ${i.message}`).join('; '), issues[0]?.field);
    this.name = 'InvalidInputError';
  }
}

/** A command's idempotency key as the services accept it (see CommandMeta.idempotencyKey). */
export const IdempotencyKey = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

/**
 * Parses a service's input, or throws InvalidInputError naming every wrong field (unknown fields by name). With
 * `onePerField`, a field that broke several rules is named once, with the first rule it broke.
 */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown, options: { onePerField?: boolean } = {}): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues: InputIssue[] = [];
  const seen = new Set<string>();
  for (const i of r.error.issues) {
    const field = i.path.map(String);
    if (options.onePerField) {
      const key = field.join('\u0000');
      if (seen.has(key)) continue;
      seen.add(key);
    }
    issues.push({ field, message: i.code === 'unrecognized_keys' ? `unknown field(s) ${(i as { keys?: string[] }).keys?.join(', ')}` : i.message });
  }
  throw new InvalidInputError(issues);
}
