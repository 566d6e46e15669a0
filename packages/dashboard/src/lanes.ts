// The pages of a prioritized topic (docs/priorities.md): its topic page and group page merge
// its lanes, as a partitioned topic's merge its partitions. Each lane is a stream of its own
// (home `T+L`; the default lane's keys are the topic's, `T`), read with the same bounded reads
// as any stream; ids shown on the merged pages are lane ids (`high:<id>`, plain in the default lane).
import type Redis from 'ioredis';
import { FIELD, InvalidOptionError, NotFoundError, StreamfanError, defineTopic, formatLaneId, lanedPendingPage, parseLaneId, readLanes, topicKeys, validateGroupName, type PendingPage, type StoredLanes, type Topic } from '@streamfan/core/internal';
import { deadLetterPage, readStreams, retryPage, statusMatrix, sumGroups, type ConsumerRow, type DeadLetterRow, type DelayedRow, type GroupRow, type RecentEvent, type RetryRow, type StreamRef, type StreamRow } from './queries';
import { batch, compareIds, fields, idMs, preview, rowObject, run } from './redis-reads';

/** One lane of a prioritized topic as the dashboard reads it. */
export interface LaneRef extends StreamRef {
  lane: string;
  /** Whether it is the topic's default lane (its keys are the topic's). */
  default: boolean;
  /** The lane's own pages: `<topic>+<lane>`, also for the default lane. */
  view: string;
}

/** The lanes of topic `topic` (highest first) as stream refs: the default lane's keys are the topic's. */
export function laneRefs(topic: string, meta: StoredLanes): LaneRef[] {
  return meta.lanes.map((lane) => (lane === meta.defaultLane
    ? { home: topic, topic, lane, default: true, view: `${topic}+${lane}` }
    : { home: `${topic}+${lane}`, topic, lane, default: false, view: `${topic}+${lane}` }));
}

/** The topic as core's lane-aware admin takes it. */
export function lanedTopic(topic: string, meta: StoredLanes): Topic<unknown> {
  return defineTopic(topic, { priorities: meta.lanes, defaultPriority: meta.defaultLane });
}

/**
 * A lane's page given as `<topic>+<lane>` (a URL home): the lane's keys (the topic's for the
 * default lane), checked against the topic's meta hash (one HMGET).
 * @throws NotFoundError when the topic is not prioritized or has no such lane
 */
export async function resolveLane(redis: Redis, prefix: string, ref: StreamRef): Promise<StreamRef> {
  if (ref.lane === undefined) return ref;
  const meta = await readLanes(redis, prefix, ref.topic);
  if (!meta) throw new NotFoundError(`"${ref.home}" is not a lane: topic "${ref.topic}" has no priority lanes`);
  const lane = laneRefs(ref.topic, meta).find((l) => l.lane === ref.lane);
  if (!lane) throw new NotFoundError(`topic "${ref.topic}" has no lane "${ref.lane}"; its lanes: ${meta.lanes.join(', ')} (highest first)`);
  return lane;
}

/** Split an event id of a prioritized topic: its lane's ref and the id in the lane's stream. */
export function splitLaneEventId(topic: string, meta: StoredLanes, id: string): { ref: LaneRef; local: string } {
  let parsed: { lane: string; localId: string };
  try {
    parsed = parseLaneId(id, lanedTopic(topic, meta));
  } catch {
    throw new StreamfanError('INVALID_ID', `${JSON.stringify(id)} is not an event id of topic "${topic}" (lanes ${meta.lanes.join(', ')}): high:1700000000000-0 in a lane, plain in the default lane ${meta.defaultLane}`);
  }
  return { ref: laneRefs(topic, meta).find((l) => l.lane === parsed.lane)!, local: parsed.localId };
}

/** One lane's row on a merged page. */
export interface LaneRow {
  lane: string;
  /** The lane's own page (`<topic>+<lane>`). */
  home: string;
  default: boolean;
  length: number;
  delayed: number;
  firstId: string | null;
  lastId: string | null;
  groups: GroupRow[];
}

function laneRow(l: LaneRef, r: StreamRow): LaneRow {
  return { lane: l.lane, home: l.view, default: l.default, length: r.length, delayed: r.delayed, firstId: r.firstId, lastId: r.lastId, groups: r.groups };
}

/**
 * The topic page of a prioritized topic: the groups summed over its lanes, one row per lane, and
 * the newest events of every lane merged (lane ids, with their lane in `priority`) with their
 * status in each group, and the delayed events due next of every lane. Bounded: `limit` entries
 * per lane (at most 8 lanes); each lane's own page pages back through its stream.
 */
