import { InvalidOptionError } from './errors';

/**
 * The only place that builds key names. Every key of one topic shares the hash tag
 * `{<topic>}`, so every multi-key script also runs on Redis Cluster.
 *
 * ```
 * <prefix>:{<topic>}:stream               the topic's stream, one consumer group per service
 * <prefix>:{<topic>}:delayed              delayed publishes (their delayed ids), scored by due time (server ms)
 * <prefix>:{<topic>}:delayed-id:<id>      hash: payload|headers|due while scheduled; event (the stream id) once promoted (TTL then)
 * <prefix>:{<topic>}:status:<eventId>     hash <group>:state|attempts|result|error|... (TTL)
 * <prefix>:{<topic>}:ok:<group>:<second>  string: plain successes of one group's events of one second (TTL; protocol 2)
 * <prefix>:{<topic>}:idem:<key>           idempotency marker → first event id (TTL)
 * <prefix>:{<topic>}:producer:<id>        one client's publish calls not yet answered → ids written (TTL, refreshed)
 * <prefix>:{<topic>}:done                 Pub/Sub channel: "<state>|<group>|<id,id,...>"
 * <prefix>:{<topic>}:waiters              exists (PX TTL, refreshed) while some waitFor listens; scripts publish on `done` only then
 * <prefix>:{<topic>}:retention-lock       short lock (SET NX PX) so one retention run per topic per interval
 * <prefix>:{<topic>}:retry:<group>        one group's retries, scored by due time
 * <prefix>:{<topic>}:redeliver:<group>    one group's redelivery stream (retries, replays)
 * <prefix>:{<topic>}:dlq:<group>          one group's dead letters (a stream)
 * <prefix>:{<topic>}:retired              hash: retired group → retired at (server ms); never recreated while listed
 * <prefix>:{<topic>}:copies:<group>      sorted set '<copy id> <event id>' by copy ms: which event each redelivery entry copies (TTL, pruned)
 * <prefix>:{<topic>}:recreated:<group>    string: an id bounding every entry published before a destroyed group was recreated (TTL)
 * ```
 */
export interface TopicKeys {
  readonly prefix: string;
  readonly topic: string;
  readonly stream: string;
  readonly delayed: string;
  readonly done: string;
  readonly waiters: string;
  readonly retentionLock: string;
  status(eventId: string): string;
  /**
   * Success bucket (protocol 2): the plain successes of `group` whose event ids fall in the
   * second `second` (event id ms ÷ 1000, rounded down), as short records (docs/PROTOCOL.md §5.2).
   */
  ok(group: string, second: number): string;
  idempotency(key: string): string;
  producer(producerId: string): string;
  delayedRef(delayedId: string): string;
  retry(group: string): string;
  redeliver(group: string): string;
  deadLetters(group: string): string;
  /** Groups retired for good (see retireGroup-N.lua): a hash group → retired at, in server ms. */
  readonly retired: string;
  /**
   * Set by a consumer that recreated `group` after XGROUP DESTROY: `<server ms then>-<max seq>`,
   * at or after every entry published before. Entries up to it may be delivered again that the group had finished; every consumer
   * of the group reads it (start, reclaim ticks) and checks their status before running them.
   */
  recreated(group: string): string;
  /**
   * Which event each entry of `group`'s redelivery stream copies (a sorted set, member
   * `<copy id> <event id>`, score the copy id's ms): a copy deleted before its handler saw it
   * still names its event. Written by failEntry, promoteDue and replayDead; pruned below what the
   * group still needs.
   */
  copies(group: string): string;
}

/**
 * Most key sets {@link topicKeys} keeps built. Building one makes a dozen closures and strings,
 * and publish, ack and read paths ask for them per call (a profile of one `publish` found 4 % of
 * its CPU there); a process that names more topics than this starts over (they are rebuilt on use).
 */
const MAX_BUILT_KEYS = 1024;
/** Key sets built so far: prefix → topic (or partition tag, or lane home) → keys (frozen, shared). */
const builtKeys = new Map<string, Map<string, TopicKeys>>();
let builtCount = 0;

/**
 * The keys of one topic, built once and then shared (frozen). Names must already be validated.
 * `topic` may also be a partition's tag (`T#i`, see {@link partitionKeys}) or a lane's home
 * (`T+L`, see {@link laneHome}): a lane's keys are under `<prefix>:{T}:lane:<L>`, except the idempotency
 * markers and producer hashes, which every lane of the topic shares (docs/priorities.md §2).
 */
