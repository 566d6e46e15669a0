import { sleep } from '@streamfan/testing';
import {
  InvalidIdError, InvalidOptionError, InvalidPartitionedIdError, PartialPublishError, PartitionCountMismatchError, WaitTimeoutError,
  defineTopic, partitionForKey, partitionKeys, topicKeys, topicMetaKeys,
} from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

/** `p<i>:<id>` → [i, id]. */
function split(id: string): [number, string] {
  const m = /^p(\d+):(.+)$/.exec(id);
  if (!m) throw new Error(`not a partitioned id: ${id}`);
  return [Number(m[1]), m[2]!];
}

describe('defineTopic({ partitions })', () => {
  test('a whole number from 1 to 1024; absent means unpartitioned (no field at all)', () => {
    expect(defineTopic('orders', { partitions: 12 }).partitions).toBe(12);
    expect(defineTopic('orders', { partitions: 1 }).partitions).toBe(1);
    expect(defineTopic('orders', { partitions: 1024 }).partitions).toBe(1024);
    expect(Object.keys(defineTopic('orders'))).not.toContain('partitions');
    for (const bad of [0, -1, 1.5, 1025, NaN, '3' as unknown as number, null as unknown as number]) {
      expect(() => defineTopic('orders', { partitions: bad })).toThrow(InvalidOptionError);
    }
    expect(() => defineTopic('orders', { partitions: 0 })).toThrow(/partitions must be a whole number from 1 to 1024, got 0/);
  });
});

