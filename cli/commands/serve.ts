/**
 * `ledger serve`: the API server on the embedded defaults (data under ./data, 127.0.0.1:4000), with the read models
 * the GraphQL modules need. GraphQL at /graphql (WebSocket subscriptions on the same path), GET /healthz, /readyz,
 * /metrics. SIGINT/SIGTERM: stop accepting, finish requests in flight, close subscriptions, projections and store.
 */
import { Option, type Command } from 'commander';
import type { AddressInfo } from 'node:net';
import { loadApiConfig } from '../../api/config.ts';
import { discoverModules } from '../../api/graphql/schema.ts';
import { buildServer, GRAPHQL_PATH, projectionsOf } from '../../api/server.ts';
import { loadConfig } from '../../core/config.ts';
import { openLedger } from '../../core/ledger.ts';
import { withDataDir } from '../options.ts';
import { startResources, type ResourcesRuntime } from '../../layers/resources/runtime.ts'; // Resources layer (see below)
import { seedOnFirstStart } from './seed.ts';
import { startCommandGateway } from '../../host-agent/gateway.ts';
import { openBus } from '../../core/bus/open.ts';
import { startSimAgents } from '../../host-agent/sim-agents.ts';
import { startScheduler } from '../../layers/components/scheduler/scheduler.ts';
import { RedisPubSub } from '../../api/pubsub/redis.ts';
import { RedisReadModels } from '../../projections/redis/readers.ts';
import { REDIS_PROJECTION_NAMES } from '../../projections/redis/start.ts';

