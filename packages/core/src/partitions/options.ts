/** Subscribe options that only partitioned topics take (docs/partitions.md §5, §6). */
import { InvalidOptionError } from '../errors';
import type { SubscribeOptions } from '../consumer/options';

/** Options of {@link Streamfan.subscribe} for partitioned topics. */
export interface PartitionSubscribeOptions {
  /**
   * Partitioned topics: how long this consumer's hold on a partition lasts without renewal
   * (renewed every third of it). A crashed consumer's partitions are taken over after it
   * expires. 1000 ms – 10 min. @defaultValue 10000
   */
  leaseMs?: number;
  /**
   * Partitioned topics: `'key'` handles the events of one key one at a time, in publish order,
   * within this group (through retries, crashes and rebalances); `'none'` (default) handles
   * them as an unpartitioned topic does. Refused on an unpartitioned topic.
   * With `'key'`, `handlerTimeoutMs` defaults to 3 × `leaseMs` (a hung handler must not pin its
   * partition), and a handler's key stays busy until the handler returns, even past its time limit.
   * @defaultValue 'none'
   */
  ordering?: 'none' | 'key';
  /**
   * `ordering: 'key'`: what a dead-lettered event does to later events of its key. `'continue'`:
   * they run (a poison event must not stall its key forever; the dead letter is visible and can be
   * replayed, after the events that followed it). `'hold'`: the key is parked — its later events
   * wait, pending to the partition's owner and not counted in `maxHeldPerPartition` (other keys
   * flow), until the dead letter is replayed (the replay runs first, then the parked events, in
   * order, once it succeeded), purged, or the key is released by hand
   * (docs/partitions.md §6.2). @defaultValue 'continue'
   */
  afterDeadLetter?: 'continue' | 'hold';
  /** `ordering: 'key'`: most events held back behind their keys per partition before its reads pause (1–1,000,000). @defaultValue 1000 */
  maxHeldPerPartition?: number;
}

/** Resolved {@link PartitionSubscribeOptions}. */
export interface ResolvedPartitionOptions {
  leaseMs: number;
  ordering: 'none' | 'key';
  afterDeadLetter: 'continue' | 'hold';
  maxHeldPerPartition: number;
}

const PARTITION_OPTIONS = ['leaseMs', 'ordering', 'afterDeadLetter', 'maxHeldPerPartition'] as const;
const DEFAULTS: ResolvedPartitionOptions = { leaseMs: 10_000, ordering: 'none', afterDeadLetter: 'continue', maxHeldPerPartition: 1000 };

/**
 * Take the partition options out of `options` (the rest goes to resolveSubscribeOptions) and
 * check them. On an unpartitioned topic (`partitions` undefined) any of them is refused.
 */
export function splitPartitionOptions(options: SubscribeOptions & PartitionSubscribeOptions, topic: string, partitions: number | undefined): { rest: SubscribeOptions; partition: ResolvedPartitionOptions } {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return { rest: options, partition: DEFAULTS };
  const rest: Record<string, unknown> = { ...options };
  const given: Record<string, unknown> = {};
  for (const k of PARTITION_OPTIONS) {
    if (k in rest) { given[k] = rest[k]; delete rest[k]; }
  }
  const named = Object.keys(given).filter((k) => given[k] !== undefined);
  if (partitions === undefined && named.length > 0) {
    throw new InvalidOptionError(`${named.join(', ')} ${named.length > 1 ? 'apply' : 'applies'} only to partitioned topics, and "${topic}" is not partitioned: ` +
      'define a new topic with { partitions: n } (use { partitions: 1 } for a single ordered stream; see docs/partitions.md)');
  }
  const leaseMs = given.leaseMs ?? 10_000;
  if (typeof leaseMs !== 'number' || !Number.isInteger(leaseMs) || leaseMs < 1000 || leaseMs > 600_000) {
    throw new InvalidOptionError(`leaseMs must be a whole number from 1000 to 600000, got ${String(leaseMs)}: how long a consumer's hold on a partition lasts without renewal`);
  }
  const ordering = given.ordering ?? 'none';
  if (ordering !== 'none' && ordering !== 'key') throw new InvalidOptionError(`ordering must be 'none' or 'key', got ${JSON.stringify(ordering)}`);
  const after = given.afterDeadLetter ?? 'continue';
  if (after !== 'continue' && after !== 'hold') throw new InvalidOptionError(`afterDeadLetter must be 'continue' or 'hold', got ${JSON.stringify(after)}`);
  const maxHeld = given.maxHeldPerPartition ?? 1000;
  if (typeof maxHeld !== 'number' || !Number.isInteger(maxHeld) || maxHeld < 1 || maxHeld > 1_000_000) {
    throw new InvalidOptionError(`maxHeldPerPartition must be a whole number from 1 to 1000000, got ${String(maxHeld)}`);
  }
  if (ordering !== 'key' && (given.afterDeadLetter !== undefined || given.maxHeldPerPartition !== undefined)) {
    throw new InvalidOptionError("afterDeadLetter and maxHeldPerPartition apply only with ordering: 'key'");
  }
  return { rest: rest as SubscribeOptions, partition: { leaseMs, ordering, afterDeadLetter: after, maxHeldPerPartition: maxHeld } };
}

/**
 * The name of an unpartitioned topic, for the operations not yet wired for partitioned topics;
 * a partitioned one is refused at once rather than answered from keys it does not use.
 */
export function unpartitionedName(topic: { name: string; partitions?: number }, what: string): string {
  if (topic.partitions !== undefined) {
    throw new InvalidOptionError(`${what} is not wired for partitioned topics yet ("${topic.name}" has ${topic.partitions} partitions; docs/partitions.md §12): ` +
      'publish, subscribe, status, waitFor, topics, groups, pending, trim and deadLetters work on them');
  }
  return topic.name;
}
