import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

describe('XGROUP DESTROY under a running consumer', () => {
  test('the group resumes after the last entry this consumer read: nothing finished is replayed, new events flow, the running handler keeps its entry and its ack counts', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('destroyed');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    const handled = new Map<string, number>();
    const recovered: Array<{ reason: string; startedAt: string }> = [];
    let abortedWith = '';
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const sub = sf.subscribe(topic, 'g', async (p, ctx) => {
      handled.set(p, (handled.get(p) ?? 0) + 1);
      if (p === 'slow') {
        await Promise.race([gate, new Promise((r) => ctx.signal.addEventListener('abort', r))]);
        if (ctx.signal.aborted) abortedWith = String((ctx.signal.reason as Error).message);
      }
    }, { startFrom: 'beginning', reclaimIntervalMs: 100 });
    sub.on('recovered', (e) => recovered.push(e));
    await sub.ready();
    const old = await sf.publishMany(topic, Array.from({ length: 20 }, (_, i) => `old-${i}`));
    await sf.publish(topic, 'slow');
    await waitFor(() => handled.size === 21, { message: 'old events handled, slow one running' });
    for (const id of old) await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded');

    await sf.redis.xgroup('DESTROY', stream, 'g');
    await waitFor(() => recovered.length > 0, { timeoutMs: 15_000, message: 'recovered' });
    expect(recovered[0]!.reason).toMatch(/destroyed/);
    const slowId = (await sf.redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0]![0];
    // The running handler's entry was taken back into the recreated group, owned by this consumer.
    expect((await sf.pending(topic, 'g')).map((p) => [p.id, p.consumer])).toEqual([[slowId, sub.consumer]]);
    release();
    await waitFor(async () => (await sf.status(topic, slowId)).groups.g?.state === 'succeeded', { message: 'the running handler\'s ack counted' });
    expect(abortedWith).toBe('');

    const fresh = await sf.publishMany(topic, ['new-1', 'new-2']);
    await waitFor(() => handled.has('new-1') && handled.has('new-2'), { message: 'new events handled' });
    for (const id of fresh) await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded');
    await sleep(300);
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    expect(handled.size).toBe(23);
    await sub.close();
  });

  test('a stream deleted and then recreated by a publish: the consumer resumes and handles the new events', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('recreated');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    const handled: string[] = [];
    const recovered: string[] = [];
    const sub = sf.subscribe(topic, 'g', (p) => { handled.push(p); }, { startFrom: 'beginning', reclaimIntervalMs: 100 });
    sub.on('recovered', (e) => recovered.push(e.reason));
    await sub.ready();
    await sf.publish(topic, 'before');
    await waitFor(() => handled.length === 1);
    await sf.redis.del(stream);
    await sf.publish(topic, 'after');
    await waitFor(() => handled.includes('after'), { timeoutMs: 15_000, message: 'event in the recreated stream handled' });
    expect(handled).toEqual(['before', 'after']);
    expect(recovered.length).toBeGreaterThan(0);
    await sub.close();
  });

  test('destroyed and recreated by someone else while this consumer, busy, never saw NOGROUP: its running handlers\' outcomes still count', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('recreated-behind');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    const gates = new Map<string, () => void>();
    const stale: string[] = [];
    const sub = sf.subscribe(topic, 'g', async (p) => {
      await new Promise<void>((r) => gates.set(p, r));
      if (p === 'fails') throw new Error('fails once');
    }, { startFrom: 'beginning', concurrency: 3, reclaimIntervalMs: 600_000, visibilityTimeoutMs: 600_000, backoff: { type: 'fixed', delayMs: 10 }, maxAttempts: 2 });
    sub.on('stale', (e) => stale.push(...e.ids));
    await sub.ready();
    const [ok, fails, dead] = await sf.publishMany(topic, ['ok', 'fails', 'dead']);
    await waitFor(() => gates.size === 3, { message: 'three handlers running, no free slot' });
    await sf.redis.xgroup('DESTROY', stream, 'g');
    await sf.redis.xgroup('CREATE', stream, 'g', '$');
    gates.get('ok')!();
    gates.get('fails')!();
    await waitFor(async () => (await sf.status(topic, ok!)).groups.g?.state === 'succeeded', { message: 'the success counted' });
    await waitFor(async () => /failed|processing/.test((await sf.status(topic, fails!)).groups.g?.state ?? ''), { message: 'the failure scheduled its retry' });
    void dead;
    expect(stale).toEqual([]);
    await sub.close(0);
  });
});
