import type Redis from 'ioredis';
import { uniquePrefix } from '@streamfan/testing';
import { InvalidOptionError } from '../src/errors';
import { topicKeys } from '../src/internal';
import { PartitionCountMismatchError } from '../src/partitions/errors';
import { ensureTopicMeta, PARTITION_HASH } from '../src/partitions/meta';
import { topicMetaKeys } from '../src/partitions/partitionKeys';
import { useRedis } from './helpers';

const env = useRedis();

/** The partition count is fixed when a partitioned topic is first used; every later use checks it. */
describe('topic meta record', () => {
  let redis: Redis;
  beforeAll(() => { redis = env.server().client(); });
  afterAll(() => { redis.disconnect(); });

  test('the first partitioned use records the count; the same count is accepted, another is refused and nothing changes', async () => {
    const prefix = uniquePrefix();
    const meta = topicMetaKeys(prefix, 'orders').meta;
    await expect(ensureTopicMeta(redis, prefix, 'orders', 12)).resolves.toEqual({ partitions: 12, created: true });
    await expect(ensureTopicMeta(redis, prefix, 'orders', 12)).resolves.toEqual({ partitions: 12, created: false });
    const before = await redis.hgetall(meta);
    expect(before).toMatchObject({ partitions: '12', hash: PARTITION_HASH, layout: '1' });
    expect(Number(before.createdAt)).toBeGreaterThan(1.7e12);

    const err = await ensureTopicMeta(redis, prefix, 'orders', 16).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartitionCountMismatchError);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect(err).toMatchObject({ code: 'PARTITION_MISMATCH', topic: 'orders', stored: 12, requested: 16 });
    expect((err as Error).message).toMatch(/topic "orders" has 12 partitions, fixed when it was created, but was defined with 16 partitions: define it with \{ partitions: 12 \}, or migrate/);
    // Defined without partitions while it is partitioned: refused too (its events are in the partitions).
    await expect(ensureTopicMeta(redis, prefix, 'orders', 0)).rejects.toMatchObject({ stored: 12, requested: 0 });
    expect(await redis.hgetall(meta)).toEqual(before);
    expect(await redis.exists(topicKeys(prefix, 'orders').stream)).toBe(0);
  });

  test('an unpartitioned topic writes nothing; partitioning a topic whose unpartitioned stream exists is refused', async () => {
    const prefix = uniquePrefix();
    await expect(ensureTopicMeta(redis, prefix, 'users', 0)).resolves.toEqual({ partitions: 0, created: false });
    expect(await redis.exists(topicMetaKeys(prefix, 'users').meta)).toBe(0);
    await redis.xadd(topicKeys(prefix, 'users').stream, '*', 'payload', '1');
    await expect(ensureTopicMeta(redis, prefix, 'users', 0)).resolves.toEqual({ partitions: 0, created: false });
    const err = await ensureTopicMeta(redis, prefix, 'users', 4).catch((e: unknown) => e);
    expect(err).toMatchObject({ stored: 0, requested: 4 });
    expect((err as Error).message).toMatch(/topic "users" exists unpartitioned.*define it without partitions, or migrate/);
    expect(await redis.exists(topicMetaKeys(prefix, 'users').meta)).toBe(0);
  });

  test('bad input is refused before anything is written', async () => {
    const prefix = uniquePrefix();
    for (const bad of [-1, 1025, 1.5, NaN]) await expect(ensureTopicMeta(redis, prefix, 't', bad)).rejects.toThrow(InvalidOptionError);
    const meta = topicMetaKeys(prefix, 't').meta;
    await redis.set(meta, 'not a hash');
    await expect(ensureTopicMeta(redis, prefix, 't', 3)).rejects.toThrow(/WRONGTYPE streamfan key .*:meta holds a string, not a hash/);
    expect(await redis.get(meta)).toBe('not a hash');
  });

  test('racing first uses with different counts: exactly one count wins, every other caller is refused', async () => {
    const prefix = uniquePrefix();
    const counts = [2, 3, 4, 5, 6, 7, 8, 9];
    const results = await Promise.allSettled(counts.map((p) => ensureTopicMeta(redis, prefix, 'race', p)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    const stored = Number(await redis.hget(topicMetaKeys(prefix, 'race').meta, 'partitions'));
    expect(won[0]).toMatchObject({ value: { partitions: stored, created: true } });
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ stored });
  });
});
