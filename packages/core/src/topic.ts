import { jsonCodec, type Codec } from './codec';
import { InvalidOptionError } from './errors';
import { validateTopicName } from './names';

/** Options of a topic, shared by its publishers and subscribers. */
export interface TopicOptions<T> {
  /** How payloads are encoded. @defaultValue strict JSON ({@link jsonCodec}) */
  codec?: Codec<T>;
  /** Largest encoded payload accepted by publish, in bytes. @defaultValue 1048576 (1 MiB) */
  maxPayloadBytes?: number;
}

/** A typed topic: a name, its payload type and how payloads are encoded. */
export interface Topic<T = unknown> {
  readonly name: string;
  readonly codec: Codec<T>;
  readonly maxPayloadBytes: number;
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
 * ```
 */
export function defineTopic<T = unknown>(name: string, options: TopicOptions<T> = {}): Topic<T> {
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 1 || maxPayloadBytes > 512 * 1024 * 1024) {
    throw new InvalidOptionError(`maxPayloadBytes must be a whole number from 1 to 536870912 (Redis' string limit), got ${String(maxPayloadBytes)}`);
  }
  return Object.freeze({ name: validateTopicName(name), codec: options.codec ?? jsonCodec<T>(), maxPayloadBytes });
}

/** Accept a topic object or a bare name (an untyped JSON topic). */
export function toTopic<T>(topic: Topic<T> | string): Topic<T> {
  return typeof topic === 'string' ? defineTopic<T>(topic) : topic;
}
