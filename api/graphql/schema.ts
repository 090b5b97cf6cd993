/**
 * Assembles the GraphQL API from modules: discovers api/graphql/modules/*.ts, reads the SDL files they name under
 * schema/graphql/, merges their resolvers (refusing two modules resolving the same field), and checks that every
 * root field (Query, Mutation, Subscription) has a resolver and that no .graphql file is left without a module.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildSchema, GraphQLScalarType, type GraphQLSchema } from 'graphql';
import type { IResolvers } from 'mercurius';
import type { GraphQLModule, NodeType } from './module.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SCHEMA_DIR = join(ROOT, 'schema', 'graphql');
export const MODULES_DIR = join(ROOT, 'api', 'graphql', 'modules');

export async function discoverModules(dir = MODULES_DIR): Promise<GraphQLModule[]> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts')).sort();
  const modules: GraphQLModule[] = [];
  for (const file of files) {
    const mod = await import(pathToFileURL(join(dir, file)).href);
    const m = (mod.module ?? mod.default) as GraphQLModule | undefined;
    if (!m || typeof m !== 'object' || typeof m.name !== 'string' || !Array.isArray(m.schema) || typeof m.resolvers !== 'object') {
      throw new Error(`${join(dir, file)}: a GraphQL module must export \`module\` ({ name, schema, resolvers, … }, see api/graphql/module.ts)`);
    }
    modules.push(m);
  }
  // base first: it defines the root types the others extend (order does not matter to graphql-js, but it reads better)
  return modules.sort((a, b) => (a.name === 'base' ? -1 : b.name === 'base' ? 1 : 0));
}

export interface AssembledApi {
  typeDefs: string;
  resolvers: IResolvers;
  nodeTypes: Map<string, NodeType>;
  schema: GraphQLSchema;
  modules: GraphQLModule[];
  /** `Type.field` → the name of the module that resolves it. */
  owners: Map<string, string>;
}

export function assemble(modules: GraphQLModule[], options: { schemaDir?: string; checkOrphans?: boolean } = {}): AssembledApi {
  const dir = options.schemaDir ?? SCHEMA_DIR;
  const claimed = new Map<string, string>();
  const parts: string[] = [];
  for (const m of modules) {
    for (const file of m.schema) {
      if (claimed.has(file)) throw new Error(`schema/graphql/${file} is claimed by modules ${claimed.get(file)} and ${m.name}`);
      claimed.set(file, m.name);
      parts.push(`# ── ${file} (module ${m.name})\n${readFileSync(join(dir, file), 'utf8')}`);
    }
    if (m.typeDefs) parts.push(`# ── inline SDL of module ${m.name}\n${m.typeDefs}`);
  }
  if (options.checkOrphans !== false) {
    const orphans = readdirSync(dir).filter((f) => f.endsWith('.graphql') && !claimed.has(f));
    if (orphans.length) throw new Error(`schema/graphql/${orphans.join(', ')}: no GraphQL module names it (add it to a module's \`schema\` list in api/graphql/modules/)`);
  }
  const typeDefs = parts.join('\n');
  const schema = buildSchema(typeDefs);

  const resolvers: Record<string, any> = {};
  const owner = new Map<string, string>();
  for (const m of modules) {
    for (const [type, fields] of Object.entries(m.resolvers)) {
      if (fields instanceof GraphQLScalarType) {
        if (resolvers[type]) throw new Error(`scalar ${type} is resolved by modules ${owner.get(type)} and ${m.name}`);
        resolvers[type] = fields; owner.set(type, m.name);
        continue;
      }
      const target = (resolvers[type] ??= {});
      for (const [field, fn] of Object.entries(fields as Record<string, unknown>)) {
        const key = `${type}.${field}`;
        if (key in owner) throw new Error(`${key} is resolved by modules ${owner.get(key)} and ${m.name}`);
        owner.set(key, m.name);
        target[field] = fn;
      }
    }
  }

  const missing: string[] = [];
  for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    if (!root) continue;
    for (const field of Object.keys(root.getFields())) if (!resolvers[root.name]?.[field]) missing.push(`${root.name}.${field}`);
  }
  if (missing.length) throw new Error(`GraphQL root fields without a resolver: ${missing.join(', ')}`);

  const nodeTypes = new Map<string, NodeType>();
  for (const m of modules) {
    for (const n of m.nodeTypes ?? []) {
      if (nodeTypes.has(n.prefix)) throw new Error(`id prefix "${n.prefix}_" is claimed by ${nodeTypes.get(n.prefix)!.typename} and ${n.typename}`);
      nodeTypes.set(n.prefix, n);
    }
  }
  return { typeDefs, resolvers: resolvers as IResolvers, nodeTypes, schema, modules, owners: owner };
}
