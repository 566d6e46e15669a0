/** Subscribe options of prioritized topics (docs/priorities.md §5). */
import { InvalidOptionError } from '../errors';
import type { SubscribeOptions } from '../consumer/options';
import { LaneOrderingError } from './errors';

/** Options of {@link Streamfan.subscribe} for prioritized topics. */
export interface LaneSubscribeOptions {
  /**
   * Prioritized topics: the starvation guard. A freed handler slot goes to the highest lane
   * with an entry waiting, except that while some lower lane has an entry waiting, at least
   * 1 in round(1 / lowerLaneShare) grants goes to a lower lane (the guard's grants rotate over
   * the waiting lower lanes). 0 to 0.5; 0 turns the guard off (strict priority: a lower lane
   * runs only while every higher lane is empty). Refused on a topic without lanes.
   * @defaultValue 0.1 (1 grant in 10)
   */
  lowerLaneShare?: number;
}

/** Default {@link LaneSubscribeOptions.lowerLaneShare}. */
export const DEFAULT_LOWER_LANE_SHARE = 0.1;

/**
 * Take the lane options out of `options` (the rest goes on to the partition and subscribe
 * options) and check them: `lowerLaneShare` only on a prioritized topic, and `ordering: 'key'`
 * never on one ({@link LaneOrderingError}).
 */
export function splitLaneOptions<O extends SubscribeOptions>(options: O & LaneSubscribeOptions, topic: { name: string; priorities?: readonly string[] }): { rest: O; lowerLaneShare: number } {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return { rest: options, lowerLaneShare: DEFAULT_LOWER_LANE_SHARE };
  const { lowerLaneShare, ...rest } = options as O & LaneSubscribeOptions & { ordering?: unknown };
  if (topic.priorities === undefined) {
    if (lowerLaneShare !== undefined) {
      throw new InvalidOptionError(`lowerLaneShare applies only to topics with priority lanes, and "${topic.name}" has none: drop it, or define the topic with { priorities: [...] } (docs/priorities.md)`);
    }
    return { rest: rest as O, lowerLaneShare: DEFAULT_LOWER_LANE_SHARE };
  }
  if ((rest as { ordering?: unknown }).ordering === 'key') throw new LaneOrderingError(topic.name);
  const share = lowerLaneShare ?? DEFAULT_LOWER_LANE_SHARE;
  if (typeof share !== 'number' || !Number.isFinite(share) || share < 0 || share > 0.5) {
    throw new InvalidOptionError(`lowerLaneShare must be a number from 0 to 0.5 (the least share of handler slots lower lanes get while they have work; 0: strict priority), got ${JSON.stringify(share) ?? String(share)}`);
  }
  return { rest: rest as O, lowerLaneShare: share };
}