describe('publish on a partitioned topic', () => {
  test('a key always lands in its murmur2 partition, with a key field; the id names the partition', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('orders', { partitions: 12 });
    for (const key of ['order-1', 'order-2', 'order-42', '', 'Straße', '😀']) {
      const id = await sf.publish(topic, { n: 1 }, { key });
      const [p, local] = split(id);
      expect(p).toBe(partitionForKey(key, 12));
      const entries = await sf.redis.xrange(partitionKeys(sf.prefix, 'orders', p).stream, local, local);
      expect(entries).toHaveLength(1);
      expect(entries[0]![1]).toEqual(['payload', '{"n":1}', 'headers', '', 'key', key]);
    }
    // The documented vectors (docs/partitions.md §1): order-42 → 0, order-1 → 10 of 12.
    expect(split(await sf.publish(topic, { n: 2 }, { key: 'order-42' }))[0]).toBe(0);
    expect(split(await sf.publish(topic, { n: 2 }, { key: 'order-1' }))[0]).toBe(10);
    // Nothing under the unpartitioned keys; the meta record holds the count.
    expect(await sf.redis.exists(topicKeys(sf.prefix, 'orders').stream)).toBe(0);
    expect(await sf.redis.hget(topicMetaKeys(sf.prefix, 'orders').meta, 'partitions')).toBe('12');
  });

  test('keys are checked: not a string, a lone surrogate, over 1024 bytes; a key on an unpartitioned topic is refused', async () => {
    const sf = env.client();
    const topic = defineTopic('orders', { partitions: 4 });
    await expect(sf.publish(topic, {}, { key: 42 as unknown as string })).rejects.toThrow(/key must be a string, got number/);
    await expect(sf.publish(topic, {}, { key: '\uD800' })).rejects.toThrow(/lone UTF-16 surrogate/);
    await expect(sf.publish(topic, {}, { key: 'k'.repeat(1025) })).rejects.toThrow(/1025 UTF-8 bytes, over the limit of 1024/);
    const plain = defineTopic('plain');
    await expect(sf.publish(plain, {}, { key: 'a' })).rejects.toThrow(InvalidOptionError);
    await expect(sf.publish(plain, {}, { key: 'a' })).rejects.toThrow(/topic "plain" is not partitioned/);
    await expect(sf.publishMany(plain, [{}], { key: 'a' })).rejects.toThrow(/not partitioned/);
    expect(await sf.redis.exists(topicKeys(sf.prefix, 'plain').stream)).toBe(0);
  });

  test('keyless events spread over every partition; single publishes of one turn go together to one', async () => {
    const sf = env.client();
    const topic = defineTopic('clicks', { partitions: 4 });
    const seen = new Map<number, number>();
    for (let i = 0; i < 40; i++) {
      const [p] = split(await sf.publish(topic, { i }));
      seen.set(p, (seen.get(p) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual([0, 1, 2, 3]);
    for (const n of seen.values()) expect(n).toBe(10); // fewest-sent first: exactly even for single events
    const together = await Promise.all(Array.from({ length: 20 }, (_, i) => sf.publish(topic, { i })));
    expect(new Set(together.map((id) => split(id)[0])).size).toBe(1);
    const [p] = split(together[0]!);
    const entries = await sf.redis.xrange(partitionKeys(sf.prefix, 'clicks', p).stream, '-', '+');
    expect(entries.at(-1)![1]).toEqual(['payload', '{"i":19}', 'headers', '']); // keyless: no key field
  });

  test('publishMany groups by partition: ids in input order, each key in its partition in input order, keyless together', async () => {
    const sf = env.client();
    const topic = defineTopic<{ i: number }>('orders', { partitions: 6 });
    const keys = Array.from({ length: 60 }, (_, i) => (i % 5 === 0 ? undefined : `order-${i % 7}`));
    const ids = await sf.publishMany(topic, keys.map((_, i) => ({ i })), { keys });
    expect(ids).toHaveLength(60);
    const keyless = new Set<number>();
    ids.forEach((id, i) => {
      const [p] = split(id);
      if (keys[i] === undefined) keyless.add(p);
      else expect(p).toBe(partitionForKey(keys[i]!, 6));
    });
    expect(keyless.size).toBe(1);
    for (let p = 0; p < 6; p++) {
      const entries = await sf.redis.xrange(partitionKeys(sf.prefix, 'orders', p).stream, '-', '+');
      const order = entries.map(([, f]) => JSON.parse(f[1]!) as { i: number }).map((x) => x.i);
      expect(order).toEqual([...order].sort((a, b) => a - b)); // input order kept inside each partition
      for (const [id, f] of entries) {
        const i = (JSON.parse(f[1]!) as { i: number }).i;
        expect(ids[i]).toBe(`p${p}:${id}`);
        expect(f.includes('key')).toBe(keys[i] !== undefined);
      }
    }
    // One key for the whole batch: one partition, one script.
    const one = await sf.publishMany(topic, [{ i: 1 }, { i: 2 }], { key: 'order-3' });
    expect(one.map((id) => split(id)[0])).toEqual([partitionForKey('order-3', 6), partitionForKey('order-3', 6)]);
    await expect(sf.publishMany(topic, [{ i: 1 }], { key: 'a', keys: ['a'] })).rejects.toThrow(/either key .* or keys/);
    await expect(sf.publishMany(topic, [{ i: 1 }, { i: 2 }], { keys: ['a'] })).rejects.toThrow(/2 payloads, got 1 keys/);
    await expect(sf.publishMany(topic, [{ i: 1 }, { i: 2 }], { keys: ['a', '\uDC00'] })).rejects.toThrow(/event 1 of 2: .*surrogate.*Nothing was published/);
  });

  test('a batch over several partitions of which one fails: PartialPublishError says which indexes were written', async () => {
    const sf = env.client();
    const topic = defineTopic<{ i: number }>('orders', { partitions: 3 });
    await sf.publish(topic, { i: -1 }, { key: 'x' }); // creates the meta record
    const broken = partitionForKey('order-1', 3);
    await sf.redis.set(partitionKeys(sf.prefix, 'orders', broken).stream, 'not a stream');
    const keys = ['order-1', 'order-2', 'order-3', 'order-4', 'order-5', 'order-6'];
    expect(new Set(keys.map((k) => partitionForKey(k, 3))).size).toBeGreaterThan(1);
    const err = (await sf.publishMany(topic, keys.map((_, i) => ({ i })), { keys }).catch((e: unknown) => e)) as PartialPublishError;
    expect(err).toBeInstanceOf(PartialPublishError);
    expect(err.code).toBe('PARTIAL_PUBLISH');
    const failed = keys.map((k, i) => [k, i] as const).filter(([k]) => partitionForKey(k, 3) === broken).map(([, i]) => i);
    expect(err.notWritten).toEqual(failed);
    expect([...err.written.keys()].sort()).toEqual(keys.map((_, i) => i).filter((i) => !failed.includes(i)));
    for (const [i, id] of err.written) expect(split(id)[0]).toBe(partitionForKey(keys[i]!, 3));
    // All in the broken partition: nothing written at all, so the plain error.
    await expect(sf.publishMany(topic, [{ i: 1 }], { key: 'order-1' })).rejects.not.toBeInstanceOf(PartialPublishError);
  });

  test('the partition count is fixed at creation: another count, or partitioning an unpartitioned topic, is refused', async () => {
    const a = env.client();
    const b = env.client({ prefix: a.prefix });
    await a.publish(defineTopic('orders', { partitions: 4 }), { n: 1 }, { key: 'k' });
    const err = (await b.publish(defineTopic('orders', { partitions: 8 }), { n: 1 }, { key: 'k' }).catch((e: unknown) => e)) as PartitionCountMismatchError;
    expect(err).toBeInstanceOf(PartitionCountMismatchError);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect(err).toMatchObject({ code: 'PARTITION_MISMATCH', stored: 4, requested: 8 });
    expect(err.message).toMatch(/define it with \{ partitions: 4 \}/);
    await expect(b.publishMany(defineTopic('orders', { partitions: 8 }), [{}])).rejects.toThrow(PartitionCountMismatchError);
    await expect(b.status(defineTopic('orders', { partitions: 8 }), 'p1:1-0')).rejects.toThrow(PartitionCountMismatchError);
    // Nothing written by the refused client: partitions 4..7 do not exist.
    for (let p = 4; p < 8; p++) expect(await a.redis.exists(partitionKeys(a.prefix, 'orders', p).stream)).toBe(0);

    await a.publish('legacy', { n: 1 });
    await expect(a.publish(defineTopic('legacy', { partitions: 3 }), { n: 1 })).rejects.toMatchObject({ code: 'PARTITION_MISMATCH', stored: 0, requested: 3 });
  });

  test('idempotent publish: the marker lives in the key\'s partition, or where the idempotency key hashes', async () => {
    const sf = env.client();
    const topic = defineTopic('orders', { partitions: 8 });
    const a = await sf.publish(topic, { n: 1 }, { idempotencyKey: 'pay-1' });
    expect(split(a)[0]).toBe(partitionForKey('pay-1', 8));
    expect(await sf.publish(topic, { n: 2 }, { idempotencyKey: 'pay-1' })).toBe(a);
    const b = await sf.publish(topic, { n: 1 }, { idempotencyKey: 'pay-2', key: 'order-9' });
    expect(split(b)[0]).toBe(partitionForKey('order-9', 8));
    expect(await sf.publish(topic, { n: 2 }, { idempotencyKey: 'pay-2', key: 'order-9' })).toBe(b);
    const [p, local] = split(b);
    const entries = await sf.redis.xrange(partitionKeys(sf.prefix, 'orders', p).stream, '-', '+');
    expect(entries).toEqual([[local, ['payload', '{"n":1}', 'headers', '', 'key', 'order-9']]]);
    // Delayed and idempotent: the delayed id names the partition, the key travels to the entry.
    const d = await sf.publish(topic, { n: 3 }, { idempotencyKey: 'pay-3', key: 'order-9', delayMs: 50 });
    expect(d).toMatch(/^p\d+:delayed-/);
    expect(split(d)[0]).toBe(p);
    expect(await sf.publish(topic, { n: 3 }, { idempotencyKey: 'pay-3', key: 'order-9', delayMs: 50 })).toBe(d);
    let s = await sf.status(topic, d);
    for (let i = 0; i < 100 && !s.eventId; i++) { await sleep(50); s = await sf.status(topic, d); }
    const [, ev] = split(s.eventId!);
    expect(await sf.redis.xrange(partitionKeys(sf.prefix, 'orders', p).stream, ev, ev)).toEqual([[ev, ['payload', '{"n":3}', 'headers', '', 'delayed', split(d)[1], 'key', 'order-9']]]);
  });

  test('delayed publish: p<i>:delayed-<uuid>, promoted into its partition with its key; status follows both ids', async () => {
    const sf = env.client({ promoteIntervalMs: 20 });
    const topic = defineTopic<{ n: number }>('reminders', { partitions: 4 });
    const id = await sf.publish(topic, { n: 1 }, { key: 'user-7', delayMs: 150 });
    const [p, delayedLocal] = split(id);
    expect(p).toBe(partitionForKey('user-7', 4));
    expect(delayedLocal).toMatch(/^delayed-/);
    const before = await sf.status(topic, id);
    expect(before).toMatchObject({ id, delayedId: id, partition: p, inStream: false, topic: 'reminders' });
    const many = await sf.publishMany(topic, [{ n: 2 }, { n: 3 }], { keys: ['user-7', undefined], delayMs: 100 });
    expect(many.every((x) => /^p\d:delayed-/.test(x))).toBe(true);
    let after = await sf.status(topic, id);
    for (let i = 0; i < 100 && !after.eventId; i++) { await sleep(30); after = await sf.status(topic, id); }
    expect(after.eventId).toMatch(new RegExp(`^p${p}:\\d+-\\d+$`));
    expect(after).toMatchObject({ id, delayedId: id, partition: p, inStream: true });
    const byEvent = await sf.status(topic, after.eventId!);
    expect(byEvent).toMatchObject({ id: after.eventId, eventId: after.eventId, delayedId: id, partition: p });
    for (const m of many) {
      let s = await sf.status(topic, m);
      for (let i = 0; i < 100 && !s.eventId; i++) { await sleep(30); s = await sf.status(topic, m); }
      expect(split(s.eventId!)[0]).toBe(split(m)[0]);
    }
    const fields = (await sf.redis.xrange(partitionKeys(sf.prefix, 'reminders', p).stream, '-', '+')).map(([, f]) => f);
    expect(fields.filter((f) => f.includes('key')).every((f) => f[f.indexOf('key') + 1] === 'user-7')).toBe(true);
  });
});

describe('status and waitFor by partitioned ids', () => {
  test('status reads the partition the id names; ids out of range or without a partition are typed errors', async () => {
    const sf = env.client();
    const topic = defineTopic('orders', { partitions: 4 });
    const id = await sf.publish(topic, { n: 1 }, { key: 'order-1' });
    const [p, local] = split(id);
    await sf.redis.xgroup('CREATE', partitionKeys(sf.prefix, 'orders', p).stream, 'billing', '0');
    const s = await sf.status(topic, id);
    expect(s).toMatchObject({ id, eventId: id, topic: 'orders', partition: p, inStream: true, groups: { billing: { state: 'pending' } } });
    for (const bad of ['p4:1-0', 'p9999:1-0', local, 'p01:1-0', 'p-1:1-0', 'q1:1-0', 'p1:nope']) {
      const err = await sf.status(topic, bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidPartitionedIdError);
      expect(err).toBeInstanceOf(InvalidIdError);
      expect((err as Error).message).toMatch(/p3:1700000000000-0/);
    }
    await expect(sf.waitFor(topic, 'p4:1-0', { timeoutMs: 200 })).rejects.toThrow(InvalidPartitionedIdError);
    // A partitioned id on an unpartitioned topic is not an id there.
    await expect(sf.status('plain', id)).rejects.toThrow(InvalidIdError);
  });

  test('waitFor listens in the partition and times out naming the public id', async () => {
    const sf = env.client();
    const topic = defineTopic('orders', { partitions: 4 });
    const id = await sf.publish(topic, { n: 1 }, { key: 'order-2' });
    const [p] = split(id);
    await sf.redis.xgroup('CREATE', partitionKeys(sf.prefix, 'orders', p).stream, 'billing', '0');
    const err = (await sf.waitFor(topic, id, { groups: ['billing'], timeoutMs: 300 }).catch((e: unknown) => e)) as WaitTimeoutError;
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err.message).toContain(`event ${id} `);
  });
});

describe('unpartitioned topics are unchanged', () => {
  test('same keys, same ids, no meta record, stride-2 entries', async () => {
    const sf = env.client();
    const id = await sf.publish('plain', { n: 1 });
    expect(id).toMatch(/^\d+-\d+$/);
    expect(await sf.redis.xrange(topicKeys(sf.prefix, 'plain').stream, '-', '+')).toEqual([[id, ['payload', '{"n":1}', 'headers', '']]]);
    expect(await sf.redis.exists(topicMetaKeys(sf.prefix, 'plain').meta)).toBe(0);
    const ids = await sf.publishMany('plain', [{ n: 2 }, { n: 3 }]);
    expect(ids.every((x) => /^\d+-\d+$/.test(x))).toBe(true);
  });
});
