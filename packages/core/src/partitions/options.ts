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
   * **Not wired yet**: `'key'` is refused with InvalidOptionError until it is built (docs/partitions.md §12).
   * @defaultValue 'none'
   */
  ordering?: 'none' | 'key';
}

/** Resolved {@link PartitionSubscribeOptions}. */
export interface ResolvedPartitionOptions {
  leaseMs: number;
  ordering: 'none' | 'key';
}

const PARTITION_OPTIONS = ['leaseMs', 'ordering'] as const;

/**
 * Take the partition options out of `options` (the rest goes to resolveSubscribeOptions) and
 * check them. On an unpartitioned topic (`partitions` undefined) any of them is refused.
 */
export function splitPartitionOptions(options: SubscribeOptions & PartitionSubscribeOptions, topic: string, partitions: number | undefined): { rest: SubscribeOptions; partition: ResolvedPartitionOptions } {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return { rest: options, partition: { leaseMs: 10_000, ordering: 'none' } };
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
  if (ordering === 'key') {
    throw new InvalidOptionError("ordering: 'key' is not built yet (docs/partitions.md §12 lists what is wired): subscribe without it for unordered handling of a partitioned topic");
  }
  return { rest: rest as SubscribeOptions, partition: { leaseMs, ordering } };
}
