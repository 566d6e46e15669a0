import { GroupRetiredError, InvalidOptionError, NotFoundError, fromRedisError } from '../errors';
import type { StoredLanes } from '../lanes/meta';
import { groupInfos } from '../status';
import { laneKeys, partitionKeys, topicKeys, topicMetaKeys, type TopicKeys } from '../keys';
import { validateGroupName, validateTopicName } from '../names';
import { noticeMode } from '../notice';
import { runScript } from '../scripts/runner';
import { knownGroupsKey, recoveringKey } from '../retention/known-groups';
import type { AdminTarget } from './target';
import { partitionRetiredKeys, retirePartitioned } from './retire-partitions';

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
  /**
   * A prioritized topic (docs/priorities.md §6): what the retirement did in each lane, highest
   * first. The counts above are their sums (`consumers` the most any lane had), `retiredAt` the
   * default lane's and `alreadyRetired` true only when every lane was retired before.
   */
  lanes?: Array<StreamRetirement & { lane: string }>;
  /**
   * A partitioned topic (docs/partitions.md §12): what the retirement did on each partition, in
   * order. The counts above are their sums, except `consumers`: the group's live consumers (its
   * member set, as {@link Streamfan.groups} counts them). `retiredAt` is the earliest partition's
   * (the first retirement's, kept by a repeat call); `alreadyRetired` is true only when every
   * partition was listed retired before this call; a row's `alreadyRetired` says the partition
   * was (a repeat call after a retirement cut short still destroys what is left there).
   */
  partitions?: Array<StreamRetirement & { partition: number }>;
}

/**
 * Retire a group for good (see {@link Streamfan.retireGroup}): one script destroys it on both
 * streams, drops its redelivery stream and retry set (and, when asked, its dead letters) and
 * lists it as retired, so no subscriber recreates it. On a prioritized topic, one script per
 * lane (retireLanes); on a partitioned topic, listed retired on every partition first, then one
 * script per partition ({@link retirePartitioned}: a call cut short is finished by calling again).
 * @throws NotFoundError when the topic has no such group and never had it retired (nothing is
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
  const layout = await readLayout(target, topic, 'retireGroup');
  if (layout?.partitions) {
    return retirePartitioned(target, topic, group, options, layout.partitions, (keys, extra, context) => retireOn(target, keys, group, options, context, extra));
  }
  if (layout?.lanes) return retireLanes(target, topic, group, options, layout.lanes);
  const keys = topicKeys(target.prefix, topic);
  const reply = await retireOn(target, keys, group, options, `retire group "${group}" of topic "${topic}"`);
  if (reply[0] === 'unknown') {
    const names = (await groupInfos(target.redis, keys.stream)).map((g) => String(g.name)).sort();
    throw notFound(topic, group, names);
  }
  return { topic, group, ...fromReply(reply) };
}

/** The retireGroup script's reply: state, retired at, consumers, pending, retrying, dead letters, deleted. */
export type RetireReply = [string, number, number, number, number, number, number];

/** What one stream's retirement did (a {@link RetireReport} without its topic and group). */
export type StreamRetirement = Omit<RetireReport, 'topic' | 'group' | 'lanes' | 'partitions'>;

function fromReply(reply: RetireReply): StreamRetirement {
  const [state, at, consumers, pending, retrying, deadLetters, dropped] = reply;
  return {
    alreadyRetired: state === 'already', retiredAt: new Date(Number(at)),
    consumers: Number(consumers), pending: Number(pending), retrying: Number(retrying),
    deadLetters: Number(deadLetters), deadLettersDeleted: Number(dropped) === 1,
  };
}

function notFound(topic: string, group: string, names: string[]): NotFoundError {
  return new NotFoundError(`group "${group}" not found in topic "${topic}" (nothing was retired); ${names.length === 0 ? 'the topic has no groups' : `groups: ${names.join(', ')}`}`);
}

/**
 * Retire `group` on one stream's keys (a topic's, or a lane's): the retireGroup script, atomic,
 * after reading the events whose retry it drops (1000 status keys per call; a repeat call finds
 * the group retired and only clears). `extra`: more events whose retry it drops (an ordered
 * group's held back in place).
 */
