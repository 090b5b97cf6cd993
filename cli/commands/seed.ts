/**
 * `ledger seed`: builds the demo topology (layers/resources/seed/demo.ts) in the data directory, idempotently:
 * 2 regions × 2 zones, VM/CM/BM hosts on several racks, public networks with IP pools, images, and a demo tenant
 * with a project; then the built-in component types (layers/components/seed.ts), so the demo tenant can request a
 * cloud host at once. Running it again changes nothing.
 *
 * Also what `ledger serve` calls on a newcomer's first start: `seedOnFirstStart(ledger)` seeds an EMPTY log (in
 * development mode only) and returns the banner to print with the GraphQL URL and ready-to-use tokens.
 */
import type { Command } from 'commander';
import { issueToken, loadTokenSecret } from '../../api/auth/tokens.ts';
import { loadConfig, type Config } from '../../core/config.ts';
import { openLedger, type Ledger } from '../../core/ledger.ts';
import { seedDemo, type DemoSummary } from '../../layers/resources/seed/demo.ts';
import { seedComponentTypes } from '../../layers/components/seed.ts';
import { withDataDir, withJson } from '../options.ts';

export { seedDemo, type DemoSummary };

export interface SeedSummary extends DemoSummary {
  /** The component types defined (built-ins), by name. */
  componentTypes: string[];
}

/**
 * The whole demo: the Resources topology and the demo tenant, then the built-in component types (their Flat pools
 * need the hosts, so they come second). Layers stay unaware of each other; this is where they are put together.
 */
export async function seedAll(ledger: Pick<Ledger, 'execute' | 'load' | 'store'>): Promise<SeedSummary> {
  const before = await ledger.store.headPosition();
  const summary = await seedDemo(ledger);
  const components = await seedComponentTypes(ledger);
  return { ...summary, componentTypes: components.types.map((t) => t.name), appended: (await ledger.store.headPosition()) - before };
}

/** Tokens to explore the demo with: an operator's and the demo tenant's (30 days). */
export async function demoTokens(config: Pick<Config, 'dataDir' | 'LEDGER_TOKEN_SECRET'>, summary: DemoSummary): Promise<{ operator: string; tenant: string }> {
  const secret = loadTokenSecret(config);
  return {
    operator: await issueToken(secret, { kind: 'operator', name: 'demo_operator' }),
    tenant: await issueToken(secret, { kind: 'tenant', userId: summary.tenant.userId }),
  };
}

/** What a newcomer needs to start exploring: where the API is, two tokens, and a first query for each. */
export function firstStartBanner(graphqlUrl: string, summary: SeedSummary, tokens: { operator: string; tenant: string }): string {
  const counts = `${summary.regions.length} regions, ${summary.zones.length} zones, ${summary.hosts.length} hosts (VM, CM, BM), ${summary.networks.length} networks, ${summary.images.length} images`;
  return `
Empty data directory: seeded the demo (${counts}), the component types ${summary.componentTypes.join(', ')},
and a demo tenant ${summary.tenant.userId} with project ${summary.tenant.projectId}.

  GraphQL          ${graphqlUrl}
  operator token   ${tokens.operator}
  tenant token     ${tokens.tenant}

Try it:
  curl -s ${graphqlUrl} -H 'content-type: application/json' \\
    -H 'authorization: Bearer ${tokens.operator}' \\
    -d '{"query":"{ regions { nodes { name zones { nodes { name hosts { nodes { name type status free { cpuCores ramMiB diskGiB } } } } } } } }"}'
  curl -s ${graphqlUrl} -H 'content-type: application/json' \\
    -H 'authorization: Bearer ${tokens.tenant}' \\
    -d '{"query":"{ viewer { id name projects { nodes { id name } } } }"}'
  curl -s ${graphqlUrl} -H 'content-type: application/json' \\
    -H 'authorization: Bearer ${tokens.tenant}' \\
    -d '{"query":"mutation { componentRequest(input: { projectId: \\"${summary.tenant.projectId}\\", type: \\"cloud-host\\", template: NORMAL, access: ZONE, zoneId: \\"${summary.zones[0]}\\" }) { component { id state } userErrors { code message } } }"}'
More tokens: ledger token issue --operator | --tenant ${summary.tenant.userId}

`;
}

/**
 * For `ledger serve`: on an empty log in development mode, seeds the demo and returns a function that renders the
 * banner for the URL the server listens on; otherwise null (production ledgers are never seeded behind one's back).
 */
export async function seedOnFirstStart(ledger: Ledger): Promise<((graphqlUrl: string) => Promise<string>) | null> {
  if (ledger.config.LEDGER_MODE !== 'development') return null;
  if ((await ledger.store.headPosition()) !== 0) return null;
  const summary = await seedAll(ledger);
  await ledger.settle(30_000); // the first queries see the whole demo
  return async (graphqlUrl) => firstStartBanner(graphqlUrl, summary, await demoTokens(ledger.config, summary));
}

export function register(program: Command): void {
  const cmd = program.command('seed')
    .description('Build the demo topology (2 regions × 2 zones, VM/CM/BM hosts, public networks, images, a demo tenant, the built-in component types); idempotent');
  withDataDir(cmd);
  withJson(cmd);
  cmd.addHelpText('after', `
Every command carries a fixed command id, so running it again appends nothing. \`ledger serve\` seeds the same demo
by itself when it starts on an empty data directory in development mode.

Examples:
  ledger seed
  ledger seed --data /tmp/demo --json`);
  cmd.action(async (opts: { data?: string; json?: boolean }) => {
    const config = loadConfig(process.env, { LEDGER_DATA_DIR: opts.data });
    const ledger = await openLedger(config, { project: false });
    try {
      const summary = await seedAll(ledger);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } else {
        process.stdout.write(`${summary.appended === 0 ? 'The demo was already there: nothing changed.' : `Seeded the demo: ${summary.appended} events.`}
  regions   ${summary.regions.join(', ')}
  zones     ${summary.zones.join(', ')}
  hosts     ${summary.hosts.length} (${(['VM', 'CM', 'BM'] as const).map((t) => `${summary.hosts.filter((h) => h.type === t).length} ${t}`).join(', ')})
  networks  ${summary.networks.join(', ')}
  images    ${summary.images.length}
  component types  ${summary.componentTypes.join(', ')}
  tenant    ${summary.tenant.name} ${summary.tenant.userId}, project ${summary.tenant.projectId}
Tokens: ledger token issue --operator | --tenant ${summary.tenant.userId}
`);
      }
    } finally {
      await ledger.close();
    }
  });
}
