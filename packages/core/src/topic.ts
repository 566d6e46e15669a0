import { jsonCodec, type Codec } from './codec';
import { InvalidOptionError } from './errors';
import { validatePartitionCount } from './keys';
import { validateLanes } from './lanes/ids';
import { validateTopicName } from './names';

/** Options of a topic, shared by its publishers and subscribers. */
export interface TopicOptions<T> {
  /** How payloads are encoded. @defaultValue strict JSON ({@link jsonCodec}) */
  codec?: Codec<T>;
  /** Largest encoded payload accepted by publish, in bytes. @defaultValue 1048576 (1 MiB) */
  maxPayloadBytes?: number;
  /**
   * Split the topic into this many partitions (1–1024), each a stream with its own hash tag
   * (`{<name>#<i>}`), so a topic spreads over a Redis Cluster's nodes. Publish with `{ key }`
   * to keep one key's events in one partition (Kafka's murmur2 partitioner; see
   * docs/partitions.md); events without a key are spread evenly. Fixed when the topic is first
   * used: a client that defines it with another count is refused with
   * {@link PartitionCountMismatchError}. Ids of a partitioned topic's events are `p<i>:<id>`.
   * @defaultValue undefined (unpartitioned: one stream `{<name>}`, as always)
   */
  partitions?: number;
  /**
   * Priority lanes, highest first: 2–8 names matching `/^[a-z][a-z0-9_-]{0,15}$/` (not
   * `p<digits>`). Each lane is a stream of its own in the topic's hash tag; publish with
   * `{ priority }`, and every group's consumers give their handler slots to the highest lane
   * with work first, with a starvation guard (subscribe option `lowerLaneShare`). Fixed when
   * the topic is first used: a client that defines it with other lanes is refused with
   * {@link LaneMismatchError}. Ids of a non-default lane's events are `<lane>:<id>`. Refused
   * together with `partitions`. See docs/priorities.md.
   * @defaultValue undefined (one stream, as always)
   */
  priorities?: readonly string[];
  /**
   * The lane of a publish without `priority`; it keeps the topic's own keys and plain ids.
   * @defaultValue 'normal' when declared, else the last (lowest) lane
   */
  defaultPriority?: string;
}

/** A typed topic: a name, its payload type and how payloads are encoded. */
export interface Topic<T = unknown> {
  readonly name: string;
  readonly codec: Codec<T>;
  readonly maxPayloadBytes: number;
  /** Partition count of a partitioned topic; absent for an unpartitioned one. */
  readonly partitions?: number;
  /** Priority lanes of a prioritized topic, highest first; absent for a topic without lanes. */
  readonly priorities?: readonly string[];
  /** The default lane of a prioritized topic (set exactly when `priorities` is). */
  readonly defaultPriority?: string;
  /** Phantom field that carries the payload type; never set. */
  readonly __payload?: T;
}

/** The payload type of a topic. */
export type PayloadOf<X> = X extends Topic<infer T> ? T : never;

/** Default {@link TopicOptions.maxPayloadBytes}. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Define a typed topic. The name is validated here, so a bad name fails at startup with
 * a clear {@link InvalidNameError}, not at the first publish.
 *
 * @example
 * ```ts
 * const signups = defineTopic<{ userId: string; email: string }>('user.signup');
 * const orders = defineTopic<{ orderId: string }>('orders', { partitions: 12 });
 * const emails = defineTopic<{ to: string }>('emails', { priorities: ['high', 'normal', 'low'] });
 * ```
 * @throws InvalidNameError for a bad name, InvalidOptionError for a bad option
 */
export function defineTopic<T = unknown>(name: string, options: TopicOptions<T> = {}): Topic<T> {
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 1 || maxPayloadBytes > 512 * 1024 * 1024) {
    throw new InvalidOptionError(`maxPayloadBytes must be a whole number from 1 to 536870912 (Redis' string limit), got ${String(maxPayloadBytes)}`);
  }
  const partitions = options.partitions === undefined ? undefined : validatePartitionCount(options.partitions);
  if (options.priorities === undefined && options.defaultPriority !== undefined) {
    throw new InvalidOptionError(`defaultPriority needs priorities: declare the lanes too, e.g. { priorities: ['high', 'normal', 'low'], defaultPriority: 'normal' }`);
  }
  const lanes = options.priorities === undefined ? undefined : validateLanes(options.priorities, options.defaultPriority);
  if (lanes && partitions !== undefined) {
    throw new InvalidOptionError(`topic "${name}": priorities cannot be combined with partitions in this version (lanes share the topic's one hash tag, partitions spread it over hash tags): ` +
      'use partitions for spread or per-key order, or separate topics (e.g. one per priority) for priority across nodes (docs/priorities.md §1)');
  }
  return Object.freeze({
    name: validateTopicName(name), codec: options.codec ?? jsonCodec<T>(), maxPayloadBytes,
    ...(partitions !== undefined ? { partitions } : {}),
    ...(lanes ? { priorities: lanes.lanes, defaultPriority: lanes.defaultLane } : {}),
  });
}

/** Accept a topic object or a bare name (an untyped JSON topic). */
export function toTopic<T>(topic: Topic<T> | string): Topic<T> {
  return typeof topic === 'string' ? defineTopic<T>(topic) : topic;
}
