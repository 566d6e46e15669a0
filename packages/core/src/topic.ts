import { jsonCodec, type Codec } from './codec';
import { InvalidOptionError } from './errors';
import { validatePartitionCount } from './keys';
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
}

/** A typed topic: a name, its payload type and how payloads are encoded. */
export interface Topic<T = unknown> {
  readonly name: string;
  readonly codec: Codec<T>;
  readonly maxPayloadBytes: number;
  /** Partition count of a partitioned topic; absent for an unpartitioned one. */
  readonly partitions?: number;
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
 * ```
 * @throws InvalidNameError for a bad name, InvalidOptionError for a bad option
 */
export function defineTopic<T = unknown>(name: string, options: TopicOptions<T> = {}): Topic<T> {
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 1 || maxPayloadBytes > 512 * 1024 * 1024) {
    throw new InvalidOptionError(`maxPayloadBytes must be a whole number from 1 to 536870912 (Redis' string limit), got ${String(maxPayloadBytes)}`);
  }
  const partitions = options.partitions === undefined ? undefined : validatePartitionCount(options.partitions);
  return Object.freeze({ name: validateTopicName(name), codec: options.codec ?? jsonCodec<T>(), maxPayloadBytes, ...(partitions !== undefined ? { partitions } : {}) });
}

/** Accept a topic object or a bare name (an untyped JSON topic). */
export function toTopic<T>(topic: Topic<T> | string): Topic<T> {
  return typeof topic === 'string' ? defineTopic<T>(topic) : topic;
}
