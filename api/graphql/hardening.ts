/**
 * Limits on what one GraphQL document may ask for (graphql-armor's validation rules, usable with any server),
 * plus introspection off in production. The same rules are applied to HTTP operations (mercurius's
 * validationRules) and to subscriptions (which mercurius does not validate: see graphql.ts).
 */
import { NoSchemaIntrospectionCustomRule, specifiedRules, validate, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';

export interface QueryLimits {
  /** Deepest field nesting. */
  maxDepth: number;
  /** Aliases per operation. */
  maxAliases: number;
  /** graphql-armor cost (objects 2, scalars 1, ×1.5 per level of depth). */
  maxCost: number;
  /** Directives per operation. */
  maxDirectives: number;
  /** Lexical tokens per document (parsing stops beyond). */
  maxTokens: number;
  /** Whether __schema / __type may be queried. */
  introspection: boolean;
}

export const DEFAULT_LIMITS: Omit<QueryLimits, 'introspection'> = {
  maxDepth: 12,
  maxAliases: 15,
  maxCost: 5000,
  maxDirectives: 10,
  maxTokens: 5000,
};

export function limitRules(limits: QueryLimits): ValidationRule[] {
  const rules = [
    maxDepthRule({ n: limits.maxDepth, ignoreIntrospection: true }),
    maxAliasesRule({ n: limits.maxAliases }),
    costLimitRule({ maxCost: limits.maxCost, ignoreIntrospection: true }),
    maxDirectivesRule({ n: limits.maxDirectives }),
  ] as unknown as ValidationRule[];
  if (!limits.introspection) rules.push(NoSchemaIntrospectionCustomRule);
  return rules;
}

/** Full validation (spec rules + limits) of a document, for paths that skip mercurius's own validation. */
export function validateDocument(schema: GraphQLSchema, document: DocumentNode, limits: QueryLimits) {
  return validate(schema, document, [...specifiedRules, ...limitRules(limits)], { maxErrors: 25 });
}
