import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { topicKeys } from './keys';
import { noticeMode } from './notice';
import { runScript } from './scripts/runner';
import { groupInfos } from './status';
import { capStream, MAX_REPORTED_IDS } from './retention/cap';
import { checkBoolean, checkMaxLen, checkMinAge, type ResolvedRetention } from './retention/options';
import { countBelow, idsFrom, safeFloor, trimSafely, trimStepLimit } from './retention/safe';

export { resolveRetention, type RetentionOptions, type ResolvedRetention } from './retention/options';

/** Options of {@link Streamfan.trim}. */
export interface TrimOptions {
  /** Count what would be removed, remove nothing. @defaultValue false */
  dryRun?: boolean;
  /** Trim the safe part by whole stream nodes (`~`), much cheaper; may keep up to one node more. @defaultValue true */
  approximate?: boolean;
  /**
   * Hard cap on the stream length. Entries over it are removed even if some group still needs
   * them; each is recorded as `lost` in every group that had not acknowledged it, and reported.
   */
  maxLen?: number;
  /**
   * Keep topic entries younger than this many ms (server clock), acknowledged or not; the hard
   * cap ignores it. Timed retention passes its own (see {@link RetentionOptions.minAgeMs}).
   * @defaultValue 0
   */
  minAgeMs?: number;
}

/** What a trim removed, or would remove. */
export interface TrimReport {
  topic: string;
  dryRun: boolean;
  /** Lowest id some group still needs ('' when the stream has no groups: nothing is trimmed safely). */
  safeMinId: string;
  /** Entries removed (or removable) that every group had acknowledged. */
  removed: number;
  /**
   * Entries removed by the hard cap that some group had not acknowledged: lost to that group.
   * In a dry run, an upper bound: every entry from the floor on that the cap would remove.
   */
  lostToCap: number;
  /** Ids of those entries (at most 1000, oldest first). */
  lostIds: string[];
  /** Per group, entries the cap recorded as `lost` there (empty in a dry run). */
  lostByGroup: Record<string, number>;
  /** Stream length after the trim. */
  length: number;
  groups: number;
  /** Entries removed from the groups' redelivery streams. */
  redeliveryRemoved: number;
}

/**
 * Trim a topic stream without dropping undelivered work: only entries below the lowest id
 * some group still needs (its oldest pending entry, or the entry after its last-delivered
 * id). With `maxLen`, trims further to that length; what that costs is recorded as `lost`
 * in each group that had not acknowledged it, and reported.
 *
 * Any backlog is cleared in one call, in bounded steps: no single Redis command does work
 * proportional to the stream's or a PEL's length (each step removes at most one batch of
 * whole stream nodes, or reads at most 1000 entries).
 * @throws InvalidOptionError for a bad option (nothing is removed)
 */
