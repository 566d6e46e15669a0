import type Redis from 'ioredis';
import { compareIds } from './ids';
import { clusterMasters } from './connection';
import { countLag, streamEnds, type CountedLag } from './lag';
import { classifyStreamKey, laneAwareScanPattern, LANE_SEPARATOR, topicFromStreamKey, topicKeys } from './keys';
import { groupInfos, parseInfoRows } from './status';

/** A topic under a prefix, as `streamfan topics` shows it. */
export interface TopicInfo {
  topic: string;
  length: number;
  firstId: string | null;
  lastId: string | null;
  groups: number;
  delayed: number;
}

/** One consumer group of a topic. */
export interface GroupInfo {
  group: string;
  consumers: number;
  /** Entries delivered and not yet acknowledged (topic stream and redelivery stream). */
  pending: number;
  /**
   * Entries not yet delivered to this group (topic stream and redelivery stream). From XINFO
   * GROUPS where the server reports it; else (Redis 6.2, or `lag` nil after deletions) counted
   * from the group's last-delivered id, at most 10,000 per stream: see {@link lagIsLowerBound}.
   */
  lag: number | null;
  /** Present (true) when more entries were unread than were counted: {@link lag} is "at least". */
  lagIsLowerBound?: true;
  lastDeliveredId: string;
  /** Age of the oldest pending entry in ms (idle time of that delivery), or null. */
  oldestPendingIdleMs: number | null;
  oldestPendingId: string | null;
  /** Retries waiting for their backoff. */
  retrying: number;
  deadLetters: number;
  /**
   * Present (true) for a group retired for good (see {@link Streamfan.retireGroup}): it no
   * longer exists on the stream; its counts are 0 except `deadLetters` (kept unless deleted).
   */
  retired?: true;
  /** When it was retired (server time), for a retired group. */
  retiredAt?: Date;
  /**
   * Prioritized topics: the group in each lane, highest first (the row's counts are their sums;
   * docs/priorities.md §6).
   */
  lanes?: LaneGroupRow[];
}

/** One lane of a group of a prioritized topic ({@link GroupInfo.lanes}). */
export interface LaneGroupRow {
  /** The lane's name. */
  lane: string;
  /** Entries of the lane not yet delivered to the group (its stream and redelivery stream); null when unknown. */
  lag: number | null;
  /** Present (true) when the lane's lag is a lower bound (see {@link GroupInfo.lagIsLowerBound}). */
  lagIsLowerBound?: true;
  /** Entries of the lane delivered and not yet acknowledged. */
  pending: number;
  /** The lane's retries waiting for their backoff. */
  retrying: number;
  /** The group's dead letters of this lane. */
  deadLetters: number;
  /** The lane stream's length. */
  length: number;
  /** Age of the lane's oldest pending entry in ms, or null. */
  oldestPendingIdleMs: number | null;
  /** The lane's oldest pending entry (a lane id: `<lane>:…`, plain in the default lane), or null. */
  oldestPendingId: string | null;
}

/** One consumer of a group. */
export interface ConsumerInfo {
  name: string;
  pending: number;
  idleMs: number;
  /** Ms since its last successful read or claim (Redis 7.2+), else null. */
  inactiveMs: number | null;
}

/** One pending entry (delivered, not acknowledged). */
export interface PendingEntry {
  id: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
  /** Which stream holds it: the topic, or the group's redelivery stream (retries, replays). */
  source: 'topic' | 'redelivery';
  /** Prioritized topics: the entry's lane (`id` is then a lane id). */
  priority?: string;
}