async function retireOn(target: AdminTarget, keys: TopicKeys, group: string, options: RetireOptions, context: string, extra: string[] = []): Promise<RetireReply> {
  try {
    const mode = await noticeMode(target.redis, target.prefix);
    const dropped = [...new Set([...await retryingEvents(target, keys, group), ...extra])];
    const base = [keys.stream, keys.redeliver(group), keys.retry(group), keys.deadLetters(group), keys.retired, keys.waiters];
    const args = [group, options.deleteDeadLetters ? '1' : '0', keys.done, mode];
    const reply = await runScript<RetireReply>(target.redis, 'retireGroup', [...base, ...dropped.slice(0, 1000).map((id) => keys.status(id))], args);
    for (let i = 1000; i < dropped.length; i += 1000) {
      await runScript(target.redis, 'retireGroup', [...base, ...dropped.slice(i, i + 1000).map((id) => keys.status(id))], args);
    }
    return reply;
  } catch (err) {
    throw fromRedisError(err, context);
  }
}

/**
 * Retire `group` of a prioritized topic in every lane (docs/priorities.md §6): the retireGroup
 * script on each lane's keys, highest lane first, each atomic as on a plain topic. A lane where
 * the group is unknown (never created there) while another lane has it is listed as retired too
 * (HSETNX of the first lane's time, then the script again, which destroys a group created there
 * meanwhile), so no subscriber creates it in any lane. Counts are summed; `retiredAt` is the
 * default lane's (what `groups()` shows); `alreadyRetired` when every lane was.
 */
async function retireLanes(target: AdminTarget, topic: string, group: string, options: RetireOptions, stored: StoredLanes): Promise<RetireReport> {
  const lanes = stored.lanes.map((lane) => ({ lane, keys: laneKeys(target.prefix, topic, lane, stored.defaultLane) }));
  const replies: RetireReply[] = [];
  for (const l of lanes) replies.push(await retireOn(target, l.keys, group, options, `retire group "${group}" of topic "${topic}" (lane ${l.lane})`));
  const known = replies.find((r) => r[0] !== 'unknown');
  if (!known) {
    const names = new Set<string>();
    for (const l of lanes) for (const g of await groupInfos(target.redis, l.keys.stream)) names.add(String(g.name));
    throw notFound(topic, group, [...names].sort());
  }
  for (let i = 0; i < lanes.length; i++) {
    if (replies[i]![0] !== 'unknown') continue;
    const l = lanes[i]!;
    try {
      await target.redis.hsetnx(l.keys.retired, group, String(known[1]));
    } catch (err) {
      throw fromRedisError(err, `retire group "${group}" of topic "${topic}" (lane ${l.lane})`);
    }
    const again = await retireOn(target, l.keys, group, options, `retire group "${group}" of topic "${topic}" (lane ${l.lane})`);
    replies[i] = ['retired', again[1], again[2], again[3], again[4], again[5], again[6]]; // listed by this call
  }
  const rows = replies.map((r, i) => ({ lane: lanes[i]!.lane, ...fromReply(r) }));
  const sum = (pick: (r: StreamRetirement) => number) => rows.reduce((n, r) => n + pick(r), 0);
  const def = rows.find((r) => r.lane === stored.defaultLane) ?? rows[0]!;
  return {
    topic, group, alreadyRetired: rows.every((r) => r.alreadyRetired), retiredAt: def.retiredAt,
    consumers: Math.max(...rows.map((r) => r.consumers)), pending: sum((r) => r.pending), retrying: sum((r) => r.retrying),
    deadLetters: sum((r) => r.deadLetters), deadLettersDeleted: rows.some((r) => r.deadLettersDeleted),
    lanes: rows,
  };
}

/**
 * Event ids with a retry of `group` scheduled: the retry set's members, and the copies of the
 * redelivery stream the group has not read yet (promoted, not started). Paged, 1000 per call.
 */
