/**
 * retireGroup / unretireGroup / retiredGroups on a partitioned topic (docs/partitions.md §12).
 * A group of a partitioned topic lives on every partition's stream, each in its own hash-tag
 * slot, so no one script can retire it: see {@link retirePartitioned} for the order of the steps
 * and what a crash between them leaves.
 */
import { fromRedisError, NotFoundError } from '../errors';
import { partitionKeys, topicMetaKeys, type PartitionKeys } from '../keys';
import { groupInfos } from '../status';
import type { RetireOptions, RetireReport, RetireReply, StreamRetirement } from './retire';
import type { AdminTarget } from './target';

/** How one partition's retirement runs: the retireGroup script on its keys (set by retire.ts). */
export type RetireOnePartition = (keys: PartitionKeys, extraEvents: string[], context: string) => Promise<RetireReply>;

/**
 * Retire `group` on every partition of a partitioned topic, in three steps:
 * 1. Check the group is known (on a partition's stream or redelivery stream, listed retired on a
 *    partition, or with dead letters there): else {@link NotFoundError}, nothing written.
 * 2. List it retired on **every** partition first (HSETNX in each partition's `retired` hash,
 *    one server time for all), before anything is destroyed: from then on no subscriber creates
 *    the group on any partition (the createGroup script refuses), and a consumer that meets the
 *    destroyed group on one partition finds it retired there and stops.
 * 3. Then, partition by partition in order, the retireGroup script (atomic on that partition, as
 *    on a plain topic: the group destroyed on the stream and the redelivery stream, its retries
 *    dropped, its dead letters kept or deleted), and an ordered group's held-back retries and
 *    hold state (`backoff:`, `parked:`, `blocked:`) dropped with it.
 *
 * Leases of an ordered group are kept (their fencing tokens never go back, so a consumer paused
 * across the retirement cannot pass a fence of a later owner): every fenced script of a former
 * owner now meets a destroyed group, the running consumers release theirs as they close, and a
 * dead consumer's lease expires after `leaseMs`.
 *
 * A crash (or lost connection) part way leaves the group listed retired on the partitions step 2
 * reached and destroyed on those step 3 reached; a partition not reached keeps its group, and a
 * consumer holding it may go on working it until it notices. Calling retireGroup again finishes
 * the job (every step is idempotent; the first retirement time is kept).
 */
export async function retirePartitioned(target: AdminTarget, topic: string, group: string, options: RetireOptions, partitions: number, retireOne: RetireOnePartition): Promise<RetireReport> {
  const parts = Array.from({ length: partitions }, (_, i) => partitionKeys(target.prefix, topic, i));
  const context = (i?: number) => `retire group "${group}" of topic "${topic}"${i === undefined ? '' : ` (partition ${i})`}`;
  let listed: Array<string | null>;
  let members: number;
  try {
    listed = await Promise.all(parts.map((k) => target.redis.hget(k.retired, group)));
    if (listed.every((at) => at === null)) await mustBeKnown(target, topic, group, parts);
    const [sec, micro] = (await target.redis.time()) as unknown as [string, string];
    const now = String(Number(sec) * 1000 + Math.floor(Number(micro) / 1000));
    // A retirement cut short: the partitions it did not reach get its time, so every one shows the first.
    const first = listed.filter((at): at is string => at !== null).sort((x, y) => Number(x) - Number(y))[0] ?? now;
    // Step 2: every partition listed before any is destroyed.
    await Promise.all(parts.map((k, i) => (listed[i] === null ? target.redis.hsetnx(k.retired, group, first) : Promise.resolve(0))));
    members = await target.redis.zcount(topicMetaKeys(target.prefix, topic).consumers(group), now, '+inf');
  } catch (err) {
    throw fromRedisError(err, context());
  }
  const rows: Array<StreamRetirement & { partition: number }> = [];
  for (const k of parts) {
    const i = k.partition;
    const held = await heldBack(target, k, group).catch((err: unknown) => { throw fromRedisError(err, context(i)); });
    const reply = await retireOne(k, held.events, context(i));
    try {
      await target.redis.unlink(k.backoff(group), k.parked(group), k.blocked(group));
    } catch (err) {
      throw fromRedisError(err, context(i));
    }
    const [, at, consumers, pending, retrying, deadLetters, dropped] = reply;
    rows.push({
      partition: i, alreadyRetired: listed[i] !== null, retiredAt: new Date(Number(at)), consumers: Number(consumers),
      pending: Number(pending), retrying: Number(retrying) + held.count, deadLetters: Number(deadLetters), deadLettersDeleted: Number(dropped) === 1,
    });
  }
  const sum = (pick: (r: StreamRetirement) => number) => rows.reduce((n, r) => n + pick(r), 0);
  return {
    topic, group, alreadyRetired: rows.every((r) => r.alreadyRetired),
    retiredAt: new Date(Math.min(...rows.map((r) => r.retiredAt.getTime()))),
    consumers: members, pending: sum((r) => r.pending), retrying: sum((r) => r.retrying),
    deadLetters: sum((r) => r.deadLetters), deadLettersDeleted: rows.some((r) => r.deadLettersDeleted),
    partitions: rows,
  };
}

/** Throw {@link NotFoundError} unless some partition has the group (its streams, or its dead letters). */
async function mustBeKnown(target: AdminTarget, topic: string, group: string, parts: PartitionKeys[]): Promise<void> {
  const names = new Set<string>();
  let known = false;
  await Promise.all(parts.map(async (k) => {
    for (const g of await groupInfos(target.redis, k.stream)) names.add(String(g.name));
    if ((await target.redis.exists(k.redeliver(group), k.deadLetters(group), k.retry(group))) > 0) known = true;
  }));
  if (known || names.has(group)) return;
  const list = [...names].sort();
  throw new NotFoundError(`group "${group}" not found in topic "${topic}" (nothing was retired); ${list.length === 0 ? 'the topic has no groups' : `groups: ${list.join(', ')}`}`);
}

/**
 * An ordered group's retries held back in place on one partition (its backoff set: entry id →
 * due): how many, and the events whose status promises a next attempt (an entry of the stream is
 * its event; a copy in the redelivery stream names its event in `orig`). Paged, 1000 per call.
 */
async function heldBack(target: AdminTarget, k: PartitionKeys, group: string): Promise<{ count: number; events: string[] }> {
  const events: string[] = [];
  let count = 0;
  for (let start = 0; ; start += 1000) {
    const page = await target.redis.zrange(k.backoff(group), start, start + 999);
    count += page.length;
    const ids = page.filter((id) => /^\d+-\d+$/.test(id));
    // One round trip per page: the redelivery copies they may be (all in the partition's slot).
    const reads = target.redis.pipeline();
    for (const id of ids) reads.xrange(k.redeliver(group), id, id);
    const copies = ids.length > 0 ? ((await reads.exec()) ?? []) : [];
    ids.forEach((id, n) => {
      const [err, rows] = copies[n] ?? [];
      if (err) throw err;
      const flat = (rows as Array<[string, string[]]> | undefined)?.[0]?.[1];
      const at = flat ? flat.indexOf('orig') : -1;
      events.push(flat && at >= 0 && at % 2 === 0 && /^\d+-\d+$/.test(flat[at + 1] ?? '') ? flat[at + 1]! : id);
    });
    if (page.length < 1000) break;
  }
  return { count, events };
}

/** The `retired` hash of every partition. */
export function partitionRetiredKeys(prefix: string, topic: string, partitions: number): string[] {
  return Array.from({ length: partitions }, (_, i) => partitionKeys(prefix, topic, i).retired);
}
