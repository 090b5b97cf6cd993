/**
 * The registry of event and command schemas: the single source of truth for their shapes.
 * Every event type is defined once per version with a zod schema; a newer version names an upcaster from the
 * previous one. Appends validate against the newest version; reads upcast older stored versions on the fly,
 * so stored events are never rewritten. The event catalogue in docs/ is generated from this registry.
 */
import { z } from 'zod';

export type Layer = 'resources' | 'components' | 'projects' | 'core' | 'metering' | 'test';

export interface EventDefinition {
  type: string;
  version: number;
  category: string;
  description: string;
  schema: z.ZodType;
  /** Turns data of `version - 1` into data of this version. */
  upcast?: (previous: any) => unknown;
}

export interface CommandDefinition {
  type: string;
  category: string;
  description: string;
  schema: z.ZodType;
}

export class SchemaError extends Error {
  readonly code = 'INVALID_EVENT';
  constructor(readonly eventType: string, readonly issues: string[]) {
    super(`event ${eventType} refused: ${issues.join('; ')}`);
    this.name = 'SchemaError';
  }
}

const events = new Map<string, EventDefinition[]>(); // type → versions, ascending
const commands = new Map<string, CommandDefinition>();
const categories = new Map<string, { layer: Layer; description: string }>();

export function defineCategory(category: string, layer: Layer, description: string): void {
  const prev = categories.get(category);
  if (prev && prev.layer !== layer) throw new Error(`category ${category} already belongs to layer ${prev.layer}`);
  categories.set(category, { layer, description });
}

export function defineEvent<S extends z.ZodType>(def: Omit<EventDefinition, 'schema'> & { schema: S }): S {
  if (!categories.has(def.category)) throw new Error(`event ${def.type}: unknown category ${def.category}; defineCategory first`);
  const versions = events.get(def.type) ?? [];
  const expected = versions.length + 1;
  if (versions.some((v) => v.version === def.version)) return versions.find((v) => v.version === def.version)!.schema as S; // idempotent re-import
  if (def.version !== expected) throw new Error(`event ${def.type}: version ${def.version} defined out of order (expected ${expected})`);
  if (def.version > 1 && !def.upcast) throw new Error(`event ${def.type} v${def.version} needs an upcaster from v${def.version - 1}`);
  versions.push(def);
  events.set(def.type, versions);
  return def.schema;
}

export function defineCommand<S extends z.ZodType>(def: Omit<CommandDefinition, 'schema'> & { schema: S }): S {
  if (!commands.has(def.type)) commands.set(def.type, def);
  return def.schema;
}

export const layerOf = (category: string): Layer => categories.get(category)?.layer ?? 'core';
export const latestVersion = (type: string): number | undefined => events.get(type)?.at(-1)?.version;
export const eventDefinitions = (): EventDefinition[] => [...events.values()].flat();
export const commandDefinitions = (): CommandDefinition[] => [...commands.values()];
export const categoryDefinitions = () => [...categories.entries()].map(([name, v]) => ({ name, ...v }));

const describeIssues = (error: z.ZodError): string[] =>
  error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);

/** Validates event data against the newest version of its type; returns the parsed data and that version. */
export function validateEvent(type: string, data: unknown): { data: unknown; version: number } {
  const versions = events.get(type);
  if (!versions) throw new SchemaError(type, [`unknown event type ${JSON.stringify(type)}`]);
  const latest = versions[versions.length - 1];
  const parsed = latest.schema.safeParse(data);
  if (!parsed.success) throw new SchemaError(type, describeIssues(parsed.error));
  return { data: parsed.data, version: latest.version };
}

/** Validates command data; throws a SchemaError naming every wrong field. */
export function validateCommand<T>(schema: z.ZodType<T>, type: string, data: unknown): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new SchemaError(type, describeIssues(parsed.error));
  return parsed.data;
}

/** Brings stored data of an older version up to the newest one. Unknown types pass through unchanged. */
export function upcast(type: string, version: number, data: unknown): { data: unknown; version: number } {
  const versions = events.get(type);
  if (!versions) return { data, version };
  let current = data;
  let v = version;
  for (const def of versions) {
    if (def.version <= v) continue;
    current = def.upcast!(current);
    v = def.version;
  }
  return { data: current, version: v };
}

export const needsUpcast = (type: string, version: number): boolean => {
  const latest = latestVersion(type);
  return latest !== undefined && version < latest;
};
