// Small bounded read helpers over ioredis: every call here is O(1), O(log N + M) with a COUNT,
// or O(groups/consumers) — never proportional to a stream's, a PEL's or a keyspace's length.
import type Redis from 'ioredis';

/** Order stream ids (`<ms>-<seq>`) numerically. */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** The id right after `id` (the first one a group that delivered up to `id` still needs). */
export function nextId(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  return `${ms}-${BigInt(seq) + 1n}`;
}

/** Milliseconds encoded in a stream id. */
export function idMs(id: string): number {
  return Number(id.split('-')[0]);
}

/** A flat [k, v, k, v] reply as an object. */
export function rowObject(flat: unknown): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (!Array.isArray(flat)) return o;
  for (let i = 0; i + 1 < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
  return o;
}

/** A stream entry's flat field list as a map. */
export function fields(flat: string[] | null | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (!flat) return m;
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  return m;
}

/** A pipeline as the dashboard uses it: commands queued, then `exec()`. */
export type Batch = ReturnType<Redis['pipeline']>;

/** Whether a client is an ioredis Cluster (typed as Redis, as streamfan does). */
export function isClusterClient(redis: Redis): boolean {
  return typeof (redis as unknown as { nodes?: unknown }).nodes === 'function' && (redis as unknown as { isCluster?: boolean }).isCluster === true;
}

/**
 * A pipeline for the reads of one page. On one server, a real pipeline (one round trip). On a
 * Redis Cluster, whose pipelines must keep to one slot, each queued command is sent on its own
 * at once (routed to its key's node; ioredis follows redirections) and `exec()` gathers the
 * replies in the same shape, so pages read the same way on both.
 */
export function batch(redis: Redis): Batch {
  if (!isClusterClient(redis)) return redis.pipeline();
  const calls: Array<Promise<[Error | null, unknown]>> = [];
  const proxy: Batch = new Proxy({} as Batch, {
    get(_t, name) {
      if (name === 'exec') return () => Promise.all(calls);
      if (name === 'then') return undefined;
      return (...args: unknown[]) => {
        const fn = (redis as unknown as Record<string, ((...a: unknown[]) => Promise<unknown>) | undefined>)[String(name)];
        if (typeof fn !== 'function') throw new TypeError(`no Redis command ${String(name)}`);
        calls.push(fn.apply(redis, args).then((v) => [null, v] as [null, unknown], (e: Error) => [e, null] as [Error, null]));
        return proxy;
      };
    },
  });
  return proxy;
}

/** The master nodes of a Cluster client, or the client itself (SCAN is per node). */
export function scanNodes(redis: Redis): Redis[] {
  return isClusterClient(redis) ? (redis as unknown as { nodes(role: string): Redis[] }).nodes('master') : [redis];
}

/** Run a pipeline; each command's reply, or its error (a missing key is not a failure here). */
export async function run(p: ReturnType<Redis['pipeline']>): Promise<Array<{ err: Error | null; value: unknown }>> {
  const res = (await p.exec()) ?? [];
  return res.map(([err, value]) => ({ err: err ?? null, value }));
}

/** A JSON text decoded, or the raw string when it is not JSON; null when absent. */
export function decode(text: string | undefined | null): unknown {
  if (text === undefined || text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Headers as stored (a JSON object), or {} when absent or unreadable. */
export function decodeHeaders(text: string | undefined | null): Record<string, string> {
  if (!text) return {};
  try {
    const h = JSON.parse(text) as unknown;
    return h && typeof h === 'object' && !Array.isArray(h) ? (h as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** A short one-line preview of a payload (for tables). */
export function preview(text: string | undefined | null, max = 120): string {
  if (text === undefined || text === null) return '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Server time in ms (TIME). */
export async function serverNow(redis: Redis): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}
