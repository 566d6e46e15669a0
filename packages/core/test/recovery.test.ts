import { waitFor } from '@streamfan/testing';
import { defineTopic, type Streamfan, type Subscription } from '../src';
import { useRedis } from './helpers';

// Every write is on disk before Redis answers, so a restart (even SIGKILL) loses nothing.
const env = useRedis(['--appendonly', 'yes', '--appendfsync', 'always']);

interface Watch { disconnected: string[]; reconnected: string[]; recovered: string[]; handled: number[] }

function watch(sub: Subscription<number>, handled: number[]): Watch {
  const w: Watch = { disconnected: [], reconnected: [], recovered: [], handled };
  sub.on('disconnected', (e) => w.disconnected.push(e.connection));
  sub.on('reconnected', (e) => w.reconnected.push(e.connection));
  sub.on('recovered', (e) => w.recovered.push(e.reason));
  sub.on('error', () => undefined); // reported while Redis is away; the test checks that work resumes
  return w;
}

/** Start two groups on one topic, each recording what it handled. */
async function twoGroups(sf: Streamfan, topicName: string, extra: { reclaimIntervalMs?: number } = {}): Promise<{ topic: ReturnType<typeof defineTopic<number>>; subs: Subscription<number>[]; w: Record<'a' | 'b', Watch> }> {
  const topic = defineTopic<number>(topicName);
  const handled = { a: [] as number[], b: [] as number[] };
  const opts = { startFrom: 'beginning' as const, visibilityTimeoutMs: 1000, reclaimIntervalMs: 100, blockMs: 1000, ...extra };
  const a = sf.subscribe(topic, 'a', (n) => { handled.a.push(n); }, opts);
  const b = sf.subscribe(topic, 'b', (n) => { handled.b.push(n); }, opts);
  const w = { a: watch(a, handled.a), b: watch(b, handled.b) };
  await Promise.all([a.ready(), b.ready()]);
  return { topic, subs: [a, b], w };
}

/** Publish once the client's command connection is back (publish fails fast while Redis is down). */
async function publishWhenUp(sf: Streamfan, topic: string, n: number): Promise<string> {
  return waitFor(() => sf.publish(topic, n).catch(() => ''), { timeoutMs: 20_000, message: `publish ${n} after the restart` });
}

describe('recovery', () => {
  test.each([
    ['SHUTDOWN', () => env.server().shutdown()],
    ['SIGKILL', () => env.server().kill('SIGKILL')],
  ])('Redis restarted (%s) under running consumers: they reconnect by themselves and every group handles new events', async (_how, stop) => {
    const sf = env.client();
    const { topic, subs, w } = await twoGroups(sf, 'restart');
    const before = await sf.publish(topic, 1);
    await sf.waitFor(topic, before, { timeoutMs: 10_000 });

    await stop();
    await waitFor(() => w.a.disconnected.length > 0 && w.b.disconnected.length > 0, { message: 'both consumers saw the drop' });
    await env.server().start();
    await waitFor(() => w.a.reconnected.includes('blocking') && w.b.reconnected.includes('blocking'),
      { timeoutMs: 20_000, message: 'both consumers reconnected' });

    const after = await publishWhenUp(sf, topic.name, 2);
    const st = await sf.waitFor(topic, after, { groups: ['a', 'b'], timeoutMs: 20_000 });
    expect(st.groups.a).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(st.groups.b).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(w.a.handled).toEqual([1, 2]);
    expect(w.b.handled).toEqual([1, 2]);
    // Nothing was lost with the process: the first event's status came back from the AOF.
    expect((await sf.status(topic, before)).groups.a?.state).toBe('succeeded');
    expect(w.a.recovered).toEqual([]); // the groups survived the restart: nothing to recreate
    await Promise.all(subs.map((s) => s.close()));
  });

  test('CLIENT KILL TYPE normal drops every connection; the consumers resume and handle new events', async () => {
    const sf = env.client();
    const { topic, subs, w } = await twoGroups(sf, 'killed');
    const admin = env.server().client();
    const killed = Number(await admin.client('KILL', 'TYPE', 'normal'));
    expect(killed).toBeGreaterThanOrEqual(5); // the client's command connection + 2 per consumer
    await waitFor(() => w.a.reconnected.length > 0 && w.b.reconnected.length > 0, { timeoutMs: 20_000, message: 'consumers reconnected' });
    expect(w.a.disconnected.length).toBeGreaterThan(0);
    const id = await publishWhenUp(sf, topic.name, 3);
    const st = await sf.waitFor(topic, id, { groups: ['a', 'b'], timeoutMs: 20_000 });
    expect(st.groups.a?.state).toBe('succeeded');
    expect(st.groups.b?.state).toBe('succeeded');
    expect(w.a.handled).toEqual([3]);
    expect(w.b.handled).toEqual([3]);
    admin.disconnect();
    await Promise.all(subs.map((s) => s.close()));
  });

  test.each([
    ['the reclaim timer', 100],
    ['the blocking read', 600_000],
  ])('FLUSHDB under running consumers, noticed by %s: NOGROUP is handled, the groups are recreated, recovered fires and new events flow', async (_path, reclaimIntervalMs) => {
    const sf = env.client();
    const { topic, subs, w } = await twoGroups(sf, 'flushed', { reclaimIntervalMs });
    const first = await sf.publish(topic, 1);
    await sf.waitFor(topic, first, { timeoutMs: 10_000 });
    const errors: string[] = [];
    for (const s of subs) s.on('error', (e) => errors.push(e.message));

    await sf.redis.flushdb();
    await waitFor(() => w.a.recovered.length > 0 && w.b.recovered.length > 0, { timeoutMs: 20_000, message: 'both groups recovered' });
    expect(w.a.recovered[0]).toMatch(/NOGROUP/);
    await waitFor(async () => (await sf.groups(topic)).length === 2, { message: 'both groups exist again' });

    const id = await sf.publish(topic, 2);
    const st = await sf.waitFor(topic, id, { groups: ['a', 'b'], timeoutMs: 20_000 });
    expect(st.groups.a?.state).toBe('succeeded');
    expect(st.groups.b?.state).toBe('succeeded');
    expect(w.a.handled).toEqual([1, 2]);
    expect(w.b.handled).toEqual([1, 2]);
    expect(errors.filter((m) => /NOGROUP/.test(m))).toEqual([]); // NOGROUP is recovered from, not reported as an error
    await Promise.all(subs.map((s) => s.close()));
  });
});
