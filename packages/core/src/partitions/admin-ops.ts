/**
 * Hand inspection and repair of partitioned topics (docs/partitions.md §9): pending pages,
 * show, claim, ack, delayed events, tail, consumers and consumer pruning. Each runs the
 * unpartitioned operation in the partition(s) concerned (a partition is, for key names, a topic
 * whose tag is `T#i`), takes and gives public ids (`p<i>:<stream id>`, `p<i>:delayed-<uuid>`),
 * and merges listings over partitions (by stream id, then partition).
 *
 * The `topic*` functions at the end dispatch on the topic definition: partitioned topics here,
 * the others to the unpartitioned functions, so {@link Streamfan}'s methods call one function.
 */
import type Redis from 'ioredis';
import { ackEntries, ackEntriesAt, type AckedEntry, type AckOptions } from '../admin/ack';
import { assertEntryIds, claimEntries, claimEntriesAt, type ClaimedEntry } from '../admin/claim';
import { NotPendingError } from '../admin/errors';
import { pendingPage, type PendingPage, type PendingPageQuery, type PendingRow } from '../admin/pending-page';
import { showEvent, showEventAt, type EventDetails } from '../admin/show';
import { tailTopic, type TailedEvent, type TailOptions } from '../admin/tail';
import type { AdminTarget } from '../admin/target';
import { isCluster } from '../connection';
import { fieldMap } from '../consumer/entry';
import { listDelayed, type DelayedEvent } from '../delayed';
import { InvalidOptionError, fromRedisError } from '../errors';
import { compareIds } from '../ids';
import { listConsumers, type ConsumerInfo } from '../inspect';
import { partitionKeys, partitionTag, topicKeys } from '../keys';
import { validateConsumerName, validateGroupName, validateTopicName } from '../names';
import { FIELD, type Headers } from '../publisher';
import { pruneConsumers } from '../retention';
import type { Topic } from '../topic';
import { ensureTopicMetaOnce } from './meta';
import { formatPartitionedId, parsePartitionedId } from './partitionKeys';
import { lanedAck, lanedClaim, lanedConsumers, lanedDelayed, lanedPendingPage, lanedPrune, lanedShow, lanedTail } from '../lanes/admin-ops';

/** The id just before `id` in stream order, so an exclusive `after` of it includes `id`. */
function before(id: string): string {
  const [ms, seq] = id.split('-').map(BigInt) as [bigint, bigint];
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-18446744073709551615`;
  return '0-0';
}

function partitionsOf(topic: Topic<unknown>): number {
  return topic.partitions!;
}

/** Split public entry ids (`p<i>:<stream id>`) by partition, in the order given. */
function byPartition(topic: Topic<unknown>, ids: readonly string[]): Map<number, string[]> {
  if (!Array.isArray(ids) || ids.length === 0) throw new InvalidOptionError(`give at least one entry id, e.g. p0:1700000000000-0 (see \`streamfan pending ${topic.name} <group>\`)`);
  const out = new Map<number, string[]>();
  for (const id of ids) {
    const { partition, localId } = parsePartitionedId(id, topic.name, partitionsOf(topic));
    assertEntryIds([localId]);
    out.set(partition, [...(out.get(partition) ?? []), localId]);
  }
  return out;
}

/**
 * One page of a group's pending entries over every partition and both streams of each, oldest
 * first by entry id, then partition. Ids (`id`, `eventId`, `next`) are `p<i>:…`; pass `next`
 * as `after` for the next page.
 */
