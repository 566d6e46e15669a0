import type Redis from 'ioredis';
import { topicKeys } from '../src/internal';
import { runScript } from '../src/scripts/runner';
import { compareIds } from '../src/ids';
import { uniquePrefix } from '@streamfan/testing';
import { useRedis } from './helpers';

const env = useRedis();

/**
 * Every consumer-side script validates its arguments before its first write: Lua does not roll
 * back a write made before an error. Each case runs a script with one bad value and checks the
 * script failed with an error naming it and wrote nothing (the entry is still pending to its
 * consumer, no retry, no dead letter, no status).
 */
describe('consumer scripts check their inputs before their first write', () => {
  let redis: Redis;
  beforeAll(() => { redis = env.server().client(); });
  afterAll(() => { redis.disconnect(); });

  async function setup(): Promise<{ keys: ReturnType<typeof topicKeys>; id: string }> {
    const keys = topicKeys(uniquePrefix(), 't');
    await redis.xgroup('CREATE', keys.stream, 'g', '$', 'MKSTREAM');
    await redis.xgroup('CREATE', keys.redeliver('g'), 'g', '$', 'MKSTREAM');
    const id = (await redis.xadd(keys.stream, '*', 'payload', '1'))!;
    await redis.xreadgroup('GROUP', 'g', 'c', 'COUNT', 1, 'STREAMS', keys.stream, '>');
    return { keys, id };
  }

  async function nothingWritten(keys: ReturnType<typeof topicKeys>, id: string): Promise<void> {
    const pending = (await redis.xpending(keys.stream, 'g', '-', '+', 10)) as Array<[string, string]>;
    expect(pending.map((p) => [p[0], p[1]])).toEqual([[id, 'c']]);
    expect(await redis.zcard(keys.retry('g'))).toBe(0);
    expect(await redis.xlen(keys.redeliver('g'))).toBe(0);
    expect(await redis.exists(keys.deadLetters('g'), keys.status(id))).toBe(0);
  }

  const failArgs = (id: string) => ['g', 'c', id, id, '0', 'boom', '100', '60', '1', 'done', 'P'];
  const failCases: Array<[string, number, string]> = [
    ['backoff NaN', 6, 'nan'], ['backoff inf', 6, 'inf'], ['backoff negative', 6, '-1'], ['backoff fraction', 6, '1.5'],
    ['backoff empty', 6, ''], ['base NaN', 4, 'nan'], ['ttl inf', 7, 'inf'], ['track', 8, 'yes'], ['mode', 10, 'X'],
    ['entry id', 2, 'x'], ['event id', 3, 'not-an-id'],
  ];
  test.each(failCases)('failEntry with a bad %s', async (_label, index, value) => {
    const { keys, id } = await setup();
    const args = failArgs(id);
    args[index] = value;
    await expect(runScript(redis, 'failEntry', [keys.stream, keys.retry('g'), keys.redeliver('g'), keys.status(id), keys.waiters], args))
      .rejects.toThrow(/invalid argument/);
    await nothingWritten(keys, id);
  });

  test('failEntry when the retry set holds another type: WRONGTYPE before any write', async () => {
    const { keys, id } = await setup();
    await redis.set(keys.retry('g'), 'x');
    await expect(runScript(redis, 'failEntry', [keys.stream, keys.retry('g'), keys.redeliver('g'), keys.status(id), keys.waiters], failArgs(id)))
      .rejects.toThrow(/WRONGTYPE/);
    await redis.del(keys.retry('g'));
    await nothingWritten(keys, id);
  });

  const deadArgs = (id: string) => ['g', 'c', id, id, '3', 'boom', 'handler', '1000', '60', 'done', '1', '1', 'P'];
  const deadCases: Array<[string, number, string]> = [
    ['attempts', 4, 'nan'], ['reason', 6, 'whatever'], ['cap', 7, 'inf'], ['cap negative', 7, '-5'], ['ttl', 8, 'nan'],
    ['check owner', 10, ''], ['track', 11, '2'], ['mode', 12, ''],
  ];
  test.each(deadCases)('deadLetter with a bad %s', async (_label, index, value) => {
    const { keys, id } = await setup();
    const args = deadArgs(id);
    args[index] = value;
    await expect(runScript(redis, 'deadLetter', [keys.stream, keys.deadLetters('g'), keys.status(id), keys.waiters], args))
      .rejects.toThrow(/invalid argument/);
    await nothingWritten(keys, id);
  });

  /** ackBatch's arguments (protocol 2) for hash entries only: [entry id, event id, base, result]. */
  const ackArgs = (consumer: string, ...entries: Array<[string, string, string, string]>): string[] => {
    const ids = entries.map((e) => e[0]).sort((a, b) => compareIds(a, b));
    return ['g', consumer, '60', 'done', '1', 'P', '0', String(entries.length), '0', '0', ids[0] ?? '-', ids[ids.length - 1] ?? '+', '1', ...entries.flat()];
  };
  const ackCases: Array<[string, number, string]> = [['ttl', 2, 'nan'], ['track', 4, 'x'], ['mode', 5, 'Q'], ['base', 15, 'inf'], ['entry id', 13, '-'], ['lowest id', 10, 'x'], ['same ids', 12, '2']];
  test.each(ackCases)('ackBatch with a bad %s', async (_label, index, value) => {
    const { keys, id } = await setup();
    const args = ackArgs('c', [id, id, '0', '']);
    args[index] = value;
    await expect(runScript(redis, 'ackBatch', [keys.stream, keys.waiters, keys.status(id)], args)).rejects.toThrow(/invalid argument/);
    await nothingWritten(keys, id);
  });

  test('ackBatch with a status key missing for an entry', async () => {
    const { keys, id } = await setup();
    await expect(runScript(redis, 'ackBatch', [keys.stream, keys.waiters], ackArgs('c', [id, id, '0', ''])))
      .rejects.toThrow(/invalid argument entries/);
    await nothingWritten(keys, id);
  });

  test('ackBatch when a status key holds another type: every entry is acked, the other statuses are written, the failure is counted', async () => {
    const { keys, id } = await setup();
    const id2 = (await redis.xadd(keys.stream, '*', 'payload', '2'))!;
    await redis.xreadgroup('GROUP', 'g', 'c', 'COUNT', 1, 'STREAMS', keys.stream, '>');
    await redis.set(keys.status(id), 'not a hash');
    const reply = await runScript<number[]>(redis, 'ackBatch', [keys.stream, keys.waiters, keys.status(id), keys.status(id2)],
      ackArgs('c', [id, id, '0', ''], [id2, id2, '0', '']));
    expect(reply).toEqual([2, 1]);
    expect(await redis.xpending(keys.stream, 'g', '-', '+', 10)).toEqual([]);
    expect(await redis.hget(keys.status(id2), 'g:state')).toBe('succeeded');
  });

  test('ackBatch run twice (ioredis resends it after a reconnect lost the reply): the second run reports the entry settled, not refused', async () => {
    const { keys, id } = await setup();
    const args = ackArgs('c', [id, id, '0', '']);
    expect(await runScript(redis, 'ackBatch', [keys.stream, keys.waiters, keys.status(id)], args)).toEqual([1, 0]);
    expect(await runScript(redis, 'ackBatch', [keys.stream, keys.waiters, keys.status(id)], args)).toEqual([1, 0]);
    // Another consumer's (a member of the group) ack of it is still refused.
    await redis.xgroup('CREATECONSUMER', keys.stream, 'g', 'other');
    expect(await runScript(redis, 'ackBatch', [keys.stream, keys.waiters, keys.status(id)], ackArgs('other', [id, id, '0', '']))).toEqual([0, 0, id]);
  });

  test('failEntry and deadLetter run twice (resent after a reconnect): the second run reports the first one\'s outcome, not stale', async () => {
    const { keys, id } = await setup();
    const fk = [keys.stream, keys.retry('g'), keys.redeliver('g'), keys.status(id), keys.waiters];
    const first = await runScript<number[]>(redis, 'failEntry', fk, failArgs(id));
    expect(first[0]).toBe(1);
    expect(await runScript<number[]>(redis, 'failEntry', fk, failArgs(id))).toEqual(first);
    expect(await redis.zcard(keys.retry('g'))).toBe(1); // scheduled once
    const id2 = (await redis.xadd(keys.stream, '*', 'payload', '2'))!;
    await redis.xreadgroup('GROUP', 'g', 'c', 'COUNT', 1, 'STREAMS', keys.stream, '>');
    const dk = [keys.stream, keys.deadLetters('g'), keys.status(id2), keys.waiters];
    const dead = await runScript<string[]>(redis, 'deadLetter', dk, deadArgs(id2));
    expect(dead[0]).toBe('dead');
    expect(await runScript<string[]>(redis, 'deadLetter', dk, deadArgs(id2))).toEqual(dead);
    expect(await redis.xlen(keys.deadLetters('g'))).toBe(1);
    await redis.xgroup('CREATECONSUMER', keys.stream, 'g', 'other');
    expect(await runScript<string[]>(redis, 'deadLetter', dk, ['g', 'other', ...deadArgs(id2).slice(2)])).toEqual(['stale']);
  });

  test('an entry a trim acknowledged and recorded lost while its handler ran: ack, retry and dead letter report it settled or lost, not stale', async () => {
    const { keys, id } = await setup();
    await redis.xgroup('CREATECONSUMER', keys.stream, 'g', 'other');
    await redis.xack(keys.stream, 'g', id);
    // The cap names the consumer that held the entry ('c'); lost naming another consumer refuses
    // the ack (that one held it: this run was superseded).
    await redis.hset(keys.status(id), 'g:state', 'lost', 'g:consumer', 'c');
    expect(await runScript(redis, 'ackBatch', [keys.stream, keys.waiters, keys.status(id)], ackArgs('c', [id, id, '0', '']))).toEqual([1, 0]);
    expect(await redis.hget(keys.status(id), 'g:state')).toBe('lost');
    expect((await runScript<number[]>(redis, 'failEntry', [keys.stream, keys.retry('g'), keys.redeliver('g'), keys.status(id), keys.waiters], failArgs(id)))[0]).toBe(2);
    expect(await runScript(redis, 'deadLetter', [keys.stream, keys.deadLetters('g'), keys.status(id), keys.waiters], deadArgs(id))).toEqual(['lost']);
    expect(await redis.zcard(keys.retry('g'))).toBe(0);
    expect(await redis.exists(keys.deadLetters('g'))).toBe(0);
  });

  const lostCases: Array<[string, number, string]> = [['ttl', 2, 'inf'], ['mode', 5, 'p'], ['event id', 7, 'x']];
  test.each(lostCases)('markLost with a bad %s', async (_label, index, value) => {
    const { keys, id } = await setup();
    const args = ['g', 'c', '60', 'done', 'gone', 'P', id, id];
    args[index] = value;
    await expect(runScript(redis, 'markLost', [keys.stream, keys.waiters, keys.status(id)], args)).rejects.toThrow(/invalid argument/);
    await nothingWritten(keys, id);
  });

  test('deleteConsumerIfIdle with a bad idle time removes no one', async () => {
    const { keys, id } = await setup();
    await redis.xgroup('CREATECONSUMER', keys.stream, 'g', 'idle-one');
    await expect(runScript(redis, 'deleteConsumerIfIdle', [keys.stream], ['g', 'idle-one', 'nan'])).rejects.toThrow(/invalid argument/);
    const consumers = (await redis.xinfo('CONSUMERS', keys.stream, 'g')) as unknown[][];
    expect(consumers.length).toBe(2);
    await nothingWritten(keys, id);
  });

  test('claimEntries with a malformed id claims nothing', async () => {
    const { keys, id } = await setup();
    await expect(runScript(redis, 'claimEntries', [keys.stream, keys.redeliver('g')], ['g', 'other', id, 'bogus'])).rejects.toThrow(/invalid argument/);
    await nothingWritten(keys, id);
  });
});
