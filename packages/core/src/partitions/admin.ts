/**
 * Inspection and retention of partitioned topics: the unpartitioned functions run on each
 * partition (a partition is, for key names, a topic whose tag is `T#i`), and their answers are
 * summed, with the per-partition rows kept and ids made public (`p<i>:…`).
 */
import type Redis from 'ioredis';
import { countDeadLetters, listDeadLetters, purgeDeadLetters, replayDeadLetters, type DeadLetter, type DeadLetterSelection } from '../dead-letters';
import { assertNotRetired } from '../admin/retire';
import { InvalidOptionError } from '../errors';
import { compareIds } from '../ids';
import { listGroups, listPending, type GroupInfo, type PendingEntry, type PendingQuery, type TopicInfo } from '../inspect';
import { parsePartitionTag, partitionKeys, partitionTag, topicMetaKeys } from '../keys';
import { trimTopic, type TrimOptions, type TrimReport } from '../retention';
import { readLeases } from './leases';
import { runScript } from '../scripts/runner';
import { partitionForKey, validatePartitionKey } from './hash';
import { ensureTopicMetaOnce } from './meta';
import { formatPartitionedId } from './partitionKeys';
import type { Topic } from '../topic';

/** One partition's row of a group of a partitioned topic. */
export interface PartitionGroupRow extends GroupInfo {
  partition: number;
  /** The lease holder (`<consumer>/<incarnation>`), when the partition is held now. */
  owner?: string;
  /** The lease's fencing token (0: never taken). */
  token: number;
}

/** A group of a partitioned topic: counts summed over partitions, and one row per partition. */
export interface PartitionedGroupInfo extends GroupInfo {
  /** Live consumers of the group (its member set), not a sum over partitions. */
  consumers: number;
  partitions: PartitionGroupRow[];
  /** Partitions of the group no live consumer holds now. */
  unowned: number[];
}

/** Every group of a partitioned topic, summed over its partitions (see {@link PartitionedGroupInfo}). */
export async function listPartitionedGroups(redis: Redis, prefix: string, topic: string, partitions: number): Promise<PartitionedGroupInfo[]> {
  await ensureTopicMetaOnce(redis, prefix, topic, partitions);
  const keys = Array.from({ length: partitions }, (_, i) => partitionKeys(prefix, topic, i));
  const perPartition = await Promise.all(keys.map((k) => listGroups(redis, prefix, k.topic)));
  const names = [...new Set(perPartition.flat().map((g) => g.group))].sort();
  const [sec] = (await redis.time()) as unknown as [string, string];
  const now = Number(sec) * 1000;
  return Promise.all(names.map(async (group) => {
    const [leases, members] = await Promise.all([readLeases(redis, keys, group), redis.zcount(topicMetaKeys(prefix, topic).consumers(group), now, '+inf')]);
    const rows: PartitionGroupRow[] = [];
    perPartition.forEach((list, i) => {
      const g = list.find((x) => x.group === group);
      if (!g) return;
      const l = leases[i]!;
      const held = l.owner !== undefined && l.until >= now;
      rows.push({
        ...g, partition: i, token: l.token, ...(held ? { owner: l.owner } : {}),
        oldestPendingId: g.oldestPendingId === null ? null : formatPartitionedId(i, g.oldestPendingId),
        lastDeliveredId: /^\d+-\d+$/.test(g.lastDeliveredId) ? formatPartitionedId(i, g.lastDeliveredId) : g.lastDeliveredId,
      });
    });
    const oldest = rows.filter((r) => r.oldestPendingIdleMs !== null).sort((a, b) => b.oldestPendingIdleMs! - a.oldestPendingIdleMs!)[0];
    const info: PartitionedGroupInfo = {
      group,
      consumers: members,
      pending: rows.reduce((n, r) => n + r.pending, 0),
      lag: rows.some((r) => r.lag === null) ? null : rows.reduce((n, r) => n + r.lag!, 0),
      lastDeliveredId: '',
      oldestPendingIdleMs: oldest?.oldestPendingIdleMs ?? null,
      oldestPendingId: oldest?.oldestPendingId ?? null,
      retrying: rows.reduce((n, r) => n + r.retrying, 0),
      deadLetters: rows.reduce((n, r) => n + r.deadLetters, 0),
      partitions: rows,
      unowned: rows.filter((r) => r.owner === undefined).map((r) => r.partition),
    };
    if (rows.some((r) => r.lagIsLowerBound)) info.lagIsLowerBound = true;
    if (rows.length > 0 && rows.every((r) => r.retired)) info.retired = true;
    return info;
  }));
}

