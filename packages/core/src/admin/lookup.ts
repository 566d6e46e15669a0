import { GroupRetiredError, NotFoundError, fromRedisError } from '../errors';
import { topicKeys } from '../keys';
import { listTopics } from '../inspect';
import { validateGroupName, validateTopicName } from '../names';
import { groupInfos } from '../status';
import type { AdminTarget } from './target';

function listed(kind: string, names: string[]): string {
  return names.length === 0 ? `there are no ${kind}` : `${kind}: ${names.join(', ')}`;
}

/**
 * Throw a {@link NotFoundError} that lists the topics under the prefix when `topic` has no
 * stream. Use it before reading a topic, so a typo gets an answer rather than empty output.
 * @returns the topic's group names
 */
export async function requireTopic(target: AdminTarget, topic: string): Promise<string[]> {
  validateTopicName(topic);
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
    const topics = (await listTopics(target.redis, target.prefix)).map((t) => t.topic);
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
