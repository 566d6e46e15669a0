import Redis from 'ioredis';
import { useRedis } from './helpers';
import { topicKeys } from '../src/internal';

const env = useRedis();

/** Groups' lag where XINFO GROUPS has none (Redis 6.2) or reports nil (entries deleted in the unread range). */
describe('group lag without XINFO lag', () => {
  let redis: Redis;
  beforeAll(() => { redis = new Redis(env.server().url); });
  afterAll(async () => { redis.disconnect(); });

  async function fill(stream: string, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 1000) {
      const p = redis.pipeline();
      for (let j = i; j < Math.min(n, i + 1000); j++) p.xadd(stream, '*', 'n', String(j));
      for (const [err, id] of (await p.exec()) ?? []) { if (err) throw err; ids.push(String(id)); }
    }
    return ids;
  }

  test('a deletion inside the unread range: lag is counted exactly from the last-delivered id', async () => {
    const sf = env.client();
    const stream = topicKeys(sf.prefix, 'lagged').stream;
    const ids = await fill(stream, 10);
    await redis.xgroup('CREATE', stream, 'g', ids[3]!);
    await redis.xdel(stream, ids[6]!); // 7.0+ now reports lag nil; 6.2 never reports it
    const [g] = await sf.groups('lagged');
    expect(g).toMatchObject({ group: 'g', lag: 5, lastDeliveredId: ids[3] });
    expect(g!.lagIsLowerBound).toBeUndefined();
  });

  test('a group behind the first entry lags by the stream length; a caught-up group by 0', async () => {
    const sf = env.client();
    const stream = topicKeys(sf.prefix, 'trimmed').stream;
    const ids = await fill(stream, 8);
    await redis.xgroup('CREATE', stream, 'behind', '0');
    await redis.xgroup('CREATE', stream, 'done', '$');
    await redis.xdel(stream, ids[0]!, ids[5]!);
    const groups = await sf.groups('trimmed');
    expect(groups.map((g) => [g.group, g.lag, g.lagIsLowerBound])).toEqual([['behind', 6, undefined], ['done', 0, undefined]]);
  });

  test('more than 10,000 unread: lag is 10,000 and marked a lower bound; exactly 10,000 is exact', async () => {
    const sf = env.client();
    const stream = topicKeys(sf.prefix, 'big').stream;
    const ids = await fill(stream, 10_050);
    await redis.xgroup('CREATE', stream, 'over', ids[1]!);
    await redis.xgroup('CREATE', stream, 'exact', ids[48]!);
    await redis.xdel(stream, ids[10_000]!); // lag nil on 7.0+; 10,047 left after 'over', 10,000 after 'exact'
    const groups = await sf.groups('big');
    expect(groups.map((g) => [g.group, g.lag, g.lagIsLowerBound])).toEqual([['exact', 10_000, undefined], ['over', 10_000, true]]);
  });
});
