import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { InvalidOptionError, InvalidPayloadError, PayloadTooLargeError, RedisUnavailableError, fromRedisError } from './errors';
import { laneHome, partitionTag, topicKeys } from './keys';
import { UnknownLaneError } from './lanes/errors';
import { formatLaneId, parseLaneId } from './lanes/ids';
import { ensureLanesOnce } from './lanes/meta';
import { PartialPublishError } from './partitions/errors';
import { KeylessSpread, partitionForKey, validatePartitionKey } from './partitions/hash';
import { ensureTopicMetaOnce } from './partitions/meta';
import { formatPartitionedId, isPartitionedId } from './partitions/partitionKeys';
import { PRODUCER_TTL_MS, type ProducerLedger } from './producer';
import { runScript } from './scripts/runner';
import { toTopic, type Topic } from './topic';

/** Headers travel with an event to every handler; keys and values are strings. */
export type Headers = Record<string, string>;

/** Options of {@link Streamfan.publish}. */
export interface PublishOptions {
  /** Metadata for handlers (trace ids, tenant, content type). */
  headers?: Headers;
  /**
   * A repeat publish with the same key within the window writes nothing and returns the
   * first event's id. Scope: one topic.
   */
  idempotencyKey?: string;
  /** How long an idempotency key is remembered. @defaultValue 86400000 (24 h) */
  idempotencyWindowMs?: number;
  /** Deliver after this many ms, measured on the Redis server's clock. */
  delayMs?: number;
  /** Deliver at this time (a Date or epoch ms). */
  runAt?: Date | number;
  /**
   * Partitioned topics only: the event's partition key (an order id, a user id). Events of one
   * key go to one partition, by Kafka's murmur2 partitioner (docs/partitions.md gives the
   * function and test vectors), and carry the key in the entry's `key` field. Without a key,
   * events are spread evenly over the partitions. At most 1024 UTF-8 bytes; `''` is a key.
   * Refused on an unpartitioned topic (it would promise an order nobody keeps).
   */
  key?: string;
  /**
   * Prioritized topics only: the lane to publish into, one of the topic's `priorities`
   * (docs/priorities.md §4). Without it: the topic's `defaultPriority`. A non-default lane's ids
   * are `<lane>:<id>`. Refused on a topic without priorities; a lane the topic does not have is an
   * {@link UnknownLaneError}. With `idempotencyKey`, the key is one per topic: a repeat in any lane
   * returns the first publish's id (with its lane).
   */
  priority?: string;
}

/** Options of {@link Streamfan.publishMany}: shared by every event of the batch. */
export type PublishManyOptions = Omit<PublishOptions, 'idempotencyKey' | 'idempotencyWindowMs'> & {
  /**
   * Partitioned topics only: one key per event (`undefined` for an event without a key), as
   * many as payloads. Give either `key` (every event) or `keys`.
   */
  keys?: ReadonlyArray<string | undefined>;
};

/** Most events one {@link Streamfan.publishMany} call takes: one script runs alone in Redis, so a batch must stay short. */
export const MAX_BATCH_EVENTS = 10_000;
/** Most encoded bytes (payloads and headers) one {@link Streamfan.publishMany} call takes. */
export const MAX_BATCH_BYTES = 64 * 1024 * 1024;

/** Prefix of the ids {@link Streamfan.publish} returns for delayed events. */
export const DELAYED_ID_PREFIX = 'delayed-';

/** Stream entry field names: the wire format other programs may read or write. */
export const FIELD = { payload: 'payload', headers: 'headers', orig: 'orig', base: 'base', delayed: 'delayed', key: 'key' } as const;

export interface Encoded {
  payload: string;
  headers: string;
  /** Partitioned topics: '' for an event without a key, '=' followed by the key (the scripts' key mark). */
  mark?: string;
}

/** The scripts' key mark of an event: '' without a key, '=' followed by the key. */
function keyMark(key: string | undefined): string {
  return key === undefined ? '' : `=${key}`;
}

const spreads = new WeakMap<ProducerLedger, Map<string, KeylessSpread>>();

/** The keyless spread of one publisher (its ledger) over one partitioned topic. */
function spreadOf(ledger: ProducerLedger, topic: string, partitions: number): KeylessSpread {
  let byTopic = spreads.get(ledger);
  if (!byTopic) { byTopic = new Map(); spreads.set(ledger, byTopic); }
  let s = byTopic.get(topic);
  if (!s || s.partitions !== partitions) { s = new KeylessSpread(partitions); byTopic.set(topic, s); }
  return s;
}

