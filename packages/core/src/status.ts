import type Redis from 'ioredis';
import { compareIds } from './ids';
import { topicKeys } from './keys';
import { fieldMap } from './consumer/entry';
import { readDelayedRef } from './delayed';
import { InvalidIdError } from './errors';
import { DELAYED_ID_PREFIX, FIELD } from './publisher';
import { partitionTag } from './keys';
import { ensureTopicMetaOnce } from './partitions/meta';
import { formatPartitionedId, parsePartitionedId } from './partitions/partitionKeys';
import type { Topic } from './topic';

const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

/** Throw {@link InvalidIdError} unless `id` is a stream id (`1700000000000-0`) or a delayed id. */
export function assertStreamId(id: string): void {
  if (typeof id !== 'string' || (!STREAM_ID.test(id) && !id.startsWith(DELAYED_ID_PREFIX))) {
    throw new InvalidIdError(id);
  }
}

/** Where an event stands in one group. */
export type EventState =
  /** Delayed: not yet in the stream. */
  | 'scheduled'
  /** In the stream, not yet read by this group (or replayed and waiting). */
  | 'pending'
  /** A consumer of this group holds it now. */
  | 'processing'
  | 'succeeded'
  /** The last attempt failed; a retry is scheduled (see nextAttemptAt). */
  | 'failed'
  /** In this group's dead letters. */
  | 'dead'
  /** Trimmed from the stream before this group handled it. */
  | 'lost'
  /** Read and acknowledged, but no status is kept (status expired or tracking off). */
  | 'unknown';

/** The status of one event in one group. */
export interface GroupStatus {
  state: EventState;
  /** Attempts made, reclaims of hung deliveries included. */
  attempts: number;
  /** The handler's return value (JSON), when it succeeded. */
  result?: unknown;
  /** The last error. */
  error?: string;
  /** The consumer that last handled it. */
  consumer?: string;
  updatedAt?: Date;
  finishedAt?: Date;
  nextAttemptAt?: Date;
  deadLetterId?: string;
  /** For `processing`: deliveries so far and idle time, from the pending entries list. */
  deliveries?: number;
  idleMs?: number;
}

/** An event's status in every group of its topic. */
export interface EventStatus {
  /** The id asked for: a stream id, or a delayed id (`delayed-…`). */
  id: string;
  /** The event's stream id; undefined while a delayed event waits to be promoted. */
  eventId?: string;
  /** The delayed id, when the event was published with a delay (from either id). */
  delayedId?: string;
  topic: string;
  /** Present in the topic stream now (false once trimmed, or while delayed). */
  inStream: boolean;
  /** For a delayed event: when it is due. */
  dueAt?: Date;
  /** Partitioned topics: the event's partition (ids are then `p<partition>:…`). */
  partition?: number;
  groups: Record<string, GroupStatus>;
}

const FINAL: ReadonlySet<EventState> = new Set(['succeeded', 'dead', 'lost']);

/** True for states after which nothing more happens to the event in that group. */
export function isFinalState(state: EventState): boolean {
  return FINAL.has(state);
}

function parseHash(hash: Record<string, string>): Record<string, GroupStatus> {
  const groups: Record<string, Record<string, string>> = {};
  for (const [field, value] of Object.entries(hash)) {
    const cut = field.lastIndexOf(':');
    if (cut <= 0) continue;
    const g = field.slice(0, cut);
    (groups[g] ??= {})[field.slice(cut + 1)] = value;
  }
  const out: Record<string, GroupStatus> = {};
  const date = (v: string | undefined) => (v ? new Date(Number(v)) : undefined);
  for (const [g, f] of Object.entries(groups)) {
    let result: unknown;
    if (f.result) {
      try { result = JSON.parse(f.result); } catch { result = f.result; }
    }
    const s: GroupStatus = { state: (f.state as EventState) ?? 'unknown', attempts: Number(f.attempts ?? 0) };
    if (result !== undefined) s.result = result;
    if (f.error) s.error = f.error;
    if (f.consumer) s.consumer = f.consumer;
    if (f.updatedAt) s.updatedAt = date(f.updatedAt);
    if (f.finishedAt) s.finishedAt = date(f.finishedAt);
    else if (s.state === 'succeeded' && f.updatedAt) s.finishedAt = date(f.updatedAt); // not stored on success: it equals updatedAt
    if (f.nextAttemptAt && s.state === 'failed') s.nextAttemptAt = date(f.nextAttemptAt);
    if (f.deadLetterId) s.deadLetterId = f.deadLetterId;
    out[g] = s;
  }
  return out;
}

/** Parse XINFO GROUPS rows (flat arrays) into objects. */
export function parseInfoRows(rows: unknown[]): Array<Record<string, unknown>> {
  return rows.map((row) => {
    const flat = row as unknown[];
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
    return o;
  });
}

