import type Redis from 'ioredis';
import { FIELD, type Headers } from './publisher';
import type { TopicKeys } from './keys';
import { runScript } from './scripts/runner';

/** What a delayed id leads to: its data while scheduled, its stream id once promoted. */
export interface DelayedRef {
  /** Due time (server ms). */
  dueAt?: Date;
  /** The stream id, once promoted. */
  eventId?: string;
  /** Encoded payload and headers, while scheduled. */
  payload?: string;
  headers?: string;
}

/** Read what a delayed id leads to, in O(1); undefined when unknown (never published, or expired). */
export async function readDelayedRef(redis: Redis, keys: TopicKeys, delayedId: string): Promise<DelayedRef | undefined> {
  const h = await redis.hgetall(keys.delayedRef(delayedId));
  if (Object.keys(h).length === 0) return undefined;
  const ref: DelayedRef = {};
  if (h.due) ref.dueAt = new Date(Number(h.due));
  if (h.event) ref.eventId = h.event;
  if (h.payload !== undefined) ref.payload = h.payload;
  if (h.headers !== undefined) ref.headers = h.headers;
  return ref;
}

/** One delayed member as read from the set: a delayed id, or (written by older versions) a JSON object of fields. */
function refKeyOf(keys: TopicKeys, member: string): string {
  if (!member.startsWith('{')) return keys.delayedRef(member);
  try {
    const id = (JSON.parse(member) as Record<string, unknown>)[FIELD.delayed];
    return keys.delayedRef(typeof id === 'string' && id ? id : 'legacy');
  } catch {
    return keys.delayedRef('legacy');
  }
}

/** Options of {@link promoteDelayed}. */
export interface PromoteOptions {
  /** TTL of a promoted event's delayed-id hash (the status TTL). */
  statusTtlSeconds: number;
  /** At most this many per call. */
  limit: number;
  /** 'P' (PUBLISH) or 'S' (SPUBLISH, Cluster) for the `promoted` notice to waitFor. */
  mode: 'P' | 'S';
}

/**
 * Move due delayed events of a topic into its stream. One read when nothing is due (TIME and
 * the soonest member in one pipeline); else the due ids are read and one script moves them.
 * @returns [promoted count, ms until the next member is due or -1 when none is left]
 */
export async function promoteDelayed(redis: Redis, keys: TopicKeys, o: PromoteOptions): Promise<[number, number]> {
  const res = (await redis.pipeline().time().zrange(keys.delayed, 0, 0, 'WITHSCORES').exec()) ?? [];
  for (const [err] of res) if (err) throw err;
  const [sec, usec] = res[0]![1] as [string, string];
  const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
  const first = res[1]![1] as string[];
  if (first.length < 2) return [0, -1];
  if (Number(first[1]) > now) return [0, Number(first[1]) - now];
  const members = await redis.zrangebyscore(keys.delayed, '-inf', now, 'LIMIT', 0, o.limit);
  if (members.length === 0) return [0, 0];
  return runScript<[number, number]>(redis, 'promoteDelayed',
    [keys.delayed, keys.stream, keys.waiters, ...members.map((m) => refKeyOf(keys, m))],
    [o.statusTtlSeconds, keys.done, o.mode, ...members]);
}

/** One delayed event, not yet in the stream. */
export interface DelayedEvent<T = unknown> {
  id: string;
  dueAt: Date;
  /** Decoded payload; undefined when it cannot be decoded. */
  payload: T | undefined;
  headers: Headers;
  /** Prioritized topics: the lane it will be promoted into (`id` is then `<lane>:delayed-…` off the default lane). */
  priority?: string;
}

/** The soonest `limit` delayed events of a topic (one ZRANGE and one pipelined HMGET per event). */
export async function listDelayed<T>(redis: Redis, keys: TopicKeys, decode: (s: string) => T, limit: number): Promise<DelayedEvent<T>[]> {
  const rows = await redis.zrange(keys.delayed, 0, limit - 1, 'WITHSCORES');
  const members: Array<[string, number]> = [];
  for (let i = 0; i + 1 < rows.length; i += 2) members.push([rows[i]!, Number(rows[i + 1])]);
  const p = redis.pipeline();
  for (const [m] of members) if (!m.startsWith('{')) p.hmget(keys.delayedRef(m), FIELD.payload, FIELD.headers);
  const res = (await p.exec()) ?? [];
  let r = 0;
  return members.map(([m, score]) => {
    let fields: { payload?: string | null; headers?: string | null; delayed?: string };
    if (m.startsWith('{')) {
      try { fields = JSON.parse(m) as typeof fields; } catch { fields = {}; }
    } else {
      const [payload, headers] = (res[r++]?.[1] ?? []) as Array<string | null>;
      fields = { payload, headers, delayed: m };
    }
    let payload: T | undefined;
    try { payload = fields.payload == null ? undefined : decode(fields.payload); } catch { payload = undefined; }
    let headers: Headers;
    try { headers = fields.headers ? (JSON.parse(fields.headers) as Headers) : {}; } catch { headers = {}; }
    return { id: fields.delayed ?? '', dueAt: new Date(score), payload, headers };
  });
}