export async function lanedTopicPage(redis: Redis, prefix: string, topic: string, meta: StoredLanes, limit: number): Promise<unknown> {
  const refs = laneRefs(topic, meta);
  const { now, rows } = await readStreams(redis, prefix, refs);
  const groups = sumGroups(rows.map((r) => r.groups));
  const recent: Array<RecentEvent & { priority: string; localId: string }> = [];
  const delayed: Array<DelayedRow & { priority: string }> = [];
  await Promise.all(refs.map(async (l, i) => {
    const keys = topicKeys(prefix, l.home);
    const [entries, due] = await Promise.all([redis.xrevrange(keys.stream, '+', '-', 'COUNT', limit), redis.zrange(keys.delayed, 0, 9, 'WITHSCORES')]);
    const matrix = await statusMatrix(redis, keys, rows[i]!.groups, entries.map((e) => e[0]));
    for (const [id, flat] of entries) {
      recent.push({ id: formatLaneId(l.lane, id, meta.defaultLane), localId: id, priority: l.lane, publishedAt: idMs(id), preview: preview(fields(flat).get(FIELD.payload)), status: matrix[id] ?? {} });
    }
    const p = batch(redis);
    const pairs: Array<[string, number]> = [];
    for (let j = 0; j + 1 < due.length; j += 2) { pairs.push([due[j]!, Number(due[j + 1])]); p.hget(keys.delayedRef(due[j]!), FIELD.payload); }
    const res = pairs.length ? await run(p) : [];
    pairs.forEach(([m, at], j) => delayed.push({ delayedId: m.startsWith('{') ? '(legacy entry)' : formatLaneId(l.lane, m, meta.defaultLane), dueAt: at, preview: preview((res[j]!.value as string | null) ?? ''), priority: l.lane }));
  }));
  recent.sort((a, b) => compareIds(b.localId, a.localId) || meta.lanes.indexOf(a.priority) - meta.lanes.indexOf(b.priority));
  delayed.sort((a, b) => a.dueAt - b.dueAt);
  return {
    kind: 'laned', topic, home: topic, lanes: refs.map((l, i) => laneRow(l, rows[i]!)), defaultLane: meta.defaultLane, now,
    length: rows.reduce((n, r) => n + r.length, 0), delayed: rows.reduce((n, r) => n + r.delayed, 0),
    groups, recent: recent.slice(0, limit).map(({ localId: _l, ...e }) => e), delayedNext: delayed.slice(0, 10),
  };
}

/**
 * The group page of a prioritized topic: the group summed over its lanes, one row per lane,
 * consumers over every lane, the first page of pending entries (core's lane-aware page: highest
 * lane first, `next` a lane id), retries due soonest and dead letters (highest lane first) of
 * every lane, with lane ids and `priority`.
 */
