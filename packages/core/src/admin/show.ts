import { fieldMap } from '../consumer/entry';
import { NotFoundError, fromRedisError } from '../errors';
import { topicKeys } from '../keys';
import { validateTopicName } from '../names';
import { DELAYED_ID_PREFIX, FIELD, type Headers } from '../publisher';
import { readDelayedRef } from '../delayed';
import { assertStreamId, readStatus, type GroupStatus } from '../status';
import type { AdminTarget } from './target';

/** One event with its payload, headers and status in every group. */
export interface EventDetails {
  id: string;
  topic: string;
  /** When it was published (from the id), null for a delayed id. */
  publishedAt: Date | null;
  /** Present in the topic stream now. */
  inStream: boolean;
  /** Where the payload was read: the topic stream, a group's dead letters (after a trim), or nowhere. */
  payloadFrom: 'stream' | 'deadLetters' | 'delayed' | null;
  /** Decoded JSON payload; the raw string when it is not JSON; null when unavailable. */
  payload: unknown;
  headers: Headers;
  /** For a delayed event: when it is due. */
  dueAt?: Date;
  /** The delayed id, when it was published with a delay. */
  delayedId?: string;
  groups: Record<string, GroupStatus>;
  /** Partitioned topics: the partition the event is in (its ids are `p<partition>:…`). */
  partition?: number;
  /** Prioritized topics: the event's lane (its ids are `<lane>:…` off the default lane). */
  priority?: string;
}

function decode(data: string | undefined): unknown {
  if (data === undefined) return null;
  try { return JSON.parse(data) as unknown; } catch { return data; }
}

function headersOf(raw: string | undefined): Headers {
  if (!raw) return {};
  try { return JSON.parse(raw) as Headers; } catch { return {}; }
}

/**
 * An event's payload, headers and status in every group (state, attempts, result, error,
 * times). When the entry was trimmed, the payload is read from a dead letter if one holds it.
 * @throws NotFoundError when neither the stream, the status nor the delayed set knows the id
 */
export async function showEvent(target: AdminTarget, topic: string, id: string): Promise<EventDetails> {
  validateTopicName(topic);
  return showEventAt(target, topic, id);
}

/**
 * {@link showEvent} in the stream whose tag is `topic` (a topic's name, or a partition's tag
 * `T#i`, whose keys are built the same way), without checking the name.
 * @internal partitioned topics (partitions/admin-ops.ts)
 */
export async function showEventAt(target: AdminTarget, topic: string, id: string): Promise<EventDetails> {
  const keys = topicKeys(target.prefix, topic);
  try {
    if (id.startsWith(DELAYED_ID_PREFIX)) {
      // O(1): the delayed id's hash holds the data while scheduled, the stream id once promoted.
      const ref = await readDelayedRef(target.redis, keys, id);
      if (ref?.eventId) return { ...(await showEventAt(target, topic, ref.eventId)), delayedId: id };
      if (!ref?.dueAt) throw new NotFoundError(`delayed event ${id} not found in topic "${topic}": never published, or promoted and its record expired (look it up by its stream id)`);
      const status = await readStatus(target.redis, target.prefix, topic, id);
      return { id, topic, publishedAt: null, inStream: false, payloadFrom: 'delayed', payload: decode(ref.payload), headers: headersOf(ref.headers), dueAt: ref.dueAt, delayedId: id, groups: status.groups };
    }
    assertStreamId(id);
    const [status, range, hasStatus] = await Promise.all([
      readStatus(target.redis, target.prefix, topic, id),
      target.redis.xrange(keys.stream, id, id),
      target.redis.exists(keys.status(id)),
    ]);
    const entry = range[0];
    // A plain success (protocol 2) is in a success bucket, not in the status hash.
    if (!entry && hasStatus === 0 && !Object.values(status.groups).some((s) => s.state === 'succeeded')) {
      throw new NotFoundError(`event ${id} not found in topic "${topic}": it is not in the stream and has no status (trimmed and expired, or never published). Ids look like 1700000000000-0; see \`streamfan tail ${topic}\` or \`streamfan pending\``);
    }
    let payload: unknown = null;
    let headers: Headers = {};
    let payloadFrom: EventDetails['payloadFrom'] = null;
    if (entry) {
      const f = fieldMap(entry[1]);
      payload = decode(f.get(FIELD.payload));
      headers = headersOf(f.get(FIELD.headers));
      payloadFrom = 'stream';
    } else {
      for (const [group, s] of Object.entries(status.groups)) {
        if (!s.deadLetterId) continue;
        const dl = (await target.redis.xrange(keys.deadLetters(group), s.deadLetterId, s.deadLetterId))[0];
        if (!dl) continue;
        const f = fieldMap(dl[1]);
        payload = decode(f.get(FIELD.payload));
        headers = headersOf(f.get(FIELD.headers));
        payloadFrom = 'deadLetters';
        break;
      }
    }
    return { id, topic, publishedAt: new Date(Number(id.split('-')[0])), inStream: !!entry, payloadFrom, payload, headers, ...(status.delayedId ? { delayedId: status.delayedId } : {}), groups: status.groups };
  } catch (err) {
    throw fromRedisError(err, `show event ${id} of topic "${topic}"`);
  }
}