export async function partitionedPendingPage(target: AdminTarget, topic: Topic<unknown>, group: string, q: PendingPageQuery = {}): Promise<PendingPage> {
  const P = partitionsOf(topic);
  await ensureTopicMetaOnce(target.redis, target.prefix, topic.name, P);
  const limit = Math.min(Math.max(1, Math.floor(q.limit ?? 100)), 10_000);
  let after: { partition: number; local: string } | undefined;
  if (q.after !== undefined) {
    try {
      const { partition, localId } = parsePartitionedId(q.after, topic.name, P);
      assertEntryIds([localId]);
      after = { partition, local: localId };
    } catch {
      throw new InvalidOptionError(`after must be an entry id of topic "${topic.name}" like p3:1700000000000-0 (the next of the previous page), got ${JSON.stringify(q.after)}`);
    }
  }
  // Order is (entry id, partition): after (a, p), partitions ≤ p go on after a, later ones from a itself.
  const pages = await Promise.all(Array.from({ length: P }, async (_, i) => {
    const from = after === undefined ? undefined : i <= after.partition ? after.local : before(after.local);
    const page = await pendingPage(target, partitionTag(topic.name, i), group, { ...q, limit, ...(from === undefined ? {} : { after: from }) });
    return { rows: page.entries.map((r) => ({ r, partition: i })), more: page.next !== null };
  }));
  const merged = pages.flatMap((p) => p.rows).sort((a, b) => compareIds(a.r.id, b.r.id) || a.partition - b.partition);
  const page = merged.slice(0, limit);
  const more = merged.length > limit || pages.some((p) => p.more);
  const entries: PendingRow[] = page.map(({ r, partition }) => ({ ...r, id: formatPartitionedId(partition, r.id), eventId: formatPartitionedId(partition, r.eventId) }));
  return { entries, next: more && entries.length > 0 ? entries[entries.length - 1]!.id : null };
}

/**
 * One event of a partitioned topic (`p<i>:<stream id>` or `p<i>:delayed-<uuid>`): payload,
 * headers and status in every group, read in its partition; ids in the answer are public.
 */
export async function partitionedShow(target: AdminTarget, topic: Topic<unknown>, id: string): Promise<EventDetails> {
  const P = partitionsOf(topic);
  const { partition, localId } = parsePartitionedId(id, topic.name, P);
  await ensureTopicMetaOnce(target.redis, target.prefix, topic.name, P);
  const d = await showEventAt(target, partitionTag(topic.name, partition), localId);
  const pub = (x: string) => formatPartitionedId(partition, x);
  const groups = Object.fromEntries(Object.entries(d.groups).map(([g, s]) => [g, s.deadLetterId ? { ...s, deadLetterId: pub(s.deadLetterId) } : s]));
  return { ...d, id: localId === d.id ? id : pub(d.id), topic: topic.name, ...(d.delayedId ? { delayedId: pub(d.delayedId) } : {}), groups, partition };
}

/** Every id must be pending in the group (topic or redelivery stream of its partition), else a NotPendingError with the public ids and nothing done. */
async function requirePending(target: AdminTarget, topic: Topic<unknown>, group: string, parts: Map<number, string[]>, action: string): Promise<void> {
  const checks = [...parts].flatMap(([i, ids]) => ids.map((id) => ({ i, id })));
  const k = (i: number) => partitionKeys(target.prefix, topic.name, i);
  const found = await Promise.all(checks.map(async ({ i, id }) => {
    const [a, b] = await Promise.all([
      target.redis.xpending(k(i).stream, group, id, id, 1) as Promise<unknown[]>,
      (target.redis.xpending(k(i).redeliver(group), group, id, id, 1) as Promise<unknown[]>).catch(() => [] as unknown[]),
    ]);
    return a.length + b.length > 0;
  }));
  const missing = checks.filter((_, n) => !found[n]).map(({ i, id }) => formatPartitionedId(i, id));
  if (missing.length > 0) throw new NotPendingError(action, topic.name, group, missing);
}

/** Whether the group's consumers order by key (their leases say so; see acquireLease-1.lua). */
async function orderedPartitions(redis: Redis, prefix: string, topic: string, group: string, partitions: Iterable<number>): Promise<number[]> {
  const list = [...partitions];
  const modes = await Promise.all(list.map((i) => redis.hget(partitionKeys(prefix, topic, i).lease(group), 'ordering')));
  return list.filter((_, n) => modes[n] === 'key');
}

/**
 * Hand pending entries (`p<i>:…`) to `consumer`, in each id's partition. Refused in an ordered
 * group (`ordering: 'key'`): there a partition's entries belong to the lease holder, and an entry
 * claimed away from it would be skipped by its key's order. Every id is checked pending first
 * (nothing is claimed when one is not); the partitions are then claimed one script each, so the
 * whole is all-or-nothing only within one partition.
 */