/** A trim of a partitioned topic: summed, with each partition's report. */
export interface PartitionedTrimReport extends TrimReport {
  partitions: Array<TrimReport & { partition: number }>;
}

/** Trim every partition of a topic (each safely, as {@link trimTopic}); one report summed over them. */
export async function trimPartitioned(redis: Redis, prefix: string, topic: string, partitions: number, options: TrimOptions, statusTtlSeconds: number): Promise<PartitionedTrimReport> {
  await ensureTopicMetaOnce(redis, prefix, topic, partitions);
  const reports: Array<TrimReport & { partition: number }> = [];
  // One partition at a time: each is a bounded run of scripts, and they may share a node.
  for (let i = 0; i < partitions; i++) reports.push({ ...(await trimTopic(redis, prefix, partitionTag(topic, i), options, statusTtlSeconds)), partition: i });
  const lostByGroup: Record<string, number> = {};
  for (const r of reports) for (const [g, n] of Object.entries(r.lostByGroup)) lostByGroup[g] = (lostByGroup[g] ?? 0) + n;
  return {
    topic,
    dryRun: reports[0]?.dryRun ?? Boolean(options.dryRun),
    safeMinId: '',
    removed: reports.reduce((n, r) => n + r.removed, 0),
    lostToCap: reports.reduce((n, r) => n + r.lostToCap, 0),
    lostIds: reports.flatMap((r) => r.lostIds.map((id) => formatPartitionedId(r.partition, id))).slice(0, 1000),
    lostByGroup,
    length: reports.reduce((n, r) => n + r.length, 0),
    groups: Math.max(0, ...reports.map((r) => r.groups)),
    redeliveryRemoved: reports.reduce((n, r) => n + r.redeliveryRemoved, 0),
    partitions: reports.map((r) => ({ ...r, topic, lostIds: r.lostIds.map((id) => formatPartitionedId(r.partition, id)) })),
  };
}

/** The dead letters of a group on a partitioned topic, as {@link Streamfan.deadLetters} returns them. */
export interface PartitionedDeadLetters<T> {
  list(options?: { start?: string; count?: number }): Promise<DeadLetter<T>[]>;
  count(): Promise<number>;
  replay(selection: DeadLetterSelection): Promise<number>;
  purge(selection: DeadLetterSelection): Promise<number>;
}

/**
 * Dead letters of a group over every partition: ids (`deadLetterId` and `id`) are `p<i>:…`;
 * `list` merges the partitions by dead-letter id, then partition (`start`: a `p<i>:` dead-letter
 * id to list from, or `(` and one to list after: the next page); replay and purge act in each id's partition (`{ limit }`: the oldest over all).
 */
