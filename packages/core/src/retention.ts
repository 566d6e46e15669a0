import type Redis from 'ioredis';
import { topicKeys } from './keys';
import { runScript } from './scripts/runner';
import { groupInfos } from './status';

/** Options of {@link Streamfan.trim}. */
export interface TrimOptions {
  /** Count what would be removed, remove nothing. @defaultValue false */
  dryRun?: boolean;
  /** Trim by whole macro nodes (`~`), much cheaper; may keep a few more entries. @defaultValue true */
  approximate?: boolean;
  /** Hard cap on the stream length. Entries over it are removed even if some group still needs them; that loss is reported. */
  maxLen?: number;
}

/** What a trim removed, or would remove. */
export interface TrimReport {
  topic: string;
  dryRun: boolean;
  /** Lowest id some group still needs ('' when the stream has no groups: nothing is trimmed). */
  safeMinId: string;
  /** Entries removed (or removable) that every group had acknowledged. */
  removed: number;
  /** Entries removed by the hard cap that some group had not acknowledged: lost to that group. */
  lostToCap: number;
  /** Ids of those entries (at most 1000). */
  lostIds: string[];
  /** Stream length after the trim. */
  length: number;
  groups: number;
  /** Entries removed from the groups' redelivery streams. */
  redeliveryRemoved: number;
}

/**
 * Trim a topic stream without dropping undelivered work: only entries below the lowest id
 * some group still needs (its oldest pending entry, or the entry after its last-delivered
 * id). With `maxLen`, trims further to that length and reports the loss.
 */
export async function trimTopic(redis: Redis, prefix: string, topic: string, options: TrimOptions = {}): Promise<TrimReport> {
  const keys = topicKeys(prefix, topic);
  const approx = options.approximate ?? true;
  const dry = options.dryRun ?? false;
  const reply = await runScript<[string, number, number, number, number, ...string[]]>(redis, 'trimSafe', [keys.stream],
    [approx ? '1' : '0', dry ? '1' : '0', options.maxLen ?? 0, 1000]);
  const [safeMinId, removed, lostToCap, length, groups, ...lostIds] = reply;
  let redeliveryRemoved = 0;
  for (const g of await groupInfos(redis, keys.stream)) {
    const r = await runScript<[string, number]>(redis, 'trimSafe', [keys.redeliver(String(g.name))], [approx ? '1' : '0', dry ? '1' : '0', 0, 0]);
    redeliveryRemoved += Number(r[1]);
  }
  return { topic, dryRun: dry, safeMinId, removed: Number(removed), lostToCap: Number(lostToCap), lostIds, length: Number(length), groups: Number(groups), redeliveryRemoved };
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