/** Most bare topic names {@link publishTopic} keeps defined (beyond, it starts over). */
const MAX_NAMED_TOPICS = 1024;
const namedTopics = new Map<string, Topic<unknown>>();

/**
 * The topic of a publish: a topic object as it is; a bare name as `toTopic` defines it (an
 * untyped JSON topic), defined once per name and then shared (a topic is frozen and its codec
 * keeps no state), so a publish by name does not validate the name and build a codec every call.
 * @throws InvalidNameError for a bad name (not kept)
 */
export function publishTopic<T>(topic: Topic<T> | string): Topic<T> {
  if (typeof topic !== 'string') return topic;
  let t = namedTopics.get(topic);
  if (!t) {
    t = toTopic<unknown>(topic);
    if (namedTopics.size >= MAX_NAMED_TOPICS) namedTopics.clear();
    namedTopics.set(topic, t);
  }
  return t as Topic<T>;
}

/** Check `key` against the topic: a valid key on a partitioned topic, none on an unpartitioned one. */
function checkKey(topic: Topic<unknown>, key: unknown): string | undefined {
  if (key === undefined) return undefined;
  if (topic.partitions === undefined) {
    throw new InvalidOptionError(`topic "${topic.name}" is not partitioned, so a publish key would order nothing: drop { key }, or define the topic with { partitions: n } (a new topic name; see docs/partitions.md)`);
  }
  return validatePartitionKey(key);
}

/** A publish's lane on a prioritized topic (undefined on a topic without lanes). */
function laneOf(topic: Topic<unknown>, priority: unknown): string | undefined {
  if (topic.priorities === undefined) {
    if (priority === undefined) return undefined;
    throw new InvalidOptionError(`topic "${topic.name}" has no priority lanes, so { priority } would mean nothing: drop it, or define the topic with { priorities: [...] } (docs/priorities.md)`);
  }
  if (priority === undefined) return topic.defaultPriority!;
  if (typeof priority !== 'string' || !topic.priorities.includes(priority)) throw new UnknownLaneError(topic.name, priority, topic.priorities);
  return priority;
}

/**
 * The name whose keys hold a published delayed id (the topic, the partition's tag, or the
 * lane's home), for the client's promotion timer; undefined when `id` is not a delayed id.
 */
export function delayedHome(topic: Topic<unknown>, id: string): string | undefined {
  if (topic.priorities !== undefined) {
    const { lane, localId } = parseLaneId(id, topic);
    return localId.startsWith(DELAYED_ID_PREFIX) ? laneHome(topic.name, lane, topic.defaultPriority!) : undefined;
  }
  if (id.startsWith(DELAYED_ID_PREFIX)) return topic.name;
  if (topic.partitions !== undefined && isPartitionedId(id)) {
    const cut = id.indexOf(':');
    if (id.startsWith(DELAYED_ID_PREFIX, cut + 1)) return partitionTag(topic.name, Number(id.slice(1, cut)));
  }
  return undefined;
}

function encodeHeaders(headers: Headers | undefined): string {
  if (headers === undefined) return '';
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new InvalidPayloadError('headers must be an object of string values, e.g. { traceId: "abc" }');
  }
  const keys = Object.keys(headers);
  if (keys.length === 0) return '';
  for (const k of keys) {
    if (typeof headers[k] !== 'string') throw new InvalidPayloadError(`header "${k}" must be a string, got ${typeof headers[k]}: convert it with String()`);
  }
  return JSON.stringify(headers);
}

/** Encode and size-check one event; throws before anything is written. */
export function encodeEvent<T>(topic: Topic<T>, payload: T, headers?: Headers): Encoded {
  let data: string;
  try {
    data = topic.codec.encode(payload);
  } catch (err) {
    if (err instanceof InvalidPayloadError) throw err;
    throw new InvalidPayloadError(`payload for topic "${topic.name}" cannot be encoded: ${(err as Error).message}`, { cause: err });
  }
  if (typeof data !== 'string') throw new InvalidPayloadError(`the codec of topic "${topic.name}" returned ${typeof data}, not a string`);
  const size = Buffer.byteLength(data);
  if (size > topic.maxPayloadBytes) throw new PayloadTooLargeError(size, topic.maxPayloadBytes, topic.name);
  return { payload: data, headers: encodeHeaders(headers) };
}