export async function trimTopic(redis: Redis, prefix: string, topic: string, options: TrimOptions = {}, statusTtlSeconds = 86_400): Promise<TrimReport> {
  const dry = checkBoolean(options.dryRun, 'dryRun', 'trim') ?? false;
  const approx = checkBoolean(options.approximate, 'approximate', 'trim') ?? true;
  const maxLen = checkMaxLen(options.maxLen, 'trim');
  const minAgeMs = checkMinAge(options.minAgeMs, 'trim') ?? 0;
  const keys = topicKeys(prefix, topic);
  const report: TrimReport = { topic, dryRun: dry, safeMinId: '', removed: 0, lostToCap: 0, lostIds: [], lostByGroup: {}, length: 0, groups: 0, redeliveryRemoved: 0 };

  if (dry) {
    const safe = await safeFloor(redis, keys.stream, minAgeMs);
    report.safeMinId = safe.floor;
    report.groups = safe.groups;
    report.removed = safe.floor ? await countBelow(redis, keys.stream, safe.floor) : 0;
    report.length = safe.length - report.removed;
    if (maxLen !== undefined && report.length > maxLen) {
      const capped = report.length - maxLen;
      report.length = maxLen;
      // With no group nobody loses anything; else every entry from the floor on counts.
      if (safe.groups > 0) {
        report.lostToCap = capped;
        report.lostIds = await idsFrom(redis, keys.stream, safe.floor || '-', Math.min(capped, MAX_REPORTED_IDS));
      }
    }
    for (const g of await groupInfos(redis, keys.stream)) {
      const redeliver = keys.redeliver(String(g.name));
      const r = await safeFloor(redis, redeliver);
      if (r.floor) report.redeliveryRemoved += await countBelow(redis, redeliver, r.floor);
    }
    return report;
  }

  const limit = await trimStepLimit(redis);
  // The minimum age applies to the topic stream only: a group's redelivery stream exists only
  // once the group does, and its copies are written for that group alone.
  const safe = await trimSafely(redis, keys.stream, approx, limit, minAgeMs);
  report.safeMinId = safe.floor;
  report.removed = safe.removed;
  report.length = safe.length;
  report.groups = safe.groups;
  if (maxLen !== undefined && safe.length > maxLen) {
    const cap = await capStream(redis, keys, maxLen, statusTtlSeconds, await noticeMode(redis, prefix));
    // Entries the cap removed that every group had acknowledged (left below the floor by
    // an approximate trim) are safe removals, not losses.
    report.removed += cap.removed - cap.lost;
    report.lostToCap = cap.lost;
    report.lostIds = cap.lostIds;
    report.lostByGroup = cap.lostByGroup;
    report.length = Number(await redis.xlen(keys.stream));
  }
  for (const g of await groupInfos(redis, keys.stream)) {
    report.redeliveryRemoved += (await trimSafely(redis, keys.redeliver(String(g.name)), approx, limit)).removed;
  }
  return report;
}

/**
 * One timed retention run for a topic, at most once per interval per topic across every
 * subscription and process: the run takes a short lock (SET NX PX on the topic's
 * retention-lock key) that lives a little less than one interval and is not released, so the
 * subscriptions whose timers fire later in the same interval skip.
 * @returns the report, or undefined when another run holds this interval
 */
export async function runRetention(redis: Redis, prefix: string, topic: string, retention: ResolvedRetention, statusTtlSeconds: number): Promise<TrimReport | undefined> {
  const keys = topicKeys(prefix, topic);
  // A little less than the interval: the timer that won keeps winning (its next tick finds the
  // lock expired), and a late tick of another subscription still finds it held.
  const ttl = Math.max(1, retention.intervalMs - Math.min(1000, Math.floor(retention.intervalMs / 10)));
  const got = await redis.set(keys.retentionLock, randomUUID(), 'PX', ttl, 'NX');
  if (got !== 'OK') return undefined;
  return trimTopic(redis, prefix, topic, { maxLen: retention.maxLen, approximate: retention.approximate, minAgeMs: retention.minAgeMs }, statusTtlSeconds);
}

/**
 * Remove consumers that hold no pending entries and have been idle at least `idleMs`
 * (never one with pending entries: XGROUP DELCONSUMER would drop them).
 * @returns the names removed
 */
export async function pruneConsumers(redis: Redis, prefix: string, topic: string, group: string, idleMs: number): Promise<string[]> {
  const keys = topicKeys(prefix, topic);
  const streams = [keys.stream, keys.redeliver(group)];
  // A consumer that only ever took retries is known to the redelivery stream alone: look in both.
  const names = new Set<string>();
  for (const stream of streams) {
    let rows: unknown[][] = [];
    try {
      rows = (await redis.xinfo('CONSUMERS', stream, group)) as unknown[][];
    } catch (err) {
      if (stream === keys.stream) throw err; // the redelivery stream may not exist yet
    }
    for (const row of rows) {
      for (let i = 0; i + 1 < row.length; i += 2) if (String(row[i]) === 'name') names.add(String(row[i + 1]));
    }
  }
  const removed: string[] = [];
  for (const name of names) {
    let gone = 0;
    let kept = false;
    for (const stream of streams) {
      const run = runScript<number>(redis, 'deleteConsumerIfIdle', [stream], [group, name, Math.max(1, idleMs)]);
      const r = stream === keys.stream ? await run : await run.catch(() => -1);
      if (r === 1) gone++;
      else if (r === 0) kept = true;
    }
    if (gone > 0 && !kept) removed.push(name);
  }
  return removed;
}