export function partitionedDeadLetters<T>(redis: Redis, prefix: string, topic: Topic<T>, group: string, statusTtlSeconds: number): PartitionedDeadLetters<T> {
  const P = topic.partitions!;
  const home = (i: number) => ({ ...topic, name: partitionTag(topic.name, i) }) as Topic<T>;
  const all = Array.from({ length: P }, (_, i) => i);
  const split = (id: string) => {
    const m = /^p(\d+):(\d+-\d+)$/.exec(String(id));
    if (!m || Number(m[1]) >= P) throw new InvalidOptionError(`${JSON.stringify(id)} is not a dead-letter id of topic "${topic.name}": they look like p3:1700000000000-0 (see list())`);
    return { partition: Number(m[1]), local: m[2]! };
  };
  const publicLetter = (i: number, d: DeadLetter<T>): DeadLetter<T> => ({ ...d, deadLetterId: formatPartitionedId(i, d.deadLetterId), id: d.id ? formatPartitionedId(i, d.id) : d.id });
  const list = async (options: { start?: string; count?: number } = {}): Promise<DeadLetter<T>[]> => {
    await ensureTopicMetaOnce(redis, prefix, topic.name, P);
    // Merged order: dead-letter id, then partition. `start` is '-', a p<i>: dead-letter id
    // (from it on) or '(' + one (after it): the next page of a listing.
    let from: { partition: number; local: string; exclusive: boolean } | undefined;
    if (options.start !== undefined && options.start !== '-') {
      const exclusive = options.start.startsWith('(');
      from = { ...split(exclusive ? options.start.slice(1) : options.start), exclusive };
    }
    const startIn = (j: number): string => {
      if (!from) return '-';
      const after = from.exclusive ? j <= from.partition : j < from.partition;
      return after ? `(${from.local}` : from.local;
    };
    const per = await Promise.all(all.map(async (i) => (await listDeadLetters(redis, prefix, home(i), group, { ...options, start: startIn(i) }))
      .map((d) => ({ d: publicLetter(i, d), local: d.deadLetterId, i }))));
    const merged = per.flat().sort((a, b) => compareIds(a.local, b.local) || a.i - b.i).map((x) => x.d);
    return options.count === undefined ? merged : merged.slice(0, options.count);
  };
  const act = async (selection: DeadLetterSelection, run: (i: number, s: DeadLetterSelection) => Promise<number>): Promise<number> => {
    await ensureTopicMetaOnce(redis, prefix, topic.name, P);
    const s = selection as { ids?: string[]; limit?: number; all?: true } | undefined;
    if (s?.ids !== undefined && Array.isArray(s.ids)) {
      const byPartition = new Map<number, string[]>();
      for (const id of s.ids) {
        const { partition, local } = split(id);
        byPartition.set(partition, [...(byPartition.get(partition) ?? []), local]);
      }
      let n = 0;
      for (const [i, ids] of byPartition) n += await run(i, { ids });
      return n;
    }
    if (s?.limit !== undefined && s.all === undefined && typeof s.limit === 'number' && Number.isInteger(s.limit) && s.limit >= 0) {
      const oldest = await list({ count: s.limit });
      return act({ ids: oldest.slice(0, s.limit).map((d) => d.deadLetterId) }, run);
    }
    let n = 0;
    for (const i of all) n += await run(i, selection); // { all: true }, or a bad selection the unpartitioned check refuses
    return n;
  };
  return {
    list,
    count: async () => (await Promise.all(all.map((i) => countDeadLetters(redis, prefix, partitionTag(topic.name, i), group)))).reduce((a, b) => a + b, 0),
    // An ordered group's replay keeps its key (and hands a 'hold' block to the replay); a purge
    // releases the keys its dead letters blocked.
    replay: (selection) => act(selection, async (i, s) => (await isOrdered(redis, prefix, topic.name, i, group) && isPlain(s)
      ? replayOrdered(redis, prefix, topic.name, i, group, s, statusTtlSeconds)
      : replayDeadLetters(redis, prefix, partitionTag(topic.name, i), group, s, statusTtlSeconds))),
    purge: (selection) => act(selection, async (i, s) => {
      const ordered = await isOrdered(redis, prefix, topic.name, i, group) && isPlain(s);
      const blocking = ordered ? await blocksOf(redis, prefix, topic.name, i, group, s) : [];
      const n = await purgeDeadLetters(redis, prefix, partitionTag(topic.name, i), group, s);
      const blocked = partitionKeys(prefix, topic.name, i).blocked(group);
      for (const [key, holder] of blocking) await runScript(redis, 'releaseKey', [blocked], [key, holder]);
      return n;
    }),
  };
}

/** A selection of ids or `{ all: true }` (anything else goes to the unpartitioned functions, which refuse it). */
function isPlain(s: DeadLetterSelection): s is { ids: string[] } | { all: true } {
  const x = s as { ids?: unknown; all?: unknown } | undefined;
  return (Array.isArray(x?.ids) && (x.ids as unknown[]).every((id) => typeof id === 'string' && /^\d+-\d+$/.test(id))) || x?.all === true;
}

/** Whether the group's consumers of partition `i` order by key (their lease says so; see acquireLease-1.lua). */
async function isOrdered(redis: Redis, prefix: string, topic: string, i: number, group: string): Promise<boolean> {
  return (await redis.hget(partitionKeys(prefix, topic, i).lease(group), 'ordering')) === 'key';
}