async function retryingEvents(target: AdminTarget, keys: TopicKeys, group: string): Promise<Set<string>> {
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
 * Take a group off the retired list (see {@link Streamfan.unretireGroup}), and forget what a
 * recovery had recorded of the retired group (its recreated bound, known-groups member and
 * recovering marker: script unretireGroup-4), so the next subscribe creates the group again at
 * its `startFrom`, not where the retired one was. A prioritized topic's group is taken off every
 * lane's list, a partitioned topic's off every partition's (one script each; a call cut short
 * is finished by calling again).
 * @returns true when it was retired (on any lane or partition), false when it was not
 */
export async function unretireGroup(target: AdminTarget, topic: string, group: string): Promise<boolean> {
  validateTopicName(topic);
  validateGroupName(group);
  const layout = await readLayout(target, topic, 'unretireGroup');
  const lanes = layout?.lanes;
  const keySets: TopicKeys[] = layout?.partitions
    ? Array.from({ length: layout.partitions }, (_, i) => partitionKeys(target.prefix, topic, i))
    : lanes
      ? lanes.lanes.map((lane) => laneKeys(target.prefix, topic, lane, lanes.defaultLane))
      : [topicKeys(target.prefix, topic)];
  try {
    // A group of a prioritized or partitioned topic is retired on every lane or partition: taken
    // off every list (a call cut short is finished by calling again).
    let was = false;
    for (const keys of keySets) {
      const scriptKeys = [keys.retired, keys.recreated(group), knownGroupsKey(keys.stream)!, recoveringKey(keys.stream)!];
      if ((await runScript<number>(target.redis, 'unretireGroup', scriptKeys, [group])) === 1) was = true;
    }
    return was;
  } catch (err) {
    throw fromRedisError(err, `un-retire group "${group}" of topic "${topic}"`);
  }
}

/**
 * The retired groups of a topic, with when each was retired. On a prioritized topic, the groups
 * retired in any lane (retireGroup retires a group in every lane), on a partitioned topic in any
 * partition, with the earliest time.
 */
export async function retiredGroups(target: AdminTarget, topic: string): Promise<Map<string, Date>> {
  const layout = await readLayout(target, topic, 'retiredGroups');
  const stored = layout?.lanes;
  const keys = layout?.partitions ? partitionRetiredKeys(target.prefix, topic, layout.partitions)
    : stored ? stored.lanes.map((lane) => laneKeys(target.prefix, topic, lane, stored.defaultLane).retired)
      : [topicKeys(target.prefix, topic).retired];
  const out = new Map<string, Date>();
  for (const key of keys) {
    for (const [g, at] of Object.entries(await target.redis.hgetall(key))) {
      const d = new Date(Number(at));
      const seen = out.get(g);
      if (!seen || d < seen) out.set(g, d);
    }
  }
  return out;
}

/** Throw {@link GroupRetiredError} if `group` is retired on `topic`. */
export async function assertNotRetired(target: AdminTarget, topic: string, group: string): Promise<void> {
  const at = await target.redis.hget(topicKeys(target.prefix, topic).retired, group);
  if (at !== null) throw new GroupRetiredError(topic, group, new Date(Number(at)));
}

/**
 * How a topic is laid out, from its meta record (one HMGET, so a topic given by name is read
 * too): a prioritized topic's lanes (its group lives on every lane's stream, all in the topic's
 * hash tag), a partitioned topic's partition count (its group lives on every partition's stream,
 * each in its own slot), or undefined for a plain topic.
 */
async function readLayout(target: AdminTarget, topic: string, operation: string): Promise<{ lanes?: StoredLanes; partitions?: number } | undefined> {
  let stored: string | null | undefined;
  let lanes: string | null | undefined;
  let defaultLane: string | null | undefined;
  try {
    [stored, lanes, defaultLane] = await target.redis.hmget(topicMetaKeys(target.prefix, topic).meta, 'partitions', 'lanes', 'defaultLane');
  } catch (err) {
    throw fromRedisError(err, `${operation}: read the layout of topic "${topic}"`);
  }
  if (lanes && defaultLane) return { lanes: { lanes: lanes.split(','), defaultLane } };
  const partitions = Number(stored ?? NaN);
  return Number.isInteger(partitions) && partitions >= 1 ? { partitions } : undefined;
}
