/**
 * retireGroup / unretireGroup on a partitioned topic (docs/partitions.md §12): a group lives on
 * every partition's stream, each in its own slot. Retiring it lists it retired on every
 * partition first, then destroys it partition by partition (one script each); a running consumer
 * (unordered or ordered) closes with one GroupRetiredError; a new subscribe is refused; unretire
 * takes it off every partition; a retirement cut short is finished by a second call.
 */
import { sleep, waitFor } from '@streamfan/testing';
import { GroupRetiredError, NotFoundError } from '../src';
import { defineTopic, partitionKeys, readLeasesForTest, retiredGroups } from './partition-helpers';
import { useRedis } from './helpers';
import { expectRetiredAgain, expectSubscribeRefused } from './retire-helpers';

const env = useRedis();
const P = 4;

const groupNames = async (redis: import('ioredis').default, stream: string): Promise<string[]> => {
  if ((await redis.exists(stream)) === 0) return [];
  return ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map((row) => String(row[1])).sort();
};

describe.each([['unordered', 'none'], ['ordered', 'key']] as const)('retireGroup on a partitioned topic (%s)', (_name, ordering) => {
  test('retires the group on every partition while its consumer runs: it closes with one GroupRetiredError naming the topic, no partition recreates it, the other group goes on, groups() lists it retired', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number; slow?: boolean; fail?: boolean }>('orders', { partitions: P });
    const k = (i: number) => partitionKeys(sf.prefix, 'orders', i);
    const keepSeen: number[] = [];
    const goneSeen: number[] = [];
    let abortedWith: unknown;
    const opts = { startFrom: 'beginning' as const, leaseMs: 1000, blockMs: 100, reclaimIntervalMs: 100, ordering };
    const keep = sf.subscribe(t, 'keep', (p) => { keepSeen.push(p.n); }, opts);
    // On a client of its own: two partitioned consumers of one client starting together share its
    // rebalance subscriber, and a SUBSCRIBE sent while that connection is in ioredis' 'connect'
    // state breaks its ready check (a spurious 'Connection in subscriber mode' error; not retirement's).
    const gone = env.client({ prefix: sf.prefix }).subscribe(t, 'gone', async (p, ctx) => {
      goneSeen.push(p.n);
      if (p.fail) throw new Error('fails once, retried in a minute');
      if (p.slow) await new Promise((r) => ctx.signal.addEventListener('abort', r));
      abortedWith = ctx.signal.reason;
    }, { ...opts, concurrency: 2, handlerTimeoutMs: 60_000, backoff: { type: 'fixed', delayMs: 60_000 } });
    const errors: Error[] = [];
    let closed = false;
    gone.on('error', (e) => errors.push(e));
    gone.on('closed', () => { closed = true; });
    await Promise.all([keep.ready(), gone.ready()]);
    const quick = await sf.publishMany(t, [{ n: 1 }, { n: 2 }, { n: 3 }], { keys: ['a', 'b', 'c'] });
    const slow = await sf.publish(t, { n: 4, slow: true }, { key: 'd' });
    const failing = await sf.publish(t, { n: 6, fail: true }, { key: 'f' });
    await waitFor(() => goneSeen.includes(4) && keepSeen.length === 5, { timeoutMs: 10_000, message: 'both groups read, gone runs slow' });
    for (const id of quick) await sf.waitFor(t, id, { groups: ['gone', 'keep'], timeoutMs: 10_000 });
    // The failed one waits for its retry (unordered: the retry set; ordered: held back in place, in the backoff set).
    const local = { partition: Number(failing.slice(1, failing.indexOf(':'))), id: failing.slice(failing.indexOf(':') + 1) };
    await waitFor(async () => (await sf.redis.hget(k(local.partition).status(local.id), 'gone:nextAttemptAt')) !== null, { timeoutMs: 10_000, message: 'retry scheduled' });

    const waiting = sf.waitFor(t, slow, { timeoutMs: 15_000 }); // waits for gone, until it is retired
    const report = await sf.retireGroup(t, 'gone');
    expect((await waiting).groups.keep?.state).toBe('succeeded'); // resolved: it no longer waits for the retired group
    expect(report).toMatchObject({ topic: 'orders', group: 'gone', alreadyRetired: false, consumers: 1, pending: ordering === 'key' ? 2 : 1, retrying: 1, deadLetters: 0, deadLettersDeleted: false });
    expect(report.partitions?.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    expect(report.partitions?.reduce((n, p) => n + p.pending, 0)).toBe(report.pending);
    expect(await sf.redis.hget(k(local.partition).status(local.id), 'gone:nextAttemptAt')).toBeNull();
    expect(report.partitions?.every((p) => !p.alreadyRetired)).toBe(true);
    for (let i = 0; i < P; i++) expect(await sf.redis.hget(k(i).retired, 'gone')).not.toBeNull();

    await waitFor(() => closed, { timeoutMs: 10_000, message: 'the retired consumer closed by itself' });
    await gone.close();
    expect(errors.map((e) => (e instanceof GroupRetiredError ? 'GroupRetiredError' : `${e.name}: ${e.message}`))).toEqual(['GroupRetiredError']);
    expect((errors[0] as GroupRetiredError).topic).toBe('orders');
    expect(abortedWith).toBeInstanceOf(GroupRetiredError);
    expect((await gone.health()).problems).toContain('the group was retired');
    // Its leases were given up as it closed (until 0), tokens kept.
    for (const l of await readLeasesForTest(sf, 'orders', P, 'gone')) expect(l.until).toBe(0);

    await sleep(400);
    for (let i = 0; i < P; i++) {
      expect(await groupNames(sf.redis, k(i).stream)).toEqual(['keep']);
      expect(await sf.redis.exists(k(i).redeliver('gone'), k(i).retry('gone'), k(i).backoff('gone'))).toBe(0);
    }
    const fresh = await sf.publish(t, { n: 5 }, { key: 'e' });
    const status = await sf.waitFor(t, fresh, { timeoutMs: 10_000 });
    expect(Object.keys(status.groups)).toEqual(['keep']);
    expect(goneSeen.sort()).toEqual([1, 2, 3, 4, 6]);

    const groups = await sf.groups(t);
    expect(groups.map((g) => [g.group, g.retired ?? false])).toEqual([['gone', true], ['keep', false]]);
    expect([...(await retiredGroups(sf, 'orders')).keys()]).toEqual(['gone']);

    await expectRetiredAgain(sf, t, 'gone', report);
    await keep.close();
  }, 60_000);

  test('a subscribe to the retired group is refused (ready rejects with GroupRetiredError, no partition gets the group back); unretireGroup takes it off every partition and it subscribes again at its startFrom', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('orders', { partitions: P });
    const k = (i: number) => partitionKeys(sf.prefix, 'orders', i);
    const first = sf.subscribe(t, 'g', () => undefined, { startFrom: 'beginning', leaseMs: 1000, ordering });
    await first.ready();
    await first.close();
    await sf.publishMany(t, [{ n: 0 }, { n: -1 }], { keys: ['a', 'b'] });
    await sf.retireGroup(t, 'g');

    await expectSubscribeRefused(sf, t, 'g', { startFrom: 'beginning', leaseMs: 1000, ordering });
    for (let i = 0; i < P; i++) expect(await groupNames(sf.redis, k(i).stream)).toEqual([]);

    expect(await sf.unretireGroup(t, 'g')).toBe(true);
    expect(await sf.unretireGroup('orders', 'g')).toBe(false);
    for (let i = 0; i < P; i++) expect(await sf.redis.hget(k(i).retired, 'g')).toBeNull();
    const seen: number[] = [];
    const back = sf.subscribe(t, 'g', (p) => { seen.push(p.n); }, { startFrom: 'latest', leaseMs: 1000, blockMs: 100, ordering });
    await back.ready();
    const id = await sf.publish(t, { n: 1 }, { key: 'c' });
    await sf.waitFor(t, id, { timeoutMs: 10_000 });
    expect(seen).toEqual([1]);
    expect((await sf.groups(t)).map((g) => [g.group, g.retired ?? false])).toEqual([['g', false]]);
    await back.close();
  }, 60_000);
});