export async function partitionedClaim(target: AdminTarget, topic: Topic<unknown>, group: string, ids: readonly string[], consumer: string): Promise<ClaimedEntry[]> {
  validateGroupName(group);
  validateConsumerName(consumer);
  const parts = byPartition(topic, ids);
  await ensureTopicMetaOnce(target.redis, target.prefix, topic.name, partitionsOf(topic));
  try {
    const ordered = await orderedPartitions(target.redis, target.prefix, topic.name, group, parts.keys());
    if (ordered.length > 0) {
      throw new InvalidOptionError(`claim by hand is refused in group "${group}" of topic "${topic.name}": it orders by key, and partition ${ordered.join(', ')} belongs to its lease holder ` +
        '(an entry claimed away would be skipped in its key\'s order). Stop or restart the consumer that holds it: its partitions are taken over, with their pending entries, once its lease ends');
    }
    await requirePending(target, topic, group, parts, 'claimed');
  } catch (err) {
    throw fromRedisError(err, `claim entries of group "${group}" in topic "${topic.name}"`);
  }
  const out: ClaimedEntry[] = [];
  for (const [i, local] of parts) {
    const got = await claimEntriesAt(target, partitionTag(topic.name, i), group, local, consumer).catch((err: unknown) => {
      if (err instanceof NotPendingError) throw new NotPendingError('claimed', topic.name, group, err.ids.map((x) => formatPartitionedId(i, x)));
      throw err;
    });
    out.push(...got.map((c) => ({ ...c, id: formatPartitionedId(i, c.id) })));
  }
  return out;
}

/**
 * Acknowledge pending entries (`p<i>:…`) by hand, in each id's partition: status `succeeded`
 * (`ackedByHand`), waitFor told. In an ordered group the entry also leaves the partition's
 * backoff set; its owner's next start or settle of it finds it gone (`stale`) and its key moves
 * on. Every id is checked pending first; then one script per partition.
 */
export async function partitionedAck(target: AdminTarget, topic: Topic<unknown>, group: string, ids: readonly string[], options: AckOptions = {}): Promise<AckedEntry[]> {
  validateGroupName(group);
  const parts = byPartition(topic, ids);
  await ensureTopicMetaOnce(target.redis, target.prefix, topic.name, partitionsOf(topic));
  try {
    await requirePending(target, topic, group, parts, 'acknowledged');
  } catch (err) {
    throw fromRedisError(err, `acknowledge entries of group "${group}" in topic "${topic.name}"`);
  }
  const out: AckedEntry[] = [];
  for (const [i, local] of parts) {
    const got = await ackEntriesAt(target, partitionTag(topic.name, i), group, local, options).catch((err: unknown) => {
      if (err instanceof NotPendingError) throw new NotPendingError('acknowledged', topic.name, group, err.ids.map((x) => formatPartitionedId(i, x)));
      throw err;
    });
    await target.redis.zrem(partitionKeys(target.prefix, topic.name, i).backoff(group), ...local);
    out.push(...got.map((a) => ({ ...a, id: formatPartitionedId(i, a.id), eventId: formatPartitionedId(i, a.eventId) })));
  }
  return out;
}

/** The soonest `limit` delayed events over every partition, ids `p<i>:delayed-…`. */
export async function partitionedDelayed<T>(redis: Redis, prefix: string, topic: Topic<T>, limit: number): Promise<DelayedEvent<T>[]> {
  const P = partitionsOf(topic);
  await ensureTopicMetaOnce(redis, prefix, topic.name, P);
  const per = await Promise.all(Array.from({ length: P }, async (_, i) =>
    (await listDelayed(redis, partitionKeys(prefix, topic.name, i), (s) => topic.codec.decode(s), limit)).map((d) => ({ ...d, id: d.id ? formatPartitionedId(i, d.id) : d.id }))));
  return per.flat().sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime()).slice(0, limit);
}

function decodeEntry(partition: number, id: string, flat: string[]): TailedEvent {
  const f = fieldMap(flat);
  let payload: unknown = f.get(FIELD.payload) ?? null;
  try { if (typeof payload === 'string') payload = JSON.parse(payload) as unknown; } catch { /* keep the raw string */ }
  let headers: Headers;
  try { headers = f.get(FIELD.headers) ? (JSON.parse(f.get(FIELD.headers)!) as Headers) : {}; } catch { headers = {}; }
  const key = f.get(FIELD.key);
  return { id: formatPartitionedId(partition, id), publishedAt: new Date(Number(id.split('-')[0])), payload, headers, partition, ...(key !== undefined ? { key } : {}) };
}

/**
 * Yield the events of every partition as they arrive (reads only). `from` is `$` (new events),
 * `0` (everything retained) or a stream id, applied to every partition (a time position: ids
 * start with their ms). Each batch is yielded by id, then partition; ids are `p<i>:…`. On one
 * server one blocking XREAD covers every partition; on a Cluster (one slot per partition) each
 * round reads every partition at once without blocking, then waits up to 100 ms when none had
 * anything.
 */
