import { defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { Skipper } from '../src/consumer/skipper';
import { useRedis } from './helpers';

const env = useRedis();

async function serverMs(sf: Streamfan): Promise<number> {
  const [s, us] = await sf.redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

function skipperOf(sf: Streamfan, topic: string, consumer: string, seen: { skipped: string[]; stale: string[] }): Skipper {
  return new Skipper({
    worker: sf.redis, keys: topicKeys(sf.prefix, topic), group: 'g', consumer, statusTtlSeconds: 60, trackStatus: true, publishMode: () => 'P',
    skipped: (ids) => seen.skipped.push(...ids), stale: (ids) => seen.stale.push(...ids), track: () => undefined,
  });
}

describe('skipOlderThanMs: a skip racing a reclaim', () => {
  test('an entry another consumer reclaimed and skipped meanwhile is stale for the first, not counted skipped twice', async () => {
    const sf = env.client();
    const keys = topicKeys(sf.prefix, 'raced');
    const id = String(await sf.redis.xadd(keys.stream, `${(await serverMs(sf)) - 60_000}-0`, 'payload', '{}', 'headers', ''));
    await sf.redis.xgroup('CREATE', keys.stream, 'g', '0');
    // a reads it (delivery 1) and judges it stale; before its skip call runs, b (idle past the
    // visibility timeout) reclaims it (delivery 2) and skips it.
    await sf.redis.xreadgroup('GROUP', 'g', 'a', 'COUNT', 1, 'STREAMS', keys.stream, '>');
    await sf.redis.xclaim(keys.stream, 'g', 'b', 0, id);
    const a = { skipped: [] as string[], stale: [] as string[] };
    const b = { skipped: [] as string[], stale: [] as string[] };
    await skipperOf(sf, 'raced', 'b', b).skip(keys.stream, [{ entryId: id, eventId: id, base: 0, deliveries: 2 }]);
    expect(b).toEqual({ skipped: [id], stale: [] });
    await skipperOf(sf, 'raced', 'a', a).skip(keys.stream, [{ entryId: id, eventId: id, base: 0, deliveries: 1 }]);
    // One skip in the group, by b: a's delivery was taken from it.
    expect(a).toEqual({ skipped: [], stale: [id] });
    expect((await sf.status(defineTopic('raced'), id)).groups.g).toMatchObject({ state: 'skipped', attempts: 1 });
  });

  test('a resend of a call that ran (its reply lost) still counts its own skip once', async () => {
    const sf = env.client();
    const keys = topicKeys(sf.prefix, 'resent');
    const id = String(await sf.redis.xadd(keys.stream, `${(await serverMs(sf)) - 60_000}-0`, 'payload', '{}', 'headers', ''));
    await sf.redis.xgroup('CREATE', keys.stream, 'g', '0');
    await sf.redis.xreadgroup('GROUP', 'g', 'a', 'COUNT', 1, 'STREAMS', keys.stream, '>');
    const a = { skipped: [] as string[], stale: [] as string[] };
    const item = { entryId: id, eventId: id, base: 0, deliveries: 1 };
    await skipperOf(sf, 'resent', 'a', { skipped: [], stale: [] }).skip(keys.stream, [item]); // the first run, its reply lost
    await skipperOf(sf, 'resent', 'a', a).skip(keys.stream, [item]); // ioredis' resend: its reply is the one a sees
    expect(a).toEqual({ skipped: [id], stale: [] });
  });

  test('after a group destroy: an entry another consumer of the recreated group ran meanwhile is refused, its success not overwritten by a skip', async () => {
    const sf = env.client();
    const topic = defineTopic('recreated');
    const keys = topicKeys(sf.prefix, 'recreated');
    const id = String(await sf.redis.xadd(keys.stream, `${(await serverMs(sf)) - 60_000}-0`, 'payload', '{}', 'headers', ''));
    await sf.redis.xgroup('CREATE', keys.stream, 'g', '0');
    await sf.redis.xreadgroup('GROUP', 'g', 'a', 'COUNT', 1, 'STREAMS', keys.stream, '>'); // a judges it stale
    await sf.redis.xgroup('DESTROY', keys.stream, 'g');
    const b = sf.subscribe(topic, 'g', () => 'ran', { startFrom: 'beginning', consumer: 'b' }); // no bound: runs it
    await b.ready();
    await sf.waitFor(topic, id, { groups: ['g'], timeoutMs: 10_000 });
    expect((await sf.status(topic, id)).groups.g?.state).toBe('succeeded');
    await b.close();
    const a = { skipped: [] as string[], stale: [] as string[] };
    await skipperOf(sf, 'recreated', 'a', a).skip(keys.stream, [{ entryId: id, eventId: id, base: 0, deliveries: 1 }]);
    expect(a).toEqual({ skipped: [], stale: [id] });
    expect((await sf.status(topic, id)).groups.g).toMatchObject({ state: 'succeeded', result: 'ran' });
  });

  test('after a group destroy: a plain success by the recreated group\'s consumer (a record in the bucket) is not overwritten by a skip', async () => {
    const sf = env.client();
    const topic = defineTopic('recreated2');
    const keys = topicKeys(sf.prefix, 'recreated2');
    const id = String(await sf.redis.xadd(keys.stream, `${(await serverMs(sf)) - 60_000}-0`, 'payload', '{}', 'headers', ''));
    await sf.redis.xgroup('CREATE', keys.stream, 'g', '0');
    await sf.redis.xreadgroup('GROUP', 'g', 'a', 'COUNT', 1, 'STREAMS', keys.stream, '>');
    await sf.redis.xgroup('DESTROY', keys.stream, 'g');
    const b = sf.subscribe(topic, 'g', () => undefined, { startFrom: 'beginning', consumer: 'b' });
    await b.ready();
    await sf.waitFor(topic, id, { groups: ['g'], timeoutMs: 10_000 });
    await b.close();
    const a = { skipped: [] as string[], stale: [] as string[] };
    await skipperOf(sf, 'recreated2', 'a', a).skip(keys.stream, [{ entryId: id, eventId: id, base: 0, deliveries: 1 }]);
    expect(a).toEqual({ skipped: [], stale: [id] });
    expect((await sf.status(topic, id)).groups.g?.state).toBe('succeeded');
  });
});
