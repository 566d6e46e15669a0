import type Redis from 'ioredis';
import { fieldMap } from './consumer/entry';
import { topicKeys } from './keys';
import { runScript } from './scripts/runner';
import type { Topic } from './topic';
import type { Headers } from './publisher';
import type { DeadLetterReason } from './consumer/options';

/** One event in a group's dead letters. */
export interface DeadLetter<T = unknown> {
  /** Id of the dead-letter entry (use it to replay or purge this one). */
  deadLetterId: string;
  /** The event id in the topic. */
  id: string;
  /** Decoded payload; undefined when it could not be decoded (see `raw`). */
  payload?: T;
  headers: Headers;
  attempts: number;
  error: string;
  reason: DeadLetterReason;
  consumer: string;
  deadAt: Date;
  /** The original entry's fields when it was malformed (written by another program). */
  raw?: string;
}

/** Which dead letters to act on. */
export interface DeadLetterSelection {
  /** Only these dead-letter ids. @defaultValue every dead letter */
  ids?: string[];
  /** At most this many, oldest first. @defaultValue no limit */
  limit?: number;
}

function parse<T>(topic: Topic<T>, id: string, flat: string[]): DeadLetter<T> {
  const f = fieldMap(flat);
  let payload: T | undefined;
  const p = f.get('payload');
  if (p !== undefined) {
    try { payload = topic.codec.decode(p); } catch { payload = undefined; }
  }
  let headers: Headers = {};
  try { headers = f.get('headers') ? (JSON.parse(f.get('headers')!) as Headers) : {}; } catch { headers = {}; }
  const d: DeadLetter<T> = {
    deadLetterId: id,
    id: f.get('id') ?? '',
    headers,
    attempts: Number(f.get('attempts') ?? 0),
    error: f.get('error') ?? '',
    reason: (f.get('reason') ?? 'handler') as DeadLetterReason,
    consumer: f.get('consumer') ?? '',
    deadAt: new Date(Number(f.get('deadAt') ?? id.split('-')[0])),
  };
  if (payload !== undefined) d.payload = payload;
  if (f.has('raw')) d.raw = f.get('raw')!;
  else if (payload === undefined && p !== undefined) d.raw = p;
  return d;
}

/** List a group's dead letters, oldest first, from `start` (a dead-letter id, exclusive with `(`). */
export async function listDeadLetters<T>(redis: Redis, prefix: string, topic: Topic<T>, group: string, options: { start?: string; count?: number } = {}): Promise<DeadLetter<T>[]> {
  const key = topicKeys(prefix, topic.name).deadLetters(group);
  const rows = await redis.xrange(key, options.start ?? '-', '+', 'COUNT', options.count ?? 100);
  return rows.map(([id, flat]) => parse(topic, id, flat));
}

/** Number of dead letters of a group. */
export async function countDeadLetters(redis: Redis, prefix: string, topic: string, group: string): Promise<number> {
  return redis.xlen(topicKeys(prefix, topic).deadLetters(group));
}

async function selectIds(redis: Redis, key: string, sel: DeadLetterSelection): Promise<Array<[string, string[]]>> {
  if (sel.ids) {
    const p = redis.pipeline();
    for (const id of sel.ids.slice(0, sel.limit ?? sel.ids.length)) p.xrange(key, id, id);
    const res = (await p.exec()) ?? [];
    return res.flatMap(([, rows]) => (rows as Array<[string, string[]]>) ?? []);
  }
  return redis.xrange(key, '-', '+', 'COUNT', sel.limit ?? 1_000_000_000);
}

/**
 * Deliver dead letters again to their group only (through the group's redelivery stream),
 * with attempts reset; the other groups are not touched. Malformed ones (no payload) stay.
 * @returns how many were replayed
 */
export async function replayDeadLetters(redis: Redis, prefix: string, topic: string, group: string, sel: DeadLetterSelection = {}, statusTtlSeconds = 86_400): Promise<number> {
  const keys = topicKeys(prefix, topic);
  const rows = await selectIds(redis, keys.deadLetters(group), sel);
  let replayed = 0;
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    const statusKeys = chunk.map(([, flat]) => keys.status(fieldMap(flat).get('id') ?? 'unknown'));
    replayed += await runScript<number>(redis, 'replayDead', [keys.deadLetters(group), keys.redeliver(group), ...statusKeys],
      [group, statusTtlSeconds, ...chunk.map(([id]) => id)]);
  }
  return replayed;
}

/** Delete dead letters for good. @returns how many were deleted */
export async function purgeDeadLetters(redis: Redis, prefix: string, topic: string, group: string, sel: DeadLetterSelection = {}): Promise<number> {
  const key = topicKeys(prefix, topic).deadLetters(group);
  if (!sel.ids && sel.limit === undefined) {
    const n = await redis.xlen(key);
    await redis.del(key);
    return n;
  }
  const rows = await selectIds(redis, key, sel);
  if (rows.length === 0) return 0;
  return redis.xdel(key, ...rows.map(([id]) => id));
}
