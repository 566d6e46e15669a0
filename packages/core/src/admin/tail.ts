import type Redis from 'ioredis';
import { fieldMap } from '../consumer/entry';
import { InvalidOptionError, fromRedisError } from '../errors';
import { topicKeys } from '../keys';
import { validateTopicName } from '../names';
import { FIELD, type Headers } from '../publisher';

/** One event seen by {@link Streamfan.tail}. */
export interface TailedEvent {
  id: string;
  publishedAt: Date;
  /** Decoded JSON payload; the raw string when it is not JSON; null when there is none. */
  payload: unknown;
  headers: Headers;
  /** Partitioned topics: the partition the event is in (its id is `p<partition>:…`). */
  partition?: number;
  /** Partitioned topics: the event's key, when it was published with one. */
  key?: string;
  /** Prioritized topics: the event's lane (its id is `<lane>:…` off the default lane). */
  priority?: string;
}

/** Options of {@link Streamfan.tail}. */
export interface TailOptions {
  /** Start after this id (exclusive); `$` for only new events, `0` for the whole stream. @defaultValue '$' */
  from?: string;
  /** Stop when this fires (checked after each blocking read). */
  signal?: AbortSignal;
  /** Longest blocking read, so `signal` is noticed. @defaultValue 1000 */
  blockMs?: number;
  /** Entries per read. @defaultValue 100 */
  count?: number;
}

/**
 * Yield a topic's events as they arrive (XREAD BLOCK: reads only, no consumer group, nothing
 * is acknowledged or changed). `blocking` must be a connection of its own: it blocks.
 */
export async function* tailTopic(blocking: Redis, prefix: string, topic: string, options: TailOptions = {}): AsyncGenerator<TailedEvent> {
  validateTopicName(topic);
  const stream = topicKeys(prefix, topic).stream;
  let from = options.from ?? '$';
  if (from !== '$' && !/^\d+(-\d+)?$/.test(from)) throw new InvalidOptionError(`from must be a stream id like 1700000000000-0, 0 or $, got ${JSON.stringify(from)}`);
  try {
    if (from === '$') {
      // Resolve '$' once: repeating it between reads would skip what arrived in between.
      const last = await blocking.xrevrange(stream, '+', '-', 'COUNT', 1);
      from = last[0]?.[0] ?? '0-0';
    }
    while (!options.signal?.aborted) {
      const reply = (await blocking.xread('COUNT', options.count ?? 100, 'BLOCK', options.blockMs ?? 1000, 'STREAMS', stream, from)) as Array<[string, Array<[string, string[]]>]> | null;
      for (const [id, flat] of reply?.[0]?.[1] ?? []) {
        from = id;
        const f = fieldMap(flat);
        let payload: unknown = f.get(FIELD.payload) ?? null;
        try { if (typeof payload === 'string') payload = JSON.parse(payload) as unknown; } catch { /* keep the raw string */ }
        let headers: Headers = {};
        try { headers = f.get(FIELD.headers) ? (JSON.parse(f.get(FIELD.headers)!) as Headers) : {}; } catch { headers = {}; }
        yield { id, publishedAt: new Date(Number(id.split('-')[0])), payload, headers };
      }
    }
  } catch (err) {
    if (options.signal?.aborted) return;
    throw fromRedisError(err, `tail topic "${topic}"`);
  }
}
