/** Options every command shares, and how they turn into a validated configuration. */
import { Option, type Command } from 'commander';
import { loadConfig, type Config } from '../core/config.ts';

/** Adds `--data DIR` (env LEDGER_DATA_DIR, default ./data). */
export const withDataDir = (cmd: Command) =>
  cmd.addOption(new Option('--data <dir>', 'data directory of the embedded profile (env LEDGER_DATA_DIR)').default(undefined, './data'));

/** Adds `--json` for machine-readable output. */
export const withJson = (cmd: Command) => cmd.option('--json', 'print machine-readable JSON');

export function configFrom(opts: { data?: string; port?: string | number }): Config {
  return loadConfig(process.env, { LEDGER_DATA_DIR: opts.data, LEDGER_PORT: opts.port });
}