/** Every topic stream under a prefix (SCAN, never KEYS): partitions as `T#i`, lanes as `T+L` rows (see foldPartitionedTopics, foldLanedTopics). */
export async function listTopics(redis: Redis, prefix: string): Promise<TopicInfo[]> {
  const names = new Set<string>();
  // SCAN is per node: on a cluster, scan every master.
  const nodes: Redis[] = clusterMasters(redis) ?? [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      // One pass finds topic, partition and lane streams (`{T}:lane:L:stream`, listed as `T+L`:
      // folded into their topic's row by foldLanedTopics); other keys ending in `stream` are skipped.
      const [next, batch] = await node.scan(cursor, 'MATCH', laneAwareScanPattern(prefix), 'COUNT', 1000, 'TYPE', 'stream');
      cursor = next;
      for (const k of batch) {
        const c = classifyStreamKey(prefix, k);
        if (c?.lane !== undefined) { names.add(`${c.topic}${LANE_SEPARATOR}${c.lane}`); continue; }
        const t = topicFromStreamKey(prefix, k);
        if (t !== undefined && k.endsWith('}:stream')) names.add(t);
      }
    } while (cursor !== '0');
  }
  const topics = [...names].sort();
  // Topics live in different hash slots, so no pipeline (a cluster refuses cross-slot ones);
  // concurrent commands on one connection are pipelined on the wire anyway.
  return Promise.all(topics.map(async (topic) => {
    const k = topicKeys(prefix, topic);
    const [rawInfo, delayed] = await Promise.all([redis.xinfo('STREAM', k.stream), redis.zcard(k.delayed)]);
    const info = parseInfoRows([rawInfo])[0] ?? {};
    const first = info['first-entry'] as [string] | null | undefined;
    const last = info['last-entry'] as [string] | null | undefined;
    return {
      topic,
      length: Number(info.length ?? 0),
      firstId: first?.[0] ?? null,
      lastId: last?.[0] ?? null,
      groups: Number(info.groups ?? 0),
      delayed: Number(delayed),
    };
  }));
}

/** Every group of a topic with lag, pending, consumers and dead letters, in few round trips. */
export async function listGroups(redis: Redis, prefix: string, topic: string): Promise<GroupInfo[]> {
  const keys = topicKeys(prefix, topic);
  const [infos, retired] = await Promise.all([groupInfos(redis, keys.stream), redis.hgetall(keys.retired)]);
  const out = infos.length === 0 ? [] : await liveGroups(redis, keys, infos);
  for (const g of out) {
    const at = retired[g.group];
    if (at !== undefined) Object.assign(g, { retired: true, retiredAt: new Date(Number(at)) }); // recreated by hand after it was retired
  }
  const gone = Object.keys(retired).filter((name) => !out.some((g) => g.group === name)).sort();
  if (gone.length > 0) {
    const p = redis.pipeline();
    for (const name of gone) p.xlen(keys.deadLetters(name));
    const res = (await p.exec()) ?? [];
    gone.forEach((name, i) => out.push({
      group: name, consumers: 0, pending: 0, lag: null, lastDeliveredId: '', oldestPendingIdleMs: null, oldestPendingId: null,
      retrying: 0, deadLetters: Number(res[i]?.[1] ?? 0), retired: true, retiredAt: new Date(Number(retired[name])),
    }));
  }
  return out;
}

async function liveGroups(redis: Redis, keys: ReturnType<typeof topicKeys>, infos: Array<Record<string, unknown>>): Promise<GroupInfo[]> {
  const p = redis.pipeline();
  for (const g of infos) {
    const name = String(g.name);
    p.xpending(keys.stream, name, 'IDLE', 0, '-', '+', 1);
    p.xinfo('GROUPS', keys.redeliver(name));
    p.zcard(keys.retry(name));
    p.xlen(keys.deadLetters(name));
  }
  p.xinfo('STREAM', keys.stream);
  const res = (await p.exec()) ?? [];
  // Redis 7.0 counts lag as entries added minus entries read, so entries trimmed before a
  // group read them stay in its lag forever: a group that has read up to the stream's last
  // id has no lag, whatever that counter says.
  const streamInfo = parseInfoRows([res[4 * infos.length]?.[1] ?? []])[0] ?? {};
  const lastGenerated = String(streamInfo['last-generated-id'] ?? '');
  const ends = streamEnds(streamInfo);
  const out: GroupInfo[] = [];
  for (let i = 0; i < infos.length; i++) {
    const g = infos[i]!;
    const name = String(g.name);
    const oldest = ((res[4 * i]?.[1] ?? []) as Array<[string, string, number, number]>)[0];
    const redeliverInfo = res[4 * i + 1]?.[0] ? [] : parseInfoRows((res[4 * i + 1]?.[1] ?? []) as unknown[]);
    const rd = redeliverInfo.find((r) => r.name === name);
    const caughtUp = lastGenerated !== '' && String(g['last-delivered-id']) === lastGenerated;
    const topicLag: CountedLag = caughtUp
      ? { lag: 0, lowerBound: false }
      : hasLag(g) ? { lag: Number(g.lag), lowerBound: false } : await countLag(redis, keys.stream, String(g['last-delivered-id']), ends);
    const redeliverLag: CountedLag = !rd
      ? { lag: 0, lowerBound: false }
      : hasLag(rd) ? { lag: Number(rd.lag), lowerBound: false } : await redeliveryLag(redis, keys.redeliver(name), String(rd['last-delivered-id']));
    out.push({
      group: name,
      consumers: Number(g.consumers ?? 0),
      pending: Number(g.pending ?? 0) + Number(rd?.pending ?? 0),
      lag: topicLag.lag + redeliverLag.lag,
      ...(topicLag.lowerBound || redeliverLag.lowerBound ? { lagIsLowerBound: true as const } : {}),
      lastDeliveredId: String(g['last-delivered-id']),
      oldestPendingIdleMs: oldest ? Number(oldest[2]) : null,
      oldestPendingId: oldest ? oldest[0] : null,
      retrying: Number(res[4 * i + 2]?.[1] ?? 0),
      deadLetters: Number(res[4 * i + 3]?.[1] ?? 0),
    });
  }
  return out;
}

