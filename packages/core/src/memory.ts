/**
 * Redis memory by topic and by kind of key (`sf.memory()`, `streamfan memory`), and the
 * start-up projection of status memory against `maxmemory` (issue 17).
 *
 * A topic's few fixed keys (its stream, and per group the redelivery stream, retry set and dead
 * letters; the delayed schedule) are measured one by one with MEMORY USAGE. The per-event keys
 * (status hashes, idempotency keys, delayed events' hashes) can number millions: they are
 * counted with SCAN in bounded pages (COUNT 1000, at most `maxScanPages` pages) and measured on
 * a sample, then extrapolated from how much of the keyspace the pages covered, with a stated
 * error. No call walks a big keyspace at once, and the number of commands per report is bounded.
 */
import type Redis from 'ioredis';
import { clusterMasters } from './connection';
import { InvalidOptionError } from './errors';
import { laneHome, parsePartitionTag, partitionKeys, topicKeys, topicMetaKeys, type TopicKeys } from './keys';
import { validateTopicName } from './names';

/** A kind of key streamfan keeps for a topic. */
export type MemoryKind =
  /** The topic stream (one per partition of a partitioned topic). */
  | 'stream'
  /** The groups' redelivery streams (retry copies and replays, kept until trimmed). */
  | 'redelivery'
  /** The groups' retry sets: retries waiting for their backoff. */
  | 'retry'
  /** The groups' dead-letter streams. */
  | 'deadLetters'
  /**
   * Status (sampled): the per-event status hashes (results, failures, dead, lost…) and the
   * per-group, per-second success buckets of plain successes (protocol 2, `…:ok:<group>:<second>`).
   */
  | 'status'
  /** Idempotency keys of publishes with an `idempotencyKey` (sampled). */
  | 'idempotency'
  /** Delayed events: the schedule, and one hash per delayed event (sampled). */
  | 'delayed'
  /** Everything else under the topic: producer ledgers, locks, leases, partition metadata (sampled). */
  | 'other';

/** Every kind, in report order. */
export const MEMORY_KINDS: readonly MemoryKind[] = ['stream', 'redelivery', 'retry', 'deadLetters', 'status', 'idempotency', 'delayed', 'other'];

/** Memory of one kind of key of one topic. */
export interface KindMemory {
  kind: MemoryKind;
  /** Keys of this kind: counted exactly, or estimated when {@link KindMemory.sampled}. */
  keys: number;
  /** ± half-width of a 95% interval of {@link KindMemory.keys} (0 when exact). */
  keysError: number;
  /** Entries in the kind's streams or sets (stream, redelivery, retry, dead letters, delayed schedule), when counted. */
  entries?: number;
  /** Bytes (MEMORY USAGE, estimated when sampled). */
  bytes: number;
  /** ± half-width of a 95% interval of {@link KindMemory.bytes} (0 when every key was measured and counted). */
  bytesError: number;
  /** True when the figures are extrapolated from a sample of the keys. */
  sampled: boolean;
  /** How many keys MEMORY USAGE was asked about. */
  measured: number;
}

/** Memory of one topic, by kind. */
export interface TopicMemory {
  topic: string;
  /** Partitions of a partitioned topic (absent for an unpartitioned one). */
  partitions?: number;
  /** Priority lanes of a prioritized topic, highest first (absent otherwise): their keys are counted under the topic. */
  lanes?: string[];
  /** A prioritized topic's default lane (its keys are the topic's own). */
  defaultLane?: string;
  /**
   * A prioritized topic's memory by lane, highest first: each lane's keys (its stream, schedule,
   * success buckets and status hashes, delayed events, and per group its redelivery stream, retry
   * set and dead letters). With {@link TopicMemory.laneShared} they add up to the topic's figures.
   */
  byLane?: LaneMemory[];
  /** A prioritized topic's keys every lane shares: idempotency keys, producer ledgers, the meta hash. */
  laneShared?: { bytes: number; bytesError: number; kinds: KindMemory[] };
  /** Groups found on the topic stream(s). */
  groups: string[];
  bytes: number;
  bytesError: number;
  kinds: KindMemory[];
}

/** Memory of one priority lane of a topic, by kind. */
export interface LaneMemory {
  lane: string;
  bytes: number;
  bytesError: number;
  kinds: KindMemory[];
}

