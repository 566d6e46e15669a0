/**
 * Which partition an event goes to.
 *
 * With a key: `partition = (murmur2(utf8(key)) & 0x7fffffff) % partitions`, where murmur2 is
 * the 32-bit MurmurHash2 variant Apache Kafka's producer uses (seed 0x9747b28c). We use
 * Kafka's function byte for byte, for three reasons:
 * - another language reproduces it in a dozen lines (docs/partitions.md has one in Python,
 *   and the unit test runs it), and most languages already ship it in a Kafka client;
 * - a team that mirrors a Kafka topic gets the same key → partition mapping for the same
 *   partition count, so per-key order lines up on both sides;
 * - its final mixing step makes every output bit depend on every input byte. Plain FNV-1a,
 *   the other easy choice, does not: its low k bits depend only on the low k bits of each
 *   byte, so `% 16` would send "a" and "q" (0x61, 0x71) to the same partition.
 *
 * Without a key: {@link KeylessSpread} — each publish call (one script) goes to the partition
 * this publisher has sent the fewest events to, so a batch stays one atomic script on one
 * partition and the spread stays even by events, not by calls.
 */
import { InvalidOptionError } from '../errors';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * Kafka's murmur2 over bytes: a signed 32-bit integer, exactly as
 * `org.apache.kafka.common.utils.Utils.murmur2` returns it.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest >= 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Longest partition key accepted, in UTF-8 bytes (it travels in every entry of the stream). */
export const MAX_PARTITION_KEY_BYTES = 1024;

/**
 * Check a partition key: a string of at most {@link MAX_PARTITION_KEY_BYTES} UTF-8 bytes.
 * The empty string is a key like any other (it hashes to a fixed partition); "no key" is
 * `undefined`. Lone surrogates are refused: they have no UTF-8 form, so another language
 * could not hash the same bytes.
 */
export function validatePartitionKey(key: unknown): string {
  if (typeof key !== 'string') {
    throw new InvalidOptionError(`key must be a string, got ${key === null ? 'null' : typeof key}: convert it with String(), e.g. { key: String(orderId) }`);
  }
  if (LONE_SURROGATE.test(key)) throw new InvalidOptionError('key contains a lone UTF-16 surrogate, which has no UTF-8 form: pass well-formed text');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_PARTITION_KEY_BYTES) {
    throw new InvalidOptionError(`key is ${bytes} UTF-8 bytes, over the limit of ${MAX_PARTITION_KEY_BYTES}: use an id (order id, user id), not the data`);
  }
  return key;
}

/**
 * The partition of a key: `(murmur2(utf8(key)) & 0x7fffffff) % partitions`, Kafka's
 * default partitioner for keyed records. `partitions` must be a whole number ≥ 1.
 */
export function partitionForKey(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new InvalidOptionError(`partitions must be a whole number ≥ 1, got ${String(partitions)}`);
  return (murmur2(Buffer.from(validatePartitionKey(key), 'utf8')) & 0x7fffffff) % partitions;
}

/**
 * Spreads events without a key over the partitions, per publisher. Each publish call (a
 * single publish, a coalesced flush, a publishMany batch) goes whole to one partition — the
 * one this publisher has sent the fewest events to (ties: the next one after the last pick,
 * from a random start, so publishers started together do not all begin at partition 0).
 *
 * Why not one partition per event (round-robin, or a hash of each event's id): a batch would
 * split into one script per partition, losing publishMany's atomicity and costing a script
 * per partition instead of one. Why not a partition per call chosen by round-robin alone:
 * batches of different sizes would leave partitions uneven by events. Here the imbalance of
 * one publisher never exceeds its largest batch. Cost: O(partitions) per call, not per event.
 */
export class KeylessSpread {
  private readonly sent: number[];
  private last: number;

  /** @param partitions the topic's partition count; @param start first partition to try (default random). */
  constructor(readonly partitions: number, start = Math.floor(Math.random() * partitions)) {
    if (!Number.isInteger(partitions) || partitions < 1) throw new InvalidOptionError(`partitions must be a whole number ≥ 1, got ${String(partitions)}`);
    this.sent = new Array<number>(partitions).fill(0);
    this.last = (((start - 1) % partitions) + partitions) % partitions;
  }

  /** The partition for a call carrying `events` events (≥ 1); counts them as sent there. */
  pick(events = 1): number {
    if (!Number.isInteger(events) || events < 1) throw new InvalidOptionError(`events must be a whole number ≥ 1, got ${String(events)}`);
    const p = this.partitions;
    let best = (this.last + 1) % p;
    for (let step = 2; step <= p; step++) {
      const i = (this.last + step) % p;
      if (this.sent[i]! < this.sent[best]!) best = i;
    }
    this.sent[best] = this.sent[best]! + events;
    this.last = best;
    // Keep the counters small: only their differences matter.
    const floor = Math.min(...this.sent);
    if (floor > 1e9) for (let i = 0; i < p; i++) this.sent[i] = this.sent[i]! - floor;
    return best;
  }
}