export function topicKeys(prefix: string, topic: string): TopicKeys {
  let byTopic = builtKeys.get(prefix);
  const hit = byTopic?.get(topic);
  if (hit) return hit;
  const keys = Object.freeze(buildTopicKeys(prefix, topic));
  if (builtCount >= MAX_BUILT_KEYS) { builtKeys.clear(); builtCount = 0; byTopic = undefined; }
  if (!byTopic) { byTopic = new Map(); builtKeys.set(prefix, byTopic); }
  byTopic.set(topic, keys);
  builtCount += 1;
  return keys;
}

function buildTopicKeys(prefix: string, topic: string): TopicKeys {
  const lane = parseLaneHome(topic);
  const shared = lane ? `${prefix}:{${lane.topic}}` : `${prefix}:{${topic}}`;
  const base = lane ? `${shared}:lane:${lane.lane}` : shared;
  return {
    prefix,
    topic,
    stream: `${base}:stream`,
    delayed: `${base}:delayed`,
    done: `${base}:done`,
    waiters: `${base}:waiters`,
    retentionLock: `${base}:retention-lock`,
    status: (eventId) => `${base}:status:${eventId}`,
    ok: (group, second) => `${base}:ok:${group}:${second}`,
    idempotency: (key) => `${shared}:idem:${key}`,
    producer: (producerId) => `${shared}:producer:${producerId}`,
    delayedRef: (delayedId) => `${base}:delayed-id:${delayedId}`,
    retry: (group) => `${base}:retry:${group}`,
    redeliver: (group) => `${base}:redeliver:${group}`,
    deadLetters: (group) => `${base}:dlq:${group}`,
    retired: `${base}:retired`,
    recreated: (group) => `${base}:recreated:${group}`,
    copies: (group) => `${base}:copies:${group}`,
  };
}

/**
 * Prefix of the throwaway stream capability detection creates and deletes in one MULTI (see
 * capabilities.ts): under the client's prefix, so an ACL user limited to it may run it; its own
 * hash tag on a cluster.
 */
export function capabilityProbeKey(prefix: string): string {
  return `${prefix}:{capabilities}`;
}

/** SCAN pattern that matches every topic stream under a prefix (not lane streams: see {@link laneAwareScanPattern}). */
export function streamScanPattern(prefix: string): string {
  return `${prefix}:{*}:stream`;
}

/**
 * SCAN pattern that matches every topic stream, partition stream and lane stream
 * (`<prefix>:{T}:lane:L:stream`, which {@link streamScanPattern} does not match) under a prefix,
 * in one pass; it also matches other keys ending in `stream` (a redelivery stream of a group
 * named `…stream`): keep only what {@link classifyStreamKey} recognises.
 */
export function laneAwareScanPattern(prefix: string): string {
  return `${prefix}:{*stream`;
}

/**
 * The topic name (or partition tag) inside a stream key built by {@link topicKeys}, or
 * undefined. A lane's stream (`<prefix>:{T}:lane:L:stream`, which `SCAN <prefix>:{*}:stream`
 * also matches) gives its topic `T`; {@link classifyStreamKey} tells the lane.
 */
export function topicFromStreamKey(prefix: string, key: string): string | undefined {
  const head = `${prefix}:{`;
  const tail = '}:stream';
  if (!key.startsWith(head)) return undefined;
  const lane = laneFromStreamKey(prefix, key);
  if (lane) return lane.topic;
  if (!key.endsWith(tail)) return undefined;
  return key.slice(head.length, key.length - tail.length);
}

/**
 * Priority lanes (docs/priorities.md). Lane L of topic T is, for key names, a topic whose home
 * is `T+L` (`+` cannot occur in a topic name); its keys are under `<prefix>:{T}:lane:<L>`, in
 * the topic's own hash tag. The default lane's home is `T` itself: it keeps the topic's keys.
 */
export const LANE_SEPARATOR = '+';

/** Lane names: short, lower case, never `p<digits>` (partition ids look like `p3:`). */
export const LANE_NAME = /^[a-z][a-z0-9_-]{0,15}$/;

/** Most lanes a topic may declare. */
export const MAX_LANES = 8;

/** The home of lane `lane` of `topic`: the topic itself for the default lane, else `T+L`. */
export function laneHome(topic: string, lane: string, defaultLane: string): string {
  return lane === defaultLane ? topic : `${topic}${LANE_SEPARATOR}${lane}`;
}