/** The due spec for scheduleDelayed: '+ms' relative to server time or absolute ms; undefined when not delayed. */
export function dueSpec(options: PublishManyOptions): string | undefined {
  if (options.delayMs !== undefined && options.runAt !== undefined) {
    throw new InvalidOptionError('give either delayMs or runAt, not both');
  }
  if (options.delayMs !== undefined) {
    if (!Number.isFinite(options.delayMs) || options.delayMs < 0) throw new InvalidOptionError(`delayMs must be a number ≥ 0, got ${String(options.delayMs)}`);
    return options.delayMs === 0 ? undefined : `+${Math.round(options.delayMs)}`;
  }
  if (options.runAt !== undefined) {
    const ms = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
    if (!Number.isFinite(ms)) throw new InvalidOptionError(`runAt must be a valid Date or epoch ms, got ${String(options.runAt)}`);
    return String(Math.round(ms));
  }
  return undefined;
}

/** Schedule encoded events (one script): the set holds their delayed ids, each event's data waits in its own hash. */
async function schedule(redis: Redis, prefix: string, topic: string, events: readonly Encoded[], due: string): Promise<string[]> {
  const keys = topicKeys(prefix, topic);
  const ids = events.map(() => `${DELAYED_ID_PREFIX}${randomUUID()}`);
  const keyed = events.some((e) => e.mark !== undefined);
  const args: string[] = keyed ? ['keyed'] : [];
  events.forEach((e, i) => {
    args.push(ids[i]!, e.payload, e.headers, due);
    if (keyed) args.push(e.mark ?? '');
  });
  await runScript(redis, 'scheduleDelayed', [keys.delayed, ...ids.map((id) => keys.delayedRef(id))], args);
  return ids;
}

/**
 * Append encoded events to the stream with the producer's call number, so a resend of this
 * call by ioredis (reply lost in a dropped connection) returns the first ids and writes nothing.
 */
async function appendOnce(redis: Redis, ledger: ProducerLedger, topic: string, events: readonly Encoded[]): Promise<string[]> {
  const keys = topicKeys(ledger.prefix, topic);
  const call = ledger.next();
  const forget = ledger.take(topic);
  const keyed = events.some((e) => e.mark !== undefined);
  const args: string[] = [call, String(PRODUCER_TTL_MS), String(forget.length), ...forget, keyed ? '3' : '2'];
  if (keyed) for (const e of events) args.push(e.payload, e.headers, e.mark ?? '');
  else for (const e of events) args.push(e.payload, e.headers);
  try {
    const ids = await runScript<string[]>(redis, 'publishEvents', [keys.stream, keys.producer(ledger.id)], args);
    ledger.done(topic, call);
    return ids;
  } catch (err) {
    const mapped = fromRedisError(err, `publish to "${topic}"`, redis);
    // An error reply is an answer (nothing can be re-sent after it); a dropped connection is not.
    if (mapped instanceof RedisUnavailableError) ledger.giveBack(topic, forget);
    else { ledger.done(topic, call); ledger.giveBack(topic, forget); }
    throw mapped;
  }
}

interface Waiting { event: Encoded; size: number; resolve(id: string): void; reject(err: unknown): void }
const waiting = new WeakMap<ProducerLedger, Map<string, Waiting[]>>();

/** Where a flushed chunk goes: the name whose keys it is written under, and how its ids are shown. */
interface Target { topic: string; format(id: string): string }
const plain = (topic: string): Target => ({ topic, format: (id) => id });

/**
 * Single publishes made in the same turn of the event loop (e.g. `Promise.all(items.map(publish))`)
 * go to Redis as one publishEvents call per topic: one script run instead of one per event,
 * which more than pays for the dedupe bookkeeping. A publish made alone is sent alone, at once.
 * On a partitioned topic the queue is per partition for keyed events, and one queue for
 * keyless events whose partition is picked per flushed chunk (`target(n)`, {@link KeylessSpread}).
 */
function appendCoalesced(redis: Redis, ledger: ProducerLedger, queueName: string, event: Encoded, target?: (events: number) => Target): Promise<string> {
  let byTopic = waiting.get(ledger);
  if (!byTopic) { byTopic = new Map(); waiting.set(ledger, byTopic); }
  let queue = byTopic.get(queueName);
  if (!queue) {
    const q: Waiting[] = [];
    queue = q;
    byTopic.set(queueName, q);
    const map = byTopic;
    queueMicrotask(() => { map.delete(queueName); flushWaiting(redis, ledger, target ?? (() => plain(queueName)), q); });
  }
  const q = queue;
  return new Promise<string>((resolve, reject) => {
    q.push({ event, size: Buffer.byteLength(event.payload) + Buffer.byteLength(event.headers), resolve, reject });
  });
}

