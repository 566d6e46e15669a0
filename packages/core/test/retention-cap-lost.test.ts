import { waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

describe('a hard maxLen cap records what it removes as lost', () => {
  test('entries a lagging group had not read (or held pending) end lost in that group, succeeded in the group that acked them; waitFor resolves', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('lagging');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    const fast = sf.subscribe(topic, 'fast', () => 'ok', { startFrom: 'beginning' });
    await fast.ready();
    await sf.redis.xgroup('CREATE', stream, 'slow', '0');
    const ids = await sf.publishMany(topic, Array.from({ length: 60 }, (_, i) => i));
    await waitFor(async () => (await sf.status(topic, ids[59]!)).groups.fast?.state === 'succeeded', { message: 'fast handled all' });
    await fast.close();
    // The slow group: a consumer read 10 and died holding them; the other 50 it never read.
    await sf.redis.xreadgroup('GROUP', 'slow', 'ghost', 'COUNT', 10, 'STREAMS', stream, '>');

    // A waiter listening before the trim is told by the trim itself.
    const waiting = sf.waitFor(topic, ids[30]!, { groups: ['fast', 'slow'], timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    const report = await sf.trim(topic, { maxLen: 5 });
    expect(report).toMatchObject({ lostToCap: 55, length: 5 });
    expect(report.lostIds).toEqual(ids.slice(0, 55));
    const done = await waiting;
    expect(done.groups.slow).toMatchObject({ state: 'lost' });
    expect(done.groups.fast).toMatchObject({ state: 'succeeded' });

    for (const id of ids.slice(0, 55)) {
      const st = await sf.status(topic, id);
      expect(st.groups.slow).toMatchObject({ state: 'lost', error: expect.stringMatching(/maxLen/) });
      expect(st.groups.fast).toMatchObject({ state: 'succeeded' });
    }
    for (const id of ids.slice(55)) expect((await sf.status(topic, id)).groups.fast?.state).toBe('succeeded');
    // The pending ones are settled too: no consumer meets them again and records them twice.
    expect(await sf.pending(topic, 'slow')).toEqual([]);
    const lostEvents: string[][] = [];
    const slow = sf.subscribe(topic, 'slow', () => undefined, { visibilityTimeoutMs: 200, reclaimIntervalMs: 50 });
    slow.on('lost', (e) => lostEvents.push(e.ids));
    await waitFor(() => slow.stats.processed === 5, { message: 'slow handles the five kept' });
    expect(lostEvents).toEqual([]);
    await slow.close();
  });

  test('a capped retention publishes one completion per group, only for newly lost entries (idempotent)', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('once');
    const keys = topicKeys(sf.prefix, topic.name);
    await sf.redis.xgroup('CREATE', keys.stream, 'g', '0', 'MKSTREAM');
    const ids = await sf.publishMany(topic, Array.from({ length: 2500 }, (_, i) => i));
    const first = await sf.trim(topic, { maxLen: 1000 });
    expect(first).toMatchObject({ lostToCap: 1500, length: 1000 });
    expect(first.lostIds).toHaveLength(1000); // the report lists at most 1000
    expect(first.lostIds[0]).toBe(ids[0]);
    const second = await sf.trim(topic, { maxLen: 1000 });
    expect(second).toMatchObject({ lostToCap: 0, removed: 0, length: 1000 });
    for (const id of [ids[0]!, ids[999]!, ids[1499]!]) expect((await sf.status(topic, id)).groups.g?.state).toBe('lost');
    expect((await sf.status(topic, ids[1500]!)).groups.g?.state).not.toBe('lost');
  });
});