/** What {@link topicMemory} found. */
export interface MemoryReport {
  prefix: string;
  /** The topic asked for, or undefined for every topic found. */
  topic?: string;
  topics: TopicMemory[];
  bytes: number;
  bytesError: number;
  /** The SCAN of per-event keys. */
  scan: {
    /** SCAN calls made (COUNT 1000 each), over every node. */
    pages: number;
    /** Keys it returned. */
    keysSeen: number;
    /** Share of the keyspace the pages covered (1: the whole of it). */
    fraction: number;
    /** The scan reached the end: per-event key counts are exact (their bytes may still be sampled). */
    complete: boolean;
  };
  /**
   * False when no topic was named and the scan was partial: a topic with few keys may not have
   * been seen. Name the topic, or raise `maxScanPages`.
   */
  topicsComplete: boolean;
  /** Redis commands this report issued (bounded: see {@link MemoryOptions}). */
  commands: number;
  /** The server's INFO used_memory and maxmemory (0: no limit), for scale. */
  usedMemory: number;
  maxMemory: number;
  maxMemoryPolicy: string;
}

/** How much work {@link topicMemory} may do. */
export interface MemoryOptions {
  /** Most SCAN pages (COUNT 1000) per server node. @defaultValue 50 */
  maxScanPages?: number;
  /** Keys of each sampled kind of each topic given to MEMORY USAGE. @defaultValue 100 */
  sampleSize?: number;
  /** Called after each SCAN page (to show progress of a long scan). */
  onProgress?: (p: { pages: number; maxPages: number; fraction: number; keysSeen: number }) => void;
}

const SCAN_COUNT = 1000;
const Z95 = 1.96;

/** Escape glob characters for SCAN MATCH (names are validated, this is belt and braces). */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Share of the hash table a SCAN cursor has covered. Redis walks buckets in reverse-binary
 * order: with a table of 2^b buckets, the cursor's b low bits read backwards count the buckets
 * visited, so reversing all 64 bits and dividing by 2^64 gives the share whatever b is.
 */
export function scanFraction(cursor: string): number {
  if (cursor === '0') return 1;
  let v = BigInt(cursor);
  let r = 0n;
  for (let i = 0; i < 64; i++) {
    r = (r << 1n) | (v & 1n);
    v >>= 1n;
  }
  return Number(r) / 2 ** 64;
}

/**
 * The homes (names `topicKeys` takes) of a topic's events, from its meta record (one HMGET): one
 * per partition (`T#i`) of a partitioned topic, one per lane (`T+L`; the default lane is `T`) of
 * a prioritized one, else the topic itself. A meta record that cannot be read counts as none.
 */
async function topicHomeNames(redis: Redis, prefix: string, topic: string): Promise<{ homes: string[]; partitions: number; lanes?: string[]; defaultLane?: string }> {
  const [p, lanes, defaultLane] = ((await redis.hmget(topicMetaKeys(prefix, topic).meta, 'partitions', 'lanes', 'defaultLane').catch(() => [])) ?? []) as Array<string | null | undefined>;
  const partitions = Number(p) || 0;
  if (partitions > 0) return { homes: Array.from({ length: partitions }, (_, i) => `${topic}#${i}`), partitions };
  if (lanes && defaultLane) {
    const list = lanes.split(',').filter((l) => l !== '');
    return { homes: list.map((l) => laneHome(topic, l, defaultLane)), partitions: 0, lanes: list, defaultLane };
  }
  return { homes: [topic], partitions: 0 };
}

type Fixed = Exclude<MemoryKind, 'status' | 'idempotency' | 'other'>;
interface Seen { count: number; sample: string[] }
type SampledKind = 'status' | 'idempotency' | 'delayed' | 'other';
/** Where a key of a topic belongs: a lane's (`lane:<L>:` keys), the topic's own keys (`''`: the default lane's on a prioritized topic), or the keys every lane shares. */
const SHARED = '\u0000shared';
interface TopicAcc {
  /** Fixed keys by name, with the bucket (lane, '' or SHARED) they belong to. */
  fixed: Map<string, { kind: Fixed; length: 'xlen' | 'zcard'; bucket: string }>;
  /** Sampled keys per bucket and kind. */
  sampled: Map<string, Map<SampledKind, Seen>>;
  groups: Set<string>;
  partitions?: number;
  lanes?: string[];
  defaultLane?: string;
}

