import type Redis from 'ioredis';
import { uniquePrefix, waitFor } from '@streamfan/testing';
import { defineTopic } from '../src';
import { readSuccessMatrix, topicKeys } from '../src/internal';
import { runScript } from '../src/scripts/runner';
import { buildAck, type PendingAck } from '../src/consumer/ack-batcher';
import { findRecord, recordToken } from '../src/status-records';
import { LazyAbort } from '../src/consumer/in-flight';
import { useRedis } from './helpers';

const env = useRedis();

/**
 * Protocol 2's compact status: a plain success (no result) is a record in the group's success
 * bucket `T:ok:<group>:<second>`, not a per-event hash; everything else keeps the hash.
 */
describe('success buckets', () => {
  test('a plain success is read from the bucket: succeeded, attempts, when; no status hash; one bucket key per group with a TTL of the window', async () => {
    const sf = env.client({ statusTtlSeconds: 3600 });
    const topic = defineTopic<{ n: number }>('plain');
    const groups = ['a', 'b', 'c'];
    const subs = groups.map((g) => sf.subscribe(topic, g, () => undefined, { startFrom: 'beginning' }));
    await Promise.all(subs.map((s) => s.ready()));
    const before = Date.now();
    const id = await sf.publish(topic, { n: 1 });
    const st = await sf.waitFor(topic, id, { timeoutMs: 5000 });
    const keys = topicKeys(sf.prefix, topic.name);
    for (const g of groups) {
      expect(st.groups[g]).toMatchObject({ state: 'succeeded', attempts: 1 });
      expect(st.groups[g]!.consumer).toBeUndefined();
      expect(st.groups[g]!.result).toBeUndefined();
      const at = st.groups[g]!.updatedAt!.getTime();
      expect(at).toBeGreaterThanOrEqual(before - 1000);
      expect(at).toBeLessThanOrEqual(Date.now() + 1000);
      expect(st.groups[g]!.finishedAt).toEqual(st.groups[g]!.updatedAt);
      const { second } = recordToken(id);
      const ttl = await sf.redis.ttl(keys.ok(g, second));
      expect(ttl).toBeGreaterThan(3590);
      expect(ttl).toBeLessThanOrEqual(3601);
    }
    expect(await sf.redis.exists(keys.status(id))).toBe(0);
    // The CLI's show (core showEvent) finds it too, also once the entry is trimmed.
    await sf.redis.xdel(keys.stream, id);
    const again = await sf.status(topic, id);
    expect(again.inStream).toBe(false);
    for (const g of groups) expect(again.groups[g]).toMatchObject({ state: 'succeeded', attempts: 1 });
  });

  test('mixed states: a result keeps the hash (with its consumer), a retry that succeeds plainly is read from the bucket with its attempts and the earlier error, a dead letter stays dead', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('mixed');
    let tries = 0;
    const subs = [
      sf.subscribe(topic, 'plain', () => undefined, { startFrom: 'beginning' }),
      sf.subscribe(topic, 'result', () => ({ ok: true }), { startFrom: 'beginning' }),
      sf.subscribe(topic, 'retry', () => { if (++tries < 3) throw new Error('not yet'); }, { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 50 } }),
      sf.subscribe(topic, 'dead', () => { throw new Error('never'); }, { startFrom: 'beginning', maxAttempts: 1 }),
    ];
    await Promise.all(subs.map((s) => s.ready()));
    const id = await sf.publish(topic, { n: 1 });
    const st = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(st.groups.plain).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(st.groups.result).toMatchObject({ state: 'succeeded', attempts: 1, result: { ok: true }, consumer: subs[1]!.consumer });
    expect(st.groups.retry).toMatchObject({ state: 'succeeded', attempts: 3, error: 'Error: not yet' });
    expect(st.groups.retry!.updatedAt).toBeInstanceOf(Date);
    expect(st.groups.dead).toMatchObject({ state: 'dead', attempts: 1 });
    const keys = topicKeys(sf.prefix, topic.name);
    const hash = await sf.redis.hgetall(keys.status(id));
    expect(hash['result:state']).toBe('succeeded');
    expect(hash['plain:state']).toBeUndefined();
    expect(hash['retry:state']).toBe('processing'); // written by the retry's start; the bucket says how it ended
    const { second } = recordToken(id);
    expect(await sf.redis.exists(keys.ok('result', second), keys.ok('dead', second))).toBe(0);
    expect(findRecord(await sf.redis.get(keys.ok('retry', second)) ?? '', second, recordToken(id).token)).toMatchObject({ attempts: 3 });
  });

  test('a status hash written by a protocol 1 consumer (a plain success in the hash) is still read', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('v1');
    const keys = topicKeys(sf.prefix, topic.name);
    const id = await sf.publish(topic, { n: 1 });
    await sf.redis.xgroup('CREATE', keys.stream, 'old', '$');
    await sf.redis.hset(keys.status(id), 'old:state', 'succeeded', 'old:attempts', '2', 'old:consumer', 'c-1', 'old:updatedAt', '1700000000000');
    const st = await sf.status(topic, id);
    expect(st.groups.old).toMatchObject({ state: 'succeeded', attempts: 2, consumer: 'c-1', updatedAt: new Date(1700000000000) });
  });

  test('readSuccessMatrix (listings such as the dashboard): the records of a page of events in several groups, one GET per group and second', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('matrix');
    const subs = ['a', 'b'].map((g) => sf.subscribe(topic, g, (p) => (g === 'b' && p.n === 2 ? { kept: true } : undefined), { startFrom: 'beginning' }));
    await Promise.all(subs.map((x) => x.ready()));
    const ids = await sf.publishMany(topic, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    for (const id of ids) await sf.waitFor(topic, id, { timeoutMs: 5000 });
    const m = await readSuccessMatrix(sf.redis, topicKeys(sf.prefix, topic.name), ids, ['a', 'b', 'none']);
    for (const id of ids) expect(m.get(id)?.get('a')).toMatchObject({ attempts: 1 });
    expect(m.get(ids[0]!)?.get('b')).toMatchObject({ attempts: 1 });
    expect(m.get(ids[1]!)?.has('b')).toBe(false); // a result: in the status hash
    expect([...m.values()].some((row) => row.has('none'))).toBe(false);
  });

  test('status tracking off writes no bucket', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('untracked');
    let done = 0;
    const sub = sf.subscribe(topic, 'quiet', () => { done++; }, { startFrom: 'beginning', trackStatus: false });
    await sub.ready();
    const id = await sf.publish(topic, { n: 1 });
    await waitFor(() => done === 1, { message: 'handled' });
    await waitFor(async () => (await sf.groups(topic))[0]?.pending === 0, { message: 'acked' });
    expect(await sf.redis.keys(`${sf.prefix}:*:ok:*`)).toEqual([]);
    expect((await sf.status(topic, id)).groups.quiet!.state).toBe('unknown');
  });

  test('a partitioned topic\'s unordered group records plain successes in its partition\'s buckets', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('parts', { partitions: 3 });
    const sub = sf.subscribe(topic, 'g', () => undefined, { startFrom: 'beginning', leaseMs: 3000, blockMs: 100 });
    await sub.ready();
    const ids = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => sf.publish(topic, { n }, { key: `k${n}` })));
    for (const id of ids) {
      const st = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
      expect(st.groups.g).toMatchObject({ state: 'succeeded', attempts: 1 });
    }
    expect((await sf.redis.keys(`${sf.prefix}:{parts#*}:ok:g:*`)).length).toBeGreaterThan(0);
    expect(await sf.redis.keys(`${sf.prefix}:{parts#*}:status:*`)).toEqual([]);
  });

  test('3 groups, 3,000 plain successes: the buckets hold well under 200 B per event (MEMORY USAGE)', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('mem');
    const groups = ['a', 'b', 'c'];
    const subs = groups.map((g) => sf.subscribe(topic, g, () => undefined, { startFrom: 'beginning', concurrency: 100 }));
    await Promise.all(subs.map((s) => s.ready()));
    const n = 3000;
    const ids: string[] = [];
    for (let i = 0; i < n; i += 500) ids.push(...(await sf.publishMany(topic, Array.from({ length: 500 }, (_, j) => ({ n: i + j })))));
    await waitFor(async () => (await sf.groups(topic)).every((g) => g.pending === 0 && g.lag === 0), { timeoutMs: 20_000, message: 'all handled' });
    const bucketKeys = await sf.redis.keys(`${sf.prefix}:*:ok:*`);
    expect(bucketKeys.length).toBeGreaterThan(0);
    let bytes = 0;
    for (const k of bucketKeys) bytes += Number(await sf.redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
    // Structural bound, generous: records are ~4 B per group per event (~50 B with 3 groups
    // in the bench); today's hash took ~400 B.
    expect(bytes / n).toBeLessThan(120);
    expect(await sf.redis.keys(`${sf.prefix}:*:status:*`)).toEqual([]);
    const st = await sf.status(topic, ids[1234]!);
    for (const g of groups) expect(st.groups[g]).toMatchObject({ state: 'succeeded', attempts: 1 });
  });
});

