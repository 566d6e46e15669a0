import type Redis from 'ioredis';
import { uniquePrefix, waitFor } from '@streamfan/testing';
import { acquireLease, ownerId } from '../src/partitions/leases';
import { partitionKeys, type PartitionKeys } from '../src/partitions/partitionKeys';
import { runScript } from '../src/scripts/runner';
import { useRedis } from './helpers';

const env = useRedis();

type Reply = [string, ...unknown[]];

/**
 * The fenced scripts of ordered groups (docs/partitions.md §5.2, §6): read, start, retry in
 * place and adopt work only with the partition's current lease token. A consumer whose lease
 * was taken over (it was paused) gets 'fenced' and changes nothing.
 */
describe('fenced scripts of ordered partitions', () => {
  let redis: Redis;
  beforeAll(() => { redis = env.server().client(); });
  afterAll(() => { redis.disconnect(); });

  async function setup(): Promise<{ k: PartitionKeys; ids: string[] }> {
    const k = partitionKeys(uniquePrefix(), 'orders', 2);
    await redis.xgroup('CREATE', k.stream, 'g', '$', 'MKSTREAM');
    await redis.xgroup('CREATE', k.redeliver('g'), 'g', '$', 'MKSTREAM');
    const ids: string[] = [];
    for (const [key, n] of [['a', 1], ['a', 2], ['b', 3], [undefined, 4], ['a', 5]] as const) {
      ids.push((await redis.xadd(k.stream, '*', 'payload', String(n), 'headers', '', ...(key === undefined ? [] : ['key', key])))!);
    }
    return { k, ids };
  }

  /** Everything the scripts may change, as one comparable value. */
  async function snapshot(k: PartitionKeys, ids: string[]): Promise<unknown> {
    return {
      // Idle times grow by themselves: compare ids, owners and delivery counts.
      pending: ((await redis.xpending(k.stream, 'g', '-', '+', 100)) as Array<[string, string, number, number]>).map(([id, owner, , n]) => [id, owner, n]),
      groups: await redis.xinfo('GROUPS', k.stream),
      backoff: await redis.zrange(k.backoff('g'), 0, -1, 'WITHSCORES'),
      statuses: await Promise.all(ids.map((id) => redis.hgetall(k.status(id)))),
      lease: await redis.hgetall(k.lease('g')),
    };
  }

  test('the owner reads, starts and retries in place; attempts count starts, not reads', async () => {
    const { k, ids } = await setup();
    const a = ownerId('c-a', 'i');
    const { token } = (await acquireLease(redis, k, 'g', a, 60_000)) as { token: number };
    const read = await runScript<Reply>(redis, 'readOwned', [k.lease('g'), k.redeliver('g'), k.stream], ['g', 'c-a', token, 3]);
    expect(read[0]).toBe('ok');
    expect((read[2] as Array<[string]>).map(([id]) => id)).toEqual(ids.slice(0, 3));

    const start = ['g', 'c-a', String(token), ids[0]!, '0', '1'];
    const first = await runScript<Reply>(redis, 'startOrdered', [k.lease('g'), k.stream, k.status(ids[0]!)], start);
    expect(first.slice(0, 2)).toEqual(['run', 1]);
    expect(first[2]).toEqual(['payload', '1', 'headers', '', 'key', 'a']);
    const held = await runScript<Reply>(redis, 'holdRetry', [k.lease('g'), k.stream, k.backoff('g'), k.status(ids[0]!)], ['g', 'c-a', String(token), ids[0]!, '1', 'boom', '5000', '0', '1']);
    expect(held[0]).toBe('held');
    expect(Number(await redis.zscore(k.backoff('g'), ids[0]!))).toBe(held[1]);
    expect(await redis.hgetall(k.status(ids[0]!))).toMatchObject({ 'g:state': 'failed', 'g:attempts': '1', 'g:error': 'boom', 'g:nextAttemptAt': String(held[1]) });
    // Still pending to the owner (no XACK, no copy), so a later event of key a cannot overtake it.
    expect(((await redis.xpending(k.stream, 'g', ids[0]!, ids[0]!, 1)) as Array<[string, string]>)[0]![1]).toBe('c-a');
    const second = await runScript<Reply>(redis, 'startOrdered', [k.lease('g'), k.stream, k.status(ids[0]!)], start);
    expect(second.slice(0, 2)).toEqual(['run', 2]);
    // An entry not pending to this consumer (never read) is stale; a deleted one is lost.
    expect((await runScript<Reply>(redis, 'startOrdered', [k.lease('g'), k.stream, k.status(ids[4]!)], ['g', 'c-a', String(token), ids[4]!, '0', '1']))[0]).toBe('stale');
    await redis.xdel(k.stream, ids[2]!);
    expect(await runScript<Reply>(redis, 'startOrdered', [k.lease('g'), k.stream, k.status(ids[2]!)], ['g', 'c-a', String(token), ids[2]!, '0', '1'])).toEqual(['lost', 0]);
  });

  test('after a takeover the old owner is fenced everywhere and changes nothing; the new owner adopts the PEL page by page with keys and delivery counts', async () => {
    const { k, ids } = await setup();
    const a = ownerId('c-a', 'i');
    const b = ownerId('c-b', 'i');
    const { token: ta } = (await acquireLease(redis, k, 'g', a, 100)) as { token: number };
    await runScript(redis, 'readOwned', [k.lease('g'), k.redeliver('g'), k.stream], ['g', 'c-a', ta, 4]);
    await runScript(redis, 'startOrdered', [k.lease('g'), k.stream, k.status(ids[0]!)], ['g', 'c-a', String(ta), ids[0]!, '0', '1']);
    await redis.xdel(k.stream, ids[3]!); // trimmed while pending: adoption reports it
    // a pauses; its lease expires; b takes over.
    const taken = await waitFor(async () => { const r = await acquireLease(redis, k, 'g', b, 60_000); return r.acquired ? r : undefined; }, { message: 'b takes over' });
    const tb = taken.token;
    expect(tb).toBe(ta + 1);

    const before = await snapshot(k, ids);
    const stale = String(ta);
    const fenced = await Promise.all([
      runScript<Reply>(redis, 'readOwned', [k.lease('g'), k.redeliver('g'), k.stream], ['g', 'c-a', stale, 10]),
      runScript<Reply>(redis, 'startOrdered', [k.lease('g'), k.stream, k.status(ids[1]!)], ['g', 'c-a', stale, ids[1]!, '0', '1']),
      runScript<Reply>(redis, 'holdRetry', [k.lease('g'), k.stream, k.backoff('g'), k.status(ids[0]!)], ['g', 'c-a', stale, ids[0]!, '1', 'late', '0', '0', '1']),
      runScript<Reply>(redis, 'adoptPending', [k.lease('g'), k.stream], ['g', 'c-a', stale, '-', '100']),
    ]);
    expect(fenced).toEqual([['fenced'], ['fenced'], ['fenced'], ['fenced']]);
    expect(await snapshot(k, ids)).toEqual(before);

    // b adopts in pages of 2: every entry a had, in stream order, with its key and deliveries.
    const rows: unknown[] = [];
    const deleted: string[] = [];
    let start = '-';
    for (let page = 0; page < 10; page++) {
      const r = await runScript<[string, string, unknown[], string[]]>(redis, 'adoptPending', [k.lease('g'), k.stream], ['g', 'c-b', String(tb), start, '2']);
      expect(r[0]).toBe('ok');
      rows.push(...r[2]);
      deleted.push(...r[3]);
      if (r[1] === '') break;
      start = r[1];
    }
    expect(rows).toEqual([
      [ids[0], 1, 'a', 2, 'c-a'], [ids[1], 1, 'a', 1, 'c-a'], [ids[2], 1, 'b', 1, 'c-a'],
    ]);
    expect(deleted).toEqual([ids[3]]);
    const pel = (await redis.xpending(k.stream, 'g', '-', '+', 10)) as Array<[string, string, number, number]>;
    expect(pel.filter(([id]) => id !== ids[3]).map(([id, owner, , n]) => [id, owner, n])).toEqual([[ids[0], 'c-b', 2], [ids[1], 'c-b', 1], [ids[2], 'c-b', 1]]);
    // The crashed attempt of ids[0] counts: b's start of it is attempt 2.
    expect((await runScript<Reply>(redis, 'startOrdered', [k.lease('g'), k.stream, k.status(ids[0]!)], ['g', 'c-b', String(tb), ids[0]!, '0', '1'])).slice(0, 2)).toEqual(['run', 2]);
    // New entries go to b only.
    const more = await runScript<Reply>(redis, 'readOwned', [k.lease('g'), k.redeliver('g'), k.stream], ['g', 'c-b', String(tb), 10]);
    expect((more[2] as Array<[string]>).map(([id]) => id)).toEqual([ids[4]]);
  });

  test('bad arguments are refused before anything is written', async () => {
    const { k, ids } = await setup();
    const lease = k.lease('g');
    await expect(runScript(redis, 'readOwned', [lease, k.redeliver('g'), k.stream], ['g', 'c', '1', '0'])).rejects.toThrow(/invalid argument count/);
    await expect(runScript(redis, 'readOwned', [lease, k.redeliver('g'), k.stream], ['g', 'c', 'x', '1'])).rejects.toThrow(/invalid argument token/);
    await expect(runScript(redis, 'adoptPending', [lease, k.stream], ['g', 'c', '1', '1-0', '10'])).rejects.toThrow(/invalid argument start/);
    await expect(runScript(redis, 'adoptPending', [lease, k.stream], ['g', 'c', '1', '-', '1001'])).rejects.toThrow(/invalid argument page size/);
    await expect(runScript(redis, 'startOrdered', [lease, k.stream, k.status(ids[0]!)], ['g', 'c', '1', 'nope', '0', '1'])).rejects.toThrow(/invalid argument entry id/);
    await expect(runScript(redis, 'holdRetry', [lease, k.stream, k.backoff('g'), k.status(ids[0]!)], ['g', 'c', '1', ids[0]!, '1', 'e', '-5', '0', '1'])).rejects.toThrow(/invalid argument backoff/);
    await redis.set(k.backoff('g'), 'x');
    await expect(runScript(redis, 'holdRetry', [lease, k.stream, k.backoff('g'), k.status(ids[0]!)], ['g', 'c', '1', ids[0]!, '1', 'e', '5', '0', '1'])).rejects.toThrow(/WRONGTYPE/);
    expect(await redis.exists(lease, k.status(ids[0]!))).toBe(0);
    expect(await redis.xpending(k.stream, 'g')).toEqual([0, null, null, null]);
  });
});
