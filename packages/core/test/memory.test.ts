import { waitFor } from '@streamfan/testing';
import type Redis from 'ioredis';
import { defineTopic, InvalidNameError, InvalidOptionError, type KindMemory, type MemoryReport } from '../src';
import { topicKeys } from '../src/keys';
import { ORDERED_STATUS_RECORD_BYTES, STATUS_BASE_BYTES, STATUS_BUCKET_KEY_BYTES, STATUS_GROUP_BYTES, STATUS_RECORD_BYTES, estimate, formatBytes, modelStatusBytes, projectStatusMemory, readStream, scanFraction, watchStatusMemory } from '../src/memory';
import { useRedis } from './helpers';

// A small maxmemory: the status-memory projection has something to exceed.
const env = useRedis(['--maxmemory', '20mb']);
jest.setTimeout(60_000);

const kind = (r: MemoryReport, topic: string, k: string): KindMemory => {
  const t = r.topics.find((x) => x.topic === topic);
  if (!t) throw new Error(`no topic ${topic} in the report`);
  return t.kinds.find((x) => x.kind === k)!;
};

/** Sum of MEMORY USAGE (default samples) of every key matching `pattern`, and how many. */
async function usageOf(redis: Redis, pattern: string): Promise<{ keys: number; bytes: number }> {
  const keys = await redis.keys(pattern);
  let bytes = 0;
  for (const k of keys) bytes += Number(await redis.call('MEMORY', 'USAGE', k));
  return { keys: keys.length, bytes };
}

