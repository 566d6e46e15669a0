import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { InvalidOptionError, InvalidPayloadError, PayloadTooLargeError, RedisUnavailableError, fromRedisError } from './errors';
import { topicKeys } from './keys';
import { PRODUCER_TTL_MS, type ProducerLedger } from './producer';
import { runScript } from './scripts/runner';
import type { Topic } from './topic';

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
}

/** Options of {@link Streamfan.publishMany}: shared by every event of the batch. */
export type PublishManyOptions = Omit<PublishOptions, 'idempotencyKey' | 'idempotencyWindowMs'>;

/** Most events one {@link Streamfan.publishMany} call takes: one script runs alone in Redis, so a batch must stay short. */
export const MAX_BATCH_EVENTS = 10_000;
/** Most encoded bytes (payloads and headers) one {@link Streamfan.publishMany} call takes. */
export const MAX_BATCH_BYTES = 64 * 1024 * 1024;

/** Prefix of the ids {@link Streamfan.publish} returns for delayed events. */
export const DELAYED_ID_PREFIX = 'delayed-';

/** Stream entry field names: the wire format other programs may read or write. */
export const FIELD = { payload: 'payload', headers: 'headers', orig: 'orig', base: 'base', delayed: 'delayed' } as const;

export interface Encoded { payload: string; headers: string }

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
  const args: string[] = [];
  events.forEach((e, i) => args.push(ids[i]!, e.payload, e.headers, due));
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
  const args: string[] = [call, String(PRODUCER_TTL_MS), String(forget.length), ...forget];
  for (const e of events) args.push(e.payload, e.headers);
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

/**
 * Single publishes made in the same turn of the event loop (e.g. `Promise.all(items.map(publish))`)
 * go to Redis as one publishEvents call per topic: one script run instead of one per event,
 * which more than pays for the dedupe bookkeeping. A publish made alone is sent alone, at once.
 */
function appendCoalesced(redis: Redis, ledger: ProducerLedger, topic: string, event: Encoded): Promise<string> {
  let byTopic = waiting.get(ledger);
  if (!byTopic) { byTopic = new Map(); waiting.set(ledger, byTopic); }
  let queue = byTopic.get(topic);
  if (!queue) {
    const q: Waiting[] = [];
    queue = q;
    byTopic.set(topic, q);
    const map = byTopic;
    queueMicrotask(() => { map.delete(topic); flushWaiting(redis, ledger, topic, q); });
  }
  const q = queue;
  return new Promise<string>((resolve, reject) => {
    q.push({ event, size: Buffer.byteLength(event.payload) + Buffer.byteLength(event.headers), resolve, reject });
  });
}

function flushWaiting(redis: Redis, ledger: ProducerLedger, topic: string, queue: Waiting[]): void {
  let start = 0;
  while (start < queue.length) {
    let end = start;
    let bytes = 0;
    while (end < queue.length && end - start < MAX_BATCH_EVENTS && (end === start || bytes + queue[end]!.size <= MAX_BATCH_BYTES)) {
      bytes += queue[end]!.size;
      end += 1;
    }
    const chunk = queue.slice(start, end);
    appendOnce(redis, ledger, topic, chunk.map((w) => w.event)).then(
      (ids) => chunk.forEach((w, i) => w.resolve(ids[i]!)),
      (err: unknown) => chunk.forEach((w) => w.reject(err)),
    );
    start = end;
  }
}

/** Publish one event. See {@link Streamfan.publish}. */
export async function publishOne<T>(redis: Redis, ledger: ProducerLedger, prefix: string, topic: Topic<T>, payload: T, options: PublishOptions = {}): Promise<string> {
  const encoded = encodeEvent(topic, payload, options.headers);
  const due = dueSpec(options);
  const keys = topicKeys(prefix, topic.name);
  try {
    if (options.idempotencyKey !== undefined) {
      const key = options.idempotencyKey;
      if (typeof key !== 'string' || key.length === 0 || key.length > 512) {
        throw new InvalidOptionError('idempotencyKey must be a non-empty string of at most 512 characters');
      }
      const window = options.idempotencyWindowMs ?? 86_400_000;
      if (!Number.isInteger(window) || window < 1) throw new InvalidOptionError(`idempotencyWindowMs must be a whole number ≥ 1, got ${String(window)}`);
      const delayedId = due === undefined ? '' : `${DELAYED_ID_PREFIX}${randomUUID()}`;
      const scriptKeys = [keys.stream, keys.idempotency(key)];
      if (delayedId) scriptKeys.push(keys.delayed, keys.delayedRef(delayedId));
      const [, id] = await runScript<[number, string]>(redis, 'publishOnce', scriptKeys, [
        encoded.payload, encoded.headers, window, delayedId,
        due?.startsWith('+') ? due.slice(1) : '0', due !== undefined && !due.startsWith('+') ? due : '',
      ]);
      return id;
    }
    if (due !== undefined) return (await schedule(redis, prefix, topic.name, [encoded], due))[0]!;
    return await appendCoalesced(redis, ledger, topic.name, encoded);
  } catch (err) {
    throw fromRedisError(err, `publish to "${topic.name}"`, redis);
  }
}

/**
 * Publish a batch in one round trip, atomically (one script): either every event is written or,
 * if Redis refuses (e.g. OOM), none is. Every payload is validated before anything is sent.
 */
export async function publishBatch<T>(redis: Redis, ledger: ProducerLedger, prefix: string, topic: Topic<T>, payloads: readonly T[], options: PublishManyOptions = {}): Promise<string[]> {
  if (!Array.isArray(payloads)) throw new InvalidOptionError('publishMany takes an array of payloads');
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
  try {
    if (due !== undefined) return await schedule(redis, prefix, topic.name, encoded, due);
    return await appendOnce(redis, ledger, topic.name, encoded);
  } catch (err) {
    throw fromRedisError(err, `publishMany to "${topic.name}"`, redis);
  }
}
