import { GroupRetiredError, InvalidOptionError, NotFoundError, fromRedisError } from '../errors';
import { PartitionedTopicNotSupportedError } from '../partitions/errors';
import { groupInfos } from '../status';
import { topicKeys, topicMetaKeys } from '../keys';
import { validateGroupName, validateTopicName } from '../names';
import { noticeMode } from '../notice';
import { runScript } from '../scripts/runner';
import type { AdminTarget } from './target';

/** Options of {@link Streamfan.retireGroup}. */
export interface RetireOptions {
  /** Delete the group's dead letters too (for good). @defaultValue false: they are kept, to list and purge */
  deleteDeadLetters?: boolean;
}

/** What {@link Streamfan.retireGroup} did. */
export interface RetireReport {
  topic: string;
  group: string;
  /** True when the group was already retired (nothing was lost by this call; the first time is kept). */
  alreadyRetired: boolean;
  /** When it was retired (server time). */
  retiredAt: Date;
  /** Consumers the group had on the topic stream (their subscriptions stop when they notice). */
  consumers: number;
  /** Entries delivered and not acknowledged, dropped with the group (topic and redelivery stream). */
  pending: number;
  /** Retries waiting for their backoff, dropped. */
  retrying: number;
  /** Dead letters the group had. */
  deadLetters: number;
  /** Whether those dead letters were deleted (`deleteDeadLetters`), or kept. */
  deadLettersDeleted: boolean;
}

/**
 * Retire a group for good (see {@link Streamfan.retireGroup}): one script destroys it on both
 * streams, drops its redelivery stream and retry set (and, when asked, its dead letters) and
 * lists it as retired, so no subscriber recreates it.
 * @throws NotFoundError when the topic has no such group and never had it retired;
 *   PartitionedTopicNotSupportedError for a partitioned topic (checked first: nothing is
 *   written); InvalidOptionError for a bad option
 */
export async function retireGroup(target: AdminTarget, topic: string, group: string, options: RetireOptions = {}): Promise<RetireReport> {
  validateTopicName(topic);
  validateGroupName(group);
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('retireGroup options must be an object, e.g. { deleteDeadLetters: true }');
  const unknown = Object.keys(options).filter((k) => k !== 'deleteDeadLetters');
  if (unknown.length > 0) throw new InvalidOptionError(`unknown retireGroup option ${unknown.map((k) => JSON.stringify(k)).join(', ')}: the only option is deleteDeadLetters`);
  if (options.deleteDeadLetters !== undefined && typeof options.deleteDeadLetters !== 'boolean') {
    throw new InvalidOptionError(`deleteDeadLetters must be true or false, got ${JSON.stringify(options.deleteDeadLetters) ?? String(options.deleteDeadLetters)}`);
  }
  await refusePartitioned(target, topic, 'retireGroup');
  const keys = topicKeys(target.prefix, topic);
  let reply: [string, number, number, number, number, number, number];
  try {
    const mode = await noticeMode(target.redis, target.prefix);
    // The events whose retry the retirement drops: their status loses nextAttemptAt in the same
    // script (1000 status keys per call; a repeat call finds the group retired and only clears).
    const dropped = [...await retryingEvents(target, keys, group)];
    const base = [keys.stream, keys.redeliver(group), keys.retry(group), keys.deadLetters(group), keys.retired, keys.waiters];
    const args = [group, options.deleteDeadLetters ? '1' : '0', keys.done, mode];
    reply = await runScript(target.redis, 'retireGroup', [...base, ...dropped.slice(0, 1000).map((id) => keys.status(id))], args);
    for (let i = 1000; i < dropped.length; i += 1000) {
      await runScript(target.redis, 'retireGroup', [...base, ...dropped.slice(i, i + 1000).map((id) => keys.status(id))], args);
    }
  } catch (err) {
    throw fromRedisError(err, `retire group "${group}" of topic "${topic}"`);
  }
  const [state, at, consumers, pending, retrying, deadLetters, dropped] = reply;
  if (state === 'unknown') {
    const names = (await groupInfos(target.redis, keys.stream)).map((g) => String(g.name)).sort();
    throw new NotFoundError(`group "${group}" not found in topic "${topic}" (nothing was retired); ${names.length === 0 ? 'the topic has no groups' : `groups: ${names.join(', ')}`}`);
  }
  return {
    topic, group, alreadyRetired: state === 'already', retiredAt: new Date(Number(at)),
    consumers: Number(consumers), pending: Number(pending), retrying: Number(retrying),
    deadLetters: Number(deadLetters), deadLettersDeleted: Number(dropped) === 1,
  };
}

