import { sleep, waitFor } from '@streamfan/testing';
import { InvalidOptionError, defineTopic, partitionForKey, partitionKeys, readLeasesForTest, type HandlerContext, type PartitionContext } from './partition-helpers';
import { useRedis } from './helpers';

const env = useRedis();

describe('subscribe on a partitioned topic (unordered)', () => {
  test('one consumer takes every partition, handles every event once, with public ids; waitFor and status by p<i>: ids', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('orders', { partitions: 6 });
    const seen: Array<{ n: number; id: string; topic: string; partition: number; token: number }> = [];
    const sub = sf.subscribe(topic, 'billing', (p, ctx) => {
      const c = ctx as HandlerContext & PartitionContext;
      seen.push({ n: p.n, id: c.id, topic: c.topic, partition: c.partition, token: c.fencingToken });
      return { ok: p.n };
    }, { startFrom: 'latest', leaseMs: 1000, blockMs: 100 });
    await sub.ready();
    const processed: string[] = [];
    sub.on('processed', (e) => processed.push(e.id));
    const keys = Array.from({ length: 60 }, (_, i) => `order-${i % 13}`);
    const ids = await sf.publishMany(topic, keys.map((_, n) => ({ n })), { keys });
    const last = await sf.waitFor(topic, ids[59]!, { timeoutMs: 10_000 });
    expect(last).toMatchObject({ id: ids[59], eventId: ids[59], partition: partitionForKey(keys[59]!, 6), groups: { billing: { state: 'succeeded', result: { ok: 59 } } } });
    await waitFor(() => seen.length >= 60, { timeoutMs: 10_000 });
    expect(seen.map((s) => s.n).sort((a, b) => a - b)).toEqual(keys.map((_, n) => n));
    for (const s of seen) {
      expect(s.id).toBe(ids[s.n]);
      expect(s.topic).toBe('orders');
      expect(s.partition).toBe(partitionForKey(keys[s.n]!, 6));
      expect(s.token).toBeGreaterThan(0);
    }
    await waitFor(() => processed.length >= 60);
    expect(new Set(processed)).toEqual(new Set(ids));
    expect((await sf.status(topic, ids[0]!)).groups.billing!.state).toBe('succeeded');
    // The group exists on every partition, made by the first subscriber.
    for (let i = 0; i < 6; i++) {
      const groups = (await sf.redis.xinfo('GROUPS', partitionKeys(sf.prefix, 'orders', i).stream)) as unknown[][];
      expect(groups.map((g) => g[1])).toEqual(['billing']);
    }
    expect(sub.stats.processed).toBe(60);
    await sub.close();
    expect(sub.stats.processed).toBe(60); // counts kept after the partitions' subscriptions closed
  });

  test('startFrom latest: events published after subscribe() are delivered on every partition, even before their partition is taken', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('late', { partitions: 4 });
    await sf.publishMany(topic, [{ n: -1 }, { n: -2 }], { keys: ['a', 'b'] }); // before: not delivered
    const got: number[] = [];
    const sub = sf.subscribe(topic, 'g', (p) => { got.push(p.n); }, { leaseMs: 1000, blockMs: 100 });
    const ids = await sf.publishMany(topic, [0, 1, 2, 3, 4, 5, 6, 7].map((n) => ({ n })), { keys: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] });
    await sub.ready();
    for (const id of ids) await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(got.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await sub.close();
  });

  test('consumers of a group share the partitions, rebalance when one joins and when one leaves, and every event ends succeeded', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('shared', { partitions: 6 });
    const handledBy = new Map<number, string[]>();
    const make = (name: string) => sf.subscribe(topic, 'g', async (p) => {
      handledBy.set(p.n, [...(handledBy.get(p.n) ?? []), name]);
      await sleep(2);
    }, { consumer: name, startFrom: 'beginning', leaseMs: 1000, blockMs: 50, concurrency: 4 });
    const a = make('a');
    await a.ready();
    const owned = (s: unknown) => (s as { owned: ReadonlyMap<number, number> }).owned.size;
    await waitFor(() => owned(a) === 6, { timeoutMs: 5000 });
    const b = make('b');
    await b.ready();
    await waitFor(() => owned(a) === 3 && owned(b) === 3, { timeoutMs: 10_000, message: 'a and b hold 3 each' });
    const first = await sf.publishMany(topic, Array.from({ length: 120 }, (_, n) => ({ n })), { keys: Array.from({ length: 120 }, (_, n) => `k${n}`) });
    for (const id of first) await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    const names = new Set([...handledBy.values()].flat());
    expect(names).toEqual(new Set(['a', 'b']));
    // No two consumers hold one partition.
    const leases = await readLeasesForTest(sf, 'shared', 6, 'g');
    expect(leases.filter((l) => l.owner?.startsWith('a/')).length).toBe(3);
    expect(leases.filter((l) => l.owner?.startsWith('b/')).length).toBe(3);
    await a.close();
    await waitFor(() => owned(b) === 6, { timeoutMs: 10_000, message: 'b takes over a\'s partitions after a leaves' });
    const second = await sf.publishMany(topic, Array.from({ length: 60 }, (_, n) => ({ n: 1000 + n })), { keys: Array.from({ length: 60 }, (_, n) => `k${n}`) });
    for (const id of second) expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.g!.state).toBe('succeeded');
    for (let n = 1000; n < 1060; n++) expect(handledBy.get(n)).toEqual(['b']);
    for (const [, by] of handledBy) expect(by).toHaveLength(1); // nothing handled twice
    await b.close();
  });

  test('retries and dead letters happen in the event\'s partition; concurrency bounds handlers over all partitions', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number; fail?: number; dead?: boolean }>('jobs', { partitions: 4 });
    let running = 0;
    let most = 0;
    const attempts = new Map<number, number>();
    const sub = sf.subscribe(topic, 'w', async (p, ctx) => {
      running++;
      most = Math.max(most, running);
      try {
        attempts.set(p.n, ctx.attempt);
        await sleep(10);
        if (p.dead) ctx.deadLetter('poison');
        if (p.fail !== undefined && ctx.attempt <= p.fail) throw new Error(`boom ${ctx.attempt}`);
      } finally {
        running--;
      }
    }, { startFrom: 'beginning', concurrency: 3, leaseMs: 1000, blockMs: 50, backoff: { type: 'fixed', delayMs: 30 }, reclaimIntervalMs: 50 });
    await sub.ready();
    const payloads = Array.from({ length: 40 }, (_, n) => ({ n, ...(n % 5 === 0 ? { fail: 2 } : {}), ...(n === 7 ? { dead: true } : {}) }));
    const ids = await sf.publishMany(topic, payloads, { keys: payloads.map((p) => `key-${p.n}`) });
    const finals = await Promise.all(ids.map((id) => sf.waitFor(topic, id, { timeoutMs: 15_000 })));
    finals.forEach((s, n) => {
      if (n === 7) expect(s.groups.w).toMatchObject({ state: 'dead', error: 'poison' });
      else expect(s.groups.w).toMatchObject({ state: 'succeeded', attempts: n % 5 === 0 ? 3 : 1 });
    });
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBe(3);
    // The dead letter and the retries live in the event's partition.
    const p7 = partitionForKey('key-7', 4);
    const dlq = await sf.redis.xrange(partitionKeys(sf.prefix, 'jobs', p7).deadLetters('w'), '-', '+');
    expect(dlq).toHaveLength(1);
    expect(dlq[0]![1]).toContain(ids[7]!.split(':')[1]);
    const p0 = partitionForKey('key-0', 4);
    expect(await sf.redis.xlen(partitionKeys(sf.prefix, 'jobs', p0).redeliver('w'))).toBeGreaterThan(0);
    await sub.close();
  });

  test('entries left running by a consumer that closed with no grace are reclaimed by the next owner of their partition', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('hang', { partitions: 2 });
    let release = false;
    const a = sf.subscribe(topic, 'g', async (_p, ctx) => {
      while (!release && !ctx.signal.aborted) await sleep(10);
      if (ctx.signal.aborted) throw new Error('aborted');
    }, { consumer: 'a', startFrom: 'beginning', leaseMs: 1000, blockMs: 50, visibilityTimeoutMs: 300, reclaimIntervalMs: 50 });
    await a.ready();
    const ids = await sf.publishMany(topic, [{ n: 0 }, { n: 1 }], { keys: ['x', 'y'] });
    await waitFor(() => a.running.length === 2 || (a.running.length === 1 && partitionForKey('x', 2) === partitionForKey('y', 2)) ? true : undefined, { timeoutMs: 5000 });
    await a.close(0); // abandons both: left pending to a
    const reclaimed: string[] = [];
    const b = sf.subscribe(topic, 'g', () => 'done', { consumer: 'b', leaseMs: 1000, blockMs: 50, visibilityTimeoutMs: 300, reclaimIntervalMs: 50 });
    b.on('reclaimed', (e) => reclaimed.push(...e.ids));
    for (const id of ids) expect((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups.g).toMatchObject({ state: 'succeeded', consumer: 'b' });
    expect(reclaimed.sort()).toEqual([...ids].sort());
    release = true;
    await b.close();
  });

  test("partition options are refused on unpartitioned topics and checked on partitioned ones", () => {
    const sf = env.client();
    expect(() => sf.subscribe('plain', 'g', () => undefined, { leaseMs: 2000 })).toThrow(InvalidOptionError);
    expect(() => sf.subscribe('plain', 'g', () => undefined, { ordering: 'key' })).toThrow(/only to partitioned topics/);
    const topic = defineTopic('p', { partitions: 2 });
    expect(() => sf.subscribe(topic, 'g', () => undefined, { leaseMs: 10 })).toThrow(/leaseMs must be a whole number from 1000/);
    expect(() => sf.subscribe(topic, 'g', () => undefined, { ordering: 'fifo' as 'key' })).toThrow(/ordering must be/);
    expect(() => sf.subscribe(topic, 'g', () => undefined, { ordering: 'key', afterDeadLetter: 'park' as 'hold' })).toThrow(/afterDeadLetter must be 'continue' or 'hold'/);
    expect(() => sf.subscribe(topic, 'g', () => undefined, { afterDeadLetter: 'hold' })).toThrow(/only with ordering: 'key'/);
    expect(() => sf.subscribe(topic, 'g', () => undefined, { afterDeadLetter: 'continue' })).toThrow(/only with ordering: 'key'/);
    expect(() => sf.subscribe(topic, 'g', () => undefined, { ordering: 'key', maxHeldPerPartition: 0 })).toThrow(/maxHeldPerPartition must be/);
  });
});
