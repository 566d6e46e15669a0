import { startCluster, uniquePrefix, type RedisCluster } from '@streamfan/testing';
import { Streamfan, type StreamfanOptions } from '../src';

/** What {@link useCluster} set up; read its fields inside a test (they are set in `beforeAll`). */
export interface UsedCluster {
  /** The throwaway cluster (its nodes and startup nodes). */
  readonly cluster: RedisCluster;
  /** A client on the cluster, with a fresh prefix and retention off. */
  readonly sf: Streamfan;
}

/**
 * One throwaway Redis Cluster of `masters` masters per test file, and one client on it (a fresh
 * prefix starting with `prefix`, retention off, plus `options`); the client is closed and the
 * cluster stopped after the file's tests.
 */
export function useCluster(options: { masters?: number; prefix?: string; client?: Partial<StreamfanOptions> } = {}): UsedCluster {
  let cluster: RedisCluster | undefined;
  let sf: Streamfan | undefined;
  beforeAll(async () => {
    cluster = await startCluster(options.masters ?? 3);
    sf = new Streamfan({ connection: { cluster: cluster.startupNodes }, prefix: uniquePrefix(options.prefix ?? 'c'), retention: false, ...options.client });
  }, 60_000);
  afterAll(async () => {
    await sf?.close();
    await cluster?.stop();
  });
  return {
    get cluster() {
      if (!cluster) throw new Error('useCluster: the cluster is started in beforeAll; read it inside a test');
      return cluster;
    },
    get sf() {
      if (!sf) throw new Error('useCluster: the client is made in beforeAll; read it inside a test');
      return sf;
    },
  };
}
