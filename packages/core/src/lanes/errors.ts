/** Typed errors of prioritized topics (docs/priorities.md). */
import { InvalidIdError, InvalidOptionError, type ErrorCode } from '../errors';

/**
 * A prioritized topic defined with another lane set or default lane than the one fixed when
 * the topic was first used (recorded in its meta hash), or a prioritized definition of a
 * partitioned topic. Nothing was written. Code `LANE_MISMATCH`; still an
 * {@link InvalidOptionError}, so a catch of bad options catches it.
 */
export class LaneMismatchError extends InvalidOptionError {
  override readonly code: ErrorCode = 'LANE_MISMATCH';
  /** The topic. */
  readonly topic: string;
  /** The lanes stored in Redis, highest first (empty: the topic is partitioned). */
  readonly stored: readonly string[];
  /** The default lane stored in Redis ('' when partitioned). */
  readonly storedDefault: string;
  /** The lanes asked for, highest first. */
  readonly requested: readonly string[];
  constructor(topic: string, stored: readonly string[], storedDefault: string, requested: readonly string[], requestedDefault: string) {
    super(stored.length === 0
      ? `topic "${topic}" is partitioned, and a partitioned topic cannot have priority lanes (this version): define it without priorities, or use a new topic name for the prioritized one (docs/priorities.md §1)`
      : `topic "${topic}" has the priority lanes [${stored.join(', ')}] (default ${storedDefault}), fixed when it was first used, but was defined with [${requested.join(', ')}] (default ${requestedDefault}): ` +
        `define it with { priorities: [${stored.map((l) => `'${l}'`).join(', ')}], defaultPriority: '${storedDefault}' }, or migrate to a new topic name (docs/priorities.md §1)`);
    this.topic = topic;
    this.stored = stored;
    this.storedDefault = storedDefault;
    this.requested = requested;
  }
}

/** A publish whose `priority` is not one of the topic's lanes. Nothing was written. Code `UNKNOWN_LANE`, an {@link InvalidOptionError}. */
export class UnknownLaneError extends InvalidOptionError {
  override readonly code: ErrorCode = 'UNKNOWN_LANE';
  /** The topic. */
  readonly topic: string;
  /** The priority given. */
  readonly lane: string;
  /** The topic's lanes, highest first. */
  readonly lanes: readonly string[];
  constructor(topic: string, lane: unknown, lanes: readonly string[]) {
    super(`priority ${JSON.stringify(lane)} is not a lane of topic "${topic}": use one of ${lanes.map((l) => `'${l}'`).join(', ')} (highest first), or leave priority out for the default lane. Nothing was published.`);
    this.topic = topic;
    this.lane = String(lane);
    this.lanes = lanes;
  }
}

/**
 * An id given for a prioritized topic that is not `<lane>:<stream id>`, `<lane>:delayed-<uuid>`
 * (lane one of the topic's) or a plain id of its default lane (code `INVALID_ID`, an {@link InvalidIdError}).
 */
export class InvalidLaneIdError extends InvalidIdError {
  constructor(id: unknown, topic: string, lanes: readonly string[], defaultLane: string) {
    super(id);
    this.message = `${JSON.stringify(id)} is not an event id of topic "${topic}" (lanes ${lanes.join(', ')}): its ids look like high:1700000000000-0 or high:delayed-<uuid> ` +
      `(a lane, then the id inside its stream), or a plain 1700000000000-0 for the default lane ${defaultLane}, as publish returned them`;
  }
}

/**
 * `ordering: 'key'` asked on a prioritized topic: key order and priority contradict (a key's
 * high event would overtake its earlier low events, or wait behind them), and key order needs
 * partitions, which a prioritized topic cannot have. Code `INVALID_OPTION`.
 */
export class LaneOrderingError extends InvalidOptionError {
  /** The topic. */
  readonly topic: string;
  constructor(topic: string) {
    super(`ordering: 'key' is refused on topic "${topic}", which has priority lanes: key order and priority contradict (a key's high-priority event would overtake its earlier low-priority events, ` +
      'or have to wait behind them), and key order needs partitions, which a prioritized topic cannot have. Subscribe without ordering, or use a partitioned topic without priorities for per-key order (docs/priorities.md §5)');
    this.topic = topic;
  }
}
