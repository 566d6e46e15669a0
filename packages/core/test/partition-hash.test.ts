import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidIdError, InvalidNameError, InvalidOptionError } from '../src/errors';
import { topicKeys, validateTopicName } from '../src/internal';
import { KeylessSpread, MAX_PARTITION_KEY_BYTES, murmur2, partitionForKey, validatePartitionKey } from '../src/partitions/hash';
import {
  classifyStreamKey, formatPartitionedId, isPartitionedId, parsePartitionedId, parsePartitionTag, partitionKeys, partitionTag,
  topicMetaKeys, validatePartitionCount,
} from '../src/partitions/partitionKeys';

const LONG = 'k'.repeat(1000);
const COUNTS = [1, 2, 3, 12, 16, 256] as const;

/**
 * Test vectors: key, murmur2 of its UTF-8 bytes (unsigned), partition for 1, 2, 3, 12, 16 and
 * 256 partitions. docs/partitions.md lists them; any change to the mapping breaks this table
 * (and every user's key order), so it is pinned here.
 */
const VECTORS: Array<[string, number, number[]]> = [
  ['', 0x106e08d9, [0, 1, 0, 9, 9, 217]],
  ['a', 0xa2d0b27c, [0, 0, 1, 4, 12, 124]],
  ['q', 0xc56067fb, [0, 1, 0, 3, 11, 251]],
  ['ab', 0x12d8262a, [0, 0, 2, 2, 10, 42]],
  ['abc', 0x1c94221b, [0, 1, 0, 3, 11, 27]],
  ['abcd', 0xb11ab5f4, [0, 0, 2, 8, 4, 244]],
  ['abcde', 0x1b897edd, [0, 1, 1, 1, 13, 221]],
  ['21', 0xc5f2f8ec, [0, 0, 0, 0, 12, 236]],
  ['foobar', 0xd0e47bbe, [0, 0, 0, 6, 14, 190]],
  ['order-1', 0x48d1d1f6, [0, 0, 1, 10, 6, 246]],
  ['order-2', 0xc1165d03, [0, 1, 0, 3, 3, 3]],
  ['order-42', 0x1ddefd00, [0, 0, 0, 0, 0, 0]],
  ['user:1001', 0x8b1007a9, [0, 1, 2, 5, 9, 169]],
  ['tenant/acme', 0x48a30ee5, [0, 1, 1, 1, 5, 229]],
  ['ABC', 0x7d6672ca, [0, 0, 0, 6, 10, 202]],
  [' ', 0xc5280881, [0, 1, 0, 9, 1, 129]],
  ['a-little-bit-long-string', 0xc53b1da0, [0, 0, 2, 8, 0, 160]],
  ['a-little-bit-longer-string', 0xa768c9c3, [0, 1, 2, 11, 3, 195]],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', 0xfc7d49cd, [0, 1, 2, 5, 13, 205]],
  ['é', 0x0b24f487, [0, 1, 0, 3, 7, 135]],
  ['Straße', 0x180d9189, [0, 1, 1, 1, 9, 137]],
  ['日本語', 0x555873ca, [0, 0, 1, 10, 10, 202]],
  ['Ελληνικά', 0x47cfae7d, [0, 1, 1, 1, 13, 125]],
  ['😀', 0x07dc5a91, [0, 1, 0, 9, 1, 145]],
  ['👍🏽', 0x92926e33, [0, 1, 1, 7, 3, 51]],
  ['family 👨‍👩‍👧', 0xd74198e8, [0, 0, 2, 8, 8, 232]],
  [LONG, 0xa21467d0, [0, 0, 2, 8, 0, 208]],
];

/** A small seeded PRNG (mulberry32): the random keys are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Counts per partition, and Pearson's chi-square against an even spread. */
function spread(keys: string[], partitions: number): { counts: number[]; chi2: number } {
  const counts = new Array<number>(partitions).fill(0);
  for (const k of keys) counts[partitionForKey(k, partitions)]! += 1;
  const expected = keys.length / partitions;
  const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  return { counts, chi2 };
}

