/**
 * Limits on what one GraphQL document may ask for (graphql-armor's validation rules, usable with any server),
 * plus introspection off in production. The same rules are applied to HTTP operations (mercurius's
 * validationRules) and to subscriptions (which mercurius does not validate: see graphql.ts).
 */
import {
  getNamedType, GraphQLError, isInterfaceType, isObjectType, Kind, NoSchemaIntrospectionCustomRule, specifiedRules, validate,
  type DocumentNode, type GraphQLNamedType, type GraphQLSchema, type SelectionSetNode, type ValidationContext, type ValidationRule,
} from 'graphql';
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
  /** Largest product of page sizes along nested lists (a variable `first` counts as the largest page). */
  maxPageProduct: number;
  /** Whether __schema / __type may be queried. */
  introspection: boolean;
}

export const DEFAULT_LIMITS: Omit<QueryLimits, 'introspection'> = {
  maxDepth: 12,
  maxAliases: 15,
  maxCost: 5000,
  maxDirectives: 10,
  maxTokens: 5000,
  maxPageProduct: 10_000,
};

/**
 * Nested connections multiply: `users(first: 100) { projects(first: 100) { … } }` asks for 10,000 rows. graphql-armor's
 * cost rule multiplies only by literal `first` values; this rule also counts `first: $variable` as the largest page
 * (100) and an omitted `first` as the argument's default, and refuses operations whose worst path exceeds the limit.
 */
export function pageProductRule(maxProduct: number, maxPage = 100, defaultPage = 20): ValidationRule {
  return (context: ValidationContext) => ({
    OperationDefinition(op) {
      const schema = context.getSchema();
      const root = op.operation === 'query' ? schema.getQueryType() : op.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
      if (!root) return;
      const worst = walk(context, root, op.selectionSet, 1, new Set());
      if (worst > maxProduct) {
        context.reportError(new GraphQLError(`Query asks for up to ${worst} items across nested lists; the limit is ${maxProduct}. Ask for smaller pages.`, { nodes: [op] }));
      }
    },
  });

  function walk(context: ValidationContext, parent: GraphQLNamedType, set: SelectionSetNode, mult: number, fragments: Set<string>): number {
    let worst = mult;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (!sel.selectionSet || !(isObjectType(parent) || isInterfaceType(parent))) continue;
        const def = parent.getFields()[sel.name.value];
        if (!def) continue;
        let m = mult;
        const arg = def.args.find((a) => a.name === 'first' || a.name === 'last');
        if (arg) {
          const given = sel.arguments?.find((a) => a.name.value === arg.name);
          let page: number;
          if (!given) page = typeof arg.defaultValue === 'number' ? arg.defaultValue : defaultPage;
          else if (given.value.kind === Kind.INT) page = Number(given.value.value);
          else page = maxPage;
          m = mult * Math.max(1, Math.min(page, maxPage));
        }
        worst = Math.max(worst, walk(context, getNamedType(def.type), sel.selectionSet, m, fragments));
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const t = sel.typeCondition ? context.getSchema().getType(sel.typeCondition.name.value) : parent;
        if (t) worst = Math.max(worst, walk(context, t, sel.selectionSet, mult, fragments));
      } else {
        const name = sel.name.value;
        if (fragments.has(name)) continue; // cycles are refused by the spec rules
        const frag = context.getFragment(name);
        const t = frag && context.getSchema().getType(frag.typeCondition.name.value);
        if (frag && t) worst = Math.max(worst, walk(context, t, frag.selectionSet, mult, new Set([...fragments, name])));
      }
    }
    return worst;
  }
}

export function limitRules(limits: QueryLimits): ValidationRule[] {
  // Report through the validation context (a normal validation error, HTTP 400) instead of throwing out of validate().
  const report = { propagateOnRejection: false, onReject: [(ctx: ValidationContext | null, error: GraphQLError) => ctx?.reportError(error)] };
  const rules = [
    maxDepthRule({ n: limits.maxDepth, ignoreIntrospection: true, ...report }),
    maxAliasesRule({ n: limits.maxAliases, ...report }),
    costLimitRule({ maxCost: limits.maxCost, ignoreIntrospection: true, ...report }),
    maxDirectivesRule({ n: limits.maxDirectives, ...report }),
  ] as unknown as ValidationRule[];
  rules.push(pageProductRule(limits.maxPageProduct));
  if (!limits.introspection) rules.push(NoSchemaIntrospectionCustomRule);
  return rules;
}

/** Full validation (spec rules + limits) of a document, for paths that skip mercurius's own validation. */
export function validateDocument(schema: GraphQLSchema, document: DocumentNode, limits: QueryLimits) {
  return validate(schema, document, [...specifiedRules, ...limitRules(limits)], { maxErrors: 25 });
}
