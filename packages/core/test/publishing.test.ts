import { sleep, waitFor } from '@streamfan/testing';
import {
  DELAYED_ID_PREFIX, InvalidNameError, InvalidPayloadError, PayloadTooLargeError, Streamfan, WaitTimeoutError,
  defineTopic, topicKeys,
} from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

async function serverMs(sf: Streamfan): Promise<number> {
  const [s, us] = (await sf.redis.time()) as unknown as [string, string];
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Offset from this process' clock to Redis' clock, so a handler can stamp its start in server time without a round trip. */
async function clockOffset(sf: Streamfan): Promise<number> {
  const before = Date.now();
  const server = await serverMs(sf);
  return server - Math.round((before + Date.now()) / 2);
}

describe('delayed delivery', () => {
  test.each([
    ['delayMs', (now: number) => ({ delayMs: 800, expectedDue: now + 800 })],
    ['runAt', (now: number) => ({ runAt: new Date(now + 800), expectedDue: now + 800 })],
  ])('%s: held in the delayed set (listed, status scheduled), handled not before the due time on the server clock', async (_kind, make) => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('reminders');
    const offset = await clockOffset(sf);
    const started: Array<{ at: number; delayedId: string | undefined }> = [];
    const sub = sf.subscribe(topic, 'mail', (_p, ctx) => { started.push({ at: Date.now() + offset, delayedId: ctx.headers['streamfan-delayed-id'] }); },
      { startFrom: 'beginning', reclaimIntervalMs: 50 });
    await sub.ready();
    const { expectedDue, ...opts } = make(await serverMs(sf));
    const id = await sf.publish(topic, { n: 1 }, { ...opts, headers: { kind: 'reminder' } });
    expect(id.startsWith(DELAYED_ID_PREFIX)).toBe(true);

    const listed = await sf.delayed(topic);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id, payload: { n: 1 }, headers: { kind: 'reminder' } });
    const due = listed[0]!.dueAt.getTime();
    expect(Math.abs(due - expectedDue)).toBeLessThanOrEqual(50); // scored by server time, not the client's
    const st = await sf.status(topic, id);
    expect(st).toMatchObject({ id, inStream: false, groups: { mail: { state: 'scheduled', attempts: 0 } } });
    expect(st.dueAt?.getTime()).toBe(due);
    expect(await sf.redis.xlen(topicKeys(sf.prefix, topic.name).stream)).toBe(0);

    await waitFor(() => started.length === 1, { timeoutMs: 15_000, message: 'delayed event handled' });
    expect(started[0]!.delayedId).toBe(id);
    expect(started[0]!.at).toBeGreaterThanOrEqual(due - 15); // 15 ms for rounding between the two clocks
    expect(await sf.delayed(topic)).toEqual([]);
    await sleep(200);
    expect(started).toHaveLength(1); // promoted once
    await sub.close();
  });

  test('a publisher promotes its delayed events on its own timer, with no consumer running', async () => {
    const sf = env.client({ promoteIntervalMs: 50 });
    const topic = defineTopic<number>('later');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    const due = (await serverMs(sf)) + 300;
    await sf.publish(topic, 9, { runAt: due });
    expect(await sf.redis.xlen(stream)).toBe(0);
    await waitFor(async () => (await sf.redis.xlen(stream)) === 1, { timeoutMs: 10_000, message: 'promoted into the stream' });
    const entryId = (await sf.redis.xrange(stream, '-', '+'))[0]![0];
    expect(Number(entryId.split('-')[0])).toBeGreaterThanOrEqual(due); // the entry id is the server time of the promotion
  });
});

describe('idempotent publish', () => {
  test('a repeat within the window returns the first id and writes nothing; after the window a new id', async () => {
    const sf = env.client();
    const topic = defineTopic<{ order: string }>('payments');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    const first = await sf.publish(topic, { order: 'o-1' }, { idempotencyKey: 'order-o-1', idempotencyWindowMs: 600 });
    const again = await sf.publish(topic, { order: 'o-1 (retried by the client)' }, { idempotencyKey: 'order-o-1', idempotencyWindowMs: 600 });
    expect(again).toBe(first);
    expect(await sf.redis.xlen(stream)).toBe(1);
    const other = await sf.publish(topic, { order: 'o-2' }, { idempotencyKey: 'order-o-2' });
    expect(other).not.toBe(first);
    expect(await sf.redis.xlen(stream)).toBe(2);
    const fields = (await sf.redis.xrange(stream, first, first))[0]![1];
    expect(fields).toContain(JSON.stringify({ order: 'o-1' })); // the first payload stays

    await waitFor(async () => (await sf.redis.exists(topicKeys(sf.prefix, topic.name).idempotency('order-o-1'))) === 0,
      { message: 'window passed' });
    const later = await sf.publish(topic, { order: 'o-1' }, { idempotencyKey: 'order-o-1', idempotencyWindowMs: 600 });
    expect(later).not.toBe(first);
    expect(await sf.redis.xlen(stream)).toBe(3);
  });

  test('idempotent delayed publish: a repeat returns the same delayed id and schedules nothing more', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('digest');
    const a = await sf.publish(topic, 1, { idempotencyKey: 'digest-2026-11-28', delayMs: 60_000 });
    const b = await sf.publish(topic, 1, { idempotencyKey: 'digest-2026-11-28', delayMs: 60_000 });
    expect(a.startsWith(DELAYED_ID_PREFIX)).toBe(true);
    expect(b).toBe(a);
    expect((await sf.delayed(topic)).map((d) => d.id)).toEqual([a]);
    expect(await sf.redis.zcard(topicKeys(sf.prefix, topic.name).delayed)).toBe(1);
    expect((await sf.status(topic, a)).dueAt).toBeInstanceOf(Date);
  });
});