/** What a key under the prefix is: its topic (partitions grouped under theirs) and kind. */
function classify(prefix: string, key: string): { topic: string; partition?: number; lane?: string; shared?: true; kind: MemoryKind | 'delayedRef'; group?: string } | undefined {
  const head = `${prefix}:{`;
  if (!key.startsWith(head)) return undefined;
  const close = key.indexOf('}:', head.length);
  if (close < 0) return undefined;
  const tag = key.slice(head.length, close);
  let rest = key.slice(close + 2);
  const p = parsePartitionTag(tag);
  const topic = p ? p.topic : tag;
  const partition = p?.partition;
  // A priority lane's keys (`{T}:lane:<L>:…`) are the topic's, of the same kinds.
  const laneMatch = /^lane:([a-z][a-z0-9_-]{0,15}):(.+)$/.exec(rest);
  if (laneMatch) rest = laneMatch[2]!;
  // A lane's key, or (outside `lane:`) one every lane shares: idempotency keys, producer ledgers, the meta hash (docs/priorities.md §2).
  const where = laneMatch ? { lane: laneMatch[1]! } : rest.startsWith('idem:') || rest.startsWith('producer:') || rest === 'meta' ? { shared: true as const } : {};
  const base = { topic, partition, ...where };
  if (rest === 'stream') return { ...base, kind: 'stream' };
  if (rest === 'delayed') return { ...base, kind: 'delayed' };
  if (rest.startsWith('status:') || rest.startsWith('ok:')) return { ...base, kind: 'status' };
  if (rest.startsWith('idem:')) return { ...base, kind: 'idempotency' };
  if (rest.startsWith('delayed-id:')) return { ...base, kind: 'delayedRef' };
  if (rest.startsWith('retry:')) return { ...base, kind: 'retry', group: rest.slice(6) };
  if (rest.startsWith('redeliver:')) return { ...base, kind: 'redelivery', group: rest.slice(10) };
  if (rest.startsWith('dlq:')) return { ...base, kind: 'deadLetters', group: rest.slice(4) };
  return { ...base, kind: 'other' };
}

/** Keep a uniform sample of at most `size` keys (reservoir sampling; deterministic enough for a report). */
function keep(seen: Seen, key: string, size: number): void {
  seen.count++;
  if (seen.sample.length < size) seen.sample.push(key);
  else {
    const j = Math.floor(Math.random() * seen.count);
    if (j < size) seen.sample[j] = key;
  }
}

function check(o: MemoryOptions): Required<Omit<MemoryOptions, 'onProgress'>> {
  const pages = o.maxScanPages ?? 50;
  const size = o.sampleSize ?? 100;
  if (!Number.isInteger(pages) || pages < 1 || pages > 100_000) throw new InvalidOptionError(`maxScanPages must be a whole number from 1 to 100000, got ${String(pages)}`);
  if (!Number.isInteger(size) || size < 1 || size > 10_000) throw new InvalidOptionError(`sampleSize must be a whole number from 1 to 10000, got ${String(size)}`);
  return { maxScanPages: pages, sampleSize: size };
}

/**
 * Redis memory of one topic (`topic`) or of every topic found under the prefix, by kind of key.
 * See the module comment for how per-event keys are sampled.
 * @throws InvalidNameError for a bad topic name, InvalidOptionError for bad limits
 */
