import { waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

/**
 * Issue 10 item 9d: a retry copy deleted from the redelivery stream while pending with a consumer
 * that is gone carries its event id (`orig`) in its fields, which are gone too. The consumer that
 * finds it (XAUTOCLAIM's deleted ids) names the event through the copy → event map the writers
 * keep (`<prefix>:{T}:copies:<group>`), and records it `lost` under the event id.
 */
describe('a retry copy deleted while pending with a dead consumer', () => {
  test('is recorded lost under its event id, and reported with it', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('lost-copy');
    const keys = topicKeys(sf.prefix, topic.name);
    const opts = { startFrom: 'beginning' as const, visibilityTimeoutMs: 1000, reclaimIntervalMs: 200, backoff: { type: 'fixed' as const, delayMs: 0 } };
    const a = sf.subscribe(topic, 'g', async (_p, ctx) => {
      if (ctx.attempt === 1) throw new Error('first attempt fails');
      await new Promise(() => undefined); // the retry never finishes: its consumer goes away
    }, { ...opts, consumer: 'a' });
    await a.ready();
    const id = await sf.publish(topic, 'x');
    await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'processing' && (await sf.status(topic, id)).groups.g?.attempts === 2, { message: 'the retry runs on a' });
    await a.close(0); // left pending for reclaim
    const copyId = ((await sf.redis.xrange(keys.redeliver('g'), '-', '+')) as Array<[string, string[]]>)[0]![0];
    expect(await sf.redis.xdel(keys.redeliver('g'), copyId)).toBe(1);

    const lost: Array<{ ids: string[] }> = [];
    const b = sf.subscribe(topic, 'g', () => undefined, { ...opts, consumer: 'b' });
    b.on('lost', (e) => lost.push(e));
    await waitFor(() => lost.length > 0, { timeoutMs: 15_000, message: 'b found the deleted copy' });
    expect(lost[0]!.ids).toEqual([id]);
    const st = (await sf.status(topic, id)).groups.g;
    expect(st?.state).toBe('lost');
    expect((await sf.pending(topic, 'g')).length).toBe(0);
    await b.close();
  });
});
