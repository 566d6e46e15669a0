/**
 * The record that fixes a topic's partition count when it is created. Clients check it
 * once per topic (the record never changes, so the answer can be cached for the client's
 * life) before the first publish or subscribe.
 */
import type Redis from 'ioredis';
import { fromRedisError, StreamfanError } from '../errors';
import { runScript } from '../scripts/runner';
import { PartitionCountMismatchError } from './errors';
import { topicMetaKeys, validatePartitionCount } from './partitionKeys';

/** Name of the key → partition function, stored in the meta record. See hash.ts. */
export const PARTITION_HASH = 'murmur2';
/** Version of the partition key layout (partitionKeys.ts), stored in the meta record. */
export const PARTITION_LAYOUT = 1;

/** What {@link ensureTopicMeta} found. */
export interface TopicShape {
  /** Partition count; 0 for an unpartitioned topic. */
  partitions: number;
  /** True when this call created the record (the topic's first partitioned use). */
  created: boolean;
}

/**
 * Check (or, on first use, record) a topic's partition count: `partitions` 0 means "defined
 * unpartitioned". Throws {@link PartitionCountMismatchError} when Redis holds another count,
 * or an unpartitioned stream of that name exists while partitions are asked for (or the
 * reverse). Nothing is written then, nor for unpartitioned topics.
 */
export async function ensureTopicMeta(redis: Redis, prefix: string, topic: string, partitions: number): Promise<TopicShape> {
  if (partitions !== 0) validatePartitionCount(partitions);
  const keys = topicMetaKeys(prefix, topic);
  if (partitions !== 0) {
    // A prioritized topic's meta hash records lanes and no partitions: partitioning it would
    // add a count to that record (docs/priorities.md §1).
    let lanes: string | null;
    try {
      lanes = await redis.hget(keys.meta, 'lanes');
    } catch (err) {
      // A key of another type: the script below refuses it with a clear message.
      if (!/WRONGTYPE/.test((err as Error).message)) throw fromRedisError(err, `check the partitions of topic "${topic}"`, redis);
      lanes = null;
    }
    if (lanes !== null) {
      const e = new PartitionCountMismatchError(topic, 0, partitions);
      e.message = `topic "${topic}" has the priority lanes [${lanes.split(',').join(', ')}], fixed when it was first used, but was defined with ${partitions} partitions: ` +
        'a prioritized topic cannot be partitioned (this version); define it with its priorities, or use a new topic name for the partitioned one (docs/priorities.md §1)';
      throw e;
    }
  }
  let reply: [string, number, string];
  try {
    reply = await runScript<[string, number, string]>(redis, 'ensureTopicMeta', [keys.meta, keys.unpartitionedStream], [partitions, PARTITION_HASH, PARTITION_LAYOUT]);
  } catch (err) {
    throw fromRedisError(err, `check the partitions of topic "${topic}"`, redis);
  }
  const [verdict, stored, hash] = reply;
  if (verdict === 'mismatch') {
    if (stored === partitions && hash !== PARTITION_HASH) {
      throw new StreamfanError('INVALID_OPTION', `topic "${topic}" maps keys with hash "${hash}", this client with "${PARTITION_HASH}": upgrade the client`);
    }
    throw new PartitionCountMismatchError(topic, Number(stored), partitions);
  }
  return { partitions: Number(stored), created: verdict === 'created' };
}

const checked = new WeakMap<Redis, Map<string, Promise<TopicShape>>>();

/**
 * {@link ensureTopicMeta} once per connection, topic and count: the first publish, subscribe,
 * status or waitFor of a partitioned topic checks (or fixes) its count; later calls reuse the
 * answer. A failed check is not kept, so the next call checks again.
 */
export function ensureTopicMetaOnce(redis: Redis, prefix: string, topic: string, partitions: number): Promise<TopicShape> {
  let byTopic = checked.get(redis);
  if (!byTopic) { byTopic = new Map(); checked.set(redis, byTopic); }
  const key = `${prefix}\n${topic}\n${partitions}`;
  let p = byTopic.get(key);
  if (!p) {
    const map = byTopic;
    p = ensureTopicMeta(redis, prefix, topic, partitions);
    p.catch(() => map.delete(key));
    map.set(key, p);
  }
  return p;
}
