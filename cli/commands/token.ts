/**
 * `ledger token issue --operator [--name N] | --tenant <userId>`: prints a signed API token (JWT, HS256) on stdout,
 * or `{"token": "…"}` with --json. The key is LEDGER_TOKEN_SECRET or <data>/token.key (created with mode 0600).
 * A tenant token is issued only for a user the ledger knows and has not suspended (read from the event store).
 *
 * `ledger token revoke <token | tokenId> [--reason R]`: records `TokenRevoked` (operator), after which every API
 * instance refuses the token (api/auth/revocations.ts). Takes the token itself or its id (`tokenId` of `issue --json`).
 */
import { Option, type Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { InvalidTokenError, issueToken, loadTokenSecret, tokenIdentity } from '../../api/auth/tokens.ts';
import { loadConfig, type Config } from '../../core/config.ts';
import { fold } from '../../core/decider.ts';
import { openEventStore } from '../../core/ledger.ts';
import { Reason, stream, TOKEN_ID, USER_ID } from '../../layers/projects/ids.ts';
import { tokenDecider } from '../../layers/projects/token/decider.ts';
import { userDecider } from '../../layers/projects/user/decider.ts';
import { CommandHandler } from '../../core/command-handler.ts';
import { withDataDir, withJson } from '../options.ts';

const TTL = /^(never|\d+|\d+ ?(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks|y|yr|yrs|year|years))$/;

/** Refuses a tenant token for a user that does not exist (a typo, another ledger's id) or is suspended. */
async function requireActiveUser(config: Config, userId: string): Promise<void> {
  if (!USER_ID.test(userId)) return; // issueToken says what a user id looks like
  const store = await openEventStore(config);
  try {
    const state = fold(userDecider, await store.readStream(stream.user(userId)));
    const where = config.LEDGER_EVENTSTORE_URL ? 'the event store' : `the ledger in ${config.dataDir}`;
    if (state.status === 'none') throw new Error(`no user ${userId} in ${where}: create it first (GraphQL userCreate with an operator token), or give the --data directory of the ledger it belongs to`);
    if (state.status === 'suspended') throw new Error(`user ${userId} is suspended: an operator must reactivate it (GraphQL userReactivate) before it gets a token`);
  } finally {
    await store.close();
  }
}

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
A tenant token is refused for a user the ledger does not know or has suspended.
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
    if (opts.tenant !== undefined) await requireActiveUser(config, opts.tenant);
    const secret = loadTokenSecret(config);
    const ttl = opts.ttl === 'never' ? 0 : /^\d+$/.test(opts.ttl) ? Number(opts.ttl) : opts.ttl;
    const jwt = await issueToken(secret, opts.operator ? { kind: 'operator', name: opts.name } : { kind: 'tenant', userId: opts.tenant! }, { ttl });
    process.stdout.write(opts.json ? `${JSON.stringify({ token: jwt, tokenId: (await tokenIdentity(secret, jwt)).tokenId })}\n` : `${jwt}\n`);
  });

  const revoke = token.command('revoke')
    .description('Revoke a token: every API instance refuses it from then on (recorded as a TokenRevoked event)')
    .argument('<token>', 'the token itself, or its id (24 hex digits: "tokenId" of `ledger token issue --json`)')
    .option('--reason <text>', 'why (kept in the log)')
    .addOption(new Option('--name <name>', 'operator name recorded as the actor').default('operator'));
  withDataDir(revoke);
  withJson(revoke);
  revoke.addHelpText('after', `
A token is recognised with LEDGER_TOKEN_SECRET or <data>/token.key, as for \`issue\`. Revoking twice changes nothing.

Examples:
  ledger token revoke eyJhbGciOiJIUzI1NiIs… --reason "laptop stolen"
  ledger token revoke 5d0c6a1e9b2f4c3d8e7f6a5b`);
  revoke.action(async (given: string, opts: { reason?: string; name: string; json?: boolean; data?: string }) => {
    const reason = Reason.safeParse(opts.reason ?? '');
    if (!reason.success) throw new Error(`--reason: ${reason.error.issues[0].message}`);
    if (!/^[A-Za-z0-9_.@:]{1,100}$/.test(opts.name)) throw new Error(`--name: not an operator name: ${JSON.stringify(opts.name)}`);
    const config = loadConfig(process.env, { LEDGER_DATA_DIR: opts.data });
    let identity: { tokenId: string; subject?: string };
    if (TOKEN_ID.test(given)) identity = { tokenId: given };
    else if (given.split('.').length === 3) {
      try { identity = await tokenIdentity(loadTokenSecret(config), given); } catch (e) {
        if (e instanceof InvalidTokenError) throw new Error(`cannot revoke it: ${e.message}`);
        throw e;
      }
    } else throw new Error('give the token (three dot-separated parts) or its id (24 hex digits)');
    const store = await openEventStore(config);
    try {
      const r = await new CommandHandler(store, tokenDecider).handle(stream.token(identity.tokenId), {
        type: 'RevokeToken', data: { tokenId: identity.tokenId, ...(identity.subject && { subject: identity.subject }), ...(reason.data && { reason: reason.data }) },
      }, { actor: { kind: 'operator', id: opts.name } });
      const already = r.events.length === 0;
      process.stdout.write(opts.json
        ? `${JSON.stringify({ tokenId: identity.tokenId, revoked: true, already })}\n`
        : `${already ? 'already revoked' : 'revoked'}: token ${identity.tokenId}${identity.subject ? ` (${identity.subject})` : ''}\n`);
    } finally {
      await store.close();
    }
  });
}