function flushWaiting(redis: Redis, ledger: ProducerLedger, target: (events: number) => Target, queue: Waiting[]): void {
  let start = 0;
  while (start < queue.length) {
    let end = start;
    let bytes = 0;
    while (end < queue.length && end - start < MAX_BATCH_EVENTS && (end === start || bytes + queue[end]!.size <= MAX_BATCH_BYTES)) {
      bytes += queue[end]!.size;
      end += 1;
    }
    const chunk = start === 0 && end === queue.length ? queue : queue.slice(start, end);
    const to = target(chunk.length);
    appendOnce(redis, ledger, to.topic, chunk.map((w) => w.event)).then(
      (ids) => chunk.forEach((w, i) => w.resolve(to.format(ids[i]!))),
      (err: unknown) => chunk.forEach((w) => w.reject(err)),
    );
    start = end;
  }
}

/** An id as publish returns it: `p<i>:<id>` in partition i, the stream id otherwise. */
function showId(partition: number | undefined, id: string): string {
  return partition === undefined ? id : formatPartitionedId(partition, id);
}

/** Publish one event. See {@link Streamfan.publish}. */
export async function publishOne<T>(redis: Redis, ledger: ProducerLedger, prefix: string, topic: Topic<T>, payload: T, options: PublishOptions = {}): Promise<string> {
  const partitionKey = checkKey(topic as Topic<unknown>, options.key);
  const lane = laneOf(topic as Topic<unknown>, options.priority);
  const encoded = encodeEvent(topic, payload, options.headers);
  const due = dueSpec(options);
  const P = topic.partitions;
  if (lane !== undefined) return publishToLane(redis, ledger, prefix, topic, lane, encoded, due, options);
  if (options.idempotencyKey !== undefined) {
    const key = options.idempotencyKey;
    if (typeof key !== 'string' || key.length === 0 || key.length > 512) {
      throw new InvalidOptionError('idempotencyKey must be a non-empty string of at most 512 characters');
    }
  }
  // Partitioned: the partition is the key's; an idempotent publish without a key goes where
  // its idempotency key hashes, so a repeat finds its marker without a key.
  let partition: number | undefined;
  if (P !== undefined) {
    await ensureTopicMetaOnce(redis, prefix, topic.name, P);
    encoded.mark = keyMark(partitionKey);
    if (partitionKey !== undefined) partition = partitionForKey(partitionKey, P);
    else if (options.idempotencyKey !== undefined) partition = partitionForKey(options.idempotencyKey, P);
    else if (due !== undefined) partition = spreadOf(ledger, topic.name, P).pick(1);
  }
  const home = partition === undefined ? topic.name : partitionTag(topic.name, partition);
  try {
    if (options.idempotencyKey !== undefined) {
      const keys = topicKeys(prefix, home);
      const key = options.idempotencyKey;
      const window = options.idempotencyWindowMs ?? 86_400_000;
      if (!Number.isInteger(window) || window < 1) throw new InvalidOptionError(`idempotencyWindowMs must be a whole number ≥ 1, got ${String(window)}`);
      const delayedId = due === undefined ? '' : `${DELAYED_ID_PREFIX}${randomUUID()}`;
      const scriptKeys = [keys.stream, keys.idempotency(key)];
      if (delayedId) scriptKeys.push(keys.delayed, keys.delayedRef(delayedId));
      const args: Array<string | number> = [
        encoded.payload, encoded.headers, window, delayedId,
        due?.startsWith('+') ? due.slice(1) : '0', due !== undefined && !due.startsWith('+') ? due : '',
      ];
      if (encoded.mark) args.push(encoded.mark);
      const [, id] = await runScript<[number, string]>(redis, 'publishOnce', scriptKeys, args);
      return showId(partition, id);
    }
    if (due !== undefined) return showId(partition, (await schedule(redis, prefix, home, [encoded], due))[0]!);
    if (P !== undefined && partition === undefined) {
      // Keyless: the single publishes of this turn go whole to one partition per flushed chunk.
      const spread = spreadOf(ledger, topic.name, P);
      return await appendCoalesced(redis, ledger, `${topic.name}#*`, encoded, (n) => {
        const p = spread.pick(n);
        return { topic: partitionTag(topic.name, p), format: (id) => formatPartitionedId(p, id) };
      });
    }
    if (partition !== undefined) {
      const p = partition;
      return await appendCoalesced(redis, ledger, home, encoded, () => ({ topic: home, format: (id) => formatPartitionedId(p, id) }));
    }
    return await appendCoalesced(redis, ledger, topic.name, encoded);
  } catch (err) {
    throw fromRedisError(err, `publish to "${topic.name}"`, redis);
  }
}

