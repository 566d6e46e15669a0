import type Redis from 'ioredis';
import { readLanes } from '@streamfan/core/internal';
import { readStreams, sumGroups, type GroupRow, type StreamDirectory, type StreamRow } from './queries';

/** Samples kept per series: with a 2 s interval, the last minute. */
const KEEP = 31;

/**
 * Rates from periodic samples of monotonic counters (entries added to a stream, deliveries a
 * group settled, dead letters added): per-second differences between consecutive samples, so
 * the charts need no counter of their own in Redis.
 */
export class RateSampler {
  private readonly series = new Map<string, Array<{ t: number; v: number }>>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Record one value of a counter (null: the server does not count it; the series stays empty). */
  add(key: string, value: number | null, t = this.now()): void {
    if (value === null) return;
    let s = this.series.get(key);
    if (!s) { s = []; this.series.set(key, s); }
    const last = s[s.length - 1];
    if (last && t - last.t < 250) return; // two pages asking at once: one sample
    s.push({ t, v: value });
    if (s.length > KEEP) s.splice(0, s.length - KEEP);
  }

  /** Per-second rates between consecutive samples, oldest first (never negative: a purge is not a rate). */
  rates(key: string): number[] {
    const s = this.series.get(key) ?? [];
    const out: number[] = [];
    for (let i = 1; i < s.length; i++) out.push(Math.max(0, ((s[i]!.v - s[i - 1]!.v) * 1000) / (s[i]!.t - s[i - 1]!.t)));
    return out;
  }
}

/** A group on the overview, with its live rates. */
export interface OverviewGroup extends GroupRow {
  /** Deliveries settled per second (acked: succeeded, retried or dead-lettered), per sample. */
  processedRate: number[];
  /** Dead letters added per second, per sample. */
  deadRate: number[];
}

/** A topic on the overview. */
export interface OverviewTopic {
  topic: string;
  /** Partition count for a partitioned topic, else null. */
  partitions: number | null;
  length: number;
  delayed: number;
  firstId: string | null;
  lastId: string | null;
  publishRate: number[];
  groups: OverviewGroup[];
  /** A partitioned topic's partitions, each with its groups. */
  parts?: StreamRow[];
  /**
   * A prioritized topic's lanes, highest first (the topic's counts and groups are summed over
   * them): each lane's home (its page), stream length and, per group, its backlog in the lane.
   */
  lanes?: OverviewLane[];
}

/** One priority lane of a topic on the overview. */
export interface OverviewLane {
  lane: string;
  /** The lane's own page, `<topic>+<lane>` (the default lane's too: the topic's page merges every lane). */
  home: string;
  default: boolean;
  length: number;
  groups: Array<{ group: string; lag: number | null; pending: number }>;
}

/** Every topic under the prefix with its groups and rates; each call also records one sample. */
export async function overview(redis: Redis, prefix: string, dir: StreamDirectory, sampler: RateSampler): Promise<{ prefix: string; now: number; topics: OverviewTopic[]; discovering: boolean }> {
  const refs = await dir.list();
  const { now, rows } = await readStreams(redis, prefix, refs);
  const byTopic = new Map<string, StreamRow[]>();
  for (const r of rows) {
    const list = byTopic.get(r.topic) ?? [];
    list.push(r);
    byTopic.set(r.topic, list);
  }
  const topics: OverviewTopic[] = [];
  for (const [topic, list] of byTopic) {
    const partitioned = list.some((r) => r.partition !== undefined);
    // A prioritized topic: its lanes' streams (one HGET of the meta hash for their order and default lane).
    const meta = list.some((r) => r.lane !== undefined) ? await readLanes(redis, prefix, topic) : undefined;
    const laned = meta !== undefined;
    const groups = partitioned || laned ? sumGroups(list.map((r) => r.groups)) : list[0]!.groups;
    const added = list.reduce((n, r) => n + r.addedTotal, 0);
    sampler.add(`pub\n${topic}`, added);
    for (const g of groups) {
      sampler.add(`done\n${topic}\n${g.group}`, g.settledTotal);
      sampler.add(`dead\n${topic}\n${g.group}`, g.deadTotal);
    }
    const firsts = list.map((r) => r.firstId).filter((x): x is string => x !== null);
    const lasts = list.map((r) => r.lastId).filter((x): x is string => x !== null);
    topics.push({
      topic,
      partitions: partitioned ? list.length : null,
      length: list.reduce((n, r) => n + r.length, 0),
      delayed: list.reduce((n, r) => n + r.delayed, 0),
      firstId: partitioned || laned ? null : (firsts[0] ?? null),
      lastId: partitioned || laned ? null : (lasts[0] ?? null),
      publishRate: sampler.rates(`pub\n${topic}`),
      groups: groups.map((g) => ({ ...g, processedRate: sampler.rates(`done\n${topic}\n${g.group}`), deadRate: sampler.rates(`dead\n${topic}\n${g.group}`) })),
      ...(partitioned ? { parts: list } : {}),
      ...(meta ? { lanes: laneRows(topic, meta, list) } : {}),
    });
  }
  // discovering: the keyspace has not been gone round yet (millions of keys), topics may be missing.
  return { prefix, now, topics, discovering: !dir.complete };
}

/** A prioritized topic's lanes in the meta hash's order (highest first); a lane without a stream yet shows empty. */
function laneRows(topic: string, meta: { lanes: readonly string[]; defaultLane: string }, list: readonly StreamRow[]): OverviewLane[] {
  return meta.lanes.map((lane) => {
    const isDefault = lane === meta.defaultLane;
    const row = list.find((r) => (isDefault ? r.lane === undefined : r.lane === lane));
    return {
      lane,
      home: `${topic}+${lane}`,
      default: isDefault,
      length: row?.length ?? 0,
      groups: (row?.groups ?? []).filter((g) => !g.retired).map((g) => ({ group: g.group, lag: g.lag, pending: g.pending })),
    };
  });
}
