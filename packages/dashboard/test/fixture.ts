import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { Streamfan, defineTopic, topicKeys } from '@streamfan/core/internal';

/** Text that runs script if anything ever renders it as HTML. */
export const HOSTILE = {
  payload: { name: '<img src=x onerror="window.__pwned=1">', note: '</script><script>window.__pwned=2</script>' },
  headers: { 'x-evil': '</script><img src=x onerror="window.__pwned=3">' },
  consumer: '<img src=x onerror="window.__pwned=4">',
  group: '</script><img src=x onerror="window.__pwned=5">',
  topic: '<img src=x onerror="window.__pwned=6">',
};

/** A prefix with every kind of state the dashboard shows, on a throwaway redis-server. */
export interface Fixture {
  redis: RedisServer;
  sf: Streamfan;
  prefix: string;
  ids: string[];
  hostileId: string;
  delayedId: string;
  idempotentId: string;
  stop(): Promise<void>;
}

/**
 * Topic `orders` with 6 events (one hostile, one with an idempotency key) and one delayed
 * event; groups: email (all succeeded), billing (all dead after 2 attempts), retrier (every
 * event waiting for a retry in 10 min), audit (5 pending entries held by consumers that never
 * ack, one of them with a hostile name) and a hostile-named group; plus a raw stream whose
 * topic name is hostile.
 */
export async function startFixture(): Promise<Fixture> {
  const redis = await startRedis();
  const prefix = uniquePrefix('dash');
  const sf = new Streamfan({ connection: redis.url, prefix, retention: false });
  const orders = defineTopic<Record<string, unknown>>('orders');
  const keys = topicKeys(prefix, 'orders');
  const subs = [
    sf.subscribe(orders, 'email', async () => 'sent', { blockMs: 100 }),
    sf.subscribe(orders, 'billing', async () => { throw new Error('card declined: <b>bold</b> </script>'); }, { maxAttempts: 2, backoff: { type: 'fixed', delayMs: 20 }, blockMs: 100 }),
    sf.subscribe(orders, 'retrier', async () => { throw new Error('try later'); }, { maxAttempts: 5, backoff: { type: 'fixed', delayMs: 600_000 }, blockMs: 100 }),
  ];
  await Promise.all(subs.map((s) => s.ready()));
  await sf.redis.xgroup('CREATE', keys.stream, 'audit', '$');
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push(await sf.publish(orders, { order: i, total: 10 * i }));
  const hostileId = await sf.publish(orders, HOSTILE.payload, { headers: HOSTILE.headers });
  ids.push(hostileId);
  const idempotentId = await sf.publish(orders, { order: 42 }, { idempotencyKey: 'order-42' });
  ids.push(idempotentId);
  const delayedId = await sf.publish(orders, { order: 'later' }, { delayMs: 600_000 });
  await waitFor(async () => {
    const g = await sf.groups(orders);
    const by = (n: string) => g.find((x) => x.group === n);
    return by('email')?.pending === 0 && by('email')?.lag === 0 && by('billing')?.deadLetters === 6 && by('retrier')?.retrying === 6;
  }, { timeoutMs: 20_000, message: 'email done, billing 6 dead letters, retrier 6 retrying' });
  await Promise.all(subs.map((s) => s.close()));
  // Entries held by consumers that crashed: read, never acknowledged.
  await sf.redis.xreadgroup('GROUP', 'audit', 'crashed-worker', 'COUNT', 4, 'STREAMS', keys.stream, '>');
  await sf.redis.xreadgroup('GROUP', 'audit', HOSTILE.consumer, 'COUNT', 1, 'STREAMS', keys.stream, '>');
  await sf.redis.xgroup('CREATE', keys.stream, HOSTILE.group, '$');
  await sf.redis.xadd(`${prefix}:{${HOSTILE.topic}}:stream`, '*', 'payload', JSON.stringify(HOSTILE.payload));
  return {
    redis, sf, prefix, ids, hostileId, delayedId, idempotentId,
    async stop() {
      await sf.close();
      await redis.stop();
    },
  };
}
