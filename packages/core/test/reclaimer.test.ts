import { sleep, uniquePrefix } from '@streamfan/testing';
import type Redis from 'ioredis';
import { Reclaimer, type ReclaimTarget } from '../src/consumer/reclaimer';
import type { RawEntry } from '../src/consumer/entry';
import { useRedis } from './helpers';

const env = useRedis();

describe('Reclaimer, alone', () => {
  let redis: Redis;
  beforeAll(() => { redis = env.server().client(); });
  afterAll(() => { redis.disconnect(); });

  function target(free: number): ReclaimTarget & { taken: Array<[string, number]>; reclaimedIds: string[] } {
    const t = {
      worker: redis, group: 'g', consumer: 'me', visibilityTimeoutMs: 200,
      taken: [] as Array<[string, number]>, reclaimedIds: [] as string[],
      free: () => free - t.taken.length,
      stopping: () => false,
      inFlightCount: () => t.taken.length,
      owns: () => false,
      renewed: () => undefined,
      take: (_s: string, raw: RawEntry, deliveries: number) => { t.taken.push([raw[0], deliveries]); },
      reclaimed: (_s: string, ids: string[]) => { t.reclaimedIds.push(...ids); },
      deletedWhilePending: async () => undefined,
    };
    return t;
  }

  test('one pass finds idle entries behind 3,000 live ones (XAUTOCLAIM alone would scan 10 × COUNT)', async () => {
    const stream = `${uniquePrefix()}:s`;
    await redis.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
    const p = redis.pipeline();
    for (let i = 0; i < 3005; i++) p.xadd(stream, '*', 'n', String(i));
    await p.exec();
    await redis.xreadgroup('GROUP', 'g', 'live', 'COUNT', 3000, 'STREAMS', stream, '>');
    const dead = ((await redis.xreadgroup('GROUP', 'g', 'dead', 'COUNT', 5, 'STREAMS', stream, '>')) as Array<[string, RawEntry[]]>)[0]![1].map((e) => e[0]);
    await sleep(250);
    // The live consumer renews its leases.
    const liveIds = ((await redis.xpending(stream, 'g', '-', '+', 3000, 'live')) as string[][]).map((r) => r[0]!);
    for (let i = 0; i < liveIds.length; i += 1000) await redis.xclaim(stream, 'g', 'live', 0, ...liveIds.slice(i, i + 1000), 'JUSTID');
    const t = target(5);
    const r = new Reclaimer(t);
    await r.reclaimFrom(stream);
    expect(t.taken).toEqual(dead.map((id) => [id, 2]));
    expect(t.reclaimedIds).toEqual(dead);
  });
});
