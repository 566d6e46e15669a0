import { GroupRetiredError, NotFoundError, fromRedisError } from '../errors';
import { laneKeys, partitionKeys, topicKeys, topicMetaKeys } from '../keys';
import { listTopics } from '../inspect';
import { validateGroupName, validateTopicName } from '../names';
import { foldPartitionedTopics } from '../partitions/admin';
import { foldLanedTopics } from '../lanes/admin';
import { groupInfos } from '../status';
import { defineTopic, type Topic } from '../topic';
import type { AdminTarget } from './target';

/**
 * The definition of topic `name` as Redis knows it: partitioned (with its partition count, from
 * the meta record written at its creation), prioritized (with its lanes and default lane, from
 * the same record) or neither. For tools that get a topic by name (the CLI),
 * so that each method reads the keys the topic really uses.
 */
export async function lookupTopic(target: AdminTarget, name: string): Promise<Topic<unknown>> {
  validateTopicName(name);
  let stored: string | null | undefined;
  let lanes: string | null | undefined;
  let defaultLane: string | null | undefined;
  try {
    [stored, lanes, defaultLane] = await target.redis.hmget(topicMetaKeys(target.prefix, name).meta, 'partitions', 'lanes', 'defaultLane');
  } catch (err) {
    throw fromRedisError(err, `read topic "${name}"`);
  }
  const partitions = stored == null ? NaN : Number(stored);
  if (Number.isInteger(partitions) && partitions >= 1) return defineTopic(name, { partitions });
  // A prioritized topic's meta hash records its lanes (docs/priorities.md §1).
  if (lanes && defaultLane) return defineTopic(name, { priorities: lanes.split(','), defaultPriority: defaultLane });
  return defineTopic(name);
}

function listed(kind: string, names: string[]): string {
  return names.length === 0 ? `there are no ${kind}` : `${kind}: ${names.join(', ')}`;
}

/**
 * Throw a {@link NotFoundError} that lists the topics under the prefix when `topic` has no
 * stream. Use it before reading a topic, so a typo gets an answer rather than empty output.
 * @returns the topic's group names
 */
export async function requireTopic(target: AdminTarget, topic: string): Promise<string[]> {
  const t = await lookupTopic(target, topic);
  if (t.partitions !== undefined) {
    // A partitioned topic exists once its meta record does; its groups are those of any partition.
    try {
      const per = await Promise.all(Array.from({ length: t.partitions }, (_, i) => groupInfos(target.redis, partitionKeys(target.prefix, topic, i).stream).catch(() => [])));
      return [...new Set(per.flat().map((r) => String(r.name)))];
    } catch (err) {
      throw fromRedisError(err, `read topic "${topic}"`);
    }
  }
  if (t.priorities !== undefined) {
    // A prioritized topic exists once its meta record does; its groups are those of any lane.
    try {
      const per = await Promise.all(t.priorities.map((lane) => groupInfos(target.redis, laneKeys(target.prefix, topic, lane, t.defaultPriority!).stream).catch(() => [])));
      return [...new Set(per.flat().map((r) => String(r.name)))];
    } catch (err) {
      throw fromRedisError(err, `read topic "${topic}"`);
    }
  }
  const keys = topicKeys(target.prefix, topic);
  let exists: number;
  let groups: string[];
  try {
    [exists, groups] = await Promise.all([
      target.redis.exists(keys.stream),
      groupInfos(target.redis, keys.stream).then((g) => g.map((r) => String(r.name))),
    ]);
  } catch (err) {
    throw fromRedisError(err, `read topic "${topic}"`);
  }
  if (exists === 0) {
    const topics = (await foldPartitionedTopics(target.redis, target.prefix, await foldLanedTopics(target.redis, target.prefix, await listTopics(target.redis, target.prefix)))).map((r) => r.topic);
    throw new NotFoundError(`topic "${topic}" not found under prefix "${target.prefix}"; ${listed('topics', topics)}`);
  }
  return groups;
}

/**
 * Throw a {@link NotFoundError} that lists the topic's groups when `group` does not exist
 * (and the one that lists topics when the topic does not). A retired group (see
 * {@link Streamfan.retireGroup}) gets a {@link GroupRetiredError}, unless `allowRetired` (what is
 * left of it, its dead letters, can still be read and purged).
 */
export async function requireGroup(target: AdminTarget, topic: string, group: string, options: { allowRetired?: boolean } = {}): Promise<void> {
  validateGroupName(group);
  const groups = await requireTopic(target, topic);
  if (groups.includes(group)) return;
  const retiredAt = await target.redis.hget(topicKeys(target.prefix, topic).retired, group);
  if (retiredAt !== null) {
    if (options.allowRetired) return;
    throw new GroupRetiredError(topic, group, new Date(Number(retiredAt)));
  }
  throw new NotFoundError(`group "${group}" not found in topic "${topic}"; ${listed('groups', groups.sort())}`);
}