export async function lanedGroupPage(redis: Redis, prefix: string, topic: string, meta: StoredLanes, group: string, limit: number): Promise<unknown> {
  validateGroupName(group);
  const refs = laneRefs(topic, meta);
  const { now, rows } = await readStreams(redis, prefix, refs);
  const per = refs.map((l, i) => ({ l, row: rows[i]!, group: rows[i]!.groups.find((g) => g.group === group) ?? null }));
  if (per.every((p) => p.group === null)) {
    const names = [...new Set(rows.flatMap((r) => r.groups.map((g) => g.group)))].sort();
    throw new NotFoundError(`group "${group}" not found in topic "${topic}" (lanes ${meta.lanes.join(', ')}); ${names.length ? `groups: ${names.join(', ')}` : 'the topic has no groups'}`);
  }
  const summed = sumGroups(per.map((p) => (p.group ? [p.group] : [])))[0]!;
  const live = per.filter((p) => p.group !== null);
  // Consumers: XINFO CONSUMERS of both streams of every lane, by name.
  const p = batch(redis);
  for (const x of live) {
    const k = topicKeys(prefix, x.l.home);
    p.xinfo('CONSUMERS', k.stream, group);
    p.xinfo('CONSUMERS', k.redeliver(group), group);
  }
  const res = await run(p);
  const byName = new Map<string, ConsumerRow & { lanes: string[] }>();
  live.forEach((x, i) => {
    for (const r of [res[2 * i]!, res[2 * i + 1]!]) {
      if (r.err) continue;
      for (const c of (r.value as unknown[]).map(rowObject)) {
        const name = String(c.name);
        const row = byName.get(name) ?? { name, pending: 0, idleMs: Number.MAX_SAFE_INTEGER, inactiveMs: null, lanes: [] };
        row.pending += Number(c.pending ?? 0);
        row.idleMs = Math.min(row.idleMs, Number(c.idle ?? 0));
        if (c.inactive !== undefined && Number(c.inactive) >= 0) row.inactiveMs = row.inactiveMs === null ? Number(c.inactive) : Math.min(row.inactiveMs, Number(c.inactive));
        if (!row.lanes.includes(x.l.lane)) row.lanes.push(x.l.lane);
        byName.set(name, row);
      }
    }
  });
  const [pending, retryPages, dead] = await Promise.all([
    summed.retired ? { entries: [], next: null } : lanedPendingRows(redis, prefix, topic, meta, group, { limit }),
    Promise.all(live.map((x) => retryPage(redis, prefix, x.l, group, { limit, offset: 0 }))),
    lanedDeadLetterPage(redis, prefix, topic, meta, group, { limit }),
  ]);
  const retries: Array<RetryRow & { priority: string }> = live.flatMap((x, i) => (retryPages[i]?.entries ?? []).map((e) => ({ ...e, eventId: e.eventId ? formatLaneId(x.l.lane, e.eventId, meta.defaultLane) : e.eventId, priority: x.l.lane })))
    .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt).slice(0, limit);
  return {
    kind: 'laned', topic, home: topic, defaultLane: meta.defaultLane, now, group: summed,
    lanes: per.map((x) => ({ lane: x.l.lane, home: x.l.view, default: x.l.default, length: x.row.length, group: x.group })),
    consumers: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)),
    pending,
    retries: { total: summed.retrying, entries: retries, next: null },
    deadLetters: dead,
  };
}

/** A page of a group's pending entries over every lane (core's `lanedPendingPage`): highest lane first; `after` and `next` are lane ids. */
export async function lanedPendingRows(redis: Redis, prefix: string, topic: string, meta: StoredLanes, group: string, o: { limit: number; after?: string }): Promise<PendingPage> {
  validateGroupName(group);
  return lanedPendingPage({ redis, prefix }, lanedTopic(topic, meta), group, { limit: o.limit, ...(o.after ? { after: o.after } : {}) });
}

/**
 * A page of a group's dead letters over every lane: highest lane first, then oldest first (XRANGE
 * with COUNT in each lane, from the lane of `after`); ids are lane ids, with `priority`; `total`
 * sums each lane's XLEN.
 */
export async function lanedDeadLetterPage(redis: Redis, prefix: string, topic: string, meta: StoredLanes, group: string, o: { limit: number; after?: string }): Promise<{ total: number; entries: Array<DeadLetterRow & { priority: string }>; next: string | null }> {
  const refs = laneRefs(topic, meta);
  let start = 0;
  let after: string | undefined;
  if (o.after !== undefined) {
    let parsed: { lane: string; localId: string };
    try { parsed = parseLaneId(o.after, lanedTopic(topic, meta)); } catch {
      throw new InvalidOptionError(`after must be a dead-letter id of topic "${topic}" like high:1700000000000-0 (the next of the previous page), got ${JSON.stringify(o.after)}`);
    }
    start = refs.findIndex((l) => l.lane === parsed.lane);
    after = parsed.localId;
  }
  const totals = await Promise.all(refs.map((l) => redis.xlen(topicKeys(prefix, l.home).deadLetters(group))));
  const entries: Array<DeadLetterRow & { priority: string }> = [];
  let next: string | null = null;
  for (let i = start; i < refs.length && entries.length < o.limit; i++) {
    const l = refs[i]!;
    const page = await deadLetterPage(redis, prefix, l, group, { limit: o.limit - entries.length, ...(i === start && after ? { after } : {}) });
    const pub = (id: string) => formatLaneId(l.lane, id, meta.defaultLane);
    entries.push(...page.entries.map((e) => ({ ...e, deadLetterId: pub(e.deadLetterId), eventId: e.eventId ? pub(e.eventId) : e.eventId, priority: l.lane })));
    if (page.next !== null) { next = entries[entries.length - 1]!.deadLetterId; break; }
  }
  // A full page may end exactly at a lane's end: the next page then starts in the lanes below (and may be empty).
  if (next === null && entries.length >= o.limit && entries.length > 0) next = entries[entries.length - 1]!.deadLetterId;
  return { total: totals.reduce((a, b) => a + b, 0), entries, next };
}
