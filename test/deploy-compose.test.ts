/**
 * deploy/compose.yaml cannot be started here (no Docker engine), so it is checked as far as it can be without one:
 * it parses as YAML (anchors and merge keys resolved), every reference points at something defined, the clusters
 * have three nodes that seed each other, every ledger role runs a command the CLI has, and every role's environment
 * passes the ledger's own configuration validation (core/config.ts). The NATS cluster file is checked by
 * nats-server itself (`-t`).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadConfig } from '../core/config.ts';

const compose = parse(readFileSync('deploy/compose.yaml', 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; build?: { context: string; dockerfile: string }; command?: string[]; environment?: Record<string, string>; volumes?: string[]; depends_on?: Record<string, { condition: string }> }>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const roles = Object.entries(services).filter(([, s]) => s.image === 'resource-ledger:local');

test('the stack: 3 KurrentDB nodes, 3 NATS nodes, Redis, and every role (serve ×2, projector, relay, scheduler ×2, agent)', () => {
  const names = Object.keys(services);
  for (const n of ['kurrentdb-1', 'kurrentdb-2', 'kurrentdb-3', 'nats-1', 'nats-2', 'nats-3', 'redis']) assert.ok(names.includes(n), `service ${n}`);
  const commands = roles.map(([, s]) => s.command![0]);
  for (const [role, n] of [['serve', 2], ['projector', 1], ['relay', 1], ['scheduler', 2], ['agent', 1]] as const) {
    assert.ok(commands.filter((c) => c === role).length >= n, `at least ${n} × ledger ${role}`);
  }
});

test('references resolve: depends_on, named volumes, the Dockerfile, the NATS config file', () => {
  for (const [name, s] of Object.entries(services)) {
    for (const dep of Object.keys(s.depends_on ?? {})) assert.ok(services[dep], `${name} depends on unknown service ${dep}`);
    for (const v of s.volumes ?? []) {
      const source = v.split(':')[0];
      if (source.startsWith('.')) assert.ok(existsSync(`deploy/${source}`), `${name}: bind mount ${source} exists`);
      else assert.ok(source in compose.volumes, `${name}: named volume ${source} is declared`);
    }
  }
  const build = roles[0][1].build!;
  assert.ok(existsSync(`deploy/${build.context}/${build.dockerfile}`), 'the Dockerfile exists');
});

test('the clusters seed each other: each KurrentDB node gossips with the other two; NATS routes name all three', () => {
  for (const i of [1, 2, 3]) {
    const env = services[`kurrentdb-${i}`].environment!;
    assert.is(env.KURRENTDB_CLUSTER_SIZE, '3');
    const seeds = env.KURRENTDB_GOSSIP_SEED.split(',').map((s) => s.split(':')[0]).sort();
    assert.equal(seeds, [1, 2, 3].filter((j) => j !== i).map((j) => `kurrentdb-${j}`));
    assert.equal(services[`nats-${i}`].command!.slice(-2), ['--name', `nats-${i}`], 'a unique JetStream server name per node');
  }
  const conf = readFileSync('deploy/nats/cluster.conf', 'utf8');
  for (const i of [1, 2, 3]) assert.match(conf, new RegExp(`nats-route://nats-${i}:6222`));
  const t = spawnSync(existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server', ['-t', '-c', 'deploy/nats/cluster.conf'], { encoding: 'utf8' });
  assert.is(t.status, 0, `nats-server -t: ${t.stderr}${t.stdout}`);
});

test('every role runs an existing ledger command and its environment passes the ledger\'s config validation', () => {
  const help = spawnSync(process.execPath, ['bin/ledger.js', '--help'], { encoding: 'utf8' });
  assert.is(help.status, 0, help.stderr);
  for (const [name, s] of roles) {
    assert.match(help.stdout, new RegExp(`\\n\\s+${s.command![0]}\\b`), `${name}: ledger ${s.command![0]} exists`);
    // ${VAR:?message} is filled by compose from the operator's environment; stand in a valid value
    const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v).startsWith('${') ? 'x'.repeat(64) : String(v)]));
    const config = loadConfig(env);
    assert.ok(config.LEDGER_NATS_URL, `${name}: NATS configured`);
    if (s.command![0] !== 'agent') {
      assert.match(config.LEDGER_EVENTSTORE_URL ?? '', /^kurrentdb:\/\/kurrentdb-1:2113,kurrentdb-2:2113,kurrentdb-3:2113/, `${name}: the KurrentDB cluster`);
      assert.is(config.LEDGER_REDIS_URL, 'redis://redis:6379', `${name}: Redis`);
      assert.is(config.LEDGER_MODE, 'production');
    }
  }
  // the agent's flags are the CLI's own
  const agent = roles.find(([, s]) => s.command![0] === 'agent')![1];
  const agentHelp = spawnSync(process.execPath, ['bin/ledger.js', 'agent', '--help'], { encoding: 'utf8' }).stdout;
  for (const flag of agent.command!.filter((a) => a.startsWith('--'))) assert.ok(agentHelp.includes(flag), `ledger agent ${flag}`);
});

test.run();
