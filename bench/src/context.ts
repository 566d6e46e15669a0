import Redis from 'ioredis';
import type { BenchConfig } from './config';
import type { RedisServer } from './lib';
import type { Pool } from './pool';
import type { Progress } from './progress';

/** What every scenario gets: the sizes, the private Redis, the consumer processes, progress. */
export interface BenchContext {
  config: BenchConfig;
  server: RedisServer;
  /** Admin connection of the parent (setup, INFO, FLUSHALL between runs). */
  redis: Redis;
  pool: Pool;
  progress: Progress;
}

/** Empty the private server between runs, so each starts from the same state. */
export async function flush(ctx: BenchContext): Promise<void> {
  await ctx.redis.flushall();
}

/** CPU time the redis-server process has used (user + system), µs. */
export async function redisCpuMicros(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 'NaN');
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 'NaN');
  return (user + sys) * 1e6;
}

/** INFO used_memory in bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 'NaN');
}
