/**
 * A group's lag where XINFO GROUPS does not report it: Redis 6.2 (no `lag` field, capability
 * `xinfoLag` false) and Redis 7.0+ when `lag` is nil (entries deleted inside the unread range).
 * Bounded work always: at most {@link LAG_COUNT_CAP} entries are counted, in short script
 * calls that return counts only (docs/compat.md).
 */
import type Redis from 'ioredis';
import { compareIds } from './ids';
import { runScript } from './scripts/runner';

/** Most entries counted for one stream's lag; above it the lag is reported as "at least" this. */
export const LAG_COUNT_CAP = 10_000;
/** Entries counted per script call (about 1.5 ms of Redis time per 1000). */
const LAG_COUNT_STEP = 1000;

/** A lag and whether it is exact or a lower bound (more than {@link LAG_COUNT_CAP} unread). */
export interface CountedLag {
  lag: number;
  lowerBound: boolean;
}

/** What XINFO STREAM says about a stream, as far as lag needs it. */
export interface StreamEnds {
  length: number;
  firstId: string | null;
  lastGeneratedId: string;
}

/** The fields of a parsed XINFO STREAM reply that lag needs. */
export function streamEnds(info: Record<string, unknown>): StreamEnds {
  const first = info['first-entry'] as [string] | null | undefined;
  return {
    length: Number(info.length ?? 0),
    firstId: first?.[0] ?? null,
    lastGeneratedId: String(info['last-generated-id'] ?? '0-0'),
  };
}

/**
 * Entries after `lastDelivered`: 0 when it is the stream's last generated id, the stream's
 * length when it is older than the first entry, else counted from `(<lastDelivered>` to `+`,
 * up to {@link LAG_COUNT_CAP}.
 */
export async function countLag(redis: Redis, stream: string, lastDelivered: string, ends: StreamEnds): Promise<CountedLag> {
  if (ends.length === 0 || lastDelivered === ends.lastGeneratedId) return { lag: 0, lowerBound: false };
  // Everything in the stream is unread: XLEN is exact and O(1), no counting.
  if (ends.firstId !== null && compareIds(lastDelivered, ends.firstId) < 0) return { lag: ends.length, lowerBound: false };
  let total = 0;
  let cursor = `(${lastDelivered}`;
  while (total < LAG_COUNT_CAP) {
    const step = Math.min(LAG_COUNT_STEP, LAG_COUNT_CAP - total);
    const [n, last] = await runScript<[number, string]>(redis, 'countEntries', [stream], [cursor, '+', step]);
    total += Number(n);
    if (Number(n) < step) return { lag: total, lowerBound: false };
    cursor = `(${last}`;
  }
  const [more] = await runScript<[number, string]>(redis, 'countEntries', [stream], [cursor, '+', 1]);
  return { lag: total, lowerBound: Number(more) > 0 };
}