export function register(program: Command): void {
  const cmd = program.command('serve')
    .description('Serve the GraphQL API (and /healthz, /readyz, /metrics) on the embedded profile until SIGINT/SIGTERM')
    .addOption(new Option('--port <n>', 'port to listen on (env LEDGER_PORT, default 4000; 0 picks a free one)'))
    .addOption(new Option('--host <address>', 'address to listen on (env LEDGER_HOST, default 127.0.0.1)'))
    .option('--no-roles', 'embedded profile: do not run the relay, scheduler, command gateway and sim agents in this process')
    .option('--no-sim-agents', 'embedded profile: do not run a simulated agent for hosts without a real agent')
    .addOption(new Option('--mode <mode>', 'development (GraphiQL, introspection) or production (env LEDGER_MODE)').choices(['development', 'production']));
  withDataDir(cmd);
  cmd.addHelpText('after', `
Environment: LEDGER_DATA_DIR, LEDGER_PORT, LEDGER_HOST, LEDGER_MODE, LEDGER_LOG_LEVEL, LEDGER_TOKEN_SECRET (else
<data>/token.key), LEDGER_API_RATE_LIMIT (requests/minute per token, 0: off; default 1200), LEDGER_API_BODY_LIMIT
(bytes, default 65536), LEDGER_API_READY_MAX_LAG (events, default 1000).
Distributed profile (LEDGER_NATS_URL set): this process serves the API only and reads the read models that
\`ledger projector\` writes into <data>/readmodels.sqlite; run the projector and \`ledger relay\` next to it. It also
answers host agents' reports (cmd.agent.<id>.report, queue group ledger-gateway) unless --no-roles is given.
Tokens: \`ledger token issue --operator\` / \`--tenant <userId>\`, sent as "Authorization: Bearer <token>".`);

  cmd.action(async (opts: { port?: string; host?: string; mode?: string; data?: string; roles?: boolean; simAgents?: boolean }) => {
    const config = loadConfig(process.env, { LEDGER_DATA_DIR: opts.data, LEDGER_PORT: opts.port, LEDGER_HOST: opts.host, LEDGER_MODE: opts.mode });
    const apiConfig = loadApiConfig();
    const modules = await discoverModules();
    // Embedded profile (no LEDGER_NATS_URL): one process runs every role on an in-process bus — relay, command
    // gateway for agents' reports, the scheduler and simulated agents — so a seeded demo works end to end.
    // Distributed profile: `ledger serve` is the API only; relay, scheduler and agents run as their own processes.
    const embeddedRoles = opts.roles !== false && !config.LEDGER_NATS_URL;
    // Distributed profile: `ledger projector` (one leader, fenced) writes <data>/readmodels.sqlite; API instances only
    // read it and wait on its checkpoints for read-your-writes — two writers of one file would fold every event twice.
    // With LEDGER_REDIS_URL the shared registers (projects, RRegister, CRegister) are read from Redis, where the
    // projector keeps them, and subscriptions fan out through Redis pub/sub: this instance does not fold those itself.
    const redisUrl = config.LEDGER_REDIS_URL;
    const localProjections = projectionsOf(modules).filter((p) => !(redisUrl && REDIS_PROJECTION_NAMES.has(p.name)));
    const ledger = await openLedger(config, { projections: localProjections, project: config.LEDGER_NATS_URL ? 'follow' : true, relay: embeddedRoles, role: 'serve' });
    const roles: { stop(): Promise<void> }[] = [];
    let app;
    // Resources layer: the demo on a newcomer's first start (empty log, development mode), and its background
    // processes (RContract opening, moves, host health). See cli/commands/seed.ts and layers/resources/runtime.ts.
    let firstStart: Awaited<ReturnType<typeof seedOnFirstStart>> = null;
    let resources: ResourcesRuntime | undefined;
    try {
      firstStart = await seedOnFirstStart(ledger);
      resources = await startResources(ledger);
      if (config.LEDGER_NATS_URL && opts.roles !== false) {
        // Distributed profile: agents' reports (cmd.agent.<id>.report) are answered by every API instance in one
        // NATS queue group, so they are handled while any instance is up.
        const gatewayBus = await openBus({ natsUrl: config.LEDGER_NATS_URL, name: 'ledger-gateway' });
        const gateway = await startCommandGateway(ledger, { bus: gatewayBus });
        roles.push({ stop: async () => { await gateway.close(); await gatewayBus.close(); } });
      }
      if (embeddedRoles) {
        const gateway = await startCommandGateway(ledger);
        roles.push({ stop: () => gateway.close() });
        const scheduler = await startScheduler(ledger, { name: 'scheduler-embedded', bus: null }); // store-driven in one process
        roles.push(scheduler);
        if (opts.simAgents !== false) {
          const sims = await startSimAgents(ledger);
          roles.push({ stop: () => sims.close() });
        }
      }
      let shared: { redisReadModels: RedisReadModels; pubsub: RedisPubSub; publishChanges: false } | undefined;
      if (redisUrl) {
        if (embeddedRoles) {
          // one process, Redis profile: this process is also the (only) projector into Redis
          const { startRedisProjections } = await import('../../projections/redis/start.ts');
          const projector = await startRedisProjections(ledger.store, redisUrl, { changeFeeds: modules.flatMap((m) => m.changeFeeds ?? []) });
          roles.push(projector);
        }
        shared = { redisReadModels: await RedisReadModels.connect(redisUrl), pubsub: new RedisPubSub(redisUrl), publishChanges: false };
        const s = shared;
        roles.push({ stop: async () => { await s.pubsub.close(); await s.redisReadModels.close(); } });
      }
      app = await buildServer(ledger, {
        modules,
        ...shared,
        bodyLimit: apiConfig.LEDGER_API_BODY_LIMIT,
        rateLimit: apiConfig.LEDGER_API_RATE_LIMIT === 0 ? false : { max: apiConfig.LEDGER_API_RATE_LIMIT, timeWindowMs: 60_000 },
        readyMaxLag: apiConfig.LEDGER_API_READY_MAX_LAG,
      });
      await app.listen({ port: config.LEDGER_PORT, host: config.LEDGER_HOST });
    } catch (error) {
      await app?.close().catch(() => {});
      for (const r of roles.reverse()) await r.stop().catch(() => {});
      await resources?.stop().catch(() => {});
      await ledger.close();
      throw error;
    }
    const address = app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const base = `http://${host}:${address.port}`;
    process.stdout.write(`GraphQL: ${base}${GRAPHQL_PATH}\n`);
    if (firstStart) process.stdout.write(await firstStart(`${base}${GRAPHQL_PATH}`));
    process.stderr.write(`ledger serve: ${config.LEDGER_MODE} mode, data in ${config.dataDir}; `
      + `GraphQL ${base}${GRAPHQL_PATH} (ws on the same path)${config.LEDGER_MODE === 'development' ? `, GraphiQL ${base}/graphiql` : ''}, `
      + `probes ${base}/healthz ${base}/readyz ${base}/metrics\n`);

    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) { process.stderr.write(`ledger serve: ${signal} again, exiting now\n`); process.exit(130); }
      stopping = true;
      app.log.info({ signal }, 'shutting down: finishing requests in flight');
      const force = setTimeout(() => { app.log.error('shutdown took longer than 10 s; exiting'); process.exit(1); }, 10_000);
      try {
        await app.close();
        for (const r of roles.reverse()) await r.stop();
        await resources?.stop();
        await ledger.close();
      } catch (error) {
        app.log.error({ err: error }, 'error during shutdown');
        process.exitCode = 1;
      }
      clearTimeout(force);
      app.log.info('stopped');
      process.exit(process.exitCode ?? 0);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
  });
}
