/**
 * Priority lanes (docs/priorities.md §5): what a laned consumer holds beyond its running handlers.
 * Each lane reads only what it may hold (its handlers with a slot, plus at most `concurrency + 1`
 * entries waiting for one), so a consumer whose handlers hang keeps a few entries per lane and
 * another consumer of the group handles the rest of a burst.
 */
import { sleep } from '@streamfan/testing';
import { defineTopic, laneKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('read-ahead of a laned consumer', () => {
  test.each([1, 4])('concurrency %i: a consumer whose handlers hang holds at most concurrency + 1 entries per lane beyond them; the other consumer of the group handles the rest of a burst', async (concurrency) => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('mail', { priorities: ['high', 'low'] });
    const opts = { startFrom: 'beginning' as const, concurrency, visibilityTimeoutMs: 60_000, reclaimIntervalMs: 60_000, blockMs: 200 };
    let aStarted = 0;
    const a = sf.subscribe(t, 'send', (_p, ctx) => {
      aStarted++;
      return new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    }, { ...opts, consumer: 'a' });
    await a.ready();
    let bDone = 0;
    const b = sf.subscribe(t, 'send', () => { bDone++; }, { ...opts, consumer: 'b' });
    await b.ready();
    const N = 300;
    await sf.publishMany(t, Array.from({ length: N }, (_, n) => ({ n })), { priority: 'high' });
    await sf.publishMany(t, Array.from({ length: N }, (_, n) => ({ n })), { priority: 'low' });
    const pendingOf = async (lane: string, consumer: string) => {
      const rows = (await sf.redis.xpending(laneKeys(sf.prefix, 'mail', lane, 'low').stream, 'send', '-', '+', 10_000, consumer)) as unknown[];
      return rows.length;
    };
    await until('b handled all but what a holds', async () => bDone + (await pendingOf('high', 'a')) + (await pendingOf('low', 'a')) === 2 * N);
    await sleep(300);
    const held = { high: await pendingOf('high', 'a'), low: await pendingOf('low', 'a') };
    console.log(`concurrency ${concurrency}, a's handlers hang, ${N} high + ${N} low published: a holds high ${held.high}, low ${held.low} (running ${aStarted}); b handled ${bDone}`);
    expect(aStarted).toBe(concurrency);
    // Beyond its `concurrency` running handlers, at most concurrency + 1 per lane (laneAllowance).
    expect(held.high + held.low - concurrency).toBeLessThanOrEqual(2 * (concurrency + 1));
    expect(held.high).toBeLessThanOrEqual(2 * concurrency + 1);
    expect(held.low).toBeLessThanOrEqual(2 * concurrency + 1);
    expect(bDone).toBe(2 * N - held.high - held.low);
    await Promise.all([a.close(0), b.close()]);
  }, 120_000);

  test('entries delivered past the lane\'s room (a read and a reclaim that met) are held, and start as room frees: they never wait for good', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('mail', { priorities: ['high', 'low'] });
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    const started: number[] = [];
    const sub = sf.subscribe(t, 'send', async (p) => {
      started.push(p.n);
      await gate;
    }, { startFrom: 'beginning', concurrency: 1, consumer: 'c', blockMs: 200 });
    await sub.ready();
    await sf.publishMany(t, [{ n: 1 }, { n: 2 }, { n: 3 }], { priority: 'high' });
    await until('the first one runs', () => started.length === 1);
    await sleep(200); // the lane reads up to its allowance (concurrency + 1 waiting) and stops
    const stream = laneKeys(sf.prefix, 'mail', 'high', 'low').stream;
    await sf.publishMany(t, [{ n: 4 }, { n: 5 }, { n: 6 }], { priority: 'high' });
    // Delivered to this consumer outside its read loop (as a reclaim meeting a read does), past its room.
    const reply = (await sf.redis.xreadgroup('GROUP', 'send', 'c', 'COUNT', 10, 'STREAMS', stream, '>')) as Array<[string, Array<[string, string[]]>]>;
    const extra = reply[0]![1];
    expect(extra).toHaveLength(3);
    const lane = (sub as unknown as { subs: Array<{ take(stream: string, raw: unknown, deliveries: number): void; held: unknown[] }> }).subs[0]!;
    for (const raw of extra) lane.take(stream, raw, 1);
    expect(lane.held.length).toBe(3);
    open();
    await until('all six handled', () => started.length === 6, 20_000);
    expect(started.sort()).toEqual([1, 2, 3, 4, 5, 6]);
    await sub.close();
  }, 60_000);
});
