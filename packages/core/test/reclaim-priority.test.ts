import { waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

test('under sustained load, entries of a dead consumer are reclaimed before new work, not after the backlog drains', async () => {
  const sf = env.client();
  const topic = defineTopic<{ n: number }>('busy');
  const stream = topicKeys(sf.prefix, topic.name).stream;
  await sf.redis.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
  const [orphan] = await sf.publishMany(topic, [{ n: -1 }]);
  // A consumer takes the entry and dies without acking.
  const raw = env.server().client();
  await raw.xreadgroup('GROUP', 'g', 'dead', 'COUNT', 1, 'STREAMS', stream, '>');
  raw.disconnect();
  // A long backlog of new work keeps every slot of the live consumer busy.
  await sf.publishMany(topic, Array.from({ length: 400 }, (_, n) => ({ n })));
  const order: number[] = [];
  const sub = sf.subscribe(topic, 'g', async (p) => {
    order.push(p.n);
    await new Promise((r) => setTimeout(r, 10));
  }, { concurrency: 2, visibilityTimeoutMs: 300, reclaimIntervalMs: 100 });
  await waitFor(() => order.includes(-1), { timeoutMs: 20_000, message: 'the orphan was reclaimed' });
  // 400 entries at 2 × 10 ms take ≥ 2 s; the orphan is due after 300 ms, so it must come early.
  expect(order.indexOf(-1)).toBeLessThan(200);
  const st = await sf.waitFor(topic, orphan!, { timeoutMs: 20_000 });
  expect(st.groups.g).toMatchObject({ state: 'succeeded', attempts: 2 });
  await sub.close();
});
