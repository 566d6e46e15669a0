/**
 * Priority lanes (docs/priorities.md §6): retireGroup / unretireGroup on a prioritized topic.
 * A group of a prioritized topic lives on every lane's stream; retiring it retires it in every
 * lane (one retireGroup script per lane, each atomic as on a plain topic), unretiring takes it
 * off every lane's retired list.
 */
import { sleep, waitFor } from '@streamfan/testing';
import { GroupRetiredError, NotFoundError } from '../src';
import { defineTopic, laneKeys } from '../src/internal';
import { useRedis } from './helpers';
import { expectRetiredAgain, expectSubscribeRefused } from './retire-helpers';

const env = useRedis();
const LANES = ['high', 'normal', 'low'];

const groupNames = async (redis: import('ioredis').default, stream: string): Promise<string[]> => {
  if ((await redis.exists(stream)) === 0) return [];
  return ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map((row) => String(row[1])).sort();
};

describe('retireGroup on a prioritized topic', () => {
  test('retires the group in every lane while its consumer runs: the consumer stops (one GroupRetiredError naming the topic), no lane recreates it, the other group keeps delivering, groups() lists it retired', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number; slow?: boolean }>('mail', { priorities: LANES });
    const k = (lane: string) => laneKeys(sf.prefix, 'mail', lane, 'normal');
    const keepSeen: number[] = [];
    const goneSeen: number[] = [];
    let abortedWith: unknown;
    const keep = sf.subscribe(t, 'keep', (p) => { keepSeen.push(p.n); }, { startFrom: 'beginning', reclaimIntervalMs: 100, blockMs: 200 });
    const gone = sf.subscribe(t, 'gone', async (p, ctx) => {
      goneSeen.push(p.n);
      if (p.slow) await new Promise((r) => ctx.signal.addEventListener('abort', r));
      abortedWith = ctx.signal.reason;
    }, { startFrom: 'beginning', reclaimIntervalMs: 100, blockMs: 200, concurrency: 2, backoff: { type: 'fixed', delayMs: 60_000 } });
    const errors: Error[] = [];
    let closed = false;
    gone.on('error', (e) => errors.push(e));
    gone.on('closed', () => { closed = true; });
    await Promise.all([keep.ready(), gone.ready()]);
    const quick = [await sf.publish(t, { n: 1 }, { priority: 'high' }), await sf.publish(t, { n: 2 }, { priority: 'low' })];
    await sf.publish(t, { n: 3, slow: true }, { priority: 'high' });
    await waitFor(() => goneSeen.includes(3) && keepSeen.length === 3, { message: 'both groups read, gone runs slow' });
    for (const id of quick) await sf.waitFor(t, id, { groups: ['gone', 'keep'], timeoutMs: 10_000 }); // acknowledged: only the slow one is pending

    const report = await sf.retireGroup(t, 'gone');
    expect(report).toMatchObject({ topic: 'mail', group: 'gone', alreadyRetired: false, consumers: 1, pending: 1, retrying: 0, deadLetters: 0, deadLettersDeleted: false });
    expect(report.lanes?.map((l) => [l.lane, l.alreadyRetired, l.pending])).toEqual([['high', false, 1], ['normal', false, 0], ['low', false, 0]]);
    for (const lane of LANES) expect(await sf.redis.hget(k(lane).retired, 'gone')).not.toBeNull();

    await waitFor(() => closed, { timeoutMs: 10_000, message: 'the retired consumer closed by itself' });
    await gone.close();
    expect(errors.map((e) => e.constructor.name)).toEqual(['GroupRetiredError']);
    expect((errors[0] as GroupRetiredError).topic).toBe('mail');
    expect(abortedWith).toBeInstanceOf(GroupRetiredError);

    await sleep(400);
    for (const lane of LANES) {
      expect(await groupNames(sf.redis, k(lane).stream)).toEqual(['keep']);
      expect(await sf.redis.exists(k(lane).redeliver('gone'), k(lane).retry('gone'))).toBe(0);
    }
    const fresh = await sf.publish(t, { n: 4 }, { priority: 'low' });
    const status = await sf.waitFor(t, fresh, { timeoutMs: 10_000 });
    expect(Object.keys(status.groups)).toEqual(['keep']);
    expect(goneSeen).toEqual(expect.arrayContaining([1, 2, 3]));
    expect(goneSeen).toHaveLength(3);

    const groups = await sf.groups(t);
    expect(groups.map((g) => [g.group, g.retired ?? false])).toEqual([['gone', true], ['keep', false]]);
    expect(groups[0]!.retiredAt).toBeInstanceOf(Date);
    expect(groups[0]!.lanes?.map((l) => l.lane)).toEqual(LANES);

    await expectRetiredAgain(sf, t, 'gone', report);
    await keep.close();
  }, 60_000);

  test('a subscribe to the retired group refuses (ready rejects with GroupRetiredError, no lane gets the group back); unretireGroup takes it off every lane, and it subscribes again at its startFrom', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('mail', { priorities: LANES });
    const k = (lane: string) => laneKeys(sf.prefix, 'mail', lane, 'normal');
    const first = sf.subscribe(t, 'g', () => undefined, { startFrom: 'beginning' });
    await first.ready();
    await first.close();
    await sf.publish(t, { n: 0 }, { priority: 'high' });
    await sf.retireGroup(t, 'g');

    await expectSubscribeRefused(sf, t, 'g', { startFrom: 'beginning' });
    for (const lane of LANES) expect(await groupNames(sf.redis, k(lane).stream)).toEqual([]);

    expect(await sf.unretireGroup(t, 'g')).toBe(true);
    expect(await sf.unretireGroup('mail', 'g')).toBe(false);
    for (const lane of LANES) expect(await sf.redis.hget(k(lane).retired, 'g')).toBeNull();
    const seen: number[] = [];
    const back = sf.subscribe(t, 'g', (p) => { seen.push(p.n); }, { startFrom: 'latest' });
    await back.ready();
    const id = await sf.publish(t, { n: 1 }, { priority: 'low' });
    await sf.waitFor(t, id, { timeoutMs: 10_000 });
    expect(seen).toEqual([1]);
    expect((await sf.groups(t)).map((g) => [g.group, g.retired ?? false])).toEqual([['g', false]]);
    await back.close();
  }, 60_000);

  test('by name; an unknown group is NotFoundError (nothing written); a group on one lane only is retired in every lane; deleteDeadLetters drops every lane\'s', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('mail', { priorities: LANES });
    const k = (lane: string) => laneKeys(sf.prefix, 'mail', lane, 'normal');
    await sf.publish(t, { n: 1 }, { priority: 'low' });
    await expect(sf.retireGroup('mail', 'nobody')).rejects.toThrow(NotFoundError);
    for (const lane of LANES) expect(await sf.redis.exists(k(lane).retired)).toBe(0);

    // Made by hand on the high lane only: no subscriber ever created it elsewhere.
    await sf.redis.xgroup('CREATE', k('high').stream, 'hand', '0', 'MKSTREAM');
    const r = await sf.retireGroup('mail', 'hand');
    expect(r.alreadyRetired).toBe(false);
    for (const lane of LANES) expect(await sf.redis.hget(k(lane).retired, 'hand')).not.toBeNull();
    expect(await groupNames(sf.redis, k('high').stream)).toEqual([]);

    // Dead letters in two lanes, deleted with the group.
    const sub = sf.subscribe(t, 'dl', (_p, ctx) => ctx.deadLetter('no'), { startFrom: 'beginning' });
    await sub.ready();
    const hi = await sf.publish(t, { n: 2 }, { priority: 'high' });
    await sf.waitFor(t, hi, { timeoutMs: 10_000 });
    await waitFor(async () => (await sf.deadLetters(t, 'dl').count()) === 2, { message: 'two dead letters' });
    await sub.close();
    const d = await sf.retireGroup(t, 'dl', { deleteDeadLetters: true });
    expect(d).toMatchObject({ deadLetters: 2, deadLettersDeleted: true });
    for (const lane of LANES) expect(await sf.redis.exists(k(lane).deadLetters('dl'))).toBe(0);
  }, 60_000);
});