export async function* partitionedTail(blocking: Redis, prefix: string, topic: Topic<unknown>, options: TailOptions = {}): AsyncGenerator<TailedEvent> {
  const P = partitionsOf(topic);
  const streams = Array.from({ length: P }, (_, i) => partitionKeys(prefix, topic.name, i).stream);
  const start = options.from ?? '$';
  if (start !== '$' && !/^\d+(-\d+)?$/.test(start)) throw new InvalidOptionError(`from must be a stream id like 1700000000000-0, 0 or $ (it applies to every partition), got ${JSON.stringify(start)}`);
  const count = options.count ?? 100;
  const blockMs = options.blockMs ?? 1000;
  try {
    await ensureTopicMetaOnce(blocking, prefix, topic.name, P);
    const from = await Promise.all(streams.map(async (s) => {
      if (start !== '$') return start;
      const last = await blocking.xrevrange(s, '+', '-', 'COUNT', 1);
      return last[0]?.[0] ?? '0-0';
    }));
    const cluster = isCluster(blocking as unknown);
    while (!options.signal?.aborted) {
      type Reply = Array<[string, Array<[string, string[]]>]> | null;
      let got: Array<{ partition: number; id: string; flat: string[] }> = [];
      if (!cluster) {
        const reply = (await blocking.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', ...streams, ...from)) as Reply;
        for (const [key, entries] of reply ?? []) {
          const i = streams.indexOf(key);
          for (const [id, flat] of entries) got.push({ partition: i, id, flat });
        }
      } else {
        const replies = await Promise.all(streams.map((s, i) => blocking.xread('COUNT', count, 'STREAMS', s, from[i]!) as Promise<Reply>));
        replies.forEach((r, i) => { for (const [id, flat] of r?.[0]?.[1] ?? []) got.push({ partition: i, id, flat }); });
        if (got.length === 0) await new Promise((r) => setTimeout(r, Math.min(100, blockMs)));
      }
      got = got.sort((a, b) => compareIds(a.id, b.id) || a.partition - b.partition);
      for (const g of got) {
        from[g.partition] = g.id;
        yield decodeEntry(g.partition, g.id, g.flat);
      }
    }
  } catch (err) {
    if (options.signal?.aborted) return;
    throw fromRedisError(err, `tail topic "${topic.name}"`);
  }
}

/** A consumer of a group on a partitioned topic, summed over the partitions it is known in. */
export interface PartitionedConsumerInfo extends ConsumerInfo {
  /** Partitions whose group knows this consumer (it read or claimed there). */
  partitions: number[];
}

/**
 * Consumers of a group over every partition: pending summed, idle and inactive the least of
 * any partition (its most recent activity), with the partitions it is known in.
 */
export async function partitionedConsumers(redis: Redis, prefix: string, topic: Topic<unknown>, group: string): Promise<PartitionedConsumerInfo[]> {
  const P = partitionsOf(topic);
  await ensureTopicMetaOnce(redis, prefix, topic.name, P);
  const per = await Promise.all(Array.from({ length: P }, (_, i) => listConsumers(redis, prefix, partitionTag(topic.name, i), group).catch((err: Error) => {
    if (/NOGROUP|no such key/i.test(err.message)) return [] as ConsumerInfo[];
    throw err;
  })));
  const out = new Map<string, PartitionedConsumerInfo>();
  per.forEach((rows, i) => {
    for (const c of rows) {
      const m = out.get(c.name);
      if (!m) { out.set(c.name, { ...c, partitions: [i] }); continue; }
      m.pending += c.pending;
      m.idleMs = Math.min(m.idleMs, c.idleMs);
      m.inactiveMs = m.inactiveMs === null ? c.inactiveMs : c.inactiveMs === null ? m.inactiveMs : Math.min(m.inactiveMs, c.inactiveMs);
      m.partitions.push(i);
    }
  });
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Prune idle consumers holding nothing, in every partition; returns the names removed from at least one. */
export async function partitionedPrune(redis: Redis, prefix: string, topic: Topic<unknown>, group: string, idleMs: number): Promise<string[]> {
  const P = partitionsOf(topic);
  await ensureTopicMetaOnce(redis, prefix, topic.name, P);
  const removed = new Set<string>();
  for (let i = 0; i < P; i++) {
    const names = await pruneConsumers(redis, prefix, partitionTag(topic.name, i), group, idleMs).catch((err: Error) => {
      if (/NOGROUP|no such key/i.test(err.message)) return [] as string[];
      throw err;
    });
    for (const n of names) removed.add(n);
  }
  return [...removed].sort();
}

// Dispatch on the topic definition (Streamfan's methods and the CLI call these).

/** {@link pendingPage}, or {@link partitionedPendingPage} for a partitioned topic. */
export function topicPendingPage(target: AdminTarget, topic: Topic<unknown>, group: string, q?: PendingPageQuery): Promise<PendingPage> {
  validateGroupName(group);
  if (topic.partitions !== undefined) return partitionedPendingPage(target, topic, group, q);
  if (topic.priorities !== undefined) return lanedPendingPage(target, topic, group, q);
  validateTopicName(topic.name);
  return pendingPage(target, topic.name, group, q);
}

/** {@link showEvent}, or {@link partitionedShow} for a partitioned topic. */
export function topicShow(target: AdminTarget, topic: Topic<unknown>, id: string): Promise<EventDetails> {
  if (topic.priorities !== undefined) return lanedShow(target, topic, id);
  return topic.partitions !== undefined ? partitionedShow(target, topic, id) : showEvent(target, topic.name, id);
}

/** {@link claimEntries}, or {@link partitionedClaim} for a partitioned topic. */
export function topicClaim(target: AdminTarget, topic: Topic<unknown>, group: string, ids: readonly string[], consumer: string): Promise<ClaimedEntry[]> {
  if (topic.priorities !== undefined) return lanedClaim(target, topic, group, ids, consumer);
  return topic.partitions !== undefined ? partitionedClaim(target, topic, group, ids, consumer) : claimEntries(target, topic.name, group, ids, consumer);
}

/** {@link ackEntries}, or {@link partitionedAck} for a partitioned topic. */
export function topicAck(target: AdminTarget, topic: Topic<unknown>, group: string, ids: readonly string[], options?: AckOptions): Promise<AckedEntry[]> {
  if (topic.priorities !== undefined) return lanedAck(target, topic, group, ids, options);
  return topic.partitions !== undefined ? partitionedAck(target, topic, group, ids, options) : ackEntries(target, topic.name, group, ids, options);
}

/** The soonest delayed events of a topic, over every partition of a partitioned one. */
export function topicDelayed<T>(redis: Redis, prefix: string, topic: Topic<T>, limit: number): Promise<DelayedEvent<T>[]> {
  if (topic.priorities !== undefined) return lanedDelayed(redis, prefix, topic, limit);
  return topic.partitions !== undefined ? partitionedDelayed(redis, prefix, topic, limit) : listDelayed(redis, topicKeys(prefix, topic.name), (s) => topic.codec.decode(s), limit);
}

/** {@link tailTopic}, or {@link partitionedTail} for a partitioned topic. */
export function topicTail(blocking: Redis, prefix: string, topic: Topic<unknown>, options?: TailOptions): AsyncGenerator<TailedEvent> {
  if (topic.priorities !== undefined) return lanedTail(blocking, prefix, topic, options);
  return topic.partitions !== undefined ? partitionedTail(blocking, prefix, topic, options) : tailTopic(blocking, prefix, topic.name, options);
}

/** Consumers of a group; for a partitioned topic merged over partitions ({@link PartitionedConsumerInfo}). */
export function topicConsumers(redis: Redis, prefix: string, topic: Topic<unknown>, group: string): Promise<ConsumerInfo[]> {
  if (topic.priorities !== undefined) return lanedConsumers(redis, prefix, topic, group);
  return topic.partitions !== undefined ? partitionedConsumers(redis, prefix, topic, group) : listConsumers(redis, prefix, topic.name, group);
}

/** {@link pruneConsumers}, in every partition of a partitioned topic. */
export function topicPrune(redis: Redis, prefix: string, topic: Topic<unknown>, group: string, idleMs: number): Promise<string[]> {
  if (topic.priorities !== undefined) return lanedPrune(redis, prefix, topic, group, idleMs);
  return topic.partitions !== undefined ? partitionedPrune(redis, prefix, topic, group, idleMs) : pruneConsumers(redis, prefix, topic.name, group, idleMs);
}
