import { defineTopic, type GroupInfo, type Streamfan } from '@streamfan/core';
import { laneKeys, partitionKeys, topicKeys } from '@streamfan/core/internal';
import { formatPrometheus, type MetricFamily, type MetricSample } from './exposition';
import { createMemoryReader, memoryFamilies, type MemoryMetricsOptions, type TimedMemoryReport } from './memory';

/**
 * Names of the metrics {@link collectMetrics} exports, for dashboards and alert rules that
 * must only use names that exist.
 */
export const METRIC_NAMES = [
  'streamfan_group_lag',
  'streamfan_group_lag_is_lower_bound',
  'streamfan_group_pending',
  'streamfan_group_oldest_pending_age_seconds',
  'streamfan_group_retrying',
  'streamfan_group_dead_letters',
  'streamfan_group_consumers',
  'streamfan_topic_length',
  'streamfan_topic_delayed',
  'streamfan_topic_groups',
  // Prioritized topics (docs/priorities.md §7): the series above are summed over lanes; these split them.
  'streamfan_lane_lag',
  'streamfan_lane_length',
  'streamfan_scrape_duration_seconds',
  // Redis memory by topic and kind, as `streamfan memory` reports it (read at most once per --memory-every).
  'streamfan_memory_bytes',
  'streamfan_memory_bytes_error',
  'streamfan_memory_keys',
  'streamfan_memory_entries',
  'streamfan_memory_sampled',
  'streamfan_memory_lane_bytes',
  'streamfan_memory_scan_fraction',
  'streamfan_memory_report_age_seconds',
  'streamfan_redis_used_memory_bytes',
  'streamfan_redis_maxmemory_bytes',
  'streamfan_memory_read_failures_total',
] as const;

/** One of {@link METRIC_NAMES}. */
export type MetricName = (typeof METRIC_NAMES)[number];

/** A topic to collect: its name, and its partition count when it is partitioned. */
export interface MetricsTopic {
  topic: string;
  partitions?: number;
  /** A prioritized topic's lanes, highest first, and its default lane (docs/priorities.md). */
  lanes?: readonly string[];
  defaultLane?: string;
}

/** The topic definition `sf.groups()` needs: its partitions or lanes as recorded. */
function definition(t: MetricsTopic): ReturnType<typeof defineTopic> | string {
  if (t.partitions !== undefined) return defineTopic(t.topic, { partitions: t.partitions });
  if (t.lanes !== undefined)
    return defineTopic(t.topic, { priorities: [...t.lanes], ...(t.defaultLane ? { defaultPriority: t.defaultLane } : {}) });
  return t.topic;
}

/** The stream keys of a topic: one per partition, one per lane, or the topic's. */
function streamKeys(prefix: string, t: MetricsTopic): ReturnType<typeof topicKeys>[] {
  if (t.partitions !== undefined) return Array.from({ length: t.partitions }, (_, i) => partitionKeys(prefix, t.topic, i));
  if (t.lanes !== undefined) return t.lanes.map((lane) => laneKeys(prefix, t.topic, lane, t.defaultLane ?? t.lanes![t.lanes!.length - 1]!));
  return [topicKeys(prefix, t.topic)];
}

/** Options of {@link collectMetrics}. */
export interface CollectMetricsOptions {
  /**
   * The topics to read, as an earlier discovery found them (see {@link createMetricsCollector}).
   * Without it, topics are discovered with `sf.topics()`: a SCAN over the prefix, whose cost
   * grows with the number of keys in the database, not with stream lengths.
   */
  topics?: readonly MetricsTopic[];
  /**
   * Add the memory figures of `streamfan memory` (`sf.memory()`: bytes, keys and entries by topic
   * and kind, sampled): a report, or a reader of one (see `createMemoryReader`). Without it, no
   * memory metrics.
   */
  memory?: TimedMemoryReport | (() => Promise<TimedMemoryReport>);
}

/**
 * Read every topic and group under the client's prefix from Redis and return them as metric
 * families. The work is bounded however long the streams are: topic discovery as
 * `streamfan topics` does it (or the `topics` given), then per topic the same queries as
 * `sf.groups()`: one pipeline of O(1) commands per group (XINFO GROUPS/STREAM, XPENDING with a
 * count of 1, ZCARD, XLEN); only on servers that do not report lag is it counted, at most
 * 10,000 entries per stream. Partitioned topics are summed over partitions, as `sf.groups()`
 * does. Retired groups are left out.
 */
export async function collectMetrics(sf: Streamfan, options: CollectMetricsOptions = {}): Promise<MetricFamily[]> {
  const started = performance.now();
  const topics = options.topics ? await topicCounts(sf, options.topics) : await discoverTopics(sf);
  const memory = typeof options.memory === 'function' ? await options.memory() : options.memory;
  return families(sf, topics, started, memory);
}

