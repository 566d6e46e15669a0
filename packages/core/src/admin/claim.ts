import { InvalidOptionError, fromRedisError } from '../errors';
import { topicKeys } from '../keys';
import { validateConsumerName, validateGroupName, validateTopicName } from '../names';
import { runScript } from '../scripts/runner';
import { NotPendingError } from './errors';
import type { AdminTarget } from './target';

/** One entry handed to another consumer by {@link Streamfan.claim}. */
export interface ClaimedEntry {
  id: string;
  source: 'topic' | 'redelivery';
  /** The consumer that held it before. */
  previousOwner: string;
  /** Deliveries so far (unchanged by a hand claim). */
  deliveries: number;
}

const STREAM_ID = /^\d+-\d+$/;

/** Check ids given by hand look like stream ids (`1700000000000-0`). */
export function assertEntryIds(ids: readonly string[]): void {
  if (ids.length === 0) throw new InvalidOptionError('give at least one entry id, e.g. 1700000000000-0');
  const bad = ids.filter((id) => !STREAM_ID.test(id));
  if (bad.length > 0) throw new InvalidOptionError(`${bad.map((b) => JSON.stringify(b)).join(', ')} ${bad.length === 1 ? 'is not a stream id' : 'are not stream ids'}: ids look like 1700000000000-0 (see \`streamfan pending\`)`);
}

/**
 * Hand pending entries of a group to `consumer` (repair by hand: take them from a stuck
 * consumer). All or nothing: when an id is not pending, nothing is claimed and a
 * {@link NotPendingError} lists the ids. The delivery count is kept (no attempt is counted);
 * the idle time restarts, so the new owner must handle them or they are reclaimed again
 * after the visibility timeout.
 */
export async function claimEntries(target: AdminTarget, topic: string, group: string, ids: readonly string[], consumer: string): Promise<ClaimedEntry[]> {
  validateTopicName(topic);
  return claimEntriesAt(target, topic, group, ids, consumer);
}

/**
 * {@link claimEntries} in the stream whose tag is `topic` (a topic, or a partition's tag `T#i`),
 * without checking the topic name (group, consumer and ids are checked).
 * @internal partitioned topics (partitions/admin-ops.ts)
 */
export async function claimEntriesAt(target: AdminTarget, topic: string, group: string, ids: readonly string[], consumer: string): Promise<ClaimedEntry[]> {
  validateGroupName(group);
  validateConsumerName(consumer);
  assertEntryIds(ids);
  const keys = topicKeys(target.prefix, topic);
  let reply: Array<string | number>;
  try {
    reply = await runScript<Array<string | number>>(target.redis, 'claimEntries', [keys.stream, keys.redeliver(group)], [group, consumer, ...ids]);
  } catch (err) {
    throw fromRedisError(err, `claim entries of group "${group}" in topic "${topic}"`);
  }
  if (Number(reply[0]) !== 1) throw new NotPendingError('claimed', topic, group, reply.slice(1).map(String));
  const out: ClaimedEntry[] = [];
  for (let i = 1; i + 3 < reply.length; i += 4) {
    out.push({ id: String(reply[i]), source: reply[i + 1] === 'redelivery' ? 'redelivery' : 'topic', previousOwner: String(reply[i + 2]), deliveries: Number(reply[i + 3]) });
  }
  return out;
}
