/**
 * The Lua scripts through which a projector writes a read model to Redis. A script runs atomically (and is
 * persisted/replicated as one transaction), so a batch's row writes and its checkpoint move land together or not at
 * all. Every script first checks the fence: it refuses when the projection's stored fence is higher than the
 * writer's token (a newer leader took over), so a paused old leader can never write after it lost its lease.
 * All checks come before the first write: a refused script has changed nothing.
 */
import type { Redis } from 'ioredis';

/** KEYS: meta, cp. ARGV: token, expectedPosition, newPosition, version, then ops as (code, key, a, b) quadruples. */
const COMMIT = `
local token = tonumber(ARGV[1])
local fence = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if token < fence then return redis.error_reply('FENCED stored fence ' .. fence .. ' is above token ' .. token) end
local at = redis.call('HGET', KEYS[2], 'position') or '0'
if at ~= ARGV[2] then return redis.error_reply('CHECKPOINT the generation is at ' .. at .. ', the writer expected ' .. ARGV[2]) end
for i = 5, #ARGV, 4 do
  local code, key = ARGV[i], ARGV[i + 1]
  if code == 'H' then redis.call('HSET', key, ARGV[i + 2], ARGV[i + 3])
  elseif code == 'h' then redis.call('HDEL', key, ARGV[i + 2])
  elseif code == 'Z' then redis.call('ZADD', key, ARGV[i + 2], ARGV[i + 3])
  elseif code == 'z' then redis.call('ZREM', key, ARGV[i + 2]) end
end
if token > fence then redis.call('HSET', KEYS[1], 'fence', token) end
redis.call('HSET', KEYS[2], 'position', ARGV[3], 'version', ARGV[4])
return 'OK'
`;

/** KEYS: meta. ARGV: token, gen. Makes `gen` the generation readers use; returns the previous one (or false). */
const SWAP = `
local token = tonumber(ARGV[1])
local fence = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if token < fence then return redis.error_reply('FENCED stored fence ' .. fence .. ' is above token ' .. token) end
local old = redis.call('HGET', KEYS[1], 'gen')
redis.call('HSET', KEYS[1], 'gen', ARGV[2], 'fence', math.max(token, fence))
return old
`;

/** KEYS: meta. ARGV: token. Allocates a fresh generation number (never reused). */
const ALLOCATE = `
local token = tonumber(ARGV[1])
local fence = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if token < fence then return redis.error_reply('FENCED stored fence ' .. fence .. ' is above token ' .. token) end
local current = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')
local next = tonumber(redis.call('HGET', KEYS[1], 'nextGen') or '0')
if next <= current then next = current + 1 end
redis.call('HSET', KEYS[1], 'nextGen', next + 1, 'fence', math.max(token, fence))
return next
`;

export type ScriptedRedis = Redis & {
  rmCommit(meta: string, cp: string, token: number, expected: number, position: number, version: number, ...ops: string[]): Promise<'OK'>;
  rmSwap(meta: string, token: number, gen: number): Promise<string | null>;
  rmAllocate(meta: string, token: number): Promise<number>;
};

/** Defines the scripts on a connection (EVALSHA with a transparent fallback to EVAL). */
export function withScripts(redis: Redis): ScriptedRedis {
  const r = redis as ScriptedRedis;
  if (!(r as any).rmCommit) {
    r.defineCommand('rmCommit', { numberOfKeys: 2, lua: COMMIT });
    r.defineCommand('rmSwap', { numberOfKeys: 1, lua: SWAP });
    r.defineCommand('rmAllocate', { numberOfKeys: 1, lua: ALLOCATE });
  }
  return r;
}

/** A refusal by the fence: the projector must stop (another one holds a newer lease). */
export const isFenced = (error: unknown) => error instanceof Error && /FENCED/.test(error.message);
/** The generation's checkpoint is not where the writer thought (a lost reply, or another writer): reload. */
export const isCheckpointMismatch = (error: unknown) => error instanceof Error && /CHECKPOINT/.test(error.message);