export async function topicMemory(redis: Redis, prefix: string, topic: string | undefined, options: MemoryOptions = {}): Promise<MemoryReport> {
  if (topic !== undefined) validateTopicName(topic);
  const { maxScanPages, sampleSize } = check(options);
  let commands = 0;
  const topics = new Map<string, TopicAcc>();
  const acc = (t: string): TopicAcc => {
    let a = topics.get(t);
    if (!a) {
      a = { fixed: new Map(), sampled: new Map(), groups: new Set() };
      topics.set(t, a);
    }
    return a;
  };
  if (topic !== undefined) acc(topic);

  // 1. SCAN in bounded pages. A topic's keys: `{T}:…` and, when partitioned, `{T#i}:…`.
  const pattern = topic === undefined ? `${globEscape(prefix)}:{*` : `${globEscape(prefix)}:{${globEscape(topic)}*`;
  const nodes: Redis[] = clusterMasters(redis) ?? [redis];
  let pages = 0;
  let keysSeen = 0;
  const fractions: number[] = [];
  for (const node of nodes) {
    let cursor = '0';
    let nodePages = 0;
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      commands++;
      pages++;
      nodePages++;
      cursor = next;
      for (const key of batch) {
        const c = classify(prefix, key);
        if (!c || (topic !== undefined && c.topic !== topic)) continue;
        keysSeen++;
        const a = acc(c.topic);
        if (c.group !== undefined) a.groups.add(c.group);
        const sampledKind: SampledKind | undefined = c.kind === 'status' || c.kind === 'idempotency' || c.kind === 'other' ? c.kind : c.kind === 'delayedRef' ? 'delayed' : undefined;
        if (sampledKind) {
          // Kept per lane (a prioritized topic's report is split by lane; '' is the topic's own keys).
          const bucket = c.shared ? SHARED : (c.lane ?? '');
          let kinds = a.sampled.get(bucket);
          if (!kinds) { kinds = new Map(); a.sampled.set(bucket, kinds); }
          if (!kinds.has(sampledKind)) kinds.set(sampledKind, { count: 0, sample: [] });
          keep(kinds.get(sampledKind)!, key, sampleSize);
        }
        // Fixed keys are added by name below, whether or not the pages met them.
      }
      options.onProgress?.({ pages, maxPages: maxScanPages * nodes.length, fraction: scanFraction(cursor), keysSeen });
    } while (cursor !== '0' && nodePages < maxScanPages);
    fractions.push(scanFraction(cursor));
  }
  // One node (or every node alike): the share covered. On a cluster, the least covered node's.
  const fraction = Math.min(...fractions);
  const complete = fraction >= 1;

  // 2. Fixed keys by name: the stream(s), the schedule and, per group, three keys (per
  // partition of a partitioned topic, per lane of a prioritized one).
  for (const [name, a] of topics) {
    const homes = await topicHomeNames(redis, prefix, name);
    commands++;
    if (homes.partitions > 0) a.partitions = homes.partitions;
    if (homes.lanes) { a.lanes = homes.lanes; a.defaultLane = homes.defaultLane; }
    const tags = homes.homes;
    for (const [h, tag] of tags.entries()) {
      const k = topicKeys(prefix, tag);
      // The bucket of this home's keys: its lane ('' on a topic without lanes, and for the default lane until step 3 names it).
      const bucket = homes.lanes && homes.lanes[h] !== homes.defaultLane ? homes.lanes[h]! : '';
      a.fixed.set(k.stream, { kind: 'stream', length: 'xlen', bucket });
      a.fixed.set(k.delayed, { kind: 'delayed', length: 'zcard', bucket });
      try {
        const rows = (await redis.xinfo('GROUPS', k.stream)) as unknown[][];
        for (const row of rows) {
          for (let i = 0; i + 1 < row.length; i += 2) if (row[i] === 'name') a.groups.add(String(row[i + 1]));
        }
      } catch { /* no stream yet */ }
      commands++;
      for (const g of a.groups) {
        a.fixed.set(k.redeliver(g), { kind: 'redelivery', length: 'xlen', bucket });
        a.fixed.set(k.retry(g), { kind: 'retry', length: 'zcard', bucket });
        a.fixed.set(k.deadLetters(g), { kind: 'deadLetters', length: 'xlen', bucket });
      }
    }
  }

  // 3. Measure: MEMORY USAGE (default SAMPLES: bounded per call) of each fixed key and each sampled key.
  const report: TopicMemory[] = [];
  for (const [name, a] of [...topics].sort(([x], [y]) => x.localeCompare(y))) {
    // Sent together (one connection writes them without waiting for replies); on a cluster each
    // goes to its slot's node, so no cross-slot pipeline is needed.
    const fixedKeys = [...a.fixed.keys()];
    const calls: Array<() => Promise<unknown>> = [];
    for (const key of fixedKeys) {
      calls.push(() => redis.call('MEMORY', 'USAGE', key));
      calls.push(() => (a.fixed.get(key)!.length === 'xlen' ? redis.xlen(key) : redis.zcard(key)));
    }
    const sampledKinds = [...a.sampled.entries()].flatMap(([bucket, kinds]) => [...kinds.entries()].map(([kind, seen]) => ({ bucket, kind, seen })));
    for (const { seen } of sampledKinds) for (const key of seen.sample) calls.push(() => redis.call('MEMORY', 'USAGE', key));
    commands += calls.length;
    // A missing key answers nil; a refused command (ACL without MEMORY) fails the report rather than reading as 0 bytes.
    const replies = await Promise.all(calls.map((c) => c().then((v) => v, (err: Error) => {
      if (/NOPERM/.test(err.message)) throw err;
      return null;
    })));
    const value = (i: number): number => {
      const v = replies[i];
      return v === null || v === undefined ? Number.NaN : Number(v);
    };
    // Per bucket (a lane, the topic's own keys '', or the keys lanes share), then summed for the topic.
    const buckets = new Map<string, Map<MemoryKind, KindMemory>>();
    const kindsOf = (bucket: string): Map<MemoryKind, KindMemory> => {
      let m = buckets.get(bucket);
      if (!m) {
        m = new Map<MemoryKind, KindMemory>(MEMORY_KINDS.map((k) => [k, { kind: k, keys: 0, keysError: 0, bytes: 0, bytesError: 0, sampled: false, measured: 0 }]));
        buckets.set(bucket, m);
      }
      return m;
    };
    kindsOf('');
    if (a.lanes) { for (const l of a.lanes) if (l !== a.defaultLane) kindsOf(l); kindsOf(SHARED); }
    let i = 0;
    for (const key of fixedKeys) {
      const bytes = value(i++);
      const length = value(i++);
      const f = a.fixed.get(key)!;
      const k = kindsOf(f.bucket).get(f.kind)!;
      k.measured++;
      if (!Number.isFinite(bytes)) continue; // no such key
      k.keys++;
      k.bytes += bytes;
      k.entries = (k.entries ?? 0) + (Number.isFinite(length) ? length : 0);
    }
    for (const { bucket, kind, seen } of sampledKinds) {
      const sizes: number[] = [];
      for (let j = 0; j < seen.sample.length; j++) {
        const v = value(i++);
        if (Number.isFinite(v)) sizes.push(v);
      }
      const k = kindsOf(bucket).get(kind)!;
      const est = estimate(seen.count, fraction, sizes, complete);
      k.keys += est.keys;
      k.keysError = Math.hypot(k.keysError, est.keysError);
      k.bytes += est.bytes;
      k.bytesError = Math.hypot(k.bytesError, est.bytesError);
      k.measured += seen.sample.length;
      k.sampled = k.sampled || est.sampled;
    }
    const rounded = (m: Map<MemoryKind, KindMemory>): KindMemory[] => [...m.values()].map((k) => ({ ...k, keys: Math.round(k.keys), keysError: Math.round(k.keysError), bytes: Math.round(k.bytes), bytesError: Math.round(k.bytesError) }));
    const rows = new Map([...buckets].map(([b, m]) => [b, rounded(m)]));
    // The topic: the buckets summed (errors in quadrature), so a split report adds up exactly.
    const list: KindMemory[] = MEMORY_KINDS.map((kind) => {
      const parts = [...rows.values()].map((r) => r.find((x) => x.kind === kind)!);
      const entries = parts.filter((p) => p.entries !== undefined);
      return {
        kind,
        keys: parts.reduce((n, p) => n + p.keys, 0),
        keysError: Math.round(Math.hypot(...parts.map((p) => p.keysError))),
        ...(entries.length > 0 ? { entries: entries.reduce((n, p) => n + p.entries!, 0) } : {}),
        bytes: parts.reduce((n, p) => n + p.bytes, 0),
        bytesError: Math.round(Math.hypot(...parts.map((p) => p.bytesError))),
        sampled: parts.some((p) => p.sampled),
        measured: parts.reduce((n, p) => n + p.measured, 0),
      };
    });
    // Nothing of a per-event kind seen in a partial scan: zero, up to about 3 ÷ share keys (95%).
    if (!complete) {
      for (const k of list) {
        if ((k.kind === 'status' || k.kind === 'idempotency') && k.keys === 0) { k.keysError = Math.round(3 / fraction - 3); k.sampled = true; }
      }
    }
    const bytes = list.reduce((s, k) => s + k.bytes, 0);
    const bytesError = Math.round(Math.hypot(...list.map((k) => k.bytesError)));
    const summary = (kinds: KindMemory[]) => ({ bytes: kinds.reduce((n, k) => n + k.bytes, 0), bytesError: Math.round(Math.hypot(...kinds.map((k) => k.bytesError))), kinds });
    const split = a.lanes
      ? {
        byLane: a.lanes.map((lane) => ({ lane, ...summary(rows.get(lane === a.defaultLane ? '' : lane)!) })),
        laneShared: summary(rows.get(SHARED)!),
      }
      : {};
    report.push({ topic: name, ...(a.partitions ? { partitions: a.partitions } : {}), ...(a.lanes ? { lanes: a.lanes, ...(a.defaultLane ? { defaultLane: a.defaultLane } : {}) } : {}), groups: [...a.groups].sort(), bytes, bytesError, kinds: list, ...split });
  }

  const info = await redis.info('memory').catch(() => '');
  commands++;
  const field = (f: string): string => new RegExp(`^${f}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
  return {
    prefix,
    ...(topic !== undefined ? { topic } : {}),
    topics: report,
    bytes: report.reduce((s, t) => s + t.bytes, 0),
    bytesError: Math.round(Math.hypot(...report.map((t) => t.bytesError))),
    scan: { pages, keysSeen, fraction, complete },
    topicsComplete: topic !== undefined || complete,
    commands,
    usedMemory: Number(field('used_memory')) || 0,
    maxMemory: Number(field('maxmemory')) || 0,
    maxMemoryPolicy: field('maxmemory_policy'),
  };
}

/**
 * Count and bytes of a per-event kind from `seen` keys in a scan that covered `fraction` of the
 * keyspace, and MEMORY USAGE of a sample of them. A key is in the covered part with probability
 * `fraction`, so the count is binomial: keys = seen ÷ fraction, 95% error 1.96 √(seen (1 − f)) ÷ f.
 * The mean size's error (1.96 sd ÷ √n, with the finite-population correction) adds in quadrature.
 */
export function estimate(seen: number, fraction: number, sizes: number[], complete: boolean): { keys: number; keysError: number; bytes: number; bytesError: number; sampled: boolean } {
  if (seen === 0 || sizes.length === 0) return { keys: 0, keysError: 0, bytes: 0, bytesError: 0, sampled: !complete };
  const f = complete ? 1 : Math.max(fraction, 1e-9);
  const keys = seen / f;
  const keysError = complete ? 0 : (Z95 * Math.sqrt(seen * (1 - f))) / f;
  const mean = sizes.reduce((s, x) => s + x, 0) / sizes.length;
  const variance = sizes.length > 1 ? sizes.reduce((s, x) => s + (x - mean) ** 2, 0) / (sizes.length - 1) : 0;
  const fpc = seen > 1 ? Math.max(0, (seen - sizes.length) / (seen - 1)) : 0;
  const meanError = (Z95 * Math.sqrt((variance / sizes.length) * fpc));
  const relKeys = keys > 0 ? keysError / keys : 0;
  const relMean = mean > 0 ? meanError / mean : 0;
  const bytes = keys * mean;
  return { keys, keysError, bytes, bytesError: bytes * Math.hypot(relKeys, relMean), sampled: !complete || sizes.length < seen };
}

/**
 * Bytes of Redis memory one event's status takes once `groups` groups have finished it, by the
 * layout of protocol 2 (README, "Memory model"; docs/PROTOCOL.md §5):
 *
 * - a plain success (the handler returned nothing) is a record in its group's success bucket:
 *   {@link STATUS_RECORD_BYTES} per group, plus the bucket key's own cost
 *   ({@link STATUS_BUCKET_KEY_BYTES}) shared by the events of one second, so
 *   `groups × (record + bucketKey ÷ max(1, rate))`;
 * - an event with a status hash (a result returned, a failure, a dead letter…):
 *   `STATUS_BASE_BYTES + STATUS_GROUP_BYTES × groups` (the version 1 layout).
 *
 * Measured with `pnpm bench` on Redis 7.0 (bench/RESULTS.md, run of 2026-12-01 22:59: 3 groups,
 * 34 B of status per event at about 20,000 events/s, 36 B at 1,000/s, 48 B at 100/s; the model
 * gives 39, 40 and 44). Ordered groups (`ordering: 'key'`) write the same records, one time marker
 * each (they settle one entry per call): 18–19 B per group per event measured (run of
 * 2026-12-02 02:58): `ordered` of the `groups` are counted at {@link ORDERED_STATUS_RECORD_BYTES}
 * per record instead of {@link STATUS_RECORD_BYTES}. `rate` is events per second (default 1: one
 * event per bucket, the worst case).
 */
export function modelStatusBytes(groups: number, options: { rate?: number; hashed?: boolean; ordered?: number } = {}): number {
  const g = Math.max(1, groups);
  if (options.hashed) return STATUS_BASE_BYTES + STATUS_GROUP_BYTES * g;
  const perBucket = Math.max(1, options.rate ?? 1);
  const ordered = Math.min(g, Math.max(0, Math.floor(options.ordered ?? 0)));
  return (g - ordered) * STATUS_RECORD_BYTES + ordered * ORDERED_STATUS_RECORD_BYTES + g * (STATUS_BUCKET_KEY_BYTES / perBucket);
}
/** A status hash's fixed cost (key, dictionary and expiry entries, listpack header). */
export const STATUS_BASE_BYTES = 165;
/** A status hash's fields of one group (state, attempts, consumer, updatedAt). */
export const STATUS_GROUP_BYTES = 100;
/**
 * One success record per group, with the string's growth slack (APPEND doubles the allocation
 * below 1 MB) and the batch markers: 11–14 B measured (used_memory freed ÷ events ÷ groups).
 */
export const STATUS_RECORD_BYTES = 13;
/**
 * One success record of an ordered group (`ordering: 'key'` on a partitioned topic): each record
 * carries its own time marker, since an ordered group settles one entry per call: 18–19 B
 * measured (bench/RESULTS.md, run of 2026-12-02 02:58); the higher figure, so the warning is not late.
 */
export const ORDERED_STATUS_RECORD_BYTES = 19;
/** One success bucket key's fixed cost (key name, dictionary and expiry entries, string header). */
export const STATUS_BUCKET_KEY_BYTES = 150;

/**
 * One reading of a topic stream: what the publish rate is computed from. Read with XLEN, XRANGE
 * (first entry), XINFO GROUPS and TIME only: commands the least-privilege consumer role already
 * has (packages/faults/ACL.md), so the check never shows up as a refusal in the ACL log.
 */
export interface StreamReading {
  /** Server time (ms) when read. */
  atMs: number;
  length: number;
  groups: number;
  /** The groups' names (XINFO GROUPS). */
  groupNames?: string[];
  firstId?: string;
}

/** A reading of `stream` (length 0 when it does not exist), or undefined when refused or unreachable. */
export async function readStream(redis: Redis, stream: string): Promise<StreamReading | undefined> {
  try {
    const [length, first, groups, time] = await Promise.all([
      redis.xlen(stream),
      redis.xrange(stream, '-', '+', 'COUNT', 1),
      (redis.xinfo('GROUPS', stream) as Promise<unknown[]>).catch((err: Error) => {
        if (/no such key/i.test(err.message)) return [];
        throw err;
      }),
      redis.time(),
    ]);
    const groupNames = (groups as unknown[][]).map((row) => {
      for (let i = 0; i + 1 < row.length; i += 2) if (row[i] === 'name') return String(row[i + 1]);
      return '';
    }).filter((n) => n !== '');
    return { atMs: Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000), length, groups: groups.length, groupNames, firstId: first[0]?.[0] };
  } catch {
    return undefined;
  }
}

const idMs = (id: string | undefined): number => (id ? Number(id.split('-')[0]) : Number.NaN);

/**
 * Average publish rate over what the stream retains (its length ÷ the time from its first entry
 * to now), or undefined when that span is under `minSpanMs` or holds under 100 entries (too
 * little to average: a burst would read as a sustained rate).
 */
export function retainedRate(r: StreamReading, minSpanMs = 10_000): number | undefined {
  const span = r.atMs - idMs(r.firstId);
  if (!Number.isFinite(span) || span < minSpanMs || r.length < 100) return undefined;
  return r.length / (span / 1000);
}

/** Publish rate between two readings: the length's growth per second (a lower bound when a trim ran in between). */
export function windowRate(a: StreamReading, b: StreamReading): number | undefined {
  const seconds = (b.atMs - a.atMs) / 1000;
  if (seconds <= 0) return undefined;
  return Math.max(0, b.length - a.length) / seconds;
}

/** What the status of one topic's events (success records or hashes) would take at its observed publish rate. */
export interface StatusMemoryProjection {
  topic: string;
  /** Events per second observed. */
  rate: number;
  /** Bytes per event's status once every group finished it: {@link modelStatusBytes}. */
  bytesPerEvent: number;
  /** The layout projected: success buckets (plain successes) or status hashes (results, failures). */
  layout: 'buckets' | 'hashes';
  groups: number;
  /** How many of the groups are ordered (`ordering: 'key'`): their records are {@link ORDERED_STATUS_RECORD_BYTES}. */
  orderedGroups: number;
  statusTtlSeconds: number;
  /** rate × statusTtlSeconds × bytesPerEvent (Infinity when status is kept for ever and events arrive). */
  projectedBytes: number;
  maxMemory: number;
}

/** INFO memory's maxmemory (0: none), or undefined when INFO is refused. */
async function maxMemoryOf(redis: Redis): Promise<number | undefined> {
  try {
    const info = await redis.info('memory');
    return Number(/^maxmemory:(\d+)/m.exec(info)?.[1] ?? 0);
  } catch {
    return undefined;
  }
}

/**
 * Project the status memory of `topic` at `rate` events/s over the status window, and say
 * whether it would exceed half of `maxmemory` (the message to warn with), or undefined.
 */
export async function projectStatusMemory(redis: Redis, topic: string, statusTtlSeconds: number, rate: number, reading: StreamReading, hashed = false, orderedGroups = 0): Promise<{ projection: StatusMemoryProjection; message?: string } | undefined> {
  const maxMemory = await maxMemoryOf(redis);
  if (maxMemory === undefined) return undefined;
  // The model, not MEMORY USAGE of a status key: the consumer role may not run MEMORY.
  const groups = Math.max(1, reading.groups);
  const ordered = Math.min(groups, Math.max(0, orderedGroups));
  const bytesPerEvent = modelStatusBytes(groups, { rate, hashed, ordered });
  const projectedBytes = rate <= 0 ? 0 : statusTtlSeconds === 0 ? Number.POSITIVE_INFINITY : rate * statusTtlSeconds * bytesPerEvent;
  const projection: StatusMemoryProjection = { topic, rate, bytesPerEvent, layout: hashed ? 'hashes' : 'buckets', groups, orderedGroups: ordered, statusTtlSeconds, projectedBytes, maxMemory };
  if (maxMemory <= 0 || projectedBytes <= maxMemory / 2) return { projection };
  const window = statusTtlSeconds === 0 ? 'kept for ever (statusTtlSeconds 0)' : `kept for statusTtlSeconds (${statusTtlSeconds} s)`;
  const amount = Number.isFinite(projectedBytes) ? `about ${formatBytes(projectedBytes)}` : `${formatBytes(rate * 3600 * bytesPerEvent)} more every hour, without end`;
  const message = `topic "${topic}": at the observed publish rate of ${rate.toFixed(rate < 10 ? 1 : 0)} events/s, status records ${window} at about ${Math.round(bytesPerEvent)} B per event${hashed ? ' (status hashes: handlers return results, or fail)' : ''} (${groups} group${groups > 1 ? 's' : ''}${ordered === 0 || hashed ? '' : groups === 1 ? ', ordered' : `, ${ordered} ordered`}) would take ${amount} of Redis memory, over half of maxmemory (${formatBytes(maxMemory)}); publishes fail once Redis is full. Lower statusTtlSeconds, set trackStatus: false for groups whose status nobody reads, or raise maxmemory (README, "Memory model").`;
  return { projection, message };
}

/** 1.5 GB, 12.0 MB, 512 B. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let u = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && u < units.length - 1) { v /= 1000; u++; }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A reading of a topic's streams (summed over partitions), and the keys of the oldest entry's home. */
interface TopicReading extends StreamReading {
  firstKeys?: TopicKeys;
}

/**
 * How many of a topic's groups are ordered: those in `known`, and on a partitioned topic those
 * whose lease of partition 0 records `ordering` key (a group is ordered only on a partitioned
 * topic). One HGET per other group; a refused or failed read counts as unordered.
 */
async function countOrdered(redis: Redis, prefix: string, topic: string, partitioned: boolean, groups: readonly string[], known: readonly string[]): Promise<number> {
  const all = [...new Set([...groups, ...known])];
  if (!partitioned) return 0;
  const keys = partitionKeys(prefix, topic, 0);
  const modes = await Promise.all(all.map((g) => (known.includes(g) ? Promise.resolve('key') : redis.hget(keys.lease(g), 'ordering').catch(() => null))));
  return modes.filter((m) => m === 'key').length;
}

/**
 * One reading of every home's stream, combined: lengths summed, the oldest first entry, the most
 * groups any stream has, the latest server time. Undefined when any read failed.
 */
async function readTopic(redis: Redis, homes: readonly TopicKeys[]): Promise<TopicReading | undefined> {
  const readings = await Promise.all(homes.map((k) => readStream(redis, k.stream)));
  if (readings.some((r) => r === undefined)) return undefined;
  let out: TopicReading | undefined;
  readings.forEach((r, i) => {
    if (!r) return;
    if (!out) { out = { ...r, ...(r.firstId ? { firstKeys: homes[i]! } : {}) }; return; }
    const older = r.firstId !== undefined && (out.firstId === undefined || idMs(r.firstId) < idMs(out.firstId));
    out = {
      atMs: Math.max(out.atMs, r.atMs),
      length: out.length + r.length,
      groups: Math.max(out.groups, r.groups),
      groupNames: [...new Set([...(out.groupNames ?? []), ...(r.groupNames ?? [])])],
      ...(older ? { firstId: r.firstId, firstKeys: homes[i]! } : out.firstId ? { firstId: out.firstId, firstKeys: out.firstKeys! } : {}),
    };
  });
  return out;
}

/**
 * Check once whether `topic`'s status would outgrow half of `maxmemory` at its observed
 * publish rate: at once from what the stream retains (when it spans at least 10 s), else after
 * `windowMs` from the entries added meanwhile. A partitioned topic is read over all its
 * partitions (its meta record says how many; ordered and unordered groups alike write success
 * records; an ordered group's are larger: `ordered` names groups known to be ordered, e.g. the
 * subscribing one, and on a partitioned topic a group whose lease of partition 0 records
 * `ordering` key is counted ordered too: one HGET per group). Four cheap commands per stream per
 * reading, INFO once; calls `warn` at most once. Returns a function that cancels a check not yet run.
 */
export function watchStatusMemory(redis: Redis, prefix: string, topic: string, statusTtlSeconds: number, warn: (message: string) => void, windowMs = 10_000, ordered: readonly string[] = []): () => void {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const judge = async (rate: number | undefined, reading: TopicReading): Promise<void> => {
    if (cancelled || rate === undefined) return;
    // Which layout the topic's statuses take: the oldest retained event (finished, most likely)
    // has a status hash when its handlers return results or fail; else plain successes, in buckets.
    const hashed = reading.firstId && reading.firstKeys ? (await redis.exists(reading.firstKeys.status(reading.firstId)).catch(() => 0)) === 1 : false;
    const orderedGroups = await countOrdered(redis, prefix, topic, partitioned, reading.groupNames ?? [], ordered);
    const r = await projectStatusMemory(redis, topic, statusTtlSeconds, rate, reading, hashed, orderedGroups).catch(() => undefined);
    if (r?.message && !cancelled) warn(r.message);
  };
  let partitioned = false;
  void (async () => {
    const names = await topicHomeNames(redis, prefix, topic);
    partitioned = names.partitions > 0;
    const homes = names.homes.map((home) => topicKeys(prefix, home));
    if (cancelled) return;
    const first = await readTopic(redis, homes);
    if (cancelled) return;
    const now = first ? retainedRate(first) : undefined;
    if (first && now !== undefined) { await judge(now, first); return; }
    if (!first) return; // refused or unreachable: nothing to judge with
    timer = setTimeout(() => {
      void (async () => {
        const second = await readTopic(redis, homes);
        if (second) await judge(windowRate(first, second), second);
      })();
    }, windowMs);
    timer.unref();
  })();
  return () => {
    cancelled = true;
    if (timer) clearTimeout(timer);
  };
}
