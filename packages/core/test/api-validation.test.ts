import { waitFor } from '@streamfan/testing';
import {
  InvalidIdError, InvalidOptionError, MAX_BATCH_EVENTS, Streamfan, StreamfanError, ackEntries, defineTopic, topicKeys,
} from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

describe('bad ids get a typed error', () => {
  test.each(['not-an-id', '', '17-x', '1-2-3', ' 1-0'])('status(topic, %j) throws InvalidIdError, not a raw Redis error', async (id) => {
    const sf = env.client();
    const err = await sf.status('orders', id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidIdError);
    expect((err as StreamfanError).code).toBe('INVALID_ID');
    expect((err as Error).message).toContain('1700000000000-0');
  });

  test('waitFor with a malformed id throws InvalidIdError at once', async () => {
    const sf = env.client();
    await expect(sf.waitFor('orders', 'nope', { timeoutMs: 60_000 })).rejects.toBeInstanceOf(InvalidIdError);
  });
});

describe('publishMany has a batch cap', () => {
  test(`over ${'MAX_BATCH_EVENTS'} events: InvalidOptionError and nothing written; at the cap: written`, async () => {
    const sf = env.client();
    const topic = defineTopic<number>('big');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    const over = Array.from({ length: MAX_BATCH_EVENTS + 1 }, (_, i) => i);
    const err = await sf.publishMany(topic, over).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as Error).message).toMatch(/at most 10000 events/);
    expect(await sf.redis.xlen(stream)).toBe(0);
    expect(await sf.publishMany(topic, over.slice(1))).toHaveLength(MAX_BATCH_EVENTS);
  });

  test('over 64 MiB encoded in one call: InvalidOptionError and nothing written', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('heavy');
    const big = 'x'.repeat(900 * 1024);
    await expect(sf.publishMany(topic, Array.from({ length: 80 }, () => big))).rejects.toThrow(/64 MiB/);
    expect(await sf.redis.exists(topicKeys(sf.prefix, topic.name).stream)).toBe(0);
  });
});

describe('client options are validated', () => {
  test.each([
    ['promoteIntervalMs NaN', { promoteIntervalMs: Number.NaN }],
    ['promoteIntervalMs negative', { promoteIntervalMs: -5 }],
    ['promoteIntervalMs Infinity', { promoteIntervalMs: Number.POSITIVE_INFINITY }],
    ['promoteIntervalMs 0 (a busy loop)', { promoteIntervalMs: 0 }],
    ['promoteIntervalMs a string', { promoteIntervalMs: '1000' as unknown as number }],
    ['statusTtlSeconds Infinity', { statusTtlSeconds: Number.POSITIVE_INFINITY }],
    ['an unknown option (a typo)', { promoteInterval: 50 } as object],
    ['redisOptions not an object', { redisOptions: 'tls' as unknown as object }],
  ])('%s: InvalidOptionError from the constructor, no connection opened', (_name, options) => {
    expect(() => new Streamfan({ connection: env.server().url, ...options })).toThrow(InvalidOptionError);
  });
});

describe('ack by hand tells waitFor', () => {
  test('waitFor resolves when an operator acks the entry by hand', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('stuck');
    const sub = sf.subscribe(topic, 'g', () => new Promise(() => undefined), { startFrom: 'beginning', shutdownGraceMs: 0 });
    await sub.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'processing', { message: 'held' });
    const waiting = sf.waitFor(topic, id, { timeoutMs: 10_000 });
    await waitFor(async () => (await sf.redis.exists(topicKeys(sf.prefix, topic.name).waiters)) === 1, { message: 'waiter listening' });
    await ackEntries(sf, topic.name, 'g', [id]);
    expect((await waiting).groups.g).toMatchObject({ state: 'succeeded' });
    await sub.close();
  });
});
