/** Errors of partitioned topics. */
import { InvalidIdError, InvalidOptionError } from '../errors';

/**
 * A topic was defined with a partition count other than the one fixed when it was created
 * (or partitioned while an unpartitioned topic of that name exists, or the reverse). Nothing
 * was written. docs/partitions.md ("Changing the partition count") says how to migrate.
 */
export class PartitionCountMismatchError extends InvalidOptionError {
  /** The topic. */
  readonly topic: string;
  /** The count stored in Redis (0: the topic exists unpartitioned). */
  readonly stored: number;
  /** The count asked for (0: unpartitioned). */
  readonly requested: number;
  constructor(topic: string, stored: number, requested: number) {
    const has = stored === 0 ? 'exists unpartitioned' : `has ${stored} partition${stored === 1 ? '' : 's'}`;
    const asked = requested === 0 ? 'without partitions' : `with ${requested} partition${requested === 1 ? '' : 's'}`;
    super(`topic "${topic}" ${has}, fixed when it was created, but was defined ${asked}: ` +
      `define it ${stored === 0 ? 'without partitions' : `with { partitions: ${stored} }`}, or migrate to a new topic name (see docs/partitions.md, "Changing the partition count")`);
    this.topic = topic;
    this.stored = stored;
    this.requested = requested;
  }
}

/** An id given for a partitioned topic that is not `p<i>:<stream id>` or `p<i>:delayed-<uuid>` with i below the topic's partitions. */
export class InvalidPartitionedIdError extends InvalidIdError {
  constructor(id: unknown, topic: string, partitions: number) {
    super(id);
    this.message = `${JSON.stringify(id)} is not an event id of topic "${topic}" (${partitions} partitions): its ids look like p3:1700000000000-0 ` +
      `or p3:delayed-<uuid> (partition 0 to ${partitions - 1}, then the id inside the partition), as publish returned them`;
  }
}