describe('publishMany', () => {
  test('is all or nothing: one invalid payload rejects the batch and nothing is written', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('batch');
    const keys = topicKeys(sf.prefix, topic.name);
    const bad = [{ n: 1 }, { n: 2 }, { n: Number.NaN }, { n: 4 }];
    const err = await sf.publishMany(topic, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidPayloadError);
    expect((err as Error).message).toMatch(/event 2 of 4: .*NaN.*Nothing was published/);
    await expect(sf.publishMany(topic, bad, { delayMs: 1000 })).rejects.toBeInstanceOf(InvalidPayloadError);
    const small = defineTopic<string>('batch', { maxPayloadBytes: 64 });
    await expect(sf.publishMany(small, ['ok', 'x'.repeat(100)])).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await sf.redis.exists(keys.stream, keys.delayed)).toBe(0);
    const ids = await sf.publishMany(topic, [{ n: 1 }, { n: 2 }]);
    expect(await sf.redis.xlen(keys.stream)).toBe(2);
    expect(ids).toHaveLength(2);
  });
});

describe('waitFor', () => {
  test('resolves through Pub/Sub when the named groups finish, even while another group is still busy', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('signup');
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const subs = [
      sf.subscribe(topic, 'email', async () => { await sleep(300); return 'sent'; }, { startFrom: 'beginning' }),
      sf.subscribe(topic, 'crm', () => 'synced', { startFrom: 'beginning' }),
      sf.subscribe(topic, 'slow', () => gate, { startFrom: 'beginning' }),
    ];
    await Promise.all(subs.map((s) => s.ready()));
    const id = await sf.publish(topic, 1);
    const waiting = sf.waitFor(topic, id, { groups: ['email', 'crm'], timeoutMs: 15_000 });
    const channel = topicKeys(sf.prefix, topic.name).done;
    await waitFor(async () => ((await sf.redis.pubsub('NUMSUB', channel)) as [string, number])[1] === 1, { message: 'waitFor listens on the channel' });
    const st = await waiting;
    expect(st.groups.email).toMatchObject({ state: 'succeeded', result: 'sent' });
    expect(st.groups.crm).toMatchObject({ state: 'succeeded', result: 'synced' });
    expect(st.groups.slow?.state).toBe('processing');
    // It unsubscribes when done: no listener leaks per call.
    await waitFor(async () => ((await sf.redis.pubsub('NUMSUB', channel)) as [string, number])[1] === 0, { message: 'unsubscribed' });
    release();
    await sf.waitFor(topic, id, { timeoutMs: 15_000 }); // every group, finished
  });

  test('resolves on the first call of fresh clients (the Pub/Sub connection is still connecting) when the event finishes afterwards', async () => {
    for (let i = 0; i < 8; i++) {
      const sf = env.client();
      const topic = defineTopic<number>('fresh');
      const sub = sf.subscribe(topic, 'g', async () => { await sleep(200); return i; }, { startFrom: 'beginning' });
      await sub.ready();
      const id = await sf.publish(topic, i);
      const st = await sf.waitFor(topic, id, { groups: ['g'], timeoutMs: 10_000 });
      expect(st.groups.g).toMatchObject({ state: 'succeeded', result: i });
      await sf.close();
    }
  });

  test('resolves at once for an event that finished before waitFor was called', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('early');
    const sub = sf.subscribe(topic, 'g', () => 'done', { startFrom: 'beginning' });
    await sub.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded');
    const st = await sf.waitFor(topic, id, { groups: ['g'], timeoutMs: 5000 });
    expect(st.groups.g).toMatchObject({ state: 'succeeded', result: 'done' });
  });

  test('times out with WaitTimeoutError naming the groups that did not finish', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('hanging');
    const subs = [
      sf.subscribe(topic, 'quick', () => undefined, { startFrom: 'beginning' }),
      sf.subscribe(topic, 'stuck', () => new Promise(() => undefined), { startFrom: 'beginning' }),
    ];
    await Promise.all(subs.map((s) => s.ready()));
    const id = await sf.publish(topic, 1);
    const err = await sf.waitFor(topic, id, { groups: ['quick', 'stuck'], timeoutMs: 1500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as WaitTimeoutError).code).toBe('TIMEOUT');
    expect((err as WaitTimeoutError).unfinished).toEqual(['stuck']);
    expect((err as Error).message).toMatch(/stuck/);
    expect((err as Error).message).not.toMatch(/quick/);
    await subs[1]!.close(0);
  });
});

