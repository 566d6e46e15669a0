import type Redis from 'ioredis';
import { compareIds } from './ids';
import { topicKeys, type TopicKeys } from './keys';
import { runScript } from './scripts/runner';
import { findRecord, recordFromReply, recordToken, type SuccessRecord } from './status-records';
import { fieldMap } from './consumer/entry';
import { readDelayedRef } from './delayed';
import { InvalidIdError } from './errors';
import { DELAYED_ID_PREFIX, FIELD } from './publisher';
import { laneHome, partitionTag } from './keys';
import { formatLaneId, parseLaneId } from './lanes/ids';
import { ensureLanesOnce } from './lanes/meta';
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
  /**
   * Older than the group's `skipOlderThanMs` when read: acknowledged without running the handler.
   * Final (waitFor resolves with it), and not a success.
   */
  | 'skipped'
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
  /**
   * The consumer that last handled it. Not recorded for a plain success (the handler returned
   * nothing; protocol 2 keeps those as compact records without it) nor for a skip
   * (`skipOlderThanMs`, a compact record too): absent then.
   */
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
  /** Prioritized topics: the event's lane (a non-default lane's ids are then `<lane>:…`). */
  priority?: string;
  groups: Record<string, GroupStatus>;
}

const FINAL: ReadonlySet<EventState> = new Set(['succeeded', 'dead', 'lost', 'skipped']);

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
  const names = infos.map((g) => String(g.name));
  // Protocol 2: a plain success is a record in the group's success bucket, not in the hash.
  // Asked for every group whose hash holds no final state (a retry's processing or failed may
  // have been followed by a plain success); the groups the hash does not name at all are also
  // looked up in the pending entries list, in parallel.
  const ask = names.filter((g) => !groups[g] || !isFinalState(groups[g]!.state));
  const missing = infos.filter((g) => !groups[String(g.name)]);
  const p = redis.pipeline();
  for (const g of missing) p.xpending(keys.stream, String(g.name), id, id, 1);
  const [records, res] = await Promise.all([
    readSuccessRecords(redis, keys, id, ask),
    missing.length > 0 ? p.exec().then((r) => r ?? []) : Promise.resolve([]),
  ]);
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
  mergeSuccessRecords(groups, parseHash(hash), records);
  const unknown = Object.keys(groups).filter((g) => groups[g]!.state === 'unknown');
  if (unknown.length > 0) {
    // The reads above are not one snapshot: an ack may have landed between the status reads and
    // XPENDING. Its status is in the hash or the bucket now.
    const [again, late] = await Promise.all([redis.hgetall(keys.status(id)), readSuccessRecords(redis, keys, id, unknown)]);
    const fresh = parseHash(again);
    for (const [g, s] of Object.entries(fresh)) if (groups[g]?.state === 'unknown') groups[g] = s;
    mergeSuccessRecords(groups, fresh, late);
  }
  const delayedId = range[0] ? fieldMap(range[0][1]).get(FIELD.delayed) : undefined;
  return { id, eventId: id, ...(delayedId ? { delayedId } : {}), topic, inStream: range.length > 0, groups };
}

/**
 * Protocol 2 success (or skip) records of event `id` in `groups` (one bucket per group, searched
 * server-side by the readStatus script: only the record crosses the network).
 * @returns group → record, for the groups whose bucket holds one
 */
export async function readSuccessRecords(redis: Redis, keys: TopicKeys, id: string, groups: readonly string[]): Promise<Map<string, SuccessRecord>> {
  const out = new Map<string, SuccessRecord>();
  if (groups.length === 0) return out;
  const { second, token } = recordToken(id);
  const reply = await runScript<Array<number | string>>(redis, 'readStatus', groups.map((g) => keys.ok(g, second)), [token, '1']);
  groups.forEach((g, i) => {
    const r = recordFromReply(second, reply[3 * i], reply[3 * i + 1], reply[3 * i + 2]);
    if (r) out.set(g, r);
  });
  return out;
}

/**
 * Success records (protocol 2) of a page of events in several groups, for listings that show
 * many statuses at once (the dashboard's recent events): one GET per distinct group and second
 * of the ids, searched here. Bounded by the page: at most ids × groups GETs, usually groups ×
 * the seconds the page spans.
 * @returns event id → group → record, for the (event, group) pairs that have one
 */
export async function readSuccessMatrix(redis: Redis, keys: TopicKeys, ids: readonly string[], groups: readonly string[]): Promise<Map<string, Map<string, SuccessRecord>>> {
  const out = new Map<string, Map<string, SuccessRecord>>();
  if (ids.length === 0 || groups.length === 0) return out;
  const tokens = ids.map((id) => recordToken(id));
  const seconds = [...new Set(tokens.map((t) => t.second))];
  const p = redis.pipeline();
  for (const g of groups) for (const sec of seconds) p.get(keys.ok(g, sec));
  const replies = (await p.exec()) ?? [];
  groups.forEach((g, gi) => {
    const buckets = new Map<number, string>();
    seconds.forEach((sec, si) => {
      const [err, v] = replies[gi * seconds.length + si] ?? [];
      if (!err && typeof v === 'string') buckets.set(sec, v);
    });
    ids.forEach((id, i) => {
      const t = tokens[i]!;
      const bucket = buckets.get(t.second);
      const r = bucket === undefined ? undefined : findRecord(bucket, t.second, t.token);
      if (!r) return;
      let row = out.get(id);
      if (!row) out.set(id, (row = new Map()));
      row.set(g, r);
    });
  });
  return out;
}

