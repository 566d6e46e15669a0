import type Redis from 'ioredis';
import type { TopicKeys } from '../keys';
import { runScript } from '../scripts/runner';

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
    out.lost += lostIds.length;
    for (const id of lostIds) if (out.lostIds.length < MAX_REPORTED_IDS) out.lostIds.push(id);
    for (let i = 0; i + 1 < counts.length; i += 2) {
      const g = String(counts[i]);
      out.lostByGroup[g] = (out.lostByGroup[g] ?? 0) + Number(counts[i + 1]);
    }
  }
}