/** The topic and lane of a home built by {@link laneHome} (`T+L`); undefined for a topic's own name or a partition tag. */
export function parseLaneHome(home: string): { topic: string; lane: string } | undefined {
  const cut = home.lastIndexOf(LANE_SEPARATOR);
  if (cut <= 0) return undefined;
  const lane = home.slice(cut + 1);
  return LANE_NAME.test(lane) ? { topic: home.slice(0, cut), lane } : undefined;
}

/**
 * The keys of lane `lane` of `topic` (the topic's own keys for the default lane). Names must
 * already be validated. See docs/priorities.md §2.
 */
export function laneKeys(prefix: string, topic: string, lane: string, defaultLane: string): TopicKeys {
  return topicKeys(prefix, laneHome(topic, lane, defaultLane));
}

function laneFromStreamKey(prefix: string, key: string): { topic: string; lane: string } | undefined {
  const m = /^(.*)\}:lane:([a-z][a-z0-9_-]{0,15}):stream$/.exec(key.slice(prefix.length + 2));
  if (!key.startsWith(`${prefix}:{`) || !m || m[1]!.includes('}') || m[1]!.length === 0) return undefined;
  return { topic: m[1]!, lane: m[2]! };
}

/**
 * Partitioned topics (docs/partitions.md).
 *
 * Partition i of topic T is, for key names, a topic of its own whose hash tag is `T#i`:
 * every key {@link topicKeys} builds for a topic exists once per partition, in that
 * partition's slot, so every settle script keeps all its keys in one slot:
 * ```
 * <prefix>:{<topic>#<i>}:stream                 partition i's stream (one group per service)
 * <prefix>:{<topic>#<i>}:status:<streamId>      status of partition i's events (id local to the partition)
 * <prefix>:{<topic>#<i>}:ok:<group>:<second>    success buckets of partition i's events (unordered groups; protocol 2)
 * <prefix>:{<topic>#<i>}:delayed, :delayed-id:<id>, :idem:<k>, :producer:<id>, :done, :waiters,
 *                         :retention-lock, :retry:<g>, :redeliver:<g>, :dlq:<g>   as for a topic
 * <prefix>:{<topic>#<i>}:lease:<group>          hash owner|token|until: who works partition i for the group
 * <prefix>:{<topic>#<i>}:backoff:<group>        ordered groups: zset entryId → due ms of held-back retries
 * <prefix>:{<topic>#<i>}:parked:<group>         ordered groups, afterDeadLetter 'hold': entries of blocked keys
 * <prefix>:{<topic>#<i>}:blocked:<group>        ordered groups, afterDeadLetter 'hold': hash key → dead-letter id
 * <prefix>:{<topic>#<i>}:idle                   exists (PX TTL) while a cluster reader waits for a wake notice
 * <prefix>:{<topic>#<i>}:wake                   Pub/Sub channel: "new entries" (sent only while :idle exists)
 * ```
 * and, in the topic's own tag (the slot an unpartitioned topic of that name would use):
 * ```
 * <prefix>:{<topic>}:meta                       hash partitions|hash|layout|createdAt: fixed at creation
 * <prefix>:{<topic>}:consumers:<group>          zset consumer → heartbeat expiry (server ms): the live consumers
 * ```
 * `#` cannot occur in a topic name (names.ts allows letters, digits and `. _ : / -`), so the
 * tag `T#i` never equals the tag of an unpartitioned topic, e.g. one named `T:p3` or `T-3`,
 * and parsing a tag back is unambiguous. `#` is no glob character either, so SCAN patterns
 * stay plain. An unpartitioned topic keeps its keys exactly (`{T}:stream` and so on);
 * `{T}:meta` is a key kind no topic used before, and is written only for partitioned topics.
 */

/** Separates topic and partition in a partition's hash tag: a character topic names cannot hold. */
export const PARTITION_SEPARATOR = '#';

/** Most partitions a topic may have (each is a stream with its own lease per group). */
export const MAX_PARTITIONS = 1024;

/** Check a partition count: a whole number from 1 to {@link MAX_PARTITIONS}. */
export function validatePartitionCount(partitions: unknown): number {
  if (typeof partitions !== 'number' || !Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new InvalidOptionError(`partitions must be a whole number from 1 to ${MAX_PARTITIONS}, got ${String(partitions)}`);
  }
  return partitions;
}

