import type Redis from 'ioredis';
import { runScript } from '../scripts/runner';
import { lowestFloor, missingGroups } from './known-groups';

/** Most entries one counting call reads (about 1.5 ms of Redis time per 1000). */
const COUNT_STEP = 1000;
/** Guard against a loop that never ends (a floor that keeps moving under a very fast producer). */
const MAX_STEPS = 100_000;

/** What the safe (MINID) part of a trim found and did. */
export interface SafeTrim {
  /** Lowest id some group still needs; '' when the stream has no group. */
  floor: string;
  removed: number;
  length: number;
  groups: number;
}

/**
 * Most entries one approximate XTRIM may remove: Redis' own default (100 × stream-node-max-entries)
 * when CONFIG is allowed, else 10,000 (that default at the default node size). It must hold at least
 * one whole node, or an approximate trim removes nothing.
 */
export async function trimStepLimit(redis: Redis): Promise<number> {
  try {
    const [, v] = (await redis.config('GET', 'stream-node-max-entries')) as [string, string];
    const perNode = Number(v);
    if (Number.isSafeInteger(perNode) && perNode > 0) return Math.max(10_000, 100 * perNode);
  } catch { /* CONFIG refused (ACL, managed Redis): the default node size is the usual one */ }
  return 10_000;
}

/**
 * Trim below the safe floor in bounded steps (each one script call removing at most `limit`
 * entries), repeated until a step removes nothing, so one run clears any backlog while no
 * single command blocks Redis for long. With `minAgeMs`, no entry younger than that (by the
 * server's clock) is removed, whatever the groups acknowledged.
 */
export async function trimSafely(redis: Redis, stream: string, approximate: boolean, limit: number, minAgeMs = 0): Promise<SafeTrim> {
  let removed = 0;
  // A group destroyed and not recreated yet holds its entries back too (see known-groups.ts): its
  // floor, taken as a minimum age (the script bounds the floor by `<now - minAge>-0`).
  const held = lowestFloor(await missingGroups(redis, stream));
  if (held !== undefined) {
    const heldMs = Number(held.split('-')[0]);
    // A group that still needs everything (floor in the first millisecond): nothing is removed.
    if (heldMs <= 1) return { ...(await safeFloor(redis, stream)), floor: held };
    const [sec, usec] = await redis.time();
    const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    minAgeMs = Math.max(minAgeMs, now - heldMs + 1);
  }
  for (let step = 0; ; step++) {
    const [floor, n, length, groups] = await runScript<[string, number, number, number]>(redis, 'trimSafe', [stream],
      [approximate ? 'approx' : 'exact', limit, minAgeMs]);
    removed += Number(n);
    if (Number(n) === 0 || step >= MAX_STEPS) return { floor, removed, length: Number(length), groups: Number(groups) };
  }
}

/** The floor (no younger than `minAgeMs`) and length, removing nothing (dry runs). */
export async function safeFloor(redis: Redis, stream: string, minAgeMs = 0): Promise<SafeTrim> {
  const [floor, , length, groups] = await runScript<[string, number, number, number]>(redis, 'trimSafe', [stream], ['floor', 1, minAgeMs]);
  return { floor, removed: 0, length: Number(length), groups: Number(groups) };
}

/** Count the entries below `id` (exclusive), COUNT_STEP per script call. */
export async function countBelow(redis: Redis, stream: string, id: string): Promise<number> {
  let total = 0;
  let cursor = '-';
  for (;;) {
    const [n, last] = await runScript<[number, string]>(redis, 'countEntries', [stream], [cursor, `(${id}`, COUNT_STEP]);
    total += Number(n);
    if (Number(n) < COUNT_STEP) return total;
    cursor = `(${last}`;
  }
}

/** The first `count` ids from `start` (inclusive), for reports. */
export async function idsFrom(redis: Redis, stream: string, start: string, count: number): Promise<string[]> {
  if (count <= 0) return [];
  const rows = (await redis.xrange(stream, start, '+', 'COUNT', count)) as [string, string[]][];
  return rows.map((r) => r[0]);
}
