/**
 * Settings of the API server beyond the core configuration (core/config.ts), from environment variables, validated
 * with zod and reported one line per wrong value (the same ConfigError as the core's).
 */
import { z } from 'zod';
import { ConfigError } from '../core/config.ts';

export const ApiConfigSchema = z.object({
  /** Requests per minute per token on /graphql; 0 turns the limit off. */
  LEDGER_API_RATE_LIMIT: z.coerce.number().int().min(0).max(10_000_000).default(1200),
  /** Largest request body in bytes. */
  LEDGER_API_BODY_LIMIT: z.coerce.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
  /** Largest projection lag (events) /readyz still calls caught up. */
  LEDGER_API_READY_MAX_LAG: z.coerce.number().int().min(0).default(1000),
});
export type ApiConfig = z.infer<typeof ApiConfigSchema>;

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof ApiConfig, unknown>> = {}): ApiConfig {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(ApiConfigSchema.shape)) {
    const v = overrides[key as keyof ApiConfig] ?? env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const parsed = ApiConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}=${JSON.stringify(input[String(i.path[0])])}: ${i.message}`));
  }
  return parsed.data;
}
