/** The base of the API: the DateTime scalar, the Node interface and `node(id)`. */
import { GraphQLScalarType, Kind } from 'graphql';
import { requirePrincipal } from '../access.ts';
import type { ApiContext } from '../context.ts';
import { badInput } from '../errors.ts';
import { defineModule } from '../module.ts';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

const parseDateTime = (value: unknown): string => {
  if (typeof value !== 'string' || !ISO_UTC.test(value) || Number.isNaN(Date.parse(value))) {
    throw badInput('DateTime must be a UTC ISO 8601 time such as 2025-03-01T09:30:00Z');
  }
  return new Date(value).toISOString();
};

export const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  description: 'A UTC date-time in ISO 8601.',
  serialize: (value) => (value instanceof Date ? value.toISOString() : String(value)),
  parseValue: parseDateTime,
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw badInput('DateTime must be a string');
    return parseDateTime(ast.value);
  },
});

export const module = defineModule({
  name: 'base',
  schema: ['base.graphql'],
  resolvers: {
    DateTime,
    Node: {
      __resolveType: (obj: { __typename?: string }) => obj.__typename ?? null,
    },
    Query: {
      node: async (_root: unknown, { id }: { id: string }, ctx: ApiContext) => {
        requirePrincipal(ctx);
        const prefix = id.slice(0, Math.max(0, id.indexOf('_')));
        const type = prefix ? ctx.nodes.get(prefix) : undefined;
        if (!type) return null;
        return (await type.load(id, ctx)) ?? null;
      },
    },
  } as any,
});
