/**
 * skipOlderThanMs judges an event's age on the Redis server's clock, not the client's: a client
 * whose clock is minutes off (here Date.now shifted) skips exactly what the server's clock says
 * is stale, from its very first delivery (plain, partitioned ordered, prioritized topics).
 */
import { defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();
const realNow = Date.now.bind(Date);

async function serverMs(sf: Streamfan): Promise<number> {
  const [s, us] = await sf.redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

afterEach(() => jest.restoreAllMocks());

describe.each([
  ['ahead', 5 * 60_000],
  ['behind', -5 * 60_000],
])('skipOlderThanMs with the client clock %s of the server by 5 minutes', (_name, offset) => {
  test.each([
    ['plain', {}, {}],
    ['partitioned, ordering key', { partitions: 2 }, { ordering: 'key' as const }],
    ['prioritized', { priorities: ['high', 'low'] }, {}],
  ])('%s topic: its first delivery, fresh on the server\'s clock, runs (a plain topic\'s 2 minute old one before it is skipped)', async (kind, topicOpts, subOpts) => {
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + offset);
    const sf = env.client();
    const name = `clock-${offset > 0 ? 'a' : 'b'}-${kind.replace(/[^a-z]/g, '')}`;
    const topic = defineTopic<{ n: number }>(name, topicOpts as never);
    // A plain topic: an event published on the server's clock 2 minutes ago waits in the stream.
    const old = kind === 'plain'
      ? String(await sf.redis.xadd(topicKeys(sf.prefix, name).stream, `${(await serverMs(sf)) - 120_000}-0`, 'payload', JSON.stringify({ n: 2 }), 'headers', ''))
      : undefined;
    const runs: number[] = [];
    const sub = sf.subscribe(topic, 'g', (p) => { runs.push(p.n); }, { startFrom: 'beginning', skipOlderThanMs: 60_000, ...subOpts });
    await sub.ready();
    if (old !== undefined) expect((await sf.waitFor(topic, old, { timeoutMs: 15_000 })).groups.g?.state).toBe('skipped');
    const fresh = await sf.publish(topic, { n: 1 }, kind.startsWith('partitioned') ? { key: 'k' } : {});
    expect((await sf.waitFor(topic, fresh, { timeoutMs: 15_000 })).groups.g?.state).toBe('succeeded');
    expect(runs).toEqual([1]);
  });
});
