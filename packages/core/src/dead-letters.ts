import type Redis from 'ioredis';
import { fieldMap } from './consumer/entry';
import { topicKeys } from './keys';
import { InvalidOptionError } from './errors';
import { runScript } from './scripts/runner';
import type { Topic } from './topic';
import type { Headers } from './publisher';
import type { DeadLetterReason } from './consumer/options';
import { assertNotRetired } from './admin/retire';

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
  /** Prioritized topics: the lane it died in (`deadLetterId` and `id` are then lane ids). */
  priority?: string;
}

/**
 * Which dead letters to act on: chosen ids, the oldest `limit`, or every one (`all: true`,
 * said explicitly so an empty selection never means "everything").
 */
export type DeadLetterSelection =
  | { ids: string[]; limit?: number; all?: never }
  | { limit: number; ids?: never; all?: never }
  | { all: true; ids?: never; limit?: never };

/** Replay and purge work through the dead letters in pages of this many (one XRANGE, one script each). */
export const DEAD_LETTER_PAGE = 500;

function checkSelection(sel: DeadLetterSelection | undefined, action: string): DeadLetterSelection {
  const s = sel as { ids?: unknown; limit?: unknown; all?: unknown } | undefined;
  const given = s ? ['ids', 'limit', 'all'].filter((k) => (s as Record<string, unknown>)[k] !== undefined) : [];
  if (!s || given.length === 0) {
    throw new InvalidOptionError(`say which dead letters to ${action}: { ids: [...] }, { limit: n } (the oldest n) or { all: true }`);
  }
  if (s.all !== undefined && (s.all !== true || given.length > 1)) throw new InvalidOptionError('{ all: true } stands alone: give ids, a limit, or all');
  if (s.ids !== undefined && (!Array.isArray(s.ids) || s.ids.some((id) => typeof id !== 'string' || !/^\d+-\d+$/.test(id)))) {
    throw new InvalidOptionError('ids must be dead-letter ids like 1700000000000-0 (see list())');
  }
  if (s.limit !== undefined && (typeof s.limit !== 'number' || !Number.isInteger(s.limit) || s.limit < 0)) {
    throw new InvalidOptionError(`limit must be a whole number ≥ 0, got ${String(s.limit)}`);
  }
  return sel!;
}

function parse<T>(topic: Topic<T>, id: string, flat: string[]): DeadLetter<T> {
  const f = fieldMap(flat);
  let payload: T | undefined;
  const p = f.get('payload');
  if (p !== undefined) {
    try { payload = topic.codec.decode(p); } catch { payload = undefined; }
  }
  let headers: Headers;
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

/** The selected dead letters, one page at a time (at most {@link DEAD_LETTER_PAGE} entries in memory). */
async function* selectPages(redis: Redis, key: string, sel: DeadLetterSelection): AsyncGenerator<Array<[string, string[]]>> {
  if (sel.ids) {
    const ids = sel.ids.slice(0, sel.limit ?? sel.ids.length);
    for (let i = 0; i < ids.length; i += DEAD_LETTER_PAGE) {
      const p = redis.pipeline();
      for (const id of ids.slice(i, i + DEAD_LETTER_PAGE)) p.xrange(key, id, id);
      const res = (await p.exec()) ?? [];
      yield res.flatMap(([, rows]) => (rows as Array<[string, string[]]>) ?? []);
    }
    return;
  }
  // Only the dead letters there when the call started: a replayed event that dies again writes a
  // new dead letter while this pages on, which must not be taken up too (a replay of everything
  // would chase its own results, and count them; an always-failing event, for ever).
  const last = (await redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0];
  if (last === undefined) return;
  let left = sel.limit ?? Number.POSITIVE_INFINITY;
  let start = '-';
  while (left > 0) {
    const rows = await redis.xrange(key, start, last, 'COUNT', Math.min(DEAD_LETTER_PAGE, left));
    if (rows.length === 0) return;
    yield rows;
    left -= rows.length;
    start = `(${rows[rows.length - 1]![0]}`;
  }
}

/**
 * Deliver dead letters again to their group only (through the group's redelivery stream),
 * with attempts reset; the other groups are not touched. Malformed ones (no payload) stay.
 * Works page by page, so a dead-letter stream of any length is never loaded whole.
 * @returns how many were replayed
 */
export async function replayDeadLetters(redis: Redis, prefix: string, topic: string, group: string, sel: DeadLetterSelection, statusTtlSeconds = 86_400): Promise<number> {
  checkSelection(sel, 'replay');
  const keys = topicKeys(prefix, topic);
  // A retired group has no consumers and is never recreated: a replay would feed a stream nobody reads.
  await assertNotRetired({ redis, prefix }, topic, group);
  let replayed = 0;
  for await (const page of selectPages(redis, keys.deadLetters(group), sel)) {
    const statusKeys = page.map(([, flat]) => keys.status(fieldMap(flat).get('id') || 'unknown'));
    replayed += await runScript<number>(redis, 'replayDead', [keys.deadLetters(group), keys.redeliver(group), ...statusKeys, keys.copies(group)],
      [group, statusTtlSeconds, ...page.map(([id]) => id)]);
  }
  return replayed;
}

/** Delete dead letters for good, page by page. @returns how many were deleted */
export async function purgeDeadLetters(redis: Redis, prefix: string, topic: string, group: string, sel: DeadLetterSelection): Promise<number> {
  checkSelection(sel, 'purge');
  const key = topicKeys(prefix, topic).deadLetters(group);
  if (sel.all) {
    const n = await redis.xlen(key);
    await redis.unlink(key); // freed in the background: DEL of a long stream would block Redis
    return n;
  }
  let purged = 0;
  for await (const page of selectPages(redis, key, sel)) {
    if (page.length > 0) purged += await redis.xdel(key, ...page.map(([id]) => id));
  }
  return purged;
}
