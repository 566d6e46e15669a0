import type { Streamfan } from '../src';
import { partitionKeys } from '../src/internal';
import { readLeases, type LeaseView } from '../src/partitions/leases';

export * from '../src/internal';
export type { PartitionContext } from '../src/partitions/partitioned-subscription';
export type { PartitionedGroupInfo, PartitionedTrimReport } from '../src/partitions/admin';

/** Every partition's lease of a group, as Redis holds it now. */
export function readLeasesForTest(sf: Streamfan, topic: string, partitions: number, group: string): Promise<LeaseView[]> {
  return readLeases(sf.redis, Array.from({ length: partitions }, (_, i) => partitionKeys(sf.prefix, topic, i)), group);
}