describe('key → partition (Kafka murmur2)', () => {
  test('matches the murmur2 vectors of Kafka\'s own unit test (org.apache.kafka.common.utils.UtilsTest)', () => {
    const kafka: Array<[string, number]> = [
      ['21', -973932308], ['foobar', -790332482], ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829], ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971], ['abc', 479470107],
    ];
    for (const [key, want] of kafka) expect([key, murmur2(Buffer.from(key))]).toEqual([key, want]);
  });

  test(`the pinned vectors: ${VECTORS.length} keys (empty, ASCII, multi-byte UTF-8, emoji, 1000 bytes) × partitions ${COUNTS.join(', ')}`, () => {
    expect(VECTORS.length).toBeGreaterThanOrEqual(20);
    for (const [key, hash, parts] of VECTORS) {
      const label = key.length > 40 ? `${key.slice(0, 10)}…(${key.length})` : key;
      expect([label, murmur2(Buffer.from(key, 'utf8')) >>> 0]).toEqual([label, hash]);
      expect([label, COUNTS.map((p) => partitionForKey(key, p))]).toEqual([label, parts]);
    }
  });

  test('python3 running the reproduction printed in docs/partitions.md gives every vector', () => {
    const doc = readFileSync(join(__dirname, '../../../docs/partitions.md'), 'utf8');
    const block = /```python\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    const driver = `${block}\nimport json, sys\ncases = json.load(sys.stdin)\nprint(json.dumps([[murmur2(k.encode("utf-8")), [partition(k, p) for p in ps]] for k, ps in cases]))\n`;
    const cases = VECTORS.map(([key]) => [key, COUNTS]);
    // 2,000 more keys: random code points of every UTF-8 length, so Python and TypeScript agree beyond the table.
    const rnd = prng(12);
    const ranges = [[0x20, 0x7e], [0x80, 0x7ff], [0x800, 0xd7ff], [0xe000, 0xfffd], [0x10000, 0x10ffff]] as const;
    for (let i = 0; i < 2000; i++) {
      let k = '';
      const len = Math.floor(rnd() * 12);
      for (let j = 0; j < len; j++) {
        const [lo, hi] = ranges[Math.floor(rnd() * ranges.length)]!;
        k += String.fromCodePoint(lo + Math.floor(rnd() * (hi - lo + 1)));
      }
      cases.push([k, COUNTS]);
    }
    const out = execFileSync('python3', ['-c', driver], { input: JSON.stringify(cases), encoding: 'utf8', timeout: 20_000 });
    const fromPython = JSON.parse(out) as Array<[number, number[]]>;
    expect(fromPython).toHaveLength(cases.length);
    const mismatches = cases.filter(([k], i) => {
      const [h, parts] = fromPython[i]!;
      return h !== murmur2(Buffer.from(k as string, 'utf8')) >>> 0 || parts.join() !== COUNTS.map((p) => partitionForKey(k as string, p)).join();
    });
    expect(mismatches).toEqual([]);
  });

  test('10,000 random keys spread evenly over 12 partitions: each within ±12% of 833, chi-square below 31.3 (p = 0.001, 11 d.f.)', () => {
    const rnd = prng(7);
    const keys = Array.from({ length: 10_000 }, () => Math.floor(rnd() * 2 ** 52).toString(36));
    const { counts, chi2 } = spread(keys, 12);
    // One partition's count has σ = √(10000 · 1/12 · 11/12) ≈ 27.6: ±100 is about 3.6 σ.
    for (const c of counts) expect(Math.abs(c - 10_000 / 12)).toBeLessThanOrEqual(100);
    expect(chi2).toBeLessThan(31.3);
    // Sequential ids, the usual keys (order-0 … order-9999), are as even.
    const seq = spread(Array.from({ length: 10_000 }, (_, i) => `order-${i}`), 12);
    for (const c of seq.counts) expect(Math.abs(c - 10_000 / 12)).toBeLessThanOrEqual(100);
    expect(seq.chi2).toBeLessThan(31.3);
  });

  test('every output bit depends on every byte: keys that differ only in high nibbles still spread over 16 partitions (FNV-1a would put all in one)', () => {
    const fnv1a = (s: string): number => {
      let h = 0x811c9dc5;
      for (const b of Buffer.from(s, 'latin1')) h = Math.imul(h ^ b, 0x01000193);
      return h >>> 0;
    };
    const keys = Array.from({ length: 16 }, (_, i) => String.fromCharCode(0x01 + 16 * i));
    expect(new Set(keys.map((k) => fnv1a(k) % 16)).size).toBe(1);
    expect(new Set(keys.map((k) => partitionForKey(k, 16))).size).toBeGreaterThanOrEqual(6);
  });

  test('a key is a well-formed string of at most 1024 UTF-8 bytes; the partition count a whole number ≥ 1', () => {
    expect(validatePartitionKey('')).toBe('');
    expect(() => validatePartitionKey(42)).toThrow(InvalidOptionError);
    expect(() => validatePartitionKey(undefined)).toThrow(/must be a string, got undefined/);
    expect(() => validatePartitionKey('\ud800x')).toThrow(/lone UTF-16 surrogate/);
    expect(() => validatePartitionKey('x\udc00')).toThrow(/lone UTF-16 surrogate/);
    expect(validatePartitionKey('é'.repeat(MAX_PARTITION_KEY_BYTES / 2))).toHaveLength(512);
    expect(() => validatePartitionKey(`${'é'.repeat(MAX_PARTITION_KEY_BYTES / 2)}x`)).toThrow(/1025 UTF-8 bytes, over the limit of 1024/);
    for (const bad of [0, -1, 1.5, NaN, Infinity]) expect(() => partitionForKey('a', bad)).toThrow(InvalidOptionError);
  });
});

describe('events without a key', () => {
  test('each call goes whole to one partition; by events the spread stays within the largest batch, whatever the batch sizes', () => {
    const rnd = prng(3);
    const spreadOf = new KeylessSpread(12);
    const counts = new Array<number>(12).fill(0);
    let largest = 0;
    for (let i = 0; i < 5000; i++) {
      const size = 1 + Math.floor(rnd() ** 3 * 500); // mostly small, a few large batches
      largest = Math.max(largest, size);
      counts[spreadOf.pick(size)]! += size;
    }
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(largest);
    // Single publishes rotate through every partition: 12 calls, 12 partitions.
    const singles = new KeylessSpread(12, 5);
    const first = Array.from({ length: 12 }, () => singles.pick());
    expect(first[0]).toBe(5);
    expect(new Set(first).size).toBe(12);
    expect(() => singles.pick(0)).toThrow(InvalidOptionError);
    expect(() => new KeylessSpread(0)).toThrow(InvalidOptionError);
  });
});

describe('partition keys and ids', () => {
  test('partition i of topic T has the hash tag T#i; no valid topic name can have that tag', () => {
    const k = partitionKeys('sf', 'orders', 3);
    expect(k.stream).toBe('sf:{orders#3}:stream');
    expect(k.status('1-0')).toBe('sf:{orders#3}:status:1-0');
    expect(k.lease('billing')).toBe('sf:{orders#3}:lease:billing');
    expect(k.backoff('billing')).toBe('sf:{orders#3}:backoff:billing');
    expect(k.deadLetters('billing')).toBe('sf:{orders#3}:dlq:billing');
    expect([k.partition, k.partitionedTopic, k.topic]).toEqual([3, 'orders', 'orders#3']);
    // Every key of a partition is in the partition's slot: one hash tag, the partition's.
    for (const key of [k.stream, k.delayed, k.done, k.waiters, k.idle, k.wake, k.retry('g'), k.redeliver('g'), k.parked('g'), k.blocked('g'), k.producer('p'), k.idempotency('x'), k.delayedRef('d')]) {
      expect(/\{([^}]*)\}/.exec(key)?.[1]).toBe('orders#3');
    }
    expect(() => validateTopicName(partitionTag('orders', 3))).toThrow(InvalidNameError);
    // Neighbours an unpartitioned topic may be named: none shares a key with a partition.
    const partitionKeySet = new Set([0, 1, 3, 12].flatMap((i) => { const p = partitionKeys('sf', 'orders', i); return [p.stream, p.delayed, p.status('1-0'), p.deadLetters('g')]; }));
    for (const name of ['orders', 'orders:p3', 'orders-3', 'orders.3', 'orders/3', 'orders:3', 'orders3']) {
      const t = topicKeys('sf', validateTopicName(name));
      for (const key of [t.stream, t.delayed, t.status('1-0'), t.deadLetters('g')]) expect(partitionKeySet.has(key)).toBe(false);
    }
    // An unpartitioned topic keeps its keys; the meta record and registry live in its tag.
    expect(topicKeys('sf', 'orders').stream).toBe('sf:{orders}:stream');
    expect(topicMetaKeys('sf', 'orders')).toMatchObject({ meta: 'sf:{orders}:meta', unpartitionedStream: 'sf:{orders}:stream' });
    expect(topicMetaKeys('sf', 'orders').consumers('billing')).toBe('sf:{orders}:consumers:billing');
  });

  test('tags and stream keys parse back to topic and partition', () => {
    expect(parsePartitionTag('orders#3')).toEqual({ topic: 'orders', partition: 3 });
    expect(parsePartitionTag('a:b/c-d.e#1023')).toEqual({ topic: 'a:b/c-d.e', partition: 1023 });
    for (const bad of ['orders', 'orders#', 'orders#03', 'orders#1024', '#3', 'a#1#2', 'orders#-1']) expect(parsePartitionTag(bad)).toBeUndefined();
    expect(classifyStreamKey('sf', 'sf:{orders#3}:stream')).toEqual({ topic: 'orders', partition: 3 });
    expect(classifyStreamKey('sf', 'sf:{orders}:stream')).toEqual({ topic: 'orders' });
    expect(classifyStreamKey('sf', 'sf:{orders#x}:stream')).toBeUndefined();
    expect(classifyStreamKey('sf', 'other:{orders}:stream')).toBeUndefined();
    expect(validatePartitionCount(12)).toBe(12);
    for (const bad of [0, 1025, 2.5, '12', NaN]) expect(() => validatePartitionCount(bad)).toThrow(InvalidOptionError);
    expect(() => partitionTag('orders', -1)).toThrow(InvalidOptionError);
  });

  test('public ids carry the partition: p<i>:<stream id> or p<i>:delayed-<uuid>', () => {
    expect(formatPartitionedId(3, '1700000000000-0')).toBe('p3:1700000000000-0');
    expect(parsePartitionedId('p3:1700000000000-0', 'orders', 12)).toEqual({ partition: 3, localId: '1700000000000-0' });
    const delayed = 'delayed-0b7e8f00-1c2d-4e5f-8a9b-0c1d2e3f4a5b';
    expect(parsePartitionedId(`p11:${delayed}`, 'orders', 12)).toEqual({ partition: 11, localId: delayed });
    expect(isPartitionedId('p0:1-0')).toBe(true);
    for (const bad of ['1700000000000-0', 'p12:1-0', 'p03:1-0', 'p3:', 'p3:abc', 'p-1:1-0', delayed, 'P3:1-0']) {
      expect(() => parsePartitionedId(bad, 'orders', 12)).toThrow(InvalidIdError);
    }
    expect(() => parsePartitionedId('p12:1-0', 'orders', 12)).toThrow(/partition 0 to 11/);
  });
});
