/**
 * Configuration from environment variables (CLI flags override them), validated with zod at start.
 * Every wrong value is reported on its own line, naming the variable.
 */
import { z } from 'zod';
import { resolve } from 'node:path';

const port = z.coerce.number().int().min(0).max(65535);
const url = (schemes: string[]) => z.string().refine((v) => schemes.some((s) => v.startsWith(`${s}://`)), `must be a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`);

export const ConfigSchema = z.object({
  LEDGER_DATA_DIR: z.string().min(1).default('./data'),
  LEDGER_PORT: port.default(4000),
  LEDGER_HOST: z.string().min(1).default('127.0.0.1'),
  LEDGER_MODE: z.enum(['development', 'production']).default('development'),
  LEDGER_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LEDGER_SQLITE_SYNCHRONOUS: z.enum(['NORMAL', 'FULL']).default('NORMAL'),
  /**
   * How an append waits for the write lock another process holds on the embedded store: 'sleep' in SQLite's busy
   * handler (blocks the event loop meanwhile), or 'yield' (retried from the event loop: for several writer
   * processes on one file, e.g. parallel schedulers; see core/event-store/sqlite.ts `busyWait`).
   */
  LEDGER_SQLITE_BUSY_WAIT: z.enum(['sleep', 'yield']).default('sleep'),
  LEDGER_EVENTSTORE_URL: url(['kurrentdb', 'kurrentdb+discover', 'esdb', 'esdb+discover']).optional(),
  LEDGER_NATS_URL: url(['nats', 'tls']).optional(),
  LEDGER_REDIS_URL: url(['redis', 'rediss']).optional(),
  /** Secret for signing API tokens; by default a key file is created in the data directory. */
  LEDGER_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** How often host agents send heartbeats (ms); the health monitor judges hosts in these intervals. */
  LEDGER_HEARTBEAT_INTERVAL_MS: z.coerce.number().int('must be a whole number of milliseconds').min(100, 'must be at least 100 ms').max(3_600_000, 'must be at most 3600000 ms (1 h)').default(2000),
  /** Lease TTL of single roles (relay, projector): how long a silent leader keeps the lease before a standby takes over. */
  LEDGER_LEASE_TTL_MS: z.coerce.number().int('must be a whole number of milliseconds').min(500, 'must be at least 500 ms').max(60_000, 'must be at most 60000 ms (the relay\'s duplicate window is 2 min)').default(5000),
  /** Whole heartbeat intervals without a beat before a host is marked unreachable. */
  LEDGER_HEARTBEAT_MISSES: z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(3),
});
export type Config = z.infer<typeof ConfigSchema> & { dataDir: string };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration from `env`, with `overrides` (from CLI flags) taking precedence. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof z.infer<typeof ConfigSchema>, unknown>> = {}): Config {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.shape)) {
    const v = overrides[key as keyof typeof overrides] ?? env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}=${JSON.stringify(input[String(i.path[0])])}: ${i.message}`));
  }
  return { ...parsed.data, dataDir: resolve(parsed.data.LEDGER_DATA_DIR) };
}