describe('retireGroup on a partitioned topic: refusals, crashes, options', () => {
  test('by name; an unknown group is NotFoundError (nothing written); deleteDeadLetters drops every partition\'s', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('orders', { partitions: P });
    const k = (i: number) => partitionKeys(sf.prefix, 'orders', i);
    await sf.publish(t, { n: 0 }, { key: 'a' });
    await expect(sf.retireGroup('orders', 'nobody')).rejects.toThrow(NotFoundError);
    for (let i = 0; i < P; i++) expect(await sf.redis.exists(k(i).retired)).toBe(0);

    const sub = sf.subscribe(t, 'dl', (_p, ctx) => ctx.deadLetter('no'), { startFrom: 'beginning', leaseMs: 1000, blockMs: 100 });
    await sub.ready();
    const ids = await sf.publishMany(t, [{ n: 1 }, { n: 2 }, { n: 3 }], { keys: ['x', 'y', 'z'] });
    for (const id of ids) await sf.waitFor(t, id, { timeoutMs: 10_000 });
    await waitFor(async () => (await sf.deadLetters(t, 'dl').count()) === 4, { message: 'four dead letters' });
    await sub.close();
    const d = await sf.retireGroup(t, 'dl', { deleteDeadLetters: true });
    expect(d).toMatchObject({ deadLetters: 4, deadLettersDeleted: true });
    for (let i = 0; i < P; i++) expect(await sf.redis.exists(k(i).deadLetters('dl'))).toBe(0);
  }, 60_000);

  test.each([['unordered', 'none'], ['ordered', 'key']] as const)('a retired group\'s dead letters (%s) cannot be replayed: GroupRetiredError, and they stay', async (_name, ordering) => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>(`kept-${ordering}`, { partitions: P });
    const sub = sf.subscribe(t, 'dl', (_p, ctx) => ctx.deadLetter('no'), { startFrom: 'beginning', leaseMs: 1000, blockMs: 100, ordering });
    await sub.ready();
    const ids = await sf.publishMany(t, [{ n: 1 }, { n: 2 }, { n: 3 }], { keys: ['x', 'y', 'z'] });
    for (const id of ids) await sf.waitFor(t, id, { timeoutMs: 10_000 });
    await waitFor(async () => (await sf.deadLetters(t, 'dl').count()) === 3, { message: 'three dead letters' });
    await sub.close();
    await sf.retireGroup(t, 'dl');
    // A replay would feed redelivery streams nobody reads (the group is gone on every partition).
    await expect(sf.deadLetters(t, 'dl').replay({ all: true })).rejects.toThrow(GroupRetiredError);
    const [first] = await sf.deadLetters(t, 'dl').list({ count: 1 });
    await expect(sf.deadLetters(t, 'dl').replay({ ids: [first!.deadLetterId] })).rejects.toThrow(GroupRetiredError);
    expect(await sf.deadLetters(t, 'dl').count()).toBe(3);
    for (let i = 0; i < P; i++) expect(await sf.redis.exists(partitionKeys(sf.prefix, t.name, i).redeliver('dl'))).toBe(0);
  }, 60_000);

  test('a retirement cut short between partitions (listed and destroyed on partition 0 only) refuses subscribers, and a second retireGroup finishes it on every partition', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('orders', { partitions: P });
    const k = (i: number) => partitionKeys(sf.prefix, 'orders', i);
    const first = sf.subscribe(t, 'g', () => undefined, { startFrom: 'beginning', leaseMs: 1000 });
    await first.ready();
    await first.close();
    // What a crash after the first partition leaves: partition 0 listed retired, its group destroyed; the others untouched.
    const [sec] = (await sf.redis.time()) as unknown as [string];
    await sf.redis.hset(k(0).retired, 'g', String(Number(sec) * 1000));
    await sf.redis.xgroup('DESTROY', k(0).stream, 'g');

    const again = sf.subscribe(t, 'g', () => undefined, { startFrom: 'beginning', leaseMs: 1000 });
    again.on('error', () => undefined);
    await expect(again.ready()).rejects.toBeInstanceOf(GroupRetiredError);
    expect(await groupNames(sf.redis, k(0).stream)).toEqual([]); // not recreated on the retired partition

    const r = await sf.retireGroup(t, 'g');
    expect(r.alreadyRetired).toBe(false);
    expect(r.partitions?.map((p) => p.alreadyRetired)).toEqual([true, false, false, false]);
    expect(r.retiredAt.getTime()).toBe(Number(sec) * 1000);
    for (let i = 0; i < P; i++) {
      expect(await sf.redis.hget(k(i).retired, 'g')).toBe(String(Number(sec) * 1000));
      expect(await groupNames(sf.redis, k(i).stream)).toEqual([]);
    }
    expect((await sf.retireGroup(t, 'g')).alreadyRetired).toBe(true);
  }, 60_000);
});