function checkIndex(partition: number, partitions?: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= (partitions ?? MAX_PARTITIONS)) {
    throw new InvalidOptionError(`partition must be a whole number from 0 to ${(partitions ?? MAX_PARTITIONS) - 1}, got ${String(partition)}`);
  }
}

/** The hash tag of partition `partition` of `topic`: `<topic>#<partition>` (decimal, no padding). */
export function partitionTag(topic: string, partition: number): string {
  checkIndex(partition);
  return `${topic}${PARTITION_SEPARATOR}${partition}`;
}

/** The topic and partition inside a tag built by {@link partitionTag}, or undefined for a topic's own tag. */
export function parsePartitionTag(tag: string): { topic: string; partition: number } | undefined {
  const m = /^(.+)#(0|[1-9]\d{0,3})$/.exec(tag);
  if (!m || Number(m[2]) >= MAX_PARTITIONS || m[1]!.includes(PARTITION_SEPARATOR)) return undefined;
  return { topic: m[1]!, partition: Number(m[2]) };
}

/** Keys of one partition: every key of a topic, in the partition's slot, and the partition's own. */
export interface PartitionKeys extends TopicKeys {
  /** The partition's index, 0-based. */
  readonly partition: number;
  /** The partitioned topic's name (`topic` is the partition's tag). */
  readonly partitionedTopic: string;
  /** Exists while a reader on a Cluster waits for a wake notice on this partition. */
  readonly idle: string;
  /** Channel for "new entries in this partition" notices. */
  readonly wake: string;
  /** Lease hash of one group on this partition: owner, fencing token, until (server ms). */
  lease(group: string): string;
  /** Ordered groups: held-back retries of this partition, entry id → due (server ms). */
  backoff(group: string): string;
  /** Ordered groups (afterDeadLetter 'hold'): entries whose key waits for a dead letter. */
  parked(group: string): string;
  /** Ordered groups (afterDeadLetter 'hold'): key → id of the dead letter that blocks it. */
  blocked(group: string): string;
}

/** Build the keys of partition `partition` of a topic. Names must already be validated. */
export function partitionKeys(prefix: string, topic: string, partition: number): PartitionKeys {
  const tag = partitionTag(topic, partition);
  const keys = topicKeys(prefix, tag);
  const base = `${prefix}:{${tag}}`;
  return {
    ...keys,
    partition,
    partitionedTopic: topic,
    idle: `${base}:idle`,
    wake: `${base}:wake`,
    lease: (group) => `${base}:lease:${group}`,
    backoff: (group) => `${base}:backoff:${group}`,
    parked: (group) => `${base}:parked:${group}`,
    blocked: (group) => `${base}:blocked:${group}`,
  };
}

/** Keys of a partitioned topic that live in the topic's own tag. */
export interface TopicMetaKeys {
  /** Hash fixed at creation: partitions, hash, layout, createdAt. */
  readonly meta: string;
  /** The topic's unpartitioned stream key: a partitioned topic is refused while it exists. */
  readonly unpartitionedStream: string;
  /** Live consumers of a group, scored by heartbeat expiry (server ms). */
  consumers(group: string): string;
}

/** Build the keys in a topic's own tag that describe it as partitioned. Names must already be validated. */
export function topicMetaKeys(prefix: string, topic: string): TopicMetaKeys {
  const base = `${prefix}:{${topic}}`;
  return {
    meta: `${base}:meta`,
    unpartitionedStream: topicKeys(prefix, topic).stream,
    consumers: (group) => `${base}:consumers:${group}`,
  };
}

/** SCAN pattern matching the meta hash of every partitioned topic under a prefix. */
export function metaScanPattern(prefix: string): string {
  return `${prefix}:{*}:meta`;
}

/**
 * What a stream key found by `SCAN <prefix>:{*}:stream` is: an unpartitioned topic's stream,
 * a partition's (listings then group partitions under their topic), a lane's (`{ topic, lane }`,
 * for `<prefix>:{T}:lane:L:stream`), or neither.
 */
export function classifyStreamKey(prefix: string, key: string): { topic: string; partition?: number; lane?: string } | undefined {
  const lane = laneFromStreamKey(prefix, key);
  if (lane) return lane.topic.includes(PARTITION_SEPARATOR) ? undefined : lane;
  const tag = topicFromStreamKey(prefix, key);
  if (tag === undefined) return undefined;
  const p = parsePartitionTag(tag);
  if (p) return p;
  return tag.includes(PARTITION_SEPARATOR) ? undefined : { topic: tag };
}
