/**
 * skipOlderThanMs with ids that collide: a retry copy in the redelivery stream whose entry id
 * equals a topic entry's id (both stale, read in one tick), and waitFor started before the skip on
 * a prioritized topic's non-default lane and on a partition (public ids `high:…`, `p<i>:…`).
 */
import { sleep } from '@streamfan/testing';
import { defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

async function serverMs(sf: Streamfan): Promise<number> {
  const [s, us] = await sf.redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

describe('skipOlderThanMs: colliding ids', () => {
  test('a retry copy whose entry id equals a topic entry\'s id: each skipped under its own event, with its own attempts', async () => {
    const sf = env.client();
    const keys = topicKeys(sf.prefix, 'twins');
    const at = (await serverMs(sf)) - 60_000;
    const e = `${at}-0`; // an event whose first attempt failed: its retry copy waits
    const x = `${at + 5}-0`; // another event, not yet read
    await sf.redis.xadd(keys.stream, e, 'payload', JSON.stringify({ n: 1 }), 'headers', '');
    await sf.redis.xadd(keys.stream, x, 'payload', JSON.stringify({ n: 2 }), 'headers', '');
    await sf.redis.xgroup('CREATE', keys.stream, 'g', e); // e was read and acked at its failure
    await sf.redis.hset(keys.status(e), 'g:state', 'failed', 'g:attempts', '1', 'g:error', 'Error: boom', 'g:updatedAt', String(at + 1));
    await sf.redis.xadd(keys.redeliver('g'), x, 'payload', JSON.stringify({ n: 1 }), 'headers', '', 'orig', e, 'base', '1');
    await sf.redis.xgroup('CREATE', keys.redeliver('g'), 'g', '0');
    const runs: number[] = [];
    const skipped: string[] = [];
    const topic = defineTopic<{ n: number }>('twins');
    const sub = sf.subscribe(topic, 'g', (p) => { runs.push(p.n); }, { skipOlderThanMs: 10_000, concurrency: 10 });
    sub.on('skipped', (ev) => skipped.push(...ev.ids));
    await sub.ready();
    expect((await sf.waitFor(topic, x, { timeoutMs: 10_000 })).groups.g).toMatchObject({ state: 'skipped', attempts: 0 });
    expect((await sf.waitFor(topic, e, { timeoutMs: 10_000 })).groups.g).toMatchObject({ state: 'skipped', attempts: 1, error: 'Error: boom' });
    await sleep(200);
    expect(skipped.sort()).toEqual([e, x].sort());
    expect(sub.stats.skipped).toBe(2);
    expect(runs).toEqual([]);
    expect((await sf.redis.xpending(keys.stream, 'g'))[0]).toBe(0);
    expect((await sf.redis.xpending(keys.redeliver('g'), 'g'))[0]).toBe(0);
  });

  test('waitFor started before the skip resolves skipped for a non-default lane\'s event and a partition\'s event', async () => {
    const sf = env.client();
    const laned = defineTopic<{ n: number }>('laned', { priorities: ['high', 'low'] });
    const parted = defineTopic<{ n: number }>('parted', { partitions: 3 });
    const a = await sf.publish(laned, { n: 1 }, { priority: 'high' });
    const b = await sf.publish(laned, { n: 2 }, { priority: 'low' });
    const c = await sf.publish(parted, { n: 3 }, { key: 'k' });
    await sleep(1600);
    const waits = [sf.waitFor(laned, a, { groups: ['g'], timeoutMs: 15_000 }), sf.waitFor(laned, b, { groups: ['g'], timeoutMs: 15_000 }), sf.waitFor(parted, c, { groups: ['g'], timeoutMs: 15_000 })];
    await sleep(100);
    const runs: number[] = [];
    const s1 = sf.subscribe(laned, 'g', (p) => { runs.push(p.n); }, { startFrom: 'beginning', skipOlderThanMs: 1500 });
    const s2 = sf.subscribe(parted, 'g', (p) => { runs.push(p.n); }, { startFrom: 'beginning', skipOlderThanMs: 1500 });
    await Promise.all([s1.ready(), s2.ready()]);
    const states = (await Promise.all(waits)).map((st) => st.groups.g?.state);
    expect(states).toEqual(['skipped', 'skipped', 'skipped']);
    expect(runs).toEqual([]);
  });
});
