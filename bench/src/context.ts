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

/** Calls and time of one Redis command (INFO commandstats). */
export interface CommandStat { calls: number; usec: number }

/**
 * INFO commandstats: calls and µs per command (`evalsha`, `xack`, `hset`, ...). Commands a
 * script runs are counted under their own names too, and their time is also inside the
 * script's (`evalsha`) time.
 */
export async function commandStats(redis: Redis): Promise<Map<string, CommandStat>> {
  const info = await redis.info('commandstats');
  const out = new Map<string, CommandStat>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  return out;
}

/** Per-command difference between two {@link commandStats} readings, divided by `per` (e.g. deliveries). */
export function commandDelta(before: Map<string, CommandStat>, after: Map<string, CommandStat>, per: number): Array<{ command: string } & CommandStat> {
  const rows: Array<{ command: string } & CommandStat> = [];
  for (const [command, a] of after) {
    const b = before.get(command) ?? { calls: 0, usec: 0 };
    const calls = a.calls - b.calls;
    if (calls <= 0 || command === 'info') continue;
    rows.push({ command, calls: calls / per, usec: (a.usec - b.usec) / per });
  }
  return rows.sort((x, y) => y.usec - x.usec);
}
