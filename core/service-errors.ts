/**
 * Errors the layers' application services raise at their edge, shared so every layer and the API agree on them.
 */
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