function checkIdempotency(options: PublishOptions): number | undefined {
  if (options.idempotencyKey === undefined) return undefined;
  const key = options.idempotencyKey;
  if (typeof key !== 'string' || key.length === 0 || key.length > 512) {
    throw new InvalidOptionError('idempotencyKey must be a non-empty string of at most 512 characters');
  }
  const window = options.idempotencyWindowMs ?? 86_400_000;
  if (!Number.isInteger(window) || window < 1) throw new InvalidOptionError(`idempotencyWindowMs must be a whole number ≥ 1, got ${String(window)}`);
  return window;
}

/**
 * {@link publishOne} on a prioritized topic: into lane `lane`'s stream (or delayed set), ids
 * `<lane>:<id>` off the default lane. An idempotency marker is one per topic: the default lane
 * runs publishOnce (its marker holds the plain id), other lanes publishOnce with the lane's id
 * prefix (the marker holds `<lane>:<id>`), so a repeat in any lane returns the marker's value,
 * the first id.
 */
async function publishToLane<T>(redis: Redis, ledger: ProducerLedger, prefix: string, topic: Topic<T>, lane: string, encoded: Encoded, due: string | undefined, options: PublishOptions): Promise<string> {
  const window = checkIdempotency(options);
  await ensureLanesOnce(redis, prefix, topic);
  const def = topic.defaultPriority!;
  const home = laneHome(topic.name, lane, def);
  const show = (id: string) => formatLaneId(lane, id, def);
  const keys = topicKeys(prefix, home);
  try {
    if (window !== undefined) {
      const delayedId = due === undefined ? '' : `${DELAYED_ID_PREFIX}${randomUUID()}`;
      const scriptKeys = [keys.stream, keys.idempotency(options.idempotencyKey!)];
      if (delayedId) scriptKeys.push(keys.delayed, keys.delayedRef(delayedId));
      const args: Array<string | number> = [
        encoded.payload, encoded.headers, window, delayedId,
        due?.startsWith('+') ? due.slice(1) : '0', due !== undefined && !due.startsWith('+') ? due : '',
      ];
      return (await runScript<[number, string]>(redis, 'publishOnce', scriptKeys, lane === def ? args : [...args, '', `${lane}:`]))[1];
    }
    if (due !== undefined) return show((await schedule(redis, prefix, home, [encoded], due))[0]!);
    return await appendCoalesced(redis, ledger, home, encoded, () => ({ topic: home, format: show }));
  } catch (err) {
    throw fromRedisError(err, `publish to "${topic.name}" (lane ${lane})`, redis);
  }
}

/**
 * Publish a batch in one round trip, atomically (one script): either every event is written or,
 * if Redis refuses (e.g. OOM), none is. Every payload is validated before anything is sent.
 * On a partitioned topic: one script per partition touched (sent at once), each atomic; see
 * {@link PartialPublishError}.
 */
