import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { redisCliBin, startRedis, type RedisServer } from './redis-server';
import { sleep } from './wait';

const run = promisify(execFile);

/** A throwaway Redis Cluster of `masters` nodes (no replicas). */
export interface RedisCluster {
  readonly nodes: RedisServer[];
  /** Startup nodes for ioredis' Cluster. */
  readonly startupNodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

/** Start `masters` redis-servers in cluster mode and join them with `redis-cli --cluster create` ({@link redisCliBin}). */
export async function startCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'] }));
    }
    await run(redisCliBin(), ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const states = await Promise.all(nodes.map(async (n) => (await run(redisCliBin(), ['-p', String(n.port), 'CLUSTER', 'INFO'])).stdout));
      if (states.every((s) => s.includes('cluster_state:ok'))) break;
      if (Date.now() > deadline) throw new Error(`cluster did not reach cluster_state:ok: ${states.join(' | ')}`);
      await sleep(100);
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return {
    nodes,
    startupNodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    stop: async () => { await Promise.all(nodes.map((n) => n.stop())); },
  };
}
