import type Redis from 'ioredis';
import { waitFor } from '@streamfan/testing';
import { defineTopic, partitionKeys, topicMetaKeys } from './partition-helpers';
import { useRedis } from './helpers';
import { readStream, watchStatusMemory } from '../src/memory';

/**
 * The start-up status-memory warning (issue 17) for a partitioned topic: its events are in one
 * stream per partition, so the rate is read over all of them. Before, the check read the
 * unpartitioned stream key (which a partitioned topic never has) and never warned.
 */
const env = useRedis(['--maxmemory', '20mb']);
jest.setTimeout(60_000);

/** Entries with ids spread over `spanMs` up to about now, as a steady publisher leaves them. */
async function steadyStream(redis: Redis, stream: string, entries: number, spanMs: number): Promise<void> {
  const end = Date.now() - 1000;
  const p = redis.pipeline();
  for (let i = 0; i < entries; i++) p.xadd(stream, `${end - spanMs + Math.floor((i * spanMs) / entries)}-${i}`, 'payload', '1', 'headers', '');
  await p.exec();
}

test('an ordered group on a 4-partition topic published at about 100 events/s warns: a day of success records would not fit in half of maxmemory', async () => {
  const sf = env.client();
  const heard: string[] = [];
  sf.on('warning', (w) => { if (/status records/.test(w.message)) heard.push(w.message); });
  const topic = defineTopic<{ n: number }>('parts', { partitions: 4 });
  await sf.redis.hset(topicMetaKeys(sf.prefix, 'parts').meta, 'partitions', 4, 'hash', 'crc32', 'layout', '1', 'createdAt', Date.now());
  // 500 entries per partition from 21 s to 1 s ago: 2000 in all, about 95 events/s.
  for (let i = 0; i < 4; i++) await steadyStream(sf.redis, partitionKeys(sf.prefix, 'parts', i).stream, 500, 20_000);
  const sub = sf.subscribe(topic, 'ship', () => undefined, { ordering: 'key' });
  await waitFor(() => heard.length > 0, { timeoutMs: 20_000, message: 'the status-memory warning of the partitioned topic' });
  expect(heard[0]).toMatch(/^topic "parts": at the observed publish rate of (9\d|10\d) events\/s, status records kept for statusTtlSeconds \(86400 s\)/);
  expect(heard[0]).toMatch(/over half of maxmemory \(21\.0 MB\)/);
  await sub.close();
});

test('watchStatusMemory sums the partitions: a rate no single partition shows', async () => {
  const sf = env.client();
  await sf.redis.hset(topicMetaKeys(sf.prefix, 'wide').meta, 'partitions', 8);
  // 8 partitions × 130 entries over 20 s: 52 events/s in all, 6.5 per partition.
  for (let i = 0; i < 8; i++) await steadyStream(sf.redis, partitionKeys(sf.prefix, 'wide', i).stream, 130, 20_000);
  const one = (await readStream(sf.redis, partitionKeys(sf.prefix, 'wide', 0).stream))!;
  expect(one.length).toBe(130);
  const warned: string[] = [];
  const stop = watchStatusMemory(sf.redis, sf.prefix, 'wide', 86_400, (m) => warned.push(m), 60_000);
  await waitFor(() => warned.length > 0, { timeoutMs: 20_000, message: 'the warning from the summed rate' });
  expect(warned[0]).toMatch(/at the observed publish rate of (4\d|5\d) events\/s/);
  stop();
  // An unpartitioned topic of the same name pattern is read as before (its own stream).
  const flat: string[] = [];
  await steadyStream(sf.redis, `${sf.prefix}:{flat}:stream`, 2000, 20_000);
  const stop2 = watchStatusMemory(sf.redis, sf.prefix, 'flat', 86_400, (m) => flat.push(m), 60_000);
  await waitFor(() => flat.length > 0, { timeoutMs: 20_000, message: 'the unpartitioned warning' });
  stop2();
});

/**
 * An ordered group's success record is 18–19 B (one time marker per record: it settles one entry
 * per call), not the 13 B of an unordered group's (bench/RESULTS.md, run of 2026-12-02 02:58):
 * the projection uses the figure of each group's kind. Before, every group was projected at 13 B,
 * a third low for ordered groups.
 */
test('the projection counts an ordered group\'s records at their own size: the subscribing group, and groups whose leases say ordering key', async () => {
  const sf = env.client();
  const heard: string[] = [];
  sf.on('warning', (w) => { if (/status records/.test(w.message)) heard.push(w.message); });
  const topic = defineTopic<{ n: number }>('kinds', { partitions: 2 });
  await sf.redis.hset(topicMetaKeys(sf.prefix, 'kinds').meta, 'partitions', 2, 'hash', 'murmur2', 'layout', '1', 'createdAt', Date.now());
  for (let i = 0; i < 2; i++) await steadyStream(sf.redis, partitionKeys(sf.prefix, 'kinds', i).stream, 1000, 20_000);
  // ~100 events/s, 1 group: 13 + 150/100 ≈ 15 B unordered, 19 + 1.5 ≈ 21 B ordered.
  const sub = sf.subscribe(topic, 'ship', () => undefined, { ordering: 'key' });
  await waitFor(() => heard.length > 0, { timeoutMs: 20_000, message: 'the status-memory warning' });
  expect(heard[0]).toMatch(/at about (20|21) B per event \(1 group, ordered\)/);
  await waitFor(async () => (await sf.redis.hget(partitionKeys(sf.prefix, 'kinds', 0).lease('ship'), 'ordering')) === 'key', { timeoutMs: 20_000, message: 'ship holds partition 0' });
  await sub.close();

  // Another process's groups: an ordered one is known by its lease ('ordering' key), an unordered one by none.
  const warned: string[] = [];
  await sf.redis.xgroup('CREATE', partitionKeys(sf.prefix, 'kinds', 0).stream, 'plain', '0');
  const stop = watchStatusMemory(sf.redis, sf.prefix, 'kinds', 86_400, (m) => warned.push(m), 60_000);
  await waitFor(() => warned.length > 0, { timeoutMs: 20_000, message: 'the warning with two groups' });
  stop();
  // ship (ordered, its lease says so) + plain (unordered): 19 + 13 + 2 × 1.5 ≈ 35 B.
  expect(warned[0]).toMatch(/at about (34|35|36) B per event \(2 groups, 1 ordered\)/);
});