describe('bad input', () => {
  const badTopicNames: Array<[string, string, RegExp]> = [
    ['empty', '', /empty: give a name/],
    ['too long', 't'.repeat(129), /over the limit of 128: use a shorter name/],
    ['braces', 'user.{signup}', /brace.*Use letters/],
    ['spaces', 'user signup', /white space.*Use letters/],
    ['control character', 'user\u0007signup', /control character.*Use letters/],
  ];

  test.each(badTopicNames)('topic name %s: InvalidNameError that says what to do, nothing written', async (_what, name, message) => {
    const sf = env.client();
    expect(() => defineTopic(name)).toThrow(InvalidNameError);
    expect(() => defineTopic(name)).toThrow(message);
    await expect(sf.publish(name, { a: 1 })).rejects.toThrow(InvalidNameError);
    expect(() => sf.subscribe(name, 'g', () => undefined)).toThrow(InvalidNameError);
    expect(await sf.topics()).toEqual([]);
  });

  const badGroupNames: Array<[string, string, RegExp]> = [
    ['empty', '', /empty: give a name/],
    ['too long', 'g'.repeat(65), /over the limit of 64: use a shorter name/],
    ['braces', '{billing}', /brace.*Use letters/],
    ['spaces', 'bill ing', /white space.*Use letters/],
    ['control character', 'bill\u0000ing', /control character.*Use letters/],
  ];

  test.each(badGroupNames)('group name %s: InvalidNameError that says what to do', async (_what, name, message) => {
    const sf = env.client();
    expect(() => sf.subscribe('ok.topic', name, () => undefined)).toThrow(InvalidNameError);
    expect(() => sf.subscribe('ok.topic', name, () => undefined)).toThrow(message);
    expect(() => sf.deadLetters('ok.topic', name)).toThrow(InvalidNameError);
    expect(sf.activeSubscriptions).toEqual([]);
  });

  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const badPayloads: Array<[string, unknown, RegExp]> = [
    ['NaN', { total: Number.NaN }, /payload\.total is NaN.*send null or a string/],
    ['undefined', undefined, /undefined.*use null/],
    ['BigInt', { id: BigInt(1) }, /BigInt.*send it as a string/],
    ['a cycle', cyclic, /refers back to itself.*replace the back-reference/],
    ['a Map', { tags: new Map([['a', 1]]) }, /Map.*convert it to an array or plain object/],
    ['a function', { cb: () => 1 }, /function.*send data only/],
  ];

  test.each(badPayloads)('payload with %s: InvalidPayloadError that says what to do, nothing written', async (_what, payload, message) => {
    const sf = env.client();
    const topic = defineTopic<unknown>('payloads');
    const err = await sf.publish(topic, payload).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidPayloadError);
    expect((err as InvalidPayloadError).code).toBe('INVALID_PAYLOAD');
    expect((err as Error).message).toMatch(message);
    await expect(sf.publish(topic, payload, { delayMs: 100 })).rejects.toBeInstanceOf(InvalidPayloadError);
    const keys = topicKeys(sf.prefix, topic.name);
    expect(await sf.redis.exists(keys.stream, keys.delayed)).toBe(0);
  });

  test('oversize payloads: PayloadTooLargeError at the default 1 MiB and at a configured limit; nothing written', async () => {
    const sf = env.client();
    const big = defineTopic<string>('uploads');
    const keys = topicKeys(sf.prefix, big.name);
    const err = await sf.publish(big, 'x'.repeat(1024 * 1024)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', limit: 1024 * 1024, size: 1024 * 1024 + 2 });
    expect((err as Error).message).toMatch(/send a reference .* or raise maxPayloadBytes/);
    await expect(sf.publish(big, 'x'.repeat(1024 * 1024), { idempotencyKey: 'k' })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await sf.redis.exists(keys.stream, keys.idempotency('k'))).toBe(0);
    expect(await sf.publish(big, 'x'.repeat(1024 * 1024 - 2))).toMatch(/^\d+-\d+$/); // exactly at the limit is fine

    const small = defineTopic<{ note: string }>('notes', { maxPayloadBytes: 100 });
    const smallKeys = topicKeys(sf.prefix, small.name);
    const e2 = await sf.publish(small, { note: 'n'.repeat(200) }).catch((e: unknown) => e);
    expect(e2).toMatchObject({ limit: 100 });
    expect(e2).toBeInstanceOf(PayloadTooLargeError);
    await expect(sf.publish(small, { note: 'n'.repeat(200) }, { delayMs: 10 })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await sf.redis.exists(smallKeys.stream, smallKeys.delayed)).toBe(0);
    await sf.publish(small, { note: 'fits' });
    expect(await sf.redis.xlen(smallKeys.stream)).toBe(1);
  });
});