describe('ackBatch (protocol 2) at the script level', () => {
  let redis: Redis;
  beforeAll(() => { redis = env.server().client(); });
  afterAll(() => { redis.disconnect(); });

  const target = (keys: ReturnType<typeof topicKeys>, consumer = 'c', ttl = 100) => ({
    keys, group: 'g', consumer, statusTtlSeconds: ttl, trackStatus: true, publishMode: () => 'P' as const,
  });
  const pending = (stream: string, entryId: string, deliveries = 1, base = 0, eventId = entryId): PendingAck => ({
    f: { entryId, eventId, stream, base, attempt: base + deliveries, startedAt: 0, leasedAt: 0, abort: new LazyAbort(), leaseLost: false },
    encoded: '', result: undefined,
  });

  async function setup(n: number): Promise<{ keys: ReturnType<typeof topicKeys>; ids: string[] }> {
    const keys = topicKeys(uniquePrefix(), 't');
    await redis.xgroup('CREATE', keys.stream, 'g', '$', 'MKSTREAM');
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await redis.xadd(keys.stream, `1700000000${String(100 + i)}-${i}`, 'payload', '1'))!);
    await redis.xreadgroup('GROUP', 'g', 'c', 'COUNT', n, 'STREAMS', keys.stream, '>');
    return { keys, ids };
  }

  test('one APPEND per bucket, one marker per call; the TTL is set when the key has none or too little, and left alone otherwise', async () => {
    const { keys, ids } = await setup(4);
    const t = target(keys);
    const call = (list: string[]) => {
      const { keys: k, args } = buildAck(t, keys.stream, true, list.map((id) => pending(keys.stream, id)), []);
      return runScript<number[]>(redis, 'ackBatch', k, args);
    };
    expect(await call([ids[0]!, ids[1]!])).toEqual([2, 0]);
    const bucket = keys.ok('g', 1700000000);
    expect(await redis.ttl(bucket)).toBe(101);
    expect(await redis.get(bucket)).toMatch(/^@\d+;2s;2t-1;$/); // ms 100 and 101 of second 1700000000, base 36
    await redis.expire(bucket, 5000); // a longer TTL than the window: left alone
    expect(await call([ids[2]!])).toEqual([1, 0]);
    expect(await redis.ttl(bucket)).toBeGreaterThan(4990);
    await redis.expire(bucket, 50); // would expire before a window from now: refreshed
    expect(await call([ids[3]!])).toEqual([1, 0]);
    expect(await redis.ttl(bucket)).toBe(101);
    const s = (await redis.get(bucket))!;
    expect(s.split(';').filter((x) => x.startsWith('@'))).toHaveLength(3);
    for (const id of ids) expect(findRecord(s, 1700000000, recordToken(id).token)).toMatchObject({ attempts: 1 });
    expect(await redis.xpending(keys.stream, 'g', '-', '+', 10)).toEqual([]);
  });

  test('an entry another consumer holds, or whose deliveries changed: nothing is written and the reply says which', async () => {
    const { keys, ids } = await setup(3);
    await redis.xclaim(keys.stream, 'g', 'other', 0, ids[1]!); // another consumer took ids[1]
    await redis.xclaim(keys.stream, 'g', 'c', 0, ids[2]!); // ids[2] delivered twice now
    const { keys: k, args } = buildAck(target(keys), keys.stream, true, ids.map((id) => pending(keys.stream, id)), []);
    expect(await runScript(redis, 'ackBatch', k, args)).toEqual([-1, 1, ids[1], ids[2], 2]);
    expect(await redis.exists(keys.ok('g', 1700000000))).toBe(0);
    expect((await redis.xpending(keys.stream, 'g', '-', '+', 10) as unknown[]).length).toBe(3);
    // The caller's second call: ids[1] by the per-entry path (refused), ids[2] with 2 deliveries.
    const again = buildAck(target(keys), keys.stream, true, [pending(keys.stream, ids[0]!), pending(keys.stream, ids[2]!, 2)],
      [{ ...pending(keys.stream, ids[1]!), encoded: '' }]);
    expect(await runScript(redis, 'ackBatch', again.keys, again.args)).toEqual([2, 0, ids[1]]);
    const s = (await redis.get(keys.ok('g', 1700000000)))!;
    expect(findRecord(s, 1700000000, recordToken(ids[2]!).token)).toMatchObject({ attempts: 2 });
    expect(findRecord(s, 1700000000, recordToken(ids[1]!).token)).toBeUndefined();
  });

  test('the readStatus script finds the last record of an id and the marker before it', async () => {
    const keys = topicKeys(uniquePrefix(), 't');
    await redis.set(keys.ok('g', 5), '@12;a;b-2:3;@40;a1;');
    await redis.set(keys.ok('h', 5), 'garbage;;@x;b-2;');
    const reply = await runScript(redis, 'readStatus', [keys.ok('g', 5), keys.ok('h', 5), keys.ok('none', 5)], ['b-2']);
    expect(reply).toEqual([3, '12', 1, '', 0, '']);
    expect(await runScript(redis, 'readStatus', [keys.ok('g', 5)], ['a'])).toEqual([1, '12']);
    expect(await runScript(redis, 'readStatus', [keys.ok('g', 5)], ['a1'])).toEqual([1, '40']);
    await expect(runScript(redis, 'readStatus', [keys.ok('g', 5)], ['A;'])).rejects.toThrow(/invalid argument token/);
  });
});

