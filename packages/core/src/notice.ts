import type Redis from 'ioredis';
import { capabilitiesOf } from './capabilities';
import { isCluster } from './connection';
import { capabilityProbeKey } from './keys';

/**
 * How completion notices travel: 'S' (SPUBLISH, sharded Pub/Sub: the notice goes to the topic's
 * shard only) on a Cluster whose servers have it, found by capability; else 'P' (PUBLISH). The
 * settle scripts and waitFor must agree, so both ask this.
 */
export async function noticeMode(redis: Redis, prefix: string): Promise<'P' | 'S'> {
  if (!isCluster(redis as unknown)) return 'P';
  const caps = await capabilitiesOf(redis, capabilityProbeKey(prefix));
  return caps.spublish ? 'S' : 'P';
}
