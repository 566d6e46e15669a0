import { waitFor } from '@streamfan/testing';
import { defineTopic, partitionKeys } from './partition-helpers';
import { useRedis } from './helpers';
import { acquireLease, ownerId } from '../src/partitions/leases';
import { runScript } from '../src/scripts/runner';

/**
 * Ordered groups (`ordering: 'key'`) write protocol 2's compact success records for a plain
 * success (issue 17), as unordered groups do: no status hash per event, a record of a few bytes
 * in the group's success bucket of the event's second (in the partition's slot). status(),
 * waitFor and the success matrix still answer `succeeded` with attempts and time; a result, a
 * retry's error, a dead letter still go to the hash. The byte figures are printed (measured, not
 * asserted).
 */
const env = useRedis();
jest.setTimeout(180_000);

const usedMemory = async (redis: import('ioredis').default): Promise<number> => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);

async function scan(redis: import('ioredis').default, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...batch);
  } while (cursor !== '0');
  return out;
}

test('bytes per event of an ordered group\'s plain successes: no status hash, success buckets (figures printed)', async () => {
  const sf = env.client();
  const partitions = 4;
  const N = Number(process.env.ORDERED_MEMORY_EVENTS ?? 4000);
  const figures: string[] = [];
  for (const groups of [1, 3]) {
    const topic = defineTopic<{ key: string; n: number }>(`mem${groups}`, { partitions });
    const names = Array.from({ length: groups }, (_, i) => `g${i}`);
    let done = 0;
    const subs = names.map((g) => sf.subscribe(topic, g, () => { done++; }, { ordering: 'key', startFrom: 'beginning', concurrency: 50, leaseMs: 5000 }));
    await Promise.all(subs.map((s) => s.ready()));
    const before = await usedMemory(sf.redis);
    for (let i = 0; i < N; i += 500) {
      const batch = Array.from({ length: Math.min(500, N - i) }, (_, j) => ({ key: `k${(i + j) % 200}`, n: i + j }));
      await sf.publishMany(topic, batch, { keys: batch.map((p) => p.key) });
    }
    await waitFor(() => done >= N * groups, { timeoutMs: 150_000, intervalMs: 50, message: `${N * groups} handled (${done})` });
    await waitFor(async () => {
      for (let p = 0; p < partitions; p++) {
        for (const g of names) {
          const pending = (await sf.redis.xpending(partitionKeys(sf.prefix, topic.name, p).stream, g)) as [number];
          if (Number(pending[0]) > 0) return false;
        }
      }
      return true;
    }, { timeoutMs: 30_000, message: 'every entry acknowledged' });
    const after = await usedMemory(sf.redis);
    const hashes = await scan(sf.redis, `${sf.prefix}:{${topic.name}#*}:status:*`);
    const buckets = await scan(sf.redis, `${sf.prefix}:{${topic.name}#*}:ok:*`);
    const usage = async (keys: string[]) => {
      let sum = 0;
      for (const k of keys) sum += Number(await sf.redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
      return sum;
    };
    const hashBytes = await usage(hashes);
    const bucketBytes = await usage(buckets);
    const beforeFree = await usedMemory(sf.redis);
    for (let i = 0; i < hashes.length + buckets.length; i += 500) await sf.redis.unlink(...[...hashes, ...buckets].slice(i, i + 500));
    await new Promise((r) => setTimeout(r, 300));
    const freed = beforeFree - (await usedMemory(sf.redis));
    figures.push(`ordered, ${groups} group(s), ${N} events, ${partitions} partitions: used_memory ${((after - before) / N).toFixed(0)} B/event; status hashes ${hashes.length} (${(hashBytes / N).toFixed(1)} B/event by MEMORY USAGE), success buckets ${buckets.length} (${(bucketBytes / N).toFixed(1)} B/event); status freed by UNLINK ${(freed / N).toFixed(1)} B/event`);
    console.log(figures[figures.length - 1]);
    await Promise.all(subs.map((s) => s.close()));
    expect(hashes).toHaveLength(0);
    expect(buckets.length).toBeGreaterThan(0);
  }
});

test('an ordered group\'s plain success answers status(), waitFor and the success matrix as before: succeeded, attempts, time; results, retries\' errors and dead letters in the hash', async () => {
  const sf = env.client();
  const topic = defineTopic<{ key: string; n: number }>('orders', { partitions: 2 });
  const tries = new Map<number, number>();
  const sub = sf.subscribe(topic, 'ship', (p, ctx) => {
    tries.set(p.n, (tries.get(p.n) ?? 0) + 1);
    if (p.n === 1 && ctx.attempt === 1) throw new Error('once');
    if (p.n === 2) return { label: 'L2' };
    if (p.n === 3) ctx.deadLetter('bad address');
    return undefined;
  }, { ordering: 'key', startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 50 }, concurrency: 4 });
  const plain = sf.subscribe(topic, 'audit', () => undefined, { startFrom: 'beginning', concurrency: 4 });
  await Promise.all([sub.ready(), plain.ready()]);
  const ids: string[] = [];
  for (let n = 0; n < 4; n++) ids.push(await sf.publish(topic, { key: `k${n}`, n }, { key: `k${n}` }));
  const results = await Promise.all(ids.map((id) => sf.waitFor(topic, id, { timeoutMs: 30_000 })));
  expect(results.map((r) => r.groups.ship?.state)).toEqual(['succeeded', 'succeeded', 'succeeded', 'dead']);

  const s0 = await sf.status(topic, ids[0]!);
  expect(s0.groups.ship).toMatchObject({ state: 'succeeded', attempts: 1 });
  expect(s0.groups.ship!.updatedAt).toBeInstanceOf(Date);
  expect(s0.groups.audit).toMatchObject({ state: 'succeeded', attempts: 1 });
  // A retry then a plain success: attempts 2, the failed attempt's error kept (as unordered groups keep it).
  const s1 = await sf.status(topic, ids[1]!);
  expect(s1.groups.ship).toMatchObject({ state: 'succeeded', attempts: 2, error: expect.stringContaining('once') });
  const s2 = await sf.status(topic, ids[2]!);
  expect(s2.groups.ship).toMatchObject({ state: 'succeeded', attempts: 1, result: { label: 'L2' } });
  const s3 = await sf.status(topic, ids[3]!);
  expect(s3.groups.ship).toMatchObject({ state: 'dead', error: expect.stringContaining('bad address') });

  // Where it is kept: event 0's status has no hash in its partition (both groups plain), only buckets.
  const at = (id: string) => { const m = /^p(\d+):(.+)$/.exec(id)!; return { keys: partitionKeys(sf.prefix, topic.name, Number(m[1])), local: m[2]! }; };
  const e0 = at(ids[0]!);
  expect(await sf.redis.exists(e0.keys.status(e0.local))).toBe(0);
  const second = Math.floor(Number(e0.local.split('-')[0]) / 1000);
  expect(await sf.redis.exists(e0.keys.ok('ship', second))).toBe(1);
  expect(await sf.redis.ttl(e0.keys.ok('ship', second))).toBeGreaterThan(86_000);
  const e2 = at(ids[2]!);
  expect(await sf.redis.hget(e2.keys.status(e2.local), 'ship:state')).toBe('succeeded');
  await sub.close();
  await plain.close();
});

