import { fieldMap } from '../consumer/entry';
import { fromRedisError } from '../errors';
import { topicKeys } from '../keys';
import { validateGroupName, validateTopicName } from '../names';
import { FIELD } from '../publisher';
import { noticeMode } from '../notice';
import { runScript } from '../scripts/runner';
import { assertEntryIds } from './claim';
import { NotPendingError } from './errors';
import type { AdminTarget } from './target';

/** One entry acknowledged by {@link Streamfan.ack}. */
export interface AckedEntry {
  /** The entry id given. */
  id: string;
  /** The event id (differs from `id` for a retry or replay in the redelivery stream). */
  eventId: string;
  source: 'topic' | 'redelivery';
  /** The consumer that held it. */
  previousOwner: string;
  /** Attempts recorded in the status. */
  attempts: number;
}

/** Options of `ackEntries` ({@link Streamfan.ack} passes the client's status TTL). */
export interface AckOptions {
  /** Status hash TTL. @defaultValue 86400 */
  statusTtlSeconds?: number;
}

/**
 * Acknowledge pending entries of a group by hand (an operator decides they are done). All or
 * nothing: when an id is not pending, nothing is acknowledged and a {@link NotPendingError}
 * lists the ids. Each event's status in this group becomes `succeeded` (marked `ackedByHand`)
 * and waiters of {@link Streamfan.waitFor} are told. The consumer that held an entry can no
 * longer ack or retry it (its settle scripts check ownership).
 */
export async function ackEntries(target: AdminTarget, topic: string, group: string, ids: readonly string[], options: AckOptions = {}): Promise<AckedEntry[]> {
  validateTopicName(topic);
  return ackEntriesAt(target, topic, group, ids, options);
}

/**
 * {@link ackEntries} in the stream whose tag is `topic` (a topic, or a partition's tag `T#i`),
 * without checking the topic name (group and ids are checked).
 * @internal partitioned topics (partitions/admin-ops.ts)
 */
export async function ackEntriesAt(target: AdminTarget, topic: string, group: string, ids: readonly string[], options: AckOptions = {}): Promise<AckedEntry[]> {
  validateGroupName(group);
  assertEntryIds(ids);
  const keys = topicKeys(target.prefix, topic);
  const ttl = options.statusTtlSeconds ?? 86_400;
  try {
    // Find where each id is pending and, for redelivery copies, which event it is: the status
    // keys must be known before the script runs (every key passed in KEYS).
    const p = target.redis.pipeline();
    for (const id of ids) {
      p.xpending(keys.stream, group, id, id, 1);
      p.xpending(keys.redeliver(group), group, id, id, 1);
      p.xrange(keys.redeliver(group), id, id);
    }
    const res = (await p.exec()) ?? [];
    const plan = ids.map((id, i) => {
      const inTopic = ((res[3 * i]?.[1] ?? []) as unknown[]).length > 0;
      const inRedelivery = !inTopic && ((res[3 * i + 1]?.[1] ?? []) as unknown[]).length > 0;
      const copy = fieldMap(((res[3 * i + 2]?.[1] ?? []) as Array<[string, string[]]>)[0]?.[1] ?? []);
      return inRedelivery
        ? { id, source: 'redelivery' as const, eventId: copy.get(FIELD.orig) ?? id, base: Number(copy.get(FIELD.base) ?? 0) || 0 }
        : { id, source: 'topic' as const, eventId: id, base: 0 };
    });
    const mode = await noticeMode(target.redis, target.prefix);
    const reply = await runScript<Array<string | number>>(target.redis, 'ackByHand',
      [keys.stream, keys.redeliver(group), keys.waiters, ...plan.map((e) => keys.status(e.eventId))],
      [group, ttl, keys.done, mode, ...plan.flatMap((e) => [e.id, e.source, e.eventId, e.base])]);
    if (Number(reply[0]) !== 1) throw new NotPendingError('acknowledged', topic, group, reply.slice(1).map(String));
    return plan.map((e, i) => ({ id: e.id, eventId: e.eventId, source: e.source, previousOwner: String(reply[2 + 3 * i]), attempts: Number(reply[3 + 3 * i]) }));
  } catch (err) {
    throw fromRedisError(err, `acknowledge entries of group "${group}" in topic "${topic}"`);
  }
}