export async function publishBatch<T>(redis: Redis, ledger: ProducerLedger, prefix: string, topic: Topic<T>, payloads: readonly T[], options: PublishManyOptions = {}): Promise<string[]> {
  if (!Array.isArray(payloads)) throw new InvalidOptionError('publishMany takes an array of payloads');
  const lane = laneOf(topic as Topic<unknown>, options.priority);
  if (options.key !== undefined && options.keys !== undefined) throw new InvalidOptionError('give either key (every event) or keys (one per event), not both');
  let keys: Array<string | undefined> | undefined;
  if (options.keys !== undefined) {
    if (!Array.isArray(options.keys) || options.keys.length !== payloads.length) {
      throw new InvalidOptionError(`keys must be an array with one key (or undefined) per payload: ${payloads.length} payloads, got ${Array.isArray(options.keys) ? `${options.keys.length} keys` : typeof options.keys}. Nothing was published.`);
    }
    keys = options.keys.map((k, i) => {
      try {
        return checkKey(topic as Topic<unknown>, k);
      } catch (err) {
        (err as Error).message = `event ${i} of ${payloads.length}: ${(err as Error).message}. Nothing was published.`;
        throw err;
      }
    });
  } else if (options.key !== undefined) {
    const k = checkKey(topic as Topic<unknown>, options.key);
    keys = payloads.map(() => k);
  }
  if (payloads.length > MAX_BATCH_EVENTS) {
    throw new InvalidOptionError(`publishMany takes at most ${MAX_BATCH_EVENTS} events per call, got ${payloads.length}: split the batch (each call is atomic on its own). Nothing was published.`);
  }
  const encoded = payloads.map((p, i) => {
    try {
      return encodeEvent(topic, p, options.headers);
    } catch (err) {
      (err as Error).message = `event ${i} of ${payloads.length}: ${(err as Error).message}. Nothing was published.`;
      throw err;
    }
  });
  if (encoded.length === 0) return [];
  let bytes = 0;
  for (const e of encoded) bytes += Buffer.byteLength(e.payload) + Buffer.byteLength(e.headers);
  if (bytes > MAX_BATCH_BYTES) {
    throw new InvalidOptionError(`publishMany takes at most 64 MiB of encoded payloads per call, got ${(bytes / 1048576).toFixed(1)} MiB in ${encoded.length} events: split the batch. Nothing was published.`);
  }
  const due = dueSpec(options);
  if (topic.partitions !== undefined) return publishPartitioned(redis, ledger, prefix, topic, encoded, keys, due);
  if (lane !== undefined) {
    // One lane per batch: the batch stays one atomic script in one stream.
    await ensureLanesOnce(redis, prefix, topic);
    const home = laneHome(topic.name, lane, topic.defaultPriority!);
    try {
      const ids = due !== undefined ? await schedule(redis, prefix, home, encoded, due) : await appendOnce(redis, ledger, home, encoded);
      return ids.map((id) => formatLaneId(lane, id, topic.defaultPriority!));
    } catch (err) {
      throw fromRedisError(err, `publishMany to "${topic.name}" (lane ${lane})`, redis);
    }
  }
  try {
    if (due !== undefined) return await schedule(redis, prefix, topic.name, encoded, due);
    return await appendOnce(redis, ledger, topic.name, encoded);
  } catch (err) {
    throw fromRedisError(err, `publishMany to "${topic.name}"`, redis);
  }
}

/**
 * publishMany on a partitioned topic: keyed events go to their keys' partitions, keyless ones
 * together to one partition ({@link KeylessSpread}); one script per partition, sent at once
 * (on a Cluster they are on different nodes), ids returned in input order.
 */
async function publishPartitioned<T>(redis: Redis, ledger: ProducerLedger, prefix: string, topic: Topic<T>, encoded: Encoded[], keys: Array<string | undefined> | undefined, due: string | undefined): Promise<string[]> {
  const P = topic.partitions!;
  await ensureTopicMetaOnce(redis, prefix, topic.name, P);
  const groups = new Map<number, number[]>();
  const keyless: number[] = [];
  encoded.forEach((e, i) => {
    const k = keys?.[i];
    e.mark = keyMark(k);
    if (k === undefined) { keyless.push(i); return; }
    const p = partitionForKey(k, P);
    const list = groups.get(p) ?? [];
    list.push(i);
    groups.set(p, list);
  });
  if (keyless.length > 0) {
    const p = spreadOf(ledger, topic.name, P).pick(keyless.length);
    groups.set(p, [...(groups.get(p) ?? []), ...keyless].sort((a, b) => a - b));
  }
  const parts = [...groups.entries()];
  const results = await Promise.allSettled(parts.map(([p, idx]) => {
    const events = idx.map((i) => encoded[i]!);
    const tag = partitionTag(topic.name, p);
    return due !== undefined ? schedule(redis, prefix, tag, events, due) : appendOnce(redis, ledger, tag, events);
  }));
  const ids = new Array<string>(encoded.length);
  const written = new Map<number, string>();
  const notWritten: number[] = [];
  let failure: unknown;
  results.forEach((r, n) => {
    const [p, idx] = parts[n]!;
    if (r.status === 'fulfilled') {
      idx.forEach((i, j) => { ids[i] = formatPartitionedId(p, r.value[j]!); written.set(i, ids[i]!); });
    } else {
      failure ??= r.reason;
      notWritten.push(...idx);
    }
  });
  if (failure === undefined) return ids;
  const mapped = fromRedisError(failure, `publishMany to "${topic.name}"`, redis);
  if (written.size === 0) throw mapped;
  throw new PartialPublishError(topic.name, written, notWritten.sort((a, b) => a - b), mapped);
}