/** States after which a recovery sweep must not take an entry back (see {@link settledInGroup}). */
const SETTLED_FOR_SWEEP: ReadonlySet<string> = new Set(['succeeded', 'dead', 'lost', 'skipped', 'failed']);

/**
 * Of `ids` (topic entry ids, which are their event ids), those whose status in `group` says the
 * group is done with that entry: succeeded (in the status hash, or a success record of protocol
 * 2), dead, lost, skipped, or failed with its retry scheduled. An id whose status could not be read counts
 * as settled (a sweep must not take back what it cannot judge). Work: one HGET per id and one GET
 * per distinct second of the ids (their success buckets), in one pipeline.
 */
export async function settledInGroup(redis: Redis, keys: TopicKeys, group: string, ids: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  if (ids.length === 0) return out;
  const tokens = ids.map((id) => recordToken(id));
  const seconds = [...new Set(tokens.map((t) => t.second))];
  const p = redis.pipeline();
  for (const id of ids) p.hget(keys.status(id), `${group}:state`);
  for (const sec of seconds) p.get(keys.ok(group, sec));
  const replies = (await p.exec()) ?? [];
  const buckets = new Map<number, string>();
  seconds.forEach((sec, i) => {
    const [err, v] = replies[ids.length + i] ?? [];
    if (!err && typeof v === 'string') buckets.set(sec, v);
  });
  ids.forEach((id, i) => {
    const [err, state] = replies[i] ?? [new Error('no reply')];
    if (err || SETTLED_FOR_SWEEP.has(String(state))) { out.add(id); return; }
    const bucket = buckets.get(tokens[i]!.second);
    if (bucket !== undefined && findRecord(bucket, tokens[i]!.second, tokens[i]!.token)) out.add(id);
  });
  return out;
}

/**
 * Put success records over what the hash says: a success is final, so it wins over the hash's
 * `processing`, `failed` or `pending` (written before the retry that succeeded), and over
 * anything else the hash wrote before it. The hash's `error` (the last failed attempt's) stays,
 * as it does after a success written to the hash; `consumer` is not recorded for a plain success.
 * A skip record (skipOlderThanMs) is merged the same way, as state `skipped`.
 */
export function mergeSuccessRecords(groups: Record<string, GroupStatus>, hash: Record<string, GroupStatus>, records: ReadonlyMap<string, SuccessRecord>): void {
  for (const [g, r] of records) {
    const h = hash[g];
    const at = r.finishedAt !== undefined ? new Date(r.finishedAt) : undefined;
    if (h && isFinalState(h.state) && (at === undefined || (h.updatedAt !== undefined && h.updatedAt.getTime() > at.getTime()))) continue;
    const s: GroupStatus = { state: r.skipped ? 'skipped' : 'succeeded', attempts: Math.max(r.attempts, h?.attempts ?? 0) };
    if (h?.error) s.error = h.error;
    if (at) { s.updatedAt = at; s.finishedAt = at; }
    groups[g] = s;
  }
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
 * inside the partition (`p3:1700000000000-0` → `T#3`, `1700000000000-0`); for a prioritized
 * topic, its lane's home and the id inside the lane (`high:1700000000000-0` → `T+high`, …; a
 * plain id is the default lane's, whose home is `T`); else the topic and id.
 * @throws InvalidPartitionedIdError / InvalidLaneIdError (InvalidIdErrors) for an id the topic cannot have
 */
export function locateId(topic: Topic<unknown>, id: string): { home: string; localId: string; partition?: number; lane?: string } {
  if (topic.priorities !== undefined) {
    const { lane, localId } = parseLaneId(id, topic);
    return { home: laneHome(topic.name, lane, topic.defaultPriority!), localId, lane };
  }
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

/** A status read in a lane, with its ids made public again (`<lane>:…` off the default lane) and the lane in `priority`. */
export function publicLaneStatus(s: EventStatus, topic: Topic<unknown>, id: string, lane: string): EventStatus {
  const def = topic.defaultPriority!;
  const out: EventStatus = { ...s, id, topic: topic.name, priority: lane };
  if (s.eventId !== undefined) out.eventId = formatLaneId(lane, s.eventId, def);
  if (s.delayedId !== undefined) out.delayedId = formatLaneId(lane, s.delayedId, def);
  return out;
}

/**
 * {@link readStatus} by a topic definition: a partitioned topic's ids are `p<i>:…` and the
 * status is read in that partition (its count checked once against Redis); a prioritized
 * topic's are read in their lane (its lanes checked once).
 */
export async function readTopicStatus(redis: Redis, prefix: string, topic: Topic<unknown>, id: string): Promise<EventStatus> {
  const at = locateId(topic, id);
  if (at.lane !== undefined) {
    await ensureLanesOnce(redis, prefix, topic);
    return publicLaneStatus(await readStatus(redis, prefix, at.home, at.localId), topic, id, at.lane);
  }
  if (at.partition === undefined) return readStatus(redis, prefix, topic.name, id);
  await ensureTopicMetaOnce(redis, prefix, topic.name, topic.partitions!);
  return publicStatus(await readStatus(redis, prefix, at.home, at.localId), topic.name, id, at.partition);
}