/** The dead letters a selection names in partition `i`, oldest first, in pages of 500: [dead-letter id, fields]. */
async function* letterPages(redis: Redis, prefix: string, topic: string, i: number, group: string, s: { ids: string[] } | { all: true }): AsyncGenerator<Array<[string, Map<string, string>]>> {
  const dlq = partitionKeys(prefix, topic, i).deadLetters(group);
  const fields = (flat: string[]) => { const m = new Map<string, string>(); for (let k = 0; k + 1 < flat.length; k += 2) m.set(flat[k]!, flat[k + 1]!); return m; };
  if ('ids' in s) {
    const ids = [...new Set(s.ids)].sort(compareIds);
    for (let k = 0; k < ids.length; k += 500) {
      const rows = await Promise.all(ids.slice(k, k + 500).map((id) => redis.xrange(dlq, id, id)));
      yield rows.flatMap((r) => r.map(([id, flat]) => [id, fields(flat)] as [string, Map<string, string>]));
    }
    return;
  }
  let start = '-';
  for (;;) {
    const rows = await redis.xrange(dlq, start, '+', 'COUNT', 500);
    if (rows.length === 0) return;
    yield rows.map(([id, flat]) => [id, fields(flat)] as [string, Map<string, string>]);
    start = `(${rows[rows.length - 1]![0]}`;
  }
}

/**
 * Replay dead letters of an ordered group on partition `i` in dead-letter order (a key's dead
 * letters are in its order), keeping each one's key (replayOrdered-N.lua): the owner runs the
 * replay in its key's order, and a key blocked by that dead letter ('hold') waits for the replay.
 */
async function replayOrdered(redis: Redis, prefix: string, topic: string, i: number, group: string, s: { ids: string[] } | { all: true }, statusTtlSeconds: number): Promise<number> {
  const keys = partitionKeys(prefix, topic, i);
  // As replayDeadLetters: a retired group has no consumers and is never recreated, so a replay
  // would feed a redelivery stream nobody reads.
  await assertNotRetired({ redis, prefix }, partitionTag(topic, i), group);
  let n = 0;
  for await (const page of letterPages(redis, prefix, topic, i, group, s)) {
    if (page.length === 0) continue;
    n += await runScript<number>(redis, 'replayOrdered', [keys.deadLetters(group), keys.redeliver(group), keys.blocked(group), ...page.map(([, f]) => keys.status(f.get('id') ?? 'unknown'))],
      [group, statusTtlSeconds, ...page.map(([id]) => id)]);
  }
  return n;
}

/** Keys of partition `i` blocked by the dead letters of a selection: [key, dead-letter id]. */
async function blocksOf(redis: Redis, prefix: string, topic: string, i: number, group: string, s: { ids: string[] } | { all: true }): Promise<Array<[string, string]>> {
  const blocked = partitionKeys(prefix, topic, i).blocked(group);
  const out: Array<[string, string]> = [];
  if ('all' in s) {
    // Every dead letter goes: every key blocked by one is released (not those whose replay runs).
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(blocked, cursor, 'COUNT', 500);
      for (let k = 0; k + 1 < flat.length; k += 2) if (!flat[k + 1]!.startsWith('replay:')) out.push([flat[k]!, flat[k + 1]!]);
      cursor = next;
    } while (cursor !== '0');
    return out;
  }
  for await (const page of letterPages(redis, prefix, topic, i, group, s)) {
    for (const [id, f] of page) { const key = f.get('key'); if (key !== undefined) out.push([key, id]); }
  }
  return out;
}

/**
 * afterDeadLetter 'hold': release `key` of an ordered group by hand, so its parked events run
 * (in order) without replaying or purging the dead letter that blocked it. The key's partition
 * comes from the key. @returns true when the key was blocked
 */
export async function releaseHeldKey(redis: Redis, prefix: string, topic: Topic<unknown>, group: string, key: string): Promise<boolean> {
  const P = topic.partitions!;
  await ensureTopicMetaOnce(redis, prefix, topic.name, P);
  const i = partitionForKey(validatePartitionKey(key), P);
  return (await runScript<number>(redis, 'releaseKey', [partitionKeys(prefix, topic.name, i).blocked(group)], [key, ''])) === 1;
}

/**
 * One page of a group's pending entries over every partition, oldest first (by id, then
 * partition), ids `p<i>:…`. `after` (a `p<i>:` id from the previous page) pages on.
 */
