/**
 * The `ledger` command line. Each command lives in its own file under cli/commands/ and exports
 * `register(program: Command)`; this file discovers them, so adding a command means adding a file.
 */
import { Command } from 'commander';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../core/config.ts';

const program = new Command('ledger')
  .description('Event-sourced resource ledger for clouds: resources, components, projects.')
  .showHelpAfterError('(run with --help for usage)')
  .configureHelp({ sortSubcommands: true });

const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).sort()) {
  const mod = await import(pathToFileURL(join(dir, file)).href);
  if (typeof mod.register === 'function') mod.register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(`ledger: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
