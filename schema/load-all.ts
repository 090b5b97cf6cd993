/**
 * Imports every module that defines events or commands, so the registry is complete (for the catalogue generator,
 * audit tools and replays that must decode every type). A layer's definitions live in files named `categories.ts`,
 * `events.ts` or `commands.ts` (or `*.events.ts`) under layers/ and projections/.
 */
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function find(dir: string, out: string[] = []): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch { return out; }
  for (const name of names.sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) find(full, out);
    else if (/^(categories|events|commands)\.ts$|\.events\.ts$/.test(name)) out.push(full);
  }
  return out;
}

export async function loadAllSchemas(): Promise<string[]> {
  const files = ['layers', 'projections', 'host-agent'].flatMap((d) => find(join(root, d)));
  for (const f of files) await import(pathToFileURL(f).href);
  return files;
}