/** XINFO GROUPS reported a lag (Redis 7.0+, and not nil). */
function hasLag(g: Record<string, unknown>): boolean {
  return g.lag !== undefined && g.lag !== null;
}

/** Lag of a group's redelivery stream where XINFO does not report it. */
async function redeliveryLag(redis: Redis, stream: string, lastDelivered: string): Promise<CountedLag> {
  let info: Record<string, unknown>;
  try {
    info = parseInfoRows([await redis.xinfo('STREAM', stream)])[0] ?? {};
  } catch (err) {
    if (/no such key/i.test((err as Error).message)) return { lag: 0, lowerBound: false };
    throw err;
  }
  return countLag(redis, stream, lastDelivered, streamEnds(info));
}

/** Consumers of a group (topic stream), with pending counts and idle times. */
export async function listConsumers(redis: Redis, prefix: string, topic: string, group: string): Promise<ConsumerInfo[]> {
  const keys = topicKeys(prefix, topic);
  const rows = parseInfoRows((await redis.xinfo('CONSUMERS', keys.stream, group)) as unknown[]);
  let extra: Array<Record<string, unknown>> = [];
  try { extra = parseInfoRows((await redis.xinfo('CONSUMERS', keys.redeliver(group), group)) as unknown[]); } catch { extra = []; }
  return rows.map((r) => {
    const x = extra.find((e) => e.name === r.name);
    return {
      name: String(r.name),
      pending: Number(r.pending ?? 0) + Number(x?.pending ?? 0),
      idleMs: Number(r.idle ?? 0),
      inactiveMs: r.inactive === undefined || Number(r.inactive) < 0 ? null : Number(r.inactive),
    };
  });
}

/** Options of {@link Streamfan.pending}. */
export interface PendingQuery {
  consumer?: string;
  minIdleMs?: number;
  /** Page size. @defaultValue 100 */
  limit?: number;
  /** Start after this id (exclusive), for paging. */
  after?: string;
  source?: 'topic' | 'redelivery';
}

/** One page of pending entries, oldest first (XPENDING extended form; never loads them all). */
export async function listPending(redis: Redis, prefix: string, topic: string, group: string, q: PendingQuery = {}): Promise<PendingEntry[]> {
  const keys = topicKeys(prefix, topic);
  const source = q.source ?? 'topic';
  const stream = source === 'topic' ? keys.stream : keys.redeliver(group);
  const args: (string | number)[] = [];
  if (q.minIdleMs) args.push('IDLE', q.minIdleMs);
  args.push(q.after ? `(${q.after}` : '-', '+', q.limit ?? 100);
  if (q.consumer) args.push(q.consumer);
  const rows = (await (redis.xpending as (...a: unknown[]) => Promise<unknown>)(stream, group, ...args)) as Array<[string, string, number, number]>;
  return rows.map((r) => ({ id: r[0], consumer: r[1], idleMs: Number(r[2]), deliveries: Number(r[3]), source })).sort((a, b) => compareIds(a.id, b.id));
}
