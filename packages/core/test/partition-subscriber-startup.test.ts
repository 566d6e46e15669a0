import { defineTopic } from './partition-helpers';
import { useRedis } from './helpers';

const env = useRedis();

/**
 * The partitioned consumers of one client share one subscriber connection for rebalance notices
 * (rebalance-notice.ts). Several subscribed in the same tick, before that connection was ready,
 * must all start cleanly: before, a SUBSCRIBE sent while ioredis was still running its ready check
 * (INFO) put the connection in subscriber mode under the check, which failed with "Connection in
 * subscriber mode, only subscriber commands may be used", reported as an error of a consumer
 * (1 start in 3 or so under load).
 */
test('partitioned consumers of one client subscribed in the same tick start without errors', async () => {
  const errors: string[] = [];
  for (let round = 0; round < 6; round++) {
    const sf = env.client();
    sf.on('error', (e) => errors.push(`client: ${e.message}`));
    const topic = defineTopic<{ n: number }>(`orders-${round}`, { partitions: 4 });
    const subs = ['billing', 'email', 'audit'].map((g) => {
      const sub = sf.subscribe(topic, g, () => undefined, { startFrom: 'latest', leaseMs: 1000, blockMs: 100, ...(g === 'audit' ? { ordering: 'key' as const } : {}) });
      sub.on('error', (e) => errors.push(`${g}: ${(e as Error).message}`));
      return sub;
    });
    await Promise.all(subs.map((s) => s.ready()));
    const ids = await sf.publishMany(topic, [{ n: 1 }, { n: 2 }], { keys: ['a', 'b'] });
    for (const id of ids) await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    await Promise.all(subs.map((s) => s.close()));
  }
  expect(errors).toEqual([]);
}, 60_000);
