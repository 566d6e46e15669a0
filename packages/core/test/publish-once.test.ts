import { startTcpProxy, waitFor, type TcpProxy } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

// ioredis re-sends a command that was sent but not answered when the connection drops
// (autoResendUnfulfilledCommands). If Redis had already run it, a plain XADD writes the event
// twice under two ids. The proxy lets Redis run the publish, then cuts the connection before
// the reply reaches the client.
const env = useRedis();
let proxy: TcpProxy;
beforeAll(async () => { proxy = await startTcpProxy({ port: env.server().port }); });
afterAll(async () => { await proxy?.close(); });

const isPublish = (chunk: string) => /XADD|EVALSHA|EVAL/i.test(chunk);

describe('one publish call writes at most one entry when the reply is lost', () => {
  test('publish: the resend after the reconnect returns the first id, one entry stored', async () => {
    const sf = env.client({ connection: proxy.url });
    const direct = env.server().client();
    const topic = defineTopic<{ n: number }>('orders');
    await sf.publish(topic, { n: 0 }); // connected, scripts known
    const cut = proxy.cutAfterReplyTo(isPublish);
    const id = await sf.publish(topic, { n: 1 });
    const { droppedReply } = await cut;
    const entries = await direct.xrange(topicKeys(sf.prefix, topic.name).stream, '-', '+');
    expect(entries.map(([eid]) => eid)).toEqual([entries[0]![0], id]);
    expect(droppedReply).toContain(id.split('-')[0]); // Redis did answer with this id; the client never saw that reply
  });

  test('publishMany: the resend returns the first ids, the batch stored once', async () => {
    const sf = env.client({ connection: proxy.url });
    const direct = env.server().client();
    const topic = defineTopic<{ n: number }>('batches');
    await sf.publishMany(topic, [{ n: 0 }]); // connected, the script known to Redis (a NOSCRIPT reply would hide the resend)
    const cut = proxy.cutAfterReplyTo(isPublish);
    const ids = await sf.publishMany(topic, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await cut;
    const entries = await direct.xrange(topicKeys(sf.prefix, topic.name).stream, '-', '+');
    expect(entries).toHaveLength(4);
    expect(entries.slice(1).map(([eid]) => eid)).toEqual(ids);
  });

  test('delayed publish: scheduled once, under the id returned', async () => {
    const sf = env.client({ connection: proxy.url });
    const direct = env.server().client();
    const topic = defineTopic<{ n: number }>('later');
    await sf.publish(topic, { n: 0 }, { delayMs: 60_000 });
    const cut = proxy.cutAfterReplyTo(isPublish);
    const id = await sf.publish(topic, { n: 1 }, { delayMs: 60_000 });
    await cut;
    expect(await direct.zcard(topicKeys(sf.prefix, topic.name).delayed)).toBe(2);
    expect((await sf.delayed(topic)).map((d) => d.id)).toContain(id);
  });

  test('the dedupe record is one small hash per client and topic, holding only calls still unanswered', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('cheap');
    for (let i = 0; i < 50; i++) await sf.publish(topic, { n: i });
    await Promise.all(Array.from({ length: 50 }, (_, i) => sf.publish(topic, { n: i })));
    await sf.publishMany(topic, [{ n: 1 }, { n: 2 }]);
    const direct = env.server().client();
    const keys = await direct.keys(`${sf.prefix}:*`);
    const producers = keys.filter((k) => k.includes(':producer:'));
    expect(producers).toHaveLength(1);
    // Each call deletes the fields of calls already answered: what is left is at most the
    // calls sent since the last answer was seen (here: the last one, or the last burst).
    expect(await direct.hlen(producers[0]!)).toBeLessThanOrEqual(51);
    await sf.publish(topic, { n: 999 });
    expect(await direct.hlen(producers[0]!)).toBeLessThanOrEqual(2);
    const ttl = await direct.pttl(producers[0]!);
    expect(ttl).toBeGreaterThan(0);
    // Answers no later publish carried are deleted by an idle flush: nothing stays behind.
    await waitFor(async () => (await direct.exists(producers[0]!)) === 0, { message: 'producer hash emptied after the last answer' });
  });
});
