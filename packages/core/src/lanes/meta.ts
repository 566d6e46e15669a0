/**
 * The record that fixes a prioritized topic's lanes at first use (docs/priorities.md §1):
 * fields `lanes` (comma list, highest first), `defaultLane` and `createdAt` of the topic's meta
 * hash `<prefix>:{T}:meta`. Checked once per connection and topic (the record never changes).
 */
import type Redis from 'ioredis';
import { fromRedisError } from '../errors';
import { topicMetaKeys } from '../keys';
import { runScript } from '../scripts/runner';
import { LaneMismatchError } from './errors';

/** A topic's lanes as its meta hash records them. */
export interface StoredLanes {
  /** Lane names, highest first. */
  lanes: string[];
  /** The lane of a publish without `priority` (it keeps the topic's own keys and plain ids). */
  defaultLane: string;
}

/**
 * Check (or, on first use, record) a prioritized topic's lanes.
 * @returns true when this call wrote the record
 * @throws LaneMismatchError when Redis holds other lanes or another default, or the topic is partitioned (nothing written)
 */
export async function ensureLanes(redis: Redis, prefix: string, topic: string, lanes: readonly string[], defaultLane: string): Promise<boolean> {
  let reply: [string, string, string];
  try {
    reply = await runScript<[string, string, string]>(redis, 'ensureLanes', [topicMetaKeys(prefix, topic).meta], [lanes.join(','), defaultLane]);
  } catch (err) {
    throw fromRedisError(err, `check the priority lanes of topic "${topic}"`, redis);
  }
  const [verdict, stored, storedDefault] = reply;
  if (verdict === 'partitioned') throw new LaneMismatchError(topic, [], '', lanes, defaultLane);
  if (verdict === 'mismatch') throw new LaneMismatchError(topic, stored.split(','), storedDefault, lanes, defaultLane);
  return verdict === 'created';
}

const checked = new WeakMap<Redis, Map<string, Promise<boolean>>>();

/**
 * {@link ensureLanes} once per connection, topic and lane set: the first publish, subscribe,
 * status or waitFor of a prioritized topic checks (or fixes) its lanes; later calls reuse the
 * answer. A failed check is not kept, so the next call checks again. Resolves at once for a
 * topic without lanes (nothing is read).
 */
export function ensureLanesOnce(redis: Redis, prefix: string, topic: { name: string; priorities?: readonly string[]; defaultPriority?: string }): Promise<boolean> {
  if (topic.priorities === undefined) return Promise.resolve(false);
  let byTopic = checked.get(redis);
  if (!byTopic) { byTopic = new Map(); checked.set(redis, byTopic); }
  const key = `${prefix}\n${topic.name}\n${topic.priorities.join(',')}\n${topic.defaultPriority}`;
  let p = byTopic.get(key);
  if (!p) {
    const map = byTopic;
    p = ensureLanes(redis, prefix, topic.name, topic.priorities, topic.defaultPriority!);
    p.catch(() => map.delete(key));
    map.set(key, p);
  }
  return p;
}

/**
 * The lanes of topic `topic` as its meta hash records them (one HMGET), or undefined when the
 * topic has none (no meta hash, or a partitioned topic's). For tools that know a topic only by
 * name (the CLI, the dashboard, metrics).
 */
export async function readLanes(redis: Redis, prefix: string, topic: string): Promise<StoredLanes | undefined> {
  const [lanes, defaultLane] = await redis.hmget(topicMetaKeys(prefix, topic).meta, 'lanes', 'defaultLane');
  if (!lanes || !defaultLane) return undefined;
  return { lanes: lanes.split(','), defaultLane };
}
