import type Redis from 'ioredis';
import type { TopicKeys } from '../keys';
import { compareIds } from '../ids';
import { runScript } from '../scripts/runner';
import { settledInGroup } from '../status';
import { missingGroups, type MissingGroup } from './known-groups';

/** Entries per capTrim call: each is read, checked per group and maybe recorded as lost (about 15 µs each when it is). */
export const CAP_STEP = 100;
/** Report at most this many lost ids. */
export const MAX_REPORTED_IDS = 1000;

/** What the cap removed. */
export interface CapTrim {
  removed: number;
  /** Removed entries some group had not acknowledged. */
  lost: number;
  /** The first {@link MAX_REPORTED_IDS} of them. */
  lostIds: string[];
  /** Per group, entries newly recorded as lost there. */
  lostByGroup: Record<string, number>;
}

type CapReply = [0] | [1, number, string[], (string | number)[]];

/**
 * Bring the stream down to `maxLen` entries in bounded steps: read the oldest ids (at most
 * {@link CAP_STEP}), then one script call removes exactly those and records each as `lost`
 * in every group that had not acknowledged it, and publishes the completion (`notice`: 'P'
 * PUBLISH, 'S' SPUBLISH, as the settle scripts do; only while someone waits).
 */
export async function capStream(redis: Redis, keys: TopicKeys, maxLen: number, statusTtlSeconds: number, notice: 'P' | 'S' = 'P'): Promise<CapTrim> {
  const out: CapTrim = { removed: 0, lost: 0, lostIds: [], lostByGroup: {} };
  const reason = `removed by the retention cap (maxLen ${maxLen}) before this group acknowledged it; its payload is gone`;
  // Groups destroyed and not recreated yet: the script sees only the groups on the stream.
  const missing = await missingGroups(redis, keys.stream);
  let stale = 0;
  for (;;) {
    const over = (await redis.xlen(keys.stream)) - maxLen;
    if (over <= 0) return out;
    const rows = (await redis.xrange(keys.stream, '-', '+', 'COUNT', Math.min(over, CAP_STEP))) as [string, string[]][];
    const ids = rows.map((r) => r[0]);
    if (ids.length === 0) return out;
    const reply = await runScript<CapReply>(redis, 'capTrim', [keys.stream, keys.waiters, ...ids.map((id) => keys.status(id))],
      [maxLen, keys.done, statusTtlSeconds, reason, notice, ...ids]);
    if (Number(reply[0]) !== 1) {
      // The stream changed between the read and the script (a concurrent trim): read again, a few times.
      if (++stale > 20) return out;
      continue;
    }
    const [, removed, lostIds, counts] = reply as [1, number, string[], (string | number)[]];
    out.removed += Number(removed);
    const lostHere = new Set(lostIds);
    for (let i = 0; i + 1 < counts.length; i += 2) {
      const g = String(counts[i]);
      out.lostByGroup[g] = (out.lostByGroup[g] ?? 0) + Number(counts[i + 1]);
    }
    for (const m of missing) {
      const lost = await markLostInMissing(redis, keys, m, ids, statusTtlSeconds, reason, notice);
      for (const id of lost) lostHere.add(id);
      if (lost.length > 0) out.lostByGroup[m.group] = (out.lostByGroup[m.group] ?? 0) + lost.length;
    }
    out.lost += lostHere.size;
    for (const id of ids) if (lostHere.has(id) && out.lostIds.length < MAX_REPORTED_IDS) out.lostIds.push(id);
  }
}

/**
 * The cap removed `ids` while group `m` was missing (destroyed, not recreated yet: see
 * known-groups.ts): record `lost` there for each id from the group's floor on whose status in the
 * group is not settled (succeeded, dead, lost, or failed with its retry scheduled), as the cap
 * script does for the groups on the stream, and publish the notice while someone waits.
 * @returns the ids recorded lost
 */
async function markLostInMissing(redis: Redis, keys: TopicKeys, m: MissingGroup, ids: readonly string[], ttl: number, reason: string, notice: 'P' | 'S'): Promise<string[]> {
  const owed = ids.filter((id) => compareIds(id, m.floor) >= 0);
  if (owed.length === 0) return [];
  const settled = await settledInGroup(redis, keys, m.group, owed);
  const lost = owed.filter((id) => !settled.has(id));
  if (lost.length === 0) return [];
  const [sec, usec] = await redis.time();
  const now = String(Number(sec) * 1000 + Math.floor(Number(usec) / 1000));
  const p = redis.pipeline();
  for (const id of lost) {
    const key = keys.status(id);
    p.hset(key, `${m.group}:state`, 'lost', `${m.group}:error`, `${reason} (the group did not exist then: XGROUP DESTROY, not recreated yet)`,
      `${m.group}:updatedAt`, now, `${m.group}:finishedAt`, now);
    if (ttl > 0) p.expire(key, ttl);
  }
  await p.exec();
  if ((await redis.exists(keys.waiters)) === 1) await redis.call(notice === 'S' ? 'SPUBLISH' : 'PUBLISH', keys.done, `lost|${m.group}|${lost.join(',')}`);
  return lost;
}
