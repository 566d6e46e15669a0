import { startTcpProxy, waitFor, type TcpProxy } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { monotonicMs } from '../src/timing';
import { useRedis } from './helpers';

// An XREADGROUP reply lost to a dropped connection: Redis delivered the entries (they are in this
// consumer's pending list), the consumer never saw them. They are in no one's hands; before the
// fix they waited a whole visibility timeout for a reclaim. After the reconnect the consumer finds
// them among its own pending entries and runs them at once.
const env = useRedis();
let proxy: TcpProxy;
beforeAll(async () => { proxy = await startTcpProxy({ port: env.server().port }); });
afterAll(async () => { await proxy?.close(); });

// The command itself (not a script that mentions it): a RESP array whose first word is XREADGROUP.
const blockingRead = (chunk: string) => /^\*\d+\r\n\$10\r\nXREADGROUP\r\n/i.test(chunk) && /\r\nBLOCK\r\n/i.test(chunk);

test('entries in a lost blocking-read reply are handled right after the reconnect, not a visibility timeout later', async () => {
  const sf = env.client({ connection: proxy.url });
  const direct = env.server().client();
  const topic = defineTopic<{ n: number }>('lost-read');
  const handled: Array<{ n: number; attempt: number; at: number }> = [];
  // The first blocking read's reply is the one cut (blockMs long, so it is answered by the publish).
  const cut = proxy.cutAfterReplyTo(blockingRead);
  const sub = sf.subscribe(topic, 'g', async (p, ctx) => { handled.push({ n: p.n, attempt: ctx.attempt, at: monotonicMs() }); },
    { consumer: 'c1', blockMs: 3_000, visibilityTimeoutMs: 20_000, reclaimIntervalMs: 5_000 });
  await sub.ready();
  await new Promise((r) => setTimeout(r, 300)); // the blocking read is sent
  const sentAt = monotonicMs();
  await sf.publishMany(topic, [{ n: 1 }, { n: 2 }]);
  const { droppedReply } = await cut;
  expect(droppedReply).toMatch(/payload/); // the reply that was lost carried the entries
  await waitFor(() => handled.length >= 2, { timeoutMs: 2_500, message: 'both entries handled well under the visibility timeout (20 s)' });
  expect(handled.map((h) => h.n).sort()).toEqual([1, 2]);
  expect(handled.every((h) => h.attempt === 1 && h.at - sentAt < 2_500)).toBe(true);
  await waitFor(async () => (await direct.xpending(topicKeys(sf.prefix, topic.name).stream, 'g'))[0] === 0, { message: 'acked' });
  await new Promise((r) => setTimeout(r, 300));
  expect(handled).toHaveLength(2); // once each
});