/**
 * Event ids with a retry of `group` scheduled: the retry set's members, and the copies of the
 * redelivery stream the group has not read yet (promoted, not started). Paged, 1000 per call.
 */
async function retryingEvents(target: AdminTarget, keys: ReturnType<typeof topicKeys>, group: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let start = 0; ; start += 1000) {
    const members = await target.redis.zrange(keys.retry(group), start, start + 999);
    for (const m of members) {
      try {
        const orig = (JSON.parse(m) as { orig?: unknown }).orig;
        if (typeof orig === 'string' && /^\d+-\d+$/.test(orig)) ids.add(orig);
      } catch { /* not a retry copy: nothing to clear */ }
    }
    if (members.length < 1000) break;
  }
  const row = (await groupInfos(target.redis, keys.redeliver(group)).catch(() => [])).find((g) => g.name === group);
  let from = typeof row?.['last-delivered-id'] === 'string' ? `(${row['last-delivered-id']}` : '-';
  for (;;) {
    const page = (await target.redis.xrange(keys.redeliver(group), from, '+', 'COUNT', 1000)) as Array<[string, string[]]>;
    for (const [, flat] of page) {
      const i = flat.indexOf('orig');
      const orig = i >= 0 && i % 2 === 0 ? flat[i + 1] : undefined;
      if (orig && /^\d+-\d+$/.test(orig)) ids.add(orig);
    }
    if (page.length < 1000) break;
    from = `(${page[page.length - 1]![0]}`;
  }
  return ids;
}

/**
 * Take a group off the retired list (see {@link Streamfan.unretireGroup}). Nothing else is
 * written: the next subscribe creates the group again, at its `startFrom`.
 * @returns true when it was retired, false when it was not
 * @throws PartitionedTopicNotSupportedError for a partitioned topic (none of its groups can be retired)
 */
export async function unretireGroup(target: AdminTarget, topic: string, group: string): Promise<boolean> {
  validateTopicName(topic);
  validateGroupName(group);
  await refusePartitioned(target, topic, 'unretireGroup');
  try {
    return (await target.redis.hdel(topicKeys(target.prefix, topic).retired, group)) === 1;
  } catch (err) {
    throw fromRedisError(err, `un-retire group "${group}" of topic "${topic}"`);
  }
}

/** The retired groups of a topic, with when each was retired. */
export async function retiredGroups(target: AdminTarget, topic: string): Promise<Map<string, Date>> {
  const all = await target.redis.hgetall(topicKeys(target.prefix, topic).retired);
  return new Map(Object.entries(all).map(([g, at]) => [g, new Date(Number(at))]));
}

/** Throw {@link GroupRetiredError} if `group` is retired on `topic`. */
export async function assertNotRetired(target: AdminTarget, topic: string, group: string): Promise<void> {
  const at = await target.redis.hget(topicKeys(target.prefix, topic).retired, group);
  if (at !== null) throw new GroupRetiredError(topic, group, new Date(Number(at)));
}

/**
 * Refuse `operation` on a partitioned topic before anything is written: its groups live on every
 * partition's stream (each in its own slot), with leases a retirement would have to stop in step.
 * Reads the topic's meta record (one HGET), so a topic given by name is refused too.
 */
async function refusePartitioned(target: AdminTarget, topic: string, operation: 'retireGroup' | 'unretireGroup'): Promise<void> {
  let stored: string | null | undefined;
  let lanes: string | null | undefined;
  try {
    [stored, lanes] = await target.redis.hmget(topicMetaKeys(target.prefix, topic).meta, 'partitions', 'lanes');
  } catch (err) {
    throw fromRedisError(err, `${operation}: read the partition count of topic "${topic}"`);
  }
  if (lanes) {
    // A prioritized topic's group lives on every lane's stream: not wired in this version.
    throw new InvalidOptionError(`${operation} is not supported on topics with priority lanes, and topic "${topic}" has [${lanes.split(',').join(', ')}] (nothing was done): ` +
      (operation === 'retireGroup' ? 'stop the group\'s consumers for good instead (close them and do not deploy them again); docs/priorities.md §6' : 'a group of a prioritized topic cannot be retired, so there is nothing to take back'));
  }
  stored ??= null;
  const partitions = Number(stored);
  if (stored === null || !Number.isInteger(partitions) || partitions < 1) return;
  throw new PartitionedTopicNotSupportedError(operation, topic, partitions, operation === 'retireGroup'
    ? 'stop the group\'s consumers for good instead (close them and do not deploy them again); its entries stay pending until trimmed. To drop it entirely, close every consumer, then XGROUP DESTROY the group on each partition\'s stream ({T#0}:stream … in docs/partitions.md) and its redelivery streams'
    : 'a group of a partitioned topic cannot be retired, so there is nothing to take back');
}