/**
 * Read an event's status in every group. Groups without a record are filled from the
 * pending entries list (processing, with owner and deliveries) and the group's position
 * (pending when not yet read).
 */
export async function readStatus(redis: Redis, prefix: string, topic: string, id: string): Promise<EventStatus> {
  const keys = topicKeys(prefix, topic);
  if (id.startsWith(DELAYED_ID_PREFIX)) {
    // O(1) both ways: the delayed id's hash holds its due time, then its stream id.
    const ref = await readDelayedRef(redis, keys, id);
    if (ref?.eventId) return { ...(await readStatus(redis, prefix, topic, ref.eventId)), id, delayedId: id };
    const groups: Record<string, GroupStatus> = {};
    if (!ref?.dueAt) return { id, topic, inStream: false, delayedId: id, groups };
    for (const g of await groupInfos(redis, keys.stream)) groups[String(g.name)] = { state: 'scheduled', attempts: 0 };
    return { id, topic, inStream: false, delayedId: id, dueAt: ref.dueAt, groups };
  }
  assertStreamId(id);
  const [hash, range, infos] = await Promise.all([
    redis.hgetall(keys.status(id)),
    redis.xrange(keys.stream, id, id),
    groupInfos(redis, keys.stream),
  ]);
  const groups = parseHash(hash);
  const missing = infos.filter((g) => !groups[String(g.name)]);
  if (missing.length > 0) {
    const p = redis.pipeline();
    for (const g of missing) p.xpending(keys.stream, String(g.name), id, id, 1);
    const res = (await p.exec()) ?? [];
    missing.forEach((g, i) => {
      const rows = (res[i]?.[1] ?? []) as Array<[string, string, number, number]>;
      const row = rows[0];
      if (row) {
        groups[String(g.name)] = { state: 'processing', attempts: Number(row[3]), consumer: row[1], deliveries: Number(row[3]), idleMs: Number(row[2]) };
      } else if (compareIds(id, String(g['last-delivered-id'])) > 0) {
        groups[String(g.name)] = { state: 'pending', attempts: 0 };
      } else {
        groups[String(g.name)] = { state: 'unknown', attempts: 0 };
      }
    });
  }
  if (Object.values(groups).some((g) => g.state === 'unknown')) {
    // The reads above are not one snapshot: an ack may have landed between the hash read and
    // XPENDING. Its status is in the hash now.
    const again = parseHash(await redis.hgetall(keys.status(id)));
    for (const [g, s] of Object.entries(again)) if (groups[g]?.state === 'unknown') groups[g] = s;
  }
  const delayedId = range[0] ? fieldMap(range[0][1]).get(FIELD.delayed) : undefined;
  return { id, eventId: id, ...(delayedId ? { delayedId } : {}), topic, inStream: range.length > 0, groups };
}

/** XINFO GROUPS as objects; [] when the stream does not exist. */
export async function groupInfos(redis: Redis, stream: string): Promise<Array<Record<string, unknown>>> {
  try {
    return parseInfoRows((await redis.xinfo('GROUPS', stream)) as unknown[]);
  } catch (err) {
    if (/no such key/i.test((err as Error).message)) return [];
    throw err;
  }
}

/**
 * Where a public id of `topic` lives: for a partitioned topic, its partition's tag and the id
 * inside the partition (`p3:1700000000000-0` → `T#3`, `1700000000000-0`); else the topic and id.
 * @throws InvalidPartitionedIdError (an InvalidIdError) for an id a partitioned topic cannot have
 */
export function locateId(topic: Topic<unknown>, id: string): { home: string; localId: string; partition?: number } {
  if (topic.partitions === undefined) return { home: topic.name, localId: id };
  const { partition, localId } = parsePartitionedId(id, topic.name, topic.partitions);
  return { home: partitionTag(topic.name, partition), localId, partition };
}

/** A status read in a partition, with its ids made public again (`p<i>:…`). */
export function publicStatus(s: EventStatus, topic: string, id: string, partition: number | undefined): EventStatus {
  if (partition === undefined) return s;
  const out: EventStatus = { ...s, id, topic, partition };
  if (s.eventId !== undefined) out.eventId = formatPartitionedId(partition, s.eventId);
  if (s.delayedId !== undefined) out.delayedId = formatPartitionedId(partition, s.delayedId);
  return out;
}

/**
 * {@link readStatus} by a topic definition: a partitioned topic's ids are `p<i>:…` and the
 * status is read in that partition (its count checked once against Redis).
 */
export async function readTopicStatus(redis: Redis, prefix: string, topic: Topic<unknown>, id: string): Promise<EventStatus> {
  const at = locateId(topic, id);
  if (at.partition === undefined) return readStatus(redis, prefix, topic.name, id);
  await ensureTopicMetaOnce(redis, prefix, topic.name, topic.partitions!);
  return publicStatus(await readStatus(redis, prefix, at.home, at.localId), topic.name, id, at.partition);
}