export async function listPartitionedPending(redis: Redis, prefix: string, topic: string, partitions: number, group: string, q: PendingQuery = {}): Promise<PendingEntry[]> {
  await ensureTopicMetaOnce(redis, prefix, topic, partitions);
  const limit = q.limit ?? 100;
  let after: { partition: number; local: string } | undefined;
  if (q.after !== undefined) {
    const m = /^p(\d+):(\d+-\d+)$/.exec(String(q.after));
    if (!m || Number(m[1]) >= partitions) throw new InvalidOptionError(`after must be an id of topic "${topic}" like p3:1700000000000-0 (from the previous page), got ${JSON.stringify(q.after)}`);
    after = { partition: Number(m[1]), local: m[2]! };
  }
  const pages = await Promise.all(Array.from({ length: partitions }, async (_, i) => {
    const home = partitionTag(topic, i);
    const { after: _omit, ...rest } = q;
    // Ordered by (id, partition): after (id a, partition p), partitions ≤ p continue after a, later ones from a itself.
    let rows = await listPending(redis, prefix, home, group, { ...rest, limit, ...(after && i <= after.partition ? { after: after.local } : {}) });
    if (after && i > after.partition) {
      rows = (await (redis.xpending as (...a: unknown[]) => Promise<unknown>)(
        (q.source ?? 'topic') === 'topic' ? partitionKeys(prefix, topic, i).stream : partitionKeys(prefix, topic, i).redeliver(group), group,
        ...(q.minIdleMs ? ['IDLE', q.minIdleMs] : []), after.local, '+', limit, ...(q.consumer ? [q.consumer] : [])) as Array<[string, string, number, number]>)
        .map((r) => ({ id: r[0], consumer: r[1], idleMs: Number(r[2]), deliveries: Number(r[3]), source: q.source ?? 'topic' }));
    }
    return rows.map((r) => ({ ...r, partition: i }));
  }));
  return pages.flat()
    .sort((a, b) => compareIds(a.id, b.id) || a.partition - b.partition)
    .slice(0, limit)
    .map(({ partition, ...r }) => ({ ...r, id: formatPartitionedId(partition, r.id) }));
}

/** A topic as {@link Streamfan.topics} lists it; `partitions` for a partitioned one. */
/**
 * A row of {@link Streamfan.topics}: a partitioned topic also has its partition count and each
 * partition's stream length (index = partition; 0 for a partition with no stream yet).
 */
export type TopicRow = TopicInfo & {
  partitions?: number;
  partitionLengths?: number[];
  /** Prioritized topics: the lanes, highest first (docs/priorities.md §6). The row's counts are summed over them. */
  lanes?: string[];
  /** Prioritized topics: the default lane. */
  defaultLane?: string;
  /** Prioritized topics: each lane's stream length, in the order of `lanes` (0 for a lane without a stream yet). */
  laneLengths?: number[];
};

/**
 * Fold the partition streams a listing found (`T#0`, `T#1`, …) into one row per partitioned
 * topic: lengths and delayed counts summed, groups the most any partition has, first and last
 * ids over all partitions (`p<i>:…`), `partitions` from the topic's meta record.
 */
export async function foldPartitionedTopics(redis: Redis, prefix: string, rows: TopicInfo[]): Promise<TopicRow[]> {
  const out: TopicRow[] = [];
  const byTopic = new Map<string, Array<TopicInfo & { partition: number }>>();
  for (const r of rows) {
    const tag = parsePartitionTag(r.topic);
    if (!tag) { out.push(r); continue; }
    byTopic.set(tag.topic, [...(byTopic.get(tag.topic) ?? []), { ...r, partition: tag.partition }]);
  }
  for (const [topic, parts] of byTopic) {
    const stored = await redis.hget(topicMetaKeys(prefix, topic).meta, 'partitions');
    const count = stored === null ? Math.max(parts.length, ...parts.map((r) => r.partition + 1)) : Number(stored);
    const ends = (pick: (r: TopicInfo) => string | null, later: boolean) => {
      const found = parts.filter((r) => pick(r) !== null).sort((a, b) => compareIds(pick(a)!, pick(b)!) || a.partition - b.partition);
      const r = later ? found.at(-1) : found[0];
      return r ? formatPartitionedId(r.partition, pick(r)!) : null;
    };
    out.push({
      topic,
      length: parts.reduce((n, r) => n + r.length, 0),
      firstId: ends((r) => r.firstId, false),
      lastId: ends((r) => r.lastId, true),
      groups: Math.max(0, ...parts.map((r) => r.groups)),
      delayed: parts.reduce((n, r) => n + r.delayed, 0),
      partitions: count,
      partitionLengths: Array.from({ length: count }, (_, i) => parts.find((r) => r.partition === i)?.length ?? 0),
    });
  }
  return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
}