/** Calls per command since the last CONFIG RESETSTAT (INFO commandstats). */
async function calls(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

describe('sf.memory: Redis memory by topic and kind', () => {
  test('a topic with every kind of key: counts, entries and bytes are exact when the scan completes', async () => {
    const sf = env.client();
    const orders = defineTopic<{ n: number }>('orders');
    const a = sf.subscribe(orders, 'A', () => undefined, { startFrom: 'beginning' });
    // B: every fifth event dead-lettered, every n ≡ 1 (mod 5) failed once and retried in an hour.
    const b = sf.subscribe(orders, 'B', (p, ctx) => {
      if (p.n % 5 === 0) ctx.deadLetter('no');
      if (p.n % 5 === 1) throw new Error('later');
    }, { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 3_600_000 } });
    await Promise.all([a.ready(), b.ready()]);
    await sf.publishMany(orders, Array.from({ length: 50 }, (_, i) => ({ n: i + 1 })));
    for (let n = 51; n <= 55; n++) await sf.publish(orders, { n }, { idempotencyKey: `order-${n}` });
    for (let n = 56; n <= 58; n++) await sf.publish(orders, { n }, { delayMs: 3_600_000 });
    await sf.publish('audit', { who: 'ops' });
    await waitFor(async () => {
      const g = Object.fromEntries((await sf.groups(orders)).map((x) => [x.group, x]));
      return g.A?.lag === 0 && g.A.pending === 0 && g.B?.lag === 0 && g.B.pending === 0 && g.B.deadLetters === 11 && g.B.retrying === 11;
    }, { message: 'A done; B: 11 dead letters, 11 retries waiting' });
    await Promise.all([a.close(), b.close()]);

    const r = await sf.memory(orders);
    expect(r.scan.complete).toBe(true);
    expect(r.topicsComplete).toBe(true);
    expect(r.topics.map((t) => t.topic)).toEqual(['orders']);
    expect(r.topics[0]!.groups).toEqual(['A', 'B']);
    const k = topicKeys(sf.prefix, 'orders');
    expect(kind(r, 'orders', 'stream')).toMatchObject({ keys: 1, entries: 55, sampled: false, bytesError: 0 });
    expect(kind(r, 'orders', 'stream').bytes).toBe(Number(await sf.redis.call('MEMORY', 'USAGE', k.stream)));
    // Status: a hash for each event B dead-lettered or failed (22), and the success buckets of
    // the plain successes (A's and B's, one per group per second of ids); the delayed events
    // are not in the stream yet.
    const hashes = await usageOf(sf.redis, `${sf.prefix}:{orders}:status:*`);
    const buckets = await usageOf(sf.redis, `${sf.prefix}:{orders}:ok:*`);
    expect(hashes.keys).toBe(22);
    expect(buckets.keys).toBeGreaterThanOrEqual(2);
    const statusKeys = hashes.keys + buckets.keys;
    expect(kind(r, 'orders', 'status')).toMatchObject({ keys: statusKeys, keysError: 0, bytes: hashes.bytes + buckets.bytes, bytesError: 0, sampled: false, measured: statusKeys });
    expect(kind(r, 'orders', 'deadLetters')).toMatchObject({ keys: 1, entries: 11 });
    expect(kind(r, 'orders', 'retry')).toMatchObject({ keys: 1, entries: 11 });
    // Each group has its redelivery stream (created by subscribe); nothing was due yet.
    expect(kind(r, 'orders', 'redelivery')).toMatchObject({ keys: 2, entries: 0 });
    expect(kind(r, 'orders', 'idempotency')).toMatchObject({ keys: 5, keysError: 0, sampled: false });
    // The schedule (3 members) and one hash per delayed event.
    expect(kind(r, 'orders', 'delayed')).toMatchObject({ keys: 4, entries: 3 });
    const total = r.topics[0]!.kinds.reduce((s, x) => s + x.bytes, 0);
    expect(r.topics[0]!.bytes).toBe(total);
    expect(r.bytes).toBe(total);
    expect(r.maxMemory).toBe(20 * 1024 * 1024);
    expect(r.usedMemory).toBeGreaterThan(0);

    // Without a topic: every topic found, each with its own figures.
    const all = await sf.memory();
    expect(all.topics.map((t) => t.topic)).toEqual(['audit', 'orders']);
    expect(kind(all, 'orders', 'status').keys).toBe(statusKeys);
    expect(kind(all, 'audit', 'stream')).toMatchObject({ keys: 1, entries: 1 });
    expect(kind(all, 'audit', 'status').keys).toBe(0);
  });

  test('on 50,000 status keys it samples: a bounded number of commands, an estimate within its stated error', async () => {
    const sf = env.client();
    const redis = sf.redis;
    const k = topicKeys(sf.prefix, 'big');
    await redis.xadd(k.stream, '*', 'payload', '1', 'headers', '');
    // 50,000 status hashes of 3 groups, written server-side in one script (publishing them would take long).
    await redis.eval(`
      for i = 1, 50000 do
        redis.call('HSET', KEYS[1] .. i .. '-0', 'a:state', 'succeeded', 'a:attempts', '1', 'b:state', 'succeeded', 'b:attempts', '1',
          'c:state', 'succeeded', 'c:attempts', '1')
      end`, 1, `${k.prefix}:{big}:status:17000000`);
    await redis.config('RESETSTAT');
    const progress: number[] = [];
    const r = await sf.memory('big', { maxScanPages: 10, sampleSize: 50, onProgress: (p) => progress.push(p.pages) });
    const used = await calls(redis);
    // Bounded: 10 SCAN pages, MEMORY USAGE of 50 sampled keys plus the few fixed keys, whatever the keyspace.
    expect(used.scan).toBe(10);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // `memory|usage` on Redis 7+, `memory` on 6.2.
    const memoryCalls = Object.entries(used).filter(([c]) => c.startsWith('memory')).reduce((s, [, n]) => s + n, 0);
    expect(memoryCalls).toBeLessThanOrEqual(50 + 2);
    const total = Object.entries(used).filter(([c]) => !c.startsWith('config') && c !== 'info').reduce((s, [, n]) => s + n, 0);
    expect(total).toBeLessThanOrEqual(r.commands);
    expect(r.commands).toBeLessThanOrEqual(10 + 50 + 12);
    expect(r.scan.complete).toBe(false);
    expect(r.scan.fraction).toBeGreaterThan(0);
    expect(r.scan.fraction).toBeLessThan(1);
    const s = kind(r, 'big', 'status');
    expect(s.sampled).toBe(true);
    expect(s.measured).toBe(50);
    expect(s.keysError).toBeGreaterThan(0);
    expect(s.keysError).toBeLessThan(50_000 * 0.25);
    // The 95% interval, doubled so a correct estimator fails about once in 10^4 runs.
    expect(Math.abs(s.keys - 50_000)).toBeLessThanOrEqual(2 * s.keysError);
    const one = Number(await redis.call('MEMORY', 'USAGE', `${k.prefix}:{big}:status:170000001-0`));
    expect(Math.abs(s.bytes - 50_000 * one)).toBeLessThanOrEqual(2 * s.bytesError + 50_000 * 8);
  });

  test('a partitioned topic: the streams of every partition counted under the topic', async () => {
    const sf = env.client();
    const pt = defineTopic<{ n: number }>('parted', { partitions: 3 });
    await sf.publishMany(pt, Array.from({ length: 30 }, (_, n) => ({ n })));
    const r = await sf.memory(pt);
    expect(r.topics).toHaveLength(1);
    expect(r.topics[0]).toMatchObject({ topic: 'parted', partitions: 3 });
    // Every partition's stream is asked about; a keyless publishMany goes whole to one partition.
    expect(kind(r, 'parted', 'stream')).toMatchObject({ measured: 3, entries: 30 });
    expect(kind(r, 'parted', 'stream').keys).toBeGreaterThanOrEqual(1);
    const all = await sf.memory();
    expect(all.topics.map((t) => t.topic)).toEqual(['parted']);
    expect(kind(all, 'parted', 'stream').entries).toBe(30);
  });

  test('bad input is refused with a typed error saying what to give', async () => {
    const sf = env.client();
    await expect(sf.memory('no spaces')).rejects.toThrow(InvalidNameError);
    await expect(sf.memory('t', { maxScanPages: 0 })).rejects.toThrow(InvalidOptionError);
    await expect(sf.memory('t', { sampleSize: 1.5 })).rejects.toThrow(/sampleSize must be a whole number/);
  });

  test('a user refused MEMORY gets the NOPERM error, not a report of 0 bytes', async () => {
    const admin = env.server().client();
    await admin.call('ACL', 'SETUSER', 'nomem', 'on', '>pw', '~*', '&*', '+@all', '-memory');
    const sf = env.client({ connection: `redis://nomem:pw@127.0.0.1:${env.server().port}` });
    await sf.publish('t', { n: 1 });
    await expect(sf.memory('t')).rejects.toThrow(/NOPERM/);
  });

  test('modelStatusBytes counts the layout of protocol 2: a few bytes per group for plain successes, the bucket key shared by the events of a second; a hash when handlers return results', () => {
    expect(modelStatusBytes(3, { rate: 1000 })).toBeCloseTo(3 * (STATUS_RECORD_BYTES + STATUS_BUCKET_KEY_BYTES / 1000));
    expect(modelStatusBytes(3, { rate: 1000 })).toBeLessThan(40);
    expect(modelStatusBytes(1, { rate: 0.01 })).toBe(STATUS_RECORD_BYTES + STATUS_BUCKET_KEY_BYTES); // one event per bucket at most
    expect(modelStatusBytes(3, { hashed: true })).toBe(STATUS_BASE_BYTES + 3 * STATUS_GROUP_BYTES);
    // Ordered groups' records are larger (a time marker each): 2 unordered + 1 ordered.
    expect(modelStatusBytes(3, { rate: 1000, ordered: 1 })).toBeCloseTo(2 * STATUS_RECORD_BYTES + ORDERED_STATUS_RECORD_BYTES + 3 * (STATUS_BUCKET_KEY_BYTES / 1000));
    expect(ORDERED_STATUS_RECORD_BYTES).toBeGreaterThanOrEqual(18);
  });

  test('scanFraction, estimate and formatBytes', () => {
    expect(scanFraction('0')).toBe(1);
    // Reverse-binary: cursor 1 has visited the first half of any table, 2 a quarter, 3 three quarters.
    expect(scanFraction('1')).toBe(0.5);
    expect(scanFraction('2')).toBe(0.25);
    expect(scanFraction('3')).toBe(0.75);
    expect(estimate(100, 1, [10, 10], true)).toEqual({ keys: 100, keysError: 0, bytes: 1000, bytesError: 0, sampled: true });
    const e = estimate(100, 0.5, [10, 10], false);
    expect(e.keys).toBe(200);
    expect(e.keysError).toBeCloseTo((1.96 * Math.sqrt(50)) / 0.5);
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(45e9)).toBe('45.0 GB');
  });
});

