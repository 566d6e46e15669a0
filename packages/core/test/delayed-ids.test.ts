import { waitFor } from '@streamfan/testing';
import { defineTopic, showEvent, topicKeys, type Streamfan } from '../src/internal';
import { useRedis } from './helpers';

// A delayed publish returns a `delayed-…` id; the event gets its stream id only when it is
// promoted. Both ids must lead to the event, in O(1), before and after promotion.
const env = useRedis();

async function commandCalls(sf: Streamfan, name: string): Promise<number> {
  const info = await sf.redis.info('commandstats');
  const m = new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

describe('delayed ids can be followed', () => {
  test('status and waitFor on a delayed id follow it to its event; the event id leads back', async () => {
    const sf = env.client({ promoteIntervalMs: 50 });
    const topic = defineTopic<{ n: number }>('reminders');
    const sub = sf.subscribe(topic, 'mail', (p) => ({ got: p.n }), { startFrom: 'beginning', reclaimIntervalMs: 50 });
    await sub.ready();
    const id = await sf.publish(topic, { n: 7 }, { delayMs: 400 });
    const before = await sf.status(topic, id);
    expect(before).toMatchObject({ id, inStream: false, groups: { mail: { state: 'scheduled' } } });
    expect(before.dueAt).toBeInstanceOf(Date);

    const done = await sf.waitFor(topic, id, { timeoutMs: 15_000 });
    expect(done.groups.mail).toMatchObject({ state: 'succeeded', result: { got: 7 } });
    expect(done.eventId).toMatch(/^\d+-\d+$/);
    expect(done.delayedId).toBe(id);

    const after = await sf.status(topic, id);
    expect(after).toMatchObject({ id, eventId: done.eventId, delayedId: id, inStream: true, groups: { mail: { state: 'succeeded' } } });
    const byEvent = await sf.status(topic, done.eventId!);
    expect(byEvent).toMatchObject({ id: done.eventId, eventId: done.eventId, delayedId: id, groups: { mail: { state: 'succeeded' } } });
    await sub.close();
  });

  test('waitFor called on a delayed id before it is due resolves once the event is handled', async () => {
    const sf = env.client({ promoteIntervalMs: 50 });
    const topic = defineTopic<{ n: number }>('later');
    const sub = sf.subscribe(topic, 'a', () => undefined, { startFrom: 'beginning' });
    await sub.ready();
    const id = await sf.publish(topic, { n: 1 }, { delayMs: 300 });
    const st = await sf.waitFor(topic, id, { timeoutMs: 15_000 });
    expect(st.groups.a?.state).toBe('succeeded');
    await sub.close();
  });

  test('lookups are O(1): no ZSCAN over the delayed set, with 3,000 other delayed events', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('many');
    await sf.publishMany(topic, Array.from({ length: 3000 }, (_, n) => ({ n })), { delayMs: 600_000 });
    const id = await sf.publish(topic, { n: -1 }, { delayMs: 600_000 });
    const zscans = await commandCalls(sf, 'zscan');
    const st = await sf.status(topic, id);
    expect(st.groups).toEqual({});
    expect(st.dueAt).toBeInstanceOf(Date);
    const shown = await showEvent(sf, topic.name, id);
    expect(shown).toMatchObject({ payloadFrom: 'delayed', payload: { n: -1 } });
    expect(await commandCalls(sf, 'zscan')).toBe(zscans);
  });

  test('show follows a promoted delayed id to its stream entry', async () => {
    const sf = env.client({ promoteIntervalMs: 50 });
    const topic = defineTopic<{ n: number }>('shown');
    const id = await sf.publish(topic, { n: 3 }, { delayMs: 100 });
    const stream = topicKeys(sf.prefix, topic.name).stream;
    await waitFor(async () => (await sf.redis.xlen(stream)) === 1, { message: 'promoted' });
    const shown = await showEvent(sf, topic.name, id);
    expect(shown).toMatchObject({ payloadFrom: 'stream', payload: { n: 3 }, inStream: true });
    expect(shown.id).toMatch(/^\d+-\d+$/);
  });

  test('delayed events written by the previous version (JSON members) are still listed and promoted, and mapped', async () => {
    const sf = env.client({ promoteIntervalMs: 50 });
    const topic = defineTopic<{ n: number }>('legacy');
    const keys = topicKeys(sf.prefix, topic.name);
    const legacyId = 'delayed-00000000-0000-4000-8000-000000000000';
    await sf.redis.zadd(keys.delayed, Date.now() - 1000, JSON.stringify({ payload: '{"n":9}', headers: '{"k":"v"}', delayed: legacyId }));
    expect(await sf.delayed(topic)).toEqual([expect.objectContaining({ id: legacyId, payload: { n: 9 }, headers: { k: 'v' } })]);
    const sub = sf.subscribe(topic, 'g', (p) => p.n, { startFrom: 'beginning' });
    await sub.ready();
    const st = await sf.waitFor(topic, legacyId, { timeoutMs: 10_000 });
    expect(st.groups.g).toMatchObject({ state: 'succeeded', result: 9 });
    expect(st.eventId).toMatch(/^\d+-\d+$/);
    await sub.close();
  });
});
