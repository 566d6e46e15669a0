import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

describe('topic and redelivery entries with the same id', () => {
  test('are two deliveries: both leases kept, no second consumer runs either, close() waits for both', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('collide');
    const keys = topicKeys(sf.prefix, topic.name);
    const vt = 500;
    const starts = new Map<number, number>();
    let live = 0;
    const gates = new Map<number, () => void>();
    const handler = async (n: number) => {
      starts.set(n, (starts.get(n) ?? 0) + 1);
      live++;
      try {
        await new Promise<void>((r) => gates.set(n, r));
      } finally {
        live--;
      }
    };
    const opts = { startFrom: 'beginning' as const, visibilityTimeoutMs: vt, reclaimIntervalMs: 50 };
    const a = sf.subscribe(topic, 'g', handler, { ...opts, consumer: 'a', concurrency: 2 });
    await a.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(() => live === 1, { message: 'topic entry running' });
    // A retry copy that happens to get the same id in the redelivery stream (each stream
    // numbers its ids on its own; ids collide in practice).
    await sf.redis.xadd(keys.redeliver('g'), id, 'payload', '2', 'orig', id, 'base', '1');
    await waitFor(() => live === 2, { message: 'redelivery copy running too' });
    expect(a.stats.inFlight).toBe(2);

    const b = sf.subscribe(topic, 'g', handler, { ...opts, consumer: 'b' });
    await b.ready();
    await sleep(3 * vt);
    expect(Object.fromEntries(starts)).toEqual({ 1: 1, 2: 1 });

    let closed = false;
    let liveAtClose = -1;
    const closing = a.close(10_000).then(() => { closed = true; liveAtClose = live; });
    await sleep(100);
    gates.get(1)!();
    await sleep(300);
    expect(closed).toBe(false);
    gates.get(2)!();
    await closing;
    expect(liveAtClose).toBe(0);
    await b.close();
  });
});
