/** `ledger bench <scenario>`: run a benchmark scenario (see bench/scenarios.ts). */
import type { Command } from 'commander';
import { scenarios } from '../../bench/scenarios.ts';
import { withJson } from '../options.ts';

export function register(program: Command) {
  withJson(program.command('bench')
    .argument('<scenario>', `one of: ${Object.keys(scenarios).join(', ')}`)
    .description('Run a benchmark against a raw baseline measured in the same run (medians of repetitions)')
    .option('--quick', 'smaller sizes, for a smoke run')
    .addHelpText('after', `\nScenarios:\n${Object.entries(scenarios).map(([k, s]) => `  ${k.padEnd(12)} ${s.description}`).join('\n')}`))
    .action(async (name: string, opts: { json?: boolean; quick?: boolean }) => {
      const scenario = scenarios[name];
      if (!scenario) throw new Error(`unknown scenario "${name}"; choose one of: ${Object.keys(scenarios).join(', ')}`);
      const result = await scenario.run({ quick: opts.quick, log: (line) => process.stderr.write(`${line}\n`) });
      if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(32)} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
    });
}
