/**
 * Public event ids of partitioned topics (`p<i>:<id>`). The partition key builders live in
 * keys.ts (one module builds every key) and are re-exported here for existing imports.
 */
import { InvalidOptionError } from '../errors';
import { InvalidPartitionedIdError } from './errors';
import { MAX_PARTITIONS } from '../keys';
export {
  PARTITION_SEPARATOR, MAX_PARTITIONS, validatePartitionCount, partitionTag, parsePartitionTag, partitionKeys, topicMetaKeys,
  metaScanPattern, classifyStreamKey, type PartitionKeys, type TopicMetaKeys,
} from '../keys';

function checkIndex(partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= MAX_PARTITIONS) {
    throw new InvalidOptionError(`partition must be a whole number from 0 to ${MAX_PARTITIONS - 1}, got ${String(partition)}`);
  }
}

/**
 * Public ids of partitioned topics carry their partition: `p<i>:<stream id>` (e.g.
 * `p3:1700000000000-0`) or `p<i>:delayed-<uuid>`. Two partitions can hand out the same
 * stream id, and status, waitFor and the CLI must find the partition's stream from the id
 * alone (status hashes live in the partition's slot, next to its stream), so the partition
 * is part of the id. Inside Redis (status keys, notices, dead letters) ids stay local.
 */
export function formatPartitionedId(partition: number, localId: string): string {
  checkIndex(partition);
  return `p${partition}:${localId}`;
}

const PARTITIONED_ID = /^p(0|[1-9]\d{0,3}):(\d{1,20}-\d{1,20}|delayed-[0-9A-Za-z-]{1,64})$/;

/** True when `id` looks like an id of a partitioned topic (`p<i>:…`). */
export function isPartitionedId(id: string): boolean {
  return typeof id === 'string' && PARTITIONED_ID.test(id);
}

/**
 * Split a partitioned topic's public id into its partition and the id inside it. Throws
 * {@link InvalidPartitionedIdError} (an InvalidIdError) for anything else, or for a partition the topic does not have.
 */
export function parsePartitionedId(id: string, topic: string, partitions: number): { partition: number; localId: string } {
  const m = typeof id === 'string' ? PARTITIONED_ID.exec(id) : null;
  const partition = m ? Number(m[1]) : -1;
  if (!m || partition >= partitions) throw new InvalidPartitionedIdError(id, topic, partitions);
  return { partition, localId: m[2]! };
}
