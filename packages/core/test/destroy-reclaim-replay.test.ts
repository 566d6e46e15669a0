import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

// After XGROUP DESTROY the recreated group starts where its position was last seen, so it may
// deliver again entries the group had finished; a consumer checks their status before running
// them (settledUpTo). Only first deliveries were checked: when the consumer that got such an
// entry stalled before it could check and acknowledge it, another consumer reclaimed it
// (delivery 2) and ran it again (model seed 10 with `+destroy`: destroy-replay, seqs 29 and 31).
const env = useRedis();

test('an entry the group had finished before the destroy, reclaimed from a stalled consumer of the recreated group, is acknowledged without running', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('destroy-reclaim');
  const stream = topicKeys(sf.prefix, topic.name).stream;
  const runs = new Map<string, number>();
  const recovered: string[] = [];
  const sub = sf.subscribe(topic, 'g', (p) => { runs.set(p, (runs.get(p) ?? 0) + 1); },
    { startFrom: 'beginning', visibilityTimeoutMs: 500, reclaimIntervalMs: 100 });
  sub.on('recovered', (e) => recovered.push(e.reason));
  await sub.ready();
  const id = await sf.publish(topic, 'done-before');
  await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded', { message: 'finished before the destroy' });

  await sf.redis.xgroup('DESTROY', stream, 'g');
  await waitFor(() => recovered.length > 0, { message: 'recovered' });
  // The recreated group delivered it again to a consumer that stalled before checking it: pending
  // for that one, delivered once, idle past the visibility timeout.
  await sf.redis.xclaim(stream, 'g', 'stalled', 0, id, 'IDLE', 10_000, 'RETRYCOUNT', 1, 'FORCE', 'JUSTID');
  await waitFor(async () => ((await sf.redis.xpending(stream, 'g')) as [number])[0] === 0, { timeoutMs: 10_000, message: 'reclaimed and acknowledged' });
  await sleep(200);
  expect(runs.get('done-before')).toBe(1);
  expect((await sf.status(topic, id)).groups.g?.state).toBe('succeeded');
  await sub.close();
});
