/**
 * Inspection of prioritized topics (docs/priorities.md §6): the per-stream functions run on each
 * lane (a lane is, for key names, a topic whose home is `T+L`), and their answers are summed,
 * with the per-lane rows kept and ids made public (`<lane>:…` off the default lane).
 */
import type Redis from 'ioredis';
import { listGroups, type GroupInfo, type LaneGroupRow } from '../inspect';
import { laneHome, topicKeys } from '../keys';
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