/** The metric families of these topics (counted) and their groups. */
async function families(
  sf: Streamfan,
  topics: readonly CountedTopic[],
  started: number,
  memory?: TimedMemoryReport,
  now: () => number = Date.now,
): Promise<MetricFamily[]> {
  const perTopic = await Promise.all(
    topics.map(async (t) => {
      const groups = await sf.groups(definition(t));
      return { topic: t, groups, redelivery: await redeliveryOldest(sf, t, groups) };
    }),
  );
  const g = (name: MetricName, help: string): MetricFamily => ({ name, help, type: 'gauge', samples: [] });
  const lag = g('streamfan_group_lag', 'Entries not yet delivered to the group (topic and redelivery streams).');
  const lowerBound = g(
    'streamfan_group_lag_is_lower_bound',
    '1 when the lag was counted up to a bound (server without XINFO lag) and is "at least", else 0.',
  );
  const pending = g('streamfan_group_pending', 'Entries delivered to the group and not yet acknowledged.');
  const oldest = g(
    'streamfan_group_oldest_pending_age_seconds',
    "Idle time of the oldest (lowest id) pending entry of the group, in seconds: the larger of the topic and redelivery streams' (0 when none is pending).",
  );
  const retrying = g('streamfan_group_retrying', 'Retries of the group waiting for their backoff.');
  const dead = g('streamfan_group_dead_letters', "Entries in the group's dead letters.");
  const consumers = g('streamfan_group_consumers', 'Consumers registered in the group.');
  const length = g('streamfan_topic_length', 'Entries in the topic stream (summed over partitions).');
  const delayed = g('streamfan_topic_delayed', 'Delayed events of the topic not yet published.');
  const groupCount = g('streamfan_topic_groups', 'Live consumer groups of the topic.');
  const laneLag = g(
    'streamfan_lane_lag',
    "Prioritized topics: entries of one lane not yet delivered to the group (the lane's stream and redelivery stream).",
  );
  const laneLength = g('streamfan_lane_length', "Prioritized topics: entries in one lane's stream.");
  for (const { topic: t, groups, redelivery } of perTopic) {
    const tl = { topic: t.topic };
    length.samples.push({ labels: tl, value: t.length });
    (t.lanes ?? []).forEach((lane, i) => laneLength.samples.push({ labels: { topic: t.topic, lane }, value: t.laneLengths?.[i] ?? 0 }));
    delayed.samples.push({ labels: tl, value: t.delayed });
    const live = groups.filter((x) => x.retired !== true);
    groupCount.samples.push({ labels: tl, value: live.length });
    for (const x of live) {
      const labels = { topic: t.topic, group: x.group };
      const add = (f: MetricFamily, value: number): number => f.samples.push({ labels, value } satisfies MetricSample);
      if (x.lag !== null) add(lag, x.lag);
      add(lowerBound, x.lagIsLowerBound ? 1 : 0);
      add(pending, x.pending);
      add(oldest, Math.max(x.oldestPendingIdleMs ?? 0, redelivery.get(x.group) ?? 0) / 1000);
      add(retrying, x.retrying);
      add(dead, x.deadLetters);
      add(consumers, x.consumers);
      for (const l of x.lanes ?? []) if (l.lag !== null) laneLag.samples.push({ labels: { ...labels, lane: l.lane }, value: l.lag });
    }
  }
  const took = g('streamfan_scrape_duration_seconds', 'Time spent reading these metrics from Redis, in seconds.');
  took.samples.push({ labels: {}, value: (performance.now() - started) / 1000 });
  return [
    lag,
    lowerBound,
    pending,
    oldest,
    retrying,
    dead,
    consumers,
    length,
    delayed,
    groupCount,
    ...(laneLag.samples.length > 0 || laneLength.samples.length > 0 ? [laneLag, laneLength] : []),
    ...(memory ? memoryFamilies(memory, now()) : []),
    took,
  ];
}

/**
 * Wrap a collection so that calls within `ttlMs` of a finished one reuse its result, and
 * concurrent calls share one run: many scrapers cost Redis one collection per `ttlMs`.
 * A failed run is not cached.
 */
