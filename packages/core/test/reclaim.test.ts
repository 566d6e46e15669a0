import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

/** Read entries as a consumer that then "crashes": it never acks. */
async function readAsGhost(sf: Streamfan, topic: string, group: string, count: number): Promise<string[]> {
  const raw = env.server().client();
  const stream = topicKeys(sf.prefix, topic).stream;
  const reply = (await raw.xreadgroup('GROUP', group, 'ghost', 'COUNT', count, 'STREAMS', stream, '>')) as Array<[string, Array<[string, string[]]>]>;
  raw.disconnect();
  return reply[0]![1].map(([id]) => id);
}

describe('reclaim', () => {
  test('entries held by a dead consumer are reclaimed after the visibility timeout and succeed with 2 attempts', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('orders');
    await sf.redis.xgroup('CREATE', topicKeys(sf.prefix, topic.name).stream, 'billing', '$', 'MKSTREAM');
    const ids = await sf.publishMany(topic, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(await readAsGhost(sf, topic.name, 'billing', 10)).toEqual(ids);

    const handled: Array<[number, number]> = [];
    const reclaimed: string[] = [];
    const sub = sf.subscribe(topic, 'billing', (p, ctx) => { handled.push([p.n, ctx.attempt]); }, { visibilityTimeoutMs: 400, reclaimIntervalMs: 100 });
    sub.on('reclaimed', (e) => reclaimed.push(...e.ids));
    await waitFor(() => handled.length === 3, { message: 'three reclaimed entries handled' });
    expect(handled.sort()).toEqual([[1, 2], [2, 2], [3, 2]]);
    expect(reclaimed.sort()).toEqual([...ids].sort());
    for (const id of ids) {
      await waitFor(async () => (await sf.status(topic, id)).groups.billing?.state === 'succeeded');
      // A plain success records no consumer (protocol 2); attempts 2 and the empty PEL show the takeover.
      expect((await sf.status(topic, id)).groups.billing).toMatchObject({ state: 'succeeded', attempts: 2 });
    }
    expect(await sf.pending(topic, 'billing')).toEqual([]);
  });

  test('a consumer whose handler never returns: another consumer of the group reclaims and finishes', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('stuck');
    const stuck = sf.subscribe(topic, 'g', () => new Promise(() => undefined), { startFrom: 'beginning', visibilityTimeoutMs: 400, consumer: 'stuck' });
    await stuck.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(() => stuck.running.length === 1);
    // Shut it down with no grace: the handler is still running, so its entry stays pending
    // and the consumer stays in the group for reclaim.
    let left = -1;
    stuck.on('closed', (e) => { left = e.left; });
    await stuck.close(0);
    expect(left).toBe(1);
    expect((await sf.consumers(topic, 'g')).map((c) => [c.name, c.pending])).toEqual([['stuck', 1]]);
    const healthy = sf.subscribe(topic, 'g', (n, ctx) => ({ n, attempt: ctx.attempt }), { visibilityTimeoutMs: 400, reclaimIntervalMs: 100, consumer: 'healthy' });
    const st = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(st.groups.g).toMatchObject({ state: 'succeeded', attempts: 2, consumer: 'healthy', result: { n: 1, attempt: 2 } });
    await healthy.close();
  });

  test('a stale consumer that finishes after its entry was reclaimed can neither ack it nor overwrite the status', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('stale');
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const stale: string[][] = [];
    const leaseLost: string[] = [];
    const a = sf.subscribe(topic, 'g', async () => { await gate; return 'from-a'; }, { startFrom: 'beginning', visibilityTimeoutMs: 300, consumer: 'a' });
    a.on('stale', (e) => stale.push(e.ids));
    a.on('leaseLost', (e) => leaseLost.push(e.id));
    await a.ready();
    const id = await sf.publish(topic, 5);
    await waitFor(() => a.running.length === 1);
    // Another consumer takes the entry over (what XAUTOCLAIM does after a pause or GC stall).
    const stream = topicKeys(sf.prefix, topic.name).stream;
    await sf.redis.xclaim(stream, 'g', 'b', 0, id);
    release();
    await waitFor(() => stale.length === 1, { message: 'stale ack reported' });
    expect(stale[0]).toEqual([id]);
    const pending = await sf.pending(topic, 'g');
    expect(pending.map((p) => [p.id, p.consumer])).toEqual([[id, 'b']]); // not acked by a
    const st = await sf.status(topic, id);
    expect(st.groups.g?.state).toBe('processing'); // a wrote nothing
    expect(st.groups.g?.consumer).toBe('b');
    // a stops (its own reclaim would otherwise take the entry back from the idle "b");
    // then the real b finishes it.
    await a.close();
    const b = sf.subscribe(topic, 'g', () => 'from-b', { visibilityTimeoutMs: 300, reclaimIntervalMs: 100, consumer: 'b' });
    const done = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(done.groups.g).toMatchObject({ state: 'succeeded', consumer: 'b', result: 'from-b' });
    await b.close();
  });

  test('entries trimmed while pending are recorded as lost, once, and not looped on', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('trimmed');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    await sf.redis.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
    const ids = await sf.publishMany(topic, [1, 2, 3, 4]);
    await readAsGhost(sf, topic.name, 'g', 2);
    await sf.redis.xtrim(stream, 'MAXLEN', 0); // someone trims by hand, ignoring the group
    const lost: string[][] = [];
    const handled: number[] = [];
    const sub = sf.subscribe(topic, 'g', (n) => { handled.push(n); }, { visibilityTimeoutMs: 200, reclaimIntervalMs: 50 });
    sub.on('lost', (e) => lost.push(e.ids));
    await waitFor(() => lost.length >= 1, { message: 'lost reported' });
    await sleep(600); // a dozen more reclaim ticks: no repeat
    expect(lost).toEqual([ids.slice(0, 2)]);
    expect(handled).toEqual([]);
    for (const id of ids.slice(0, 2)) {
      const st = await sf.status(topic, id);
      expect(st.groups.g).toMatchObject({ state: 'lost' });
      expect(st.groups.g?.error).toMatch(/deleted from the stream while pending/);
    }
    expect(await sf.pending(topic, 'g')).toEqual([]);
  });
});
