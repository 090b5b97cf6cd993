/**
 * `ledger token issue --operator [--name N] | --tenant <userId>`: prints a signed API token (JWT, HS256) on stdout,
 * or `{"token": "…"}` with --json. The key is LEDGER_TOKEN_SECRET or <data>/token.key (created with mode 0600).
 */
import { Option, type Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { issueToken, loadTokenSecret } from '../../api/auth/tokens.ts';
import { loadConfig } from '../../core/config.ts';
import { withDataDir, withJson } from '../options.ts';

const TTL = /^(never|\d+|\d+ ?(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks|y|yr|yrs|year|years))$/;

export function register(program: Command): void {
  const token = program.command('token').description('API tokens (bearer tokens for the GraphQL API)');
  const issue = token.command('issue')
    .description('Issue a token: --operator (operator rights) or --tenant <userId> (one user\'s rights); prints it on stdout')
    .option('--operator', 'an operator token')
    .option('--tenant <userId>', 'a tenant token bound to this user (u_…, the id userCreate returned)')
    .addOption(new Option('--name <name>', 'operator name recorded as the actor of its changes').default('operator'))
    .addOption(new Option('--ttl <duration>', 'lifetime: e.g. 3600 (seconds), 12h, 30d, 1y, or never').default('30d'));
  withDataDir(issue);
  withJson(issue);
  issue.addHelpText('after', `
Send it as "Authorization: Bearer <token>". Tokens are signed with LEDGER_TOKEN_SECRET when set, else with the key
file <data>/token.key (made on first use, mode 0600); \`ledger serve\` must use the same secret or data directory.

Examples:
  ledger token issue --operator
  ledger token issue --tenant u_3f2a9c --json`);

  issue.action(async (opts: { operator?: boolean; tenant?: string; name: string; ttl: string; json?: boolean; data?: string }) => {
    if (!!opts.operator === (opts.tenant !== undefined)) throw new Error('give exactly one of --operator or --tenant <userId>');
    if (!TTL.test(opts.ttl)) throw new Error(`--ttl must be seconds or a duration like 12h, 30d, 1y, or "never"; got ${JSON.stringify(opts.ttl)}`);
    const config = loadConfig(process.env, { LEDGER_DATA_DIR: opts.data });
    if (!config.LEDGER_TOKEN_SECRET) mkdirSync(config.dataDir, { recursive: true });
    const secret = loadTokenSecret(config);
    const ttl = opts.ttl === 'never' ? 0 : /^\d+$/.test(opts.ttl) ? Number(opts.ttl) : opts.ttl;
    const jwt = await issueToken(secret, opts.operator ? { kind: 'operator', name: opts.name } : { kind: 'tenant', userId: opts.tenant! }, { ttl });
    process.stdout.write(opts.json ? `${JSON.stringify({ token: jwt })}\n` : `${jwt}\n`);
  });
}