test('trackStatus: false writes no success record for an ordered group', async () => {
  const sf = env.client();
  const topic = defineTopic<{ key: string }>('quiet', { partitions: 1 });
  let done = 0;
  const sub = sf.subscribe(topic, 'q', () => { done++; }, { ordering: 'key', startFrom: 'beginning', trackStatus: false });
  await sub.ready();
  await sf.publishMany(topic, Array.from({ length: 5 }, (_, i) => ({ key: `k${i}` })), { keys: Array.from({ length: 5 }, (_, i) => `k${i}`) });
  await waitFor(() => done >= 5, { timeoutMs: 20_000 });
  await sub.close();
  expect(await scan(sf.redis, `${sf.prefix}:{quiet#*}:ok:*`)).toEqual([]);
  expect(await scan(sf.redis, `${sf.prefix}:{quiet#*}:status:*`)).toEqual([]);
});

test('settleOrdered checks the bucket start and the record before any write; a dead letter still goes through the shared include', async () => {
  const sf = env.client();
  const topic = defineTopic<{ key: string }>('checks', { partitions: 1 });
  const id = await sf.publish(topic, { key: 'k' }, { key: 'k' });
  const local = id.split(':')[1]!;
  const keys = partitionKeys(sf.prefix, topic.name, 0);
  await sf.redis.xgroup('CREATE', keys.stream, 'g', '0');
  await sf.redis.xgroup('CREATE', keys.redeliver('g'), 'g', '0', 'MKSTREAM');
  const lease = await acquireLease(sf.redis, keys, 'g', ownerId('a', 'x1'), 5000);
  if (!lease.acquired) throw new Error('not acquired');
  await runScript(sf.redis, 'readOwned', [keys.lease('g'), keys.redeliver('g'), keys.stream], ['g', 'a', lease.token, 10]);
  const second = Math.floor(Number(local.split('-')[0]) / 1000);
  const settle = (outcome: string, start: string | number, record: string, reason = '') => runScript<string[]>(sf.redis, 'settleOrdered',
    [keys.lease('g'), keys.stream, keys.backoff('g'), keys.status(local), keys.waiters, keys.deadLetters('g'), keys.ok('g', second)],
    ['g', 'a', lease.token, local, local, outcome, 1, outcome === 'dead' ? 'boom' : '', reason, 0, 0, keys.done, '1', 'P', start, record]);
  await expect(settle('succeeded', 'soon', 'x;')).rejects.toThrow(/invalid argument bucket start/);
  await expect(settle('succeeded', second * 1000, 'x')).rejects.toThrow(/invalid argument record/);
  await expect(settle('succeeded', second * 1000, '<b>;')).rejects.toThrow(/invalid argument record/);
  await expect(settle('dead', second * 1000, '', 'bored')).rejects.toThrow(/invalid argument reason/);
  expect(Number((await sf.redis.xpending(keys.stream, 'g'))[0])).toBe(1); // nothing acknowledged
  expect(await sf.redis.exists(keys.ok('g', second))).toBe(0);
  // A dead letter: the shared include copies the entry with its key, and the hash says dead.
  const dead = await settle('dead', second * 1000, '', 'handler');
  expect(dead[0]).toBe('dead');
  const [dlqId, flat] = ((await sf.redis.xrange(keys.deadLetters('g'), '-', '+')) as Array<[string, string[]]>)[0]!;
  expect(dlqId).toBe(dead[1]);
  const f = Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!]));
  expect(f).toMatchObject({ id: local, entry: local, key: 'k', attempts: '1', error: 'boom', reason: 'handler', consumer: 'a' });
  expect(await sf.redis.hmget(keys.status(local), 'g:state', 'g:deadLetterId')).toEqual(['dead', dlqId]);
});