describe('start-up warning: projected status memory against maxmemory', () => {
  /** Entries with ids spread over `spanMs` up to now: what a steady publisher leaves in the stream. */
  async function steadyStream(redis: Redis, stream: string, entries: number, spanMs: number): Promise<void> {
    const end = Date.now() - 1000;
    const p = redis.pipeline();
    for (let i = 0; i < entries; i++) p.xadd(stream, `${end - spanMs + Math.floor((i * spanMs) / entries)}-${i}`, 'payload', '1', 'headers', '');
    await p.exec();
  }

  test('a client subscribing to a topic published at 100 events/s warns: a day of status would not fit in half of maxmemory', async () => {
    const sf = env.client();
    const heard: string[] = [];
    sf.on('warning', (w) => heard.push(w.message));
    await steadyStream(sf.redis, topicKeys(sf.prefix, 'busy').stream, 2000, 20_000);
    const sub = sf.subscribe('busy', 'g', () => undefined);
    await sub.ready();
    await waitFor(() => heard.length > 0, { message: 'the status-memory warning' });
    // 2000 entries from 21 s ago to 1 s ago: about 95 events/s averaged up to now.
    expect(heard[0]).toMatch(/^topic "busy": at the observed publish rate of (9\d|10\d) events\/s, status records kept for statusTtlSeconds \(86400 s\)/);
    expect(heard[0]).toMatch(/over half of maxmemory \(21\.0 MB\)/);
    await sub.close();
  });

  test('with no warning listener it goes to the logger; with a short status window there is nothing to warn about', async () => {
    const logged: string[] = [];
    const sf = env.client({ logger: { error: (m: string) => logged.push(m) } });
    const stream = topicKeys(sf.prefix, 'logged').stream;
    await steadyStream(sf.redis, stream, 2000, 20_000);
    const sub = sf.subscribe('logged', 'g', () => undefined);
    await sub.ready();
    await waitFor(() => logged.length > 0, { message: 'the warning logged' });
    expect(logged[0]).toMatch(/^warning: topic "logged": at the observed publish rate/);
    await sub.close();

    // 100 events/s kept 10 s is about 200-400 kB: far under half of 20 MB.
    const reading = (await readStream(sf.redis, stream))!;
    const short = await projectStatusMemory(sf.redis, 'logged', 10, 100, reading);
    expect(short?.message).toBeUndefined();
    expect(short?.projection.projectedBytes).toBeLessThan(10 * 1024 * 1024);
    const day = await projectStatusMemory(sf.redis, 'logged', 86_400, 100, reading);
    expect(day?.projection.projectedBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(day?.message).toMatch(/Lower statusTtlSeconds/);
  });

  test('a young stream: the rate is taken over a first window of publishing', async () => {
    const sf = env.client();
    const stream = topicKeys(sf.prefix, 'young').stream;
    const warned: string[] = [];
    const stop = watchStatusMemory(sf.redis, sf.prefix, 'young', 86_400, (m) => warned.push(m), 1500);
    // Too short a history to average at start: the check waits one window, then counts what was added.
    for (let i = 0; i < 10; i++) {
      await sf.publishMany('young', Array.from({ length: 100 }, (_, n) => ({ n })));
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(() => warned.length > 0, { message: 'the windowed warning' });
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/^topic "young": at the observed publish rate of \d+ events\/s/);
    stop();
    expect(await sf.redis.xlen(stream)).toBe(1000);
  });
});
