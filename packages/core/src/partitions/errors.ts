/** Errors of partitioned topics. */
import { InvalidIdError, InvalidOptionError, StreamfanError, type ErrorCode } from '../errors';

/**
 * A topic was defined with a partition count other than the one fixed when it was created
 * (or partitioned while an unpartitioned topic of that name exists). Nothing was written.
 * docs/partitions.md ("Changing the partition count") says how to migrate. Code
 * `PARTITION_MISMATCH`; still an {@link InvalidOptionError}, so a catch of bad options catches it.
 */
export class PartitionCountMismatchError extends InvalidOptionError {
  override readonly code: ErrorCode = 'PARTITION_MISMATCH';
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

/**
 * An id given for a partitioned topic that is not `p<i>:<stream id>` or `p<i>:delayed-<uuid>`
 * with i below the topic's partitions (code `INVALID_ID`, an {@link InvalidIdError}).
 */
export class InvalidPartitionedIdError extends InvalidIdError {
  constructor(id: unknown, topic: string, partitions: number) {
    super(id);
    this.message = `${JSON.stringify(id)} is not an event id of topic "${topic}" (${partitions} partitions): its ids look like p3:1700000000000-0 ` +
      `or p3:delayed-<uuid> (partition 0 to ${partitions - 1}, then the id inside the partition), as publish returned them`;
  }
}

/**
 * A {@link Streamfan.publishMany} on a partitioned topic whose events spanned several
 * partitions: each partition's part is one atomic script, and some parts were written while
 * others failed. `written` maps the index of each event written to its id; `notWritten` lists
 * the indexes to send again (only those). `cause` is the first failure.
 */
export class PartialPublishError extends StreamfanError {
  /** Index in the batch → id, for every event written. */
  readonly written: ReadonlyMap<number, string>;
  /** Indexes of the events not written, ascending. */
  readonly notWritten: readonly number[];
  constructor(topic: string, written: Map<number, string>, notWritten: number[], cause: unknown) {
    super('PARTIAL_PUBLISH', `publishMany to "${topic}": ${written.size} event(s) written, ${notWritten.length} not (their partitions' parts failed: ${(cause as Error)?.message ?? String(cause)}); ` +
      'send again only the events at the indexes in `notWritten` (each partition\'s part is atomic, the batch as a whole is not when it spans partitions)', { cause });
    this.written = written;
    this.notWritten = notWritten;
  }
}

/**
 * An operation that is not available on a partitioned topic. Nothing was written; the message
 * says what to do instead. Still an {@link InvalidOptionError} (code `INVALID_OPTION`), so a
 * catch of bad options catches it. No operation throws it in this version:
 * {@link Streamfan.retireGroup} and {@link Streamfan.unretireGroup}, the last ones refused, work
 * on partitioned topics now (every partition's group retired). Kept exported so code that
 * catches it still compiles.
 */
export class PartitionedTopicNotSupportedError extends InvalidOptionError {
  /** The topic. */
  readonly topic: string;
  /** Its partition count. */
  readonly partitions: number;
  /** The operation refused, e.g. `retireGroup`. */
  readonly operation: string;
  constructor(operation: string, topic: string, partitions: number, instead: string) {
    super(`${operation} is not supported on partitioned topics, and topic "${topic}" has ${partitions} partition${partitions === 1 ? '' : 's'} (nothing was done): ${instead}`);
    this.topic = topic;
    this.partitions = partitions;
    this.operation = operation;
  }
}
