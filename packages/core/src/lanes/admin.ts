/**
 * Inspection of prioritized topics (docs/priorities.md §6): the per-stream functions run on each
 * lane (a lane is, for key names, a topic whose home is `T+L`), and their answers are summed,
 * with the per-lane rows kept and ids made public (`<lane>:…` off the default lane).
 */
import type Redis from 'ioredis';
import { compareIds } from '../ids';
import { listGroups, type GroupInfo, type LaneGroupRow, type TopicInfo } from '../inspect';
import { laneHome, parseLaneHome, PARTITION_SEPARATOR, topicKeys } from '../keys';
import type { TopicRow } from '../partitions/admin';
import { readLanes } from './meta';
import type { Topic } from '../topic';
import { formatLaneId } from './ids';

/** The lanes of a prioritized topic with their homes, highest first. */
export function lanesOf(topic: Topic<unknown>): Array<{ lane: string; home: string; index: number }> {
  const def = topic.defaultPriority!;
  return topic.priorities!.map((lane, index) => ({ lane, home: laneHome(topic.name, lane, def), index }));
}

/**
 * Every group of a prioritized topic: one row per group, its counts summed over the lanes, with
 * `lanes` (highest first; only the lanes where the group exists) holding each lane's lag,
 * pending, retries, dead letters and stream length.
 */
export async function listLanedGroups(redis: Redis, prefix: string, topic: Topic<unknown>): Promise<GroupInfo[]> {
  const def = topic.defaultPriority!;
  const lanes = lanesOf(topic);
  const per = await Promise.all(lanes.map(async (l) => {
    const [groups, length] = await Promise.all([listGroups(redis, prefix, l.home), redis.xlen(topicKeys(prefix, l.home).stream)]);
    return { ...l, groups, length };
  }));
  const names = [...new Set(per.flatMap((p) => p.groups.map((g) => g.group)))].sort();
  return names.map((group) => {
    const rows: Array<LaneGroupRow & { g: GroupInfo }> = [];
    for (const p of per) {
      const g = p.groups.find((x) => x.group === group);
      if (!g) continue;
      rows.push({
        lane: p.lane, lag: g.lag, ...(g.lagIsLowerBound ? { lagIsLowerBound: true as const } : {}), pending: g.pending, retrying: g.retrying,
        deadLetters: g.deadLetters, length: p.length, oldestPendingIdleMs: g.oldestPendingIdleMs,
        oldestPendingId: g.oldestPendingId === null ? null : formatLaneId(p.lane, g.oldestPendingId, def), g,
      });
    }
    const oldest = rows.filter((r) => r.oldestPendingIdleMs !== null).sort((a, b) => b.oldestPendingIdleMs! - a.oldestPendingIdleMs!)[0];
    const base = rows.find((r) => r.lane === def)?.g ?? rows[0]!.g;
    const info: GroupInfo = {
      group,
      consumers: Math.max(0, ...rows.map((r) => r.g.consumers)),
      pending: rows.reduce((n, r) => n + r.pending, 0),
      lag: rows.some((r) => r.lag === null) ? null : rows.reduce((n, r) => n + r.lag!, 0),
      lastDeliveredId: base.lastDeliveredId,
      oldestPendingIdleMs: oldest?.oldestPendingIdleMs ?? null,
      oldestPendingId: oldest?.oldestPendingId ?? null,
      retrying: rows.reduce((n, r) => n + r.retrying, 0),
      deadLetters: rows.reduce((n, r) => n + r.deadLetters, 0),
      lanes: rows.map(({ g: _g, ...r }) => r),
    };
    if (rows.some((r) => r.lagIsLowerBound)) info.lagIsLowerBound = true;
    if (rows.every((r) => r.g.retired)) { info.retired = true; if (base.retiredAt) info.retiredAt = base.retiredAt; }
    return info;
  });
}

/**
 * Fold the lane streams a listing found (`T+L` rows) and the default lanes (`T` rows) of
 * prioritized topics into one row per topic: lengths and delayed counts summed, groups the most
 * any lane has, first and last ids over the lanes (lane ids), and `lanes`, `defaultLane`,
 * `laneLengths` from the topic's meta hash (one HMGET per topic listed). Other rows pass unchanged.
 */
export async function foldLanedTopics(redis: Redis, prefix: string, rows: TopicInfo[]): Promise<TopicRow[]> {
  const lanesByTopic = new Map<string, Map<string, TopicInfo>>();
  const plain = new Map<string, TopicInfo>();
  const other: TopicInfo[] = [];
  for (const r of rows) {
    const h = parseLaneHome(r.topic);
    if (h) {
      const m = lanesByTopic.get(h.topic) ?? new Map<string, TopicInfo>();
      m.set(h.lane, r);
      lanesByTopic.set(h.topic, m);
    } else if (r.topic.includes(PARTITION_SEPARATOR)) other.push(r);
    else plain.set(r.topic, r);
  }
  const names = [...new Set([...plain.keys(), ...lanesByTopic.keys()])];
  const stored = await Promise.all(names.map((n) => readLanes(redis, prefix, n).catch(() => undefined)));
  const out: TopicRow[] = [...other];
  names.forEach((name, i) => {
    const s = stored[i];
    const found = lanesByTopic.get(name);
    if (!s && !found) { out.push(plain.get(name)!); return; }
    const lanes = s?.lanes ?? [...found!.keys()].sort();
    const def = s?.defaultLane ?? '';
    const row = (lane: string): TopicInfo | undefined => (lane === def ? plain.get(name) : found?.get(lane));
    const parts = lanes.map((lane) => ({ lane, r: row(lane) })).filter((x): x is { lane: string; r: TopicInfo } => x.r !== undefined);
    const ends = (pick: (r: TopicInfo) => string | null, later: boolean) => {
      const list = parts.filter((p) => pick(p.r) !== null).sort((a, b) => compareIds(pick(a.r)!, pick(b.r)!));
      const p = later ? list.at(-1) : list[0];
      return p ? formatLaneId(p.lane, pick(p.r)!, def) : null;
    };
    out.push({
      topic: name,
      length: parts.reduce((n, p) => n + p.r.length, 0),
      firstId: ends((r) => r.firstId, false),
      lastId: ends((r) => r.lastId, true),
      groups: Math.max(0, ...parts.map((p) => p.r.groups)),
      delayed: parts.reduce((n, p) => n + p.r.delayed, 0),
      lanes,
      ...(def ? { defaultLane: def } : {}),
      laneLengths: lanes.map((lane) => row(lane)?.length ?? 0),
    });
  });
  return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
}
