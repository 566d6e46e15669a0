import { readFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import type Redis from 'ioredis';

/** Where a run ran. */
export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  redis: string;
  bullmq: string;
  ioredis: string;
  /** 1-minute load average at the start and end of the run (other work on the machine). */
  loadStart: number;
  loadEnd: number;
  /** The bench's server as named in the matrix (`--server`), and the commit run (`+dirty`: a shared, changing tree). */
  server: string;
  commit: string;
}

function versionOf(pkg: string): string {
  try {
    const path = require.resolve(`${pkg}/package.json`);
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function describeMachine(redis: Redis, server = 'redis-server on PATH', commit = 'unknown'): Promise<Machine> {
  const info = await redis.info('server');
  // Valkey reports a Redis-compatible redis_version (7.2.4): name it by its own version.
  const valkey = /valkey_version:(\S+)/.exec(info)?.[1];
  const redisVersion = valkey ? `valkey ${valkey}` : /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const c = cpus();
  return {
    cores: c.length,
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.version,
    redis: redisVersion,
    bullmq: versionOf('bullmq'),
    ioredis: versionOf('ioredis'),
    loadStart: Math.round(loadavg()[0]! * 100) / 100,
    loadEnd: 0,
    server,
    commit,
  };
}
