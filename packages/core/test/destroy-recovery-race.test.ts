import { waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import type { Subscription } from '../src';
import { useRedis } from './helpers';

// After XGROUP DESTROY the read loop and the reclaim tick often meet NOGROUP at the same moment,
// and each ran a recovery. The second one's take-back (adoptEntries) found the running entries
// pending already, for this very consumer (the first had just taken them back), counted them as
// another consumer's and aborted their handlers: their leases were no longer kept, another
// consumer reclaimed and ran them while they still ran (model seed 3 with `+destroy`:
// destroy-overlap, the first consumer's outcome refused as stale).
const env = useRedis();

test('two recoveries at once keep the running delivery: its handler is not aborted, its lease is kept and its ack counts', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('recovery-race');
  const stream = topicKeys(sf.prefix, topic.name).stream;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let aborted = '';
  let started = 0;
  const stale: string[][] = [];
  const sub = sf.subscribe(topic, 'g', async (_p, ctx) => {
    started++;
    ctx.signal.addEventListener('abort', () => { aborted = String((ctx.signal.reason as Error)?.message); });
    await gate;
  }, { startFrom: 'beginning', concurrency: 1, visibilityTimeoutMs: 60_000, reclaimIntervalMs: 60_000 });
  sub.on('stale', (e) => stale.push(e.ids));
  await sub.ready();
  const id = await sf.publish(topic, 'long');
  await waitFor(() => started === 1, { message: 'handler running' });

  await sf.redis.xgroup('DESTROY', stream, 'g');
  // What the read loop and the reclaim tick do when both meet the NOGROUP.
  const recover = (sub as unknown as { recover(reason: string): Promise<void> }).recover.bind(sub as Subscription<string>);
  await Promise.all([recover('test: read loop'), recover('test: reclaim tick')]);

  expect(aborted).toBe('');
  // Taken back into the recreated group, held by this consumer (its lease keeper renews it).
  const rows = (await sf.redis.xpending(stream, 'g', '-', '+', 10)) as Array<[string, string]>;
  expect(rows.map((r) => [r[0], r[1]])).toEqual([[id, sub.consumer]]);
  release();
  await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded', { message: 'its ack counted' });
  expect(stale).toEqual([]);
  expect(started).toBe(1);
  await sub.close();
});
