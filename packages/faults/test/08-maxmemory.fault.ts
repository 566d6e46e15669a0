import { RedisOutOfMemoryError, Streamfan, topicKeys } from '@streamfan/core/internal';
import { sleep, uniquePrefix, waitFor } from '@streamfan/testing';
import { expectClean, useFaultServer } from './harness';

const env = useFaultServer();
const PAD = 'x'.repeat(2000);

test('8. Redis at maxmemory with noeviction: publish fails with RedisOutOfMemoryError, nothing half-written, consumers keep draining (acks, retries, dead letters)', async () => {
  const poison = (seq: number) => seq % 50 === 7;
  const s = env.scenario({
    groups: ['billing'],
    worker: { concurrency: 4, visibilityTimeoutMs: 2000, workMs: 2 },
    publisher: { batch: 1, intervalMs: 0, retryPauseMs: 20, shape: (seq) => ({ pad: PAD, ...(poison(seq) ? { poison: 'dead' as const } : seq % 50 === 13 ? { failAttempts: 1 } : {}) }) },
  });
  // The group exists, but nobody consumes while memory fills: the backlog is drained at maxmemory.
  await s.fleet.spawn('creator').ready();
  await s.fleet.stopAll();
  const used = Number(/used_memory:(\d+)/.exec(await s.redis.info('memory'))![1]);
  await s.redis.config('SET', 'maxmemory-policy', 'noeviction');
  await s.redis.config('SET', 'maxmemory', String(used + 1_500_000));
  try {
    s.publisher.start();
    await waitFor(() => (s.publisher.failures.get('REDIS_OUT_OF_MEMORY') ?? 0) >= 5, { timeoutMs: 60_000, message: 'publishes refused with OOM' });
    await s.publisher.stop();
    expect(s.publisher.lastError).toBeInstanceOf(RedisOutOfMemoryError);
    expect(s.publisher.lastError!.message).toMatch(/maxmemory/);

    // A batch is all or nothing: refused whole, no entry written.
    const stream = topicKeys(s.sf.prefix, s.topic.name).stream;
    const before = await s.redis.xlen(stream);
    await expect(s.sf.publishMany(s.topic, [{ seq: 1e6, pad: PAD }, { seq: 1e6 + 1, pad: PAD }, { seq: 1e6 + 2, pad: PAD }])).rejects.toBeInstanceOf(RedisOutOfMemoryError);
    expect(await s.redis.xlen(stream)).toBe(before);

    // Still at maxmemory: a consumer starts and drains the backlog, retries and dead letters included.
    await s.fleet.spawn('w').ready();
    await waitFor(async () => {
      const [g] = await s.sf.groups(s.topic);
      return g && g.pending === 0 && g.lag === 0 && g.retrying === 0;
    }, { timeoutMs: 30_000, message: 'the consumer drains the topic while Redis is at maxmemory' });
    await expect(s.sf.publish(s.topic, { seq: 2e6, pad: PAD })).rejects.toBeInstanceOf(RedisOutOfMemoryError);
  } finally {
    await s.redis.config('SET', 'maxmemory', '0');
  }
  const reports = await s.finish('8. maxmemory with noeviction: publishes refused, backlog drained at maxmemory', {
    notes: () => [`publishes refused with RedisOutOfMemoryError: ${s.publisher.failures.get('REDIS_OUT_OF_MEMORY') ?? 0}; a 3-event publishMany refused whole, 0 entries written; poison events dead-lettered at maxmemory`],
  });
  expectClean(reports);
  expect(reports[0]!.deadLetters).toBe([...s.publisher.resolved.keys()].filter(poison).length);
  await s.fleet.stopAll();
});

test('8. at startup, a subscriber warns when the eviction policy could drop stream keys (allkeys-*), not with noeviction', async () => {
  const redis = env.server().client();
  const warnings = async (policy: string): Promise<string[]> => {
    await redis.config('SET', 'maxmemory-policy', policy);
    const sf = new Streamfan({ connection: env.server().url, prefix: uniquePrefix('w'), retention: false });
    const seen: string[] = [];
    sf.on('warning', (w) => seen.push(w.message));
    const sub = sf.subscribe('t', 'g', () => undefined);
    await sub.ready();
    await sleep(200);
    await sf.close();
    return seen;
  };
  const lru = await warnings('allkeys-lru');
  expect(lru).toHaveLength(1);
  expect(lru[0]).toMatch(/allkeys-lru.*noeviction/);
  expect(await warnings('noeviction')).toEqual([]);
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  redis.disconnect();
});