export function cachedCollector<T>(collect: () => Promise<T>, ttlMs = 1000, now: () => number = Date.now): () => Promise<T> {
  let last: { at: number; value: T } | undefined;
  let running: Promise<T> | undefined;
  return () => {
    if (last && now() - last.at < ttlMs) return Promise.resolve(last.value);
    running ??= collect()
      .then((value) => {
        last = { at: now(), value };
        return value;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
}

/**
 * Idle ms of the oldest pending entry in each group's redelivery stream (retries, replays), per
 * partition for a partitioned topic: one XPENDING with a count of 1 per stream, only for groups
 * with something pending. `sf.groups()` reports the topic stream's only.
 */
async function redeliveryOldest(sf: Streamfan, t: MetricsTopic, groups: readonly GroupInfo[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const keys = streamKeys(sf.prefix, t);
  await Promise.all(
    groups
      .filter((g) => g.retired !== true && g.pending > 0)
      .flatMap((g) =>
        keys.map(async (k) => {
          let rows: Array<[string, string, number, number]>;
          try {
            rows = (await sf.redis.xpending(k.redeliver(g.group), g.group, 'IDLE', 0, '-', '+', 1)) as Array<
              [string, string, number, number]
            >;
          } catch (err) {
            if (/no such key|NOGROUP/i.test((err as Error).message)) return; // nothing was ever redelivered
            throw err;
          }
          const idle = rows[0] ? Number(rows[0][2]) : 0;
          out.set(g.group, Math.max(out.get(g.group) ?? 0, idle));
        }),
      ),
  );
  return out;
}

type CountedTopic = MetricsTopic & { length: number; delayed: number; laneLengths?: number[] };

/** Every topic under the prefix, with lengths (partitioned ones folded), as `streamfan topics` lists them. */
async function discoverTopics(sf: Streamfan): Promise<CountedTopic[]> {
  // topics() lists a partitioned or prioritized topic once, with its partition count or lanes.
  const rows = await sf.topics();
  return rows.map((r) => ({
    topic: r.topic,
    length: r.length,
    delayed: r.delayed,
    ...(r.partitions !== undefined ? { partitions: r.partitions } : {}),
    ...(r.lanes !== undefined
      ? { lanes: r.lanes, laneLengths: r.laneLengths ?? [], ...(r.defaultLane ? { defaultLane: r.defaultLane } : {}) }
      : {}),
  }));
}

/** Lengths and delayed counts of known topics: XLEN and ZCARD per stream (per partition), O(1) each. */
async function topicCounts(sf: Streamfan, topics: readonly MetricsTopic[]): Promise<CountedTopic[]> {
  // Separate commands, not one pipeline: topics live in different hash slots on a cluster.
  return Promise.all(
    topics.map(async (t) => {
      const keys = streamKeys(sf.prefix, t);
      const counts = await Promise.all(keys.map(async (k) => Promise.all([sf.redis.xlen(k.stream), sf.redis.zcard(k.delayed)])));
      return {
        ...t,
        length: counts.reduce((n, [len]) => n + len, 0),
        delayed: counts.reduce((n, [, d]) => n + d, 0),
        ...(t.lanes !== undefined ? { laneLengths: counts.map(([len]) => len) } : {}),
      };
    }),
  );
}

/** Options of {@link createMetricsCollector}. */
export interface MetricsCollectorOptions {
  /** Scrapes within this many ms of the last collection get its result. @defaultValue 1000 */
  cacheMs?: number;
  /**
   * Discover topics (SCAN over the prefix, whose cost grows with the number of keys in the
   * database) at most this often; between discoveries only the known topics are read, at a
   * cost independent of the keyspace. A new topic shows up within this time. 0: every scrape.
   * @defaultValue 30000
   */
  discoverEveryMs?: number;
  /**
   * The memory figures of `streamfan memory` (bounded SCAN, sampled MEMORY USAGE), read at most
   * once per `memory.everyMs` (default 60000); false: no memory metrics.
   * @defaultValue {}
   */
  memory?: Omit<MemoryMetricsOptions, 'now'> | false;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * A scrape function for a metrics endpoint: the Prometheus text of {@link collectMetrics},
 * cached for `cacheMs` (concurrent scrapes share one collection) with topic discovery reused
 * for `discoverEveryMs`, and the memory figures of `streamfan memory` read at most once per
 * `memory.everyMs`.
 */
export function createMetricsCollector(sf: Streamfan, options: MetricsCollectorOptions = {}): () => Promise<string> {
  const now = options.now ?? Date.now;
  const discoverEveryMs = options.discoverEveryMs ?? 30_000;
  let known: { at: number; topics: MetricsTopic[] } | undefined;
  // A memory report that cannot be read (e.g. a user refused MEMORY USAGE) must not fail the
  // scrape: its gauges are left out and the failed reads counted.
  let memoryFailures = 0;
  const memory =
    options.memory === false
      ? undefined
      : createMemoryReader(sf, {
          ...options.memory,
          now,
          onError: () => {
            memoryFailures++;
          },
        });
  const readMemory = async (): Promise<TimedMemoryReport | undefined> => {
    if (!memory) return undefined;
    try {
      return await memory();
    } catch {
      return undefined;
    }
  };
  return cachedCollector(
    async () => {
      const started = performance.now();
      const at = now();
      const reuse = known !== undefined && at - known.at < discoverEveryMs ? known.topics : undefined;
      const topics = reuse ? await topicCounts(sf, reuse) : await discoverTopics(sf);
      if (!reuse)
        known = {
          at,
          topics: topics.map(({ topic, partitions, lanes, defaultLane }) => ({
            topic,
            ...(partitions !== undefined ? { partitions } : {}),
            ...(lanes !== undefined ? { lanes, ...(defaultLane ? { defaultLane } : {}) } : {}),
          })),
        };
      const report = await readMemory();
      const failures: MetricFamily[] = memory
        ? [
            {
              name: 'streamfan_memory_read_failures_total' satisfies MetricName,
              help: 'Memory reports (streamfan memory) that could not be read since this endpoint started: the memory gauges are left out, or the last report is served, meanwhile.',
              type: 'counter',
              samples: [{ labels: {}, value: memoryFailures }],
            },
          ]
        : [];
      return formatPrometheus([...(await families(sf, topics, started, report, now)), ...failures]);
    },
    options.cacheMs ?? 1000,
    now,
  );
}
