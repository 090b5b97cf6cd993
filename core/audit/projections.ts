/**
 * Every read model of the ledger, found by looking: each module under projections/ (not tests, not the runner) is
 * imported and every exported SqliteProjection (an object with name, version, tables, setup and apply) is collected.
 * A new read model is picked up by `ledger replay` and `ledger bench replay` without editing a list.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SqliteProjection } from '../../projections/runner.ts';

export const PROJECTIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'projections');

export function isProjection(x: unknown): x is SqliteProjection {
  const p = x as Partial<SqliteProjection> | null;
  return !!p && typeof p === 'object' && typeof p.name === 'string' && typeof p.version === 'number'
    && Array.isArray(p.tables) && typeof p.setup === 'function' && typeof p.apply === 'function';
}

/** The module each discovered read model came from (a second rebuild thread imports it from there). */
const modules = new WeakMap<SqliteProjection, string>();
/** The file URL of the module that exports `p`, when `discoverProjections` found it (else undefined). */
export const moduleOf = (p: SqliteProjection): string | undefined => modules.get(p);

export interface Discovered { projections: SqliteProjection[]; failed: { file: string; error: string }[] }

/** Imports projections/*.ts and returns their projections sorted by name (a module that fails to load is reported). */
export async function discoverProjections(dir = PROJECTIONS_DIR): Promise<Discovered> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts') && f !== 'runner.ts').sort();
  const byName = new Map<string, SqliteProjection>();
  const failed: Discovered['failed'] = [];
  for (const file of files) {
    let mod: Record<string, unknown>;
    try { mod = await import(pathToFileURL(join(dir, file)).href); } catch (error) {
      failed.push({ file: join(dir, file), error: error instanceof Error ? error.message : String(error) });
      continue;
    }
    for (const value of Object.values(mod)) {
      if (!isProjection(value)) continue;
      const prev = byName.get(value.name);
      if (prev && prev !== value) throw new Error(`two read models are named "${value.name}" (${file} and another module)`);
      byName.set(value.name, value);
      if (!modules.has(value)) modules.set(value, pathToFileURL(join(dir, file)).href);
    }
  }
  return { projections: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)), failed };
}

/** The projections named (all when `names` is empty); an unknown name is an error listing the known ones. */
export function selectProjections(all: SqliteProjection[], names: string[] | undefined): SqliteProjection[] {
  if (!names || names.length === 0) return all;
  return names.map((n) => {
    const p = all.find((x) => x.name === n);
    if (!p) throw new Error(`unknown projection "${n}"; known: ${all.map((x) => x.name).join(', ') || '(none)'}`);
    return p;
  });
}
