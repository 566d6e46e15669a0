/**
 * Priority lanes, step 2 (docs/priorities.md §5): consuming a prioritized topic.
 * Measures (orders and counts, never time):
 * - under a backlog of 10,000 low events, 100 high events published afterwards are all handled
 *   before the low backlog drains, and how many low events start meanwhile;
 * - the starvation guard: the share of handler starts low gets while high is saturated
 *   (lowerLaneShare 0.1 vs 0, strict);
 * - retries and dead letters of a lane stay in that lane's keys;
 * - a crashed consumer's lane entries are reclaimed by another consumer, with lane ids;
 * - `ordering: 'key'` and bad lane options are refused.
 */
import { sleep } from '@streamfan/testing';
import {
  InvalidOptionError, LaneMismatchError, LaneOrderingError, defineTopic, laneKeys, type HandlerContext, type Streamfan,
} from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Publish `n` events to `lane` in batches of at most 10,000. */
async function fill(sf: Streamfan, topic: ReturnType<typeof defineTopic<{ n: number }>>, lane: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 10_000) {
    await sf.publishMany(topic, Array.from({ length: Math.min(10_000, n - i) }, (_, k) => ({ n: i + k })), { priority: lane });
  }
}

describe('consuming a prioritized topic', () => {
  test('under a backlog of 10,000 low events, 100 high events published afterwards are all handled before the low backlog drains', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('mail', { priorities: ['high', 'low'] });
    await fill(sf, t, 'low', 10_000);
    const starts: string[] = [];
    const sub = sf.subscribe(t, 'send', async (_p, ctx) => {
      starts.push(ctx.priority!);
      await sleep(2); // a little I/O, as a real handler does
    }, { startFrom: 'beginning', concurrency: 4 });
    await sub.ready();
    await until('300 low events handled', () => starts.length >= 300);
    const before = starts.length;
    await fill(sf, t, 'high', 100);
    await until('the 100 high events handled', () => starts.filter((l) => l === 'high').length >= 100);
    const firstHigh = starts.indexOf('high');
    const lastHigh = starts.lastIndexOf('high');
    const lowMeanwhile = starts.slice(firstHigh, lastHigh + 1).filter((l) => l === 'low').length;
    const lowBefore = starts.slice(0, lastHigh + 1).filter((l) => l === 'low').length;
    const lowBetween = starts.slice(before, firstHigh).filter((l) => l === 'low').length;
    console.log(`priority under backlog: ${before} low started before the high publish, ${lowBetween} more before the first high start, ` +
      `${lowMeanwhile} low among the starts from the first to the last of the 100 high ones; low started when the last high started: ${lowBefore} of 10000`);
    await sub.close();
    expect(lowBefore).toBeLessThan(10_000);
    // The guard (default 1 in 10) lets about 10 low starts through during 100 high ones; the rest
    // are low handlers already granted, and reads of the high lane still on the wire.
    expect(lowMeanwhile).toBeLessThanOrEqual(40);
    expect(lowMeanwhile).toBeGreaterThanOrEqual(5);
  }, 120_000);

  async function shares(lowerLaneShare: number, concurrency = 2): Promise<{ low: number; high: number; granted: number[]; ms: number }> {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('mail', { priorities: ['high', 'low'] });
    await fill(sf, t, 'high', 1500);
    await fill(sf, t, 'low', 1500);
    const starts: string[] = [];
    const sub = sf.subscribe(t, 'send', async (_p, ctx) => {
      starts.push(ctx.priority!);
      await sleep(2); // a little I/O, as a real handler does
    }, { startFrom: 'beginning', concurrency, lowerLaneShare });
    const t0 = Date.now();
    await until('1000 starts', () => starts.length >= 1000);
    const ms = Date.now() - t0;
    const granted = (sub as unknown as { lanes: Array<{ granted: number }> }).lanes.map((l) => l.granted);
    await sub.close();
    const first = starts.slice(0, 1000);
    return { low: first.filter((l) => l === 'low').length, high: first.filter((l) => l === 'high').length, granted, ms };
  }

  test('the starvation guard keeps low moving while high is saturated: at least its share of the starts (vs strict priority)', async () => {
    const guarded = await shares(0.1);
    const strict = await shares(0);
    console.log(`first 1000 handler starts with 1500 high and 1500 low waiting, concurrency 2: lowerLaneShare 0.1 -> ${guarded.low} low / ${guarded.high} high; ` +
      `0 (strict) -> ${strict.low} low / ${strict.high} high (grants per lane at the end: ${guarded.granted.join('/')}, ${strict.granted.join('/')})`);
    // 1 grant in 10 while low waits: about 100 of 1000 (the first grants, made before any wait, go to whichever lane read first).
    expect(guarded.low).toBeGreaterThanOrEqual(80);
    expect(guarded.low).toBeLessThanOrEqual(200);
    // Strict: low runs only when high has no entry waiting (startup, and reads of the high lane on the wire).
    expect(strict.low).toBeLessThan(guarded.low);
    expect(strict.low).toBeLessThanOrEqual(40);
  }, 120_000);

  test('strict priority is exact: with 1,500 high and 1,500 low waiting, no low handler starts among the first 1,000 (concurrency 2 and 8); the guard gives low its share at concurrency 8', async () => {
    const strict2 = await shares(0, 2);
    const strict8 = await shares(0, 8);
    const guarded8 = await shares(0.1, 8);
    console.log(`low starts among the first 1000 (1500 high + 1500 low waiting, 2 ms handlers): strict concurrency 2 -> ${strict2.low}, ` +
      `strict concurrency 8 -> ${strict8.low}, lowerLaneShare 0.1 concurrency 8 -> ${guarded8.low} (1000 starts in ${strict2.ms} / ${strict8.ms} / ${guarded8.ms} ms)`);
    expect(strict2.low).toBe(0);
    expect(strict8.low).toBe(0);
    expect(guarded8.low).toBeGreaterThanOrEqual(80);
    expect(guarded8.low).toBeLessThanOrEqual(200);
  }, 180_000);

  test('retries and dead letters of a lane stay in its lane; handler ids and ctx.priority name the lane', async () => {
    const sf = env.client();
    const t = defineTopic<{ fail?: boolean; dead?: boolean }>('mail', { priorities: ['high', 'normal', 'low'] });
    const seen: Array<{ id: string; priority: string; attempt: number; topic: string }> = [];
    const processed: string[] = [];
    const sub = sf.subscribe(t, 'send', (p, ctx: HandlerContext) => {
      seen.push({ id: ctx.id, priority: ctx.priority!, attempt: ctx.attempt, topic: ctx.topic });
      if (p.dead) ctx.deadLetter('poison');
      if (p.fail && ctx.attempt === 1) throw new Error('first attempt fails');
      return { ok: true };
    }, { startFrom: 'beginning', concurrency: 2, backoff: { type: 'fixed', delayMs: 50 }, maxAttempts: 3, reclaimIntervalMs: 50 });
    sub.on('processed', (e) => processed.push(e.id));
    await sub.ready();
    const hi = await sf.publish(t, { fail: true }, { priority: 'high' });
    const lo = await sf.publish(t, { dead: true }, { priority: 'low' });
    const [sh, sl] = await Promise.all([sf.waitFor(t, hi, { timeoutMs: 20_000 }), sf.waitFor(t, lo, { timeoutMs: 20_000 })]);
    expect(sh.groups.send).toEqual(expect.objectContaining({ state: 'succeeded', attempts: 2 }));
    expect(sh.priority).toBe('high');
    expect(sl.groups.send!.state).toBe('dead');
    expect(seen.filter((s) => s.id === hi).map((s) => [s.priority, s.attempt, s.topic])).toEqual([['high', 1, 'mail'], ['high', 2, 'mail']]);
    expect(seen.filter((s) => s.id === lo).map((s) => s.priority)).toEqual(['low']);
    expect(processed).toContain(hi);
    const k = (lane: string) => laneKeys(sf.prefix, 'mail', lane, 'normal');
    // The retry went through the high lane's redelivery stream, and nowhere else.
    expect(await sf.redis.xlen(k('high').redeliver('send'))).toBeGreaterThanOrEqual(1);
    expect(await sf.redis.xlen(k('normal').redeliver('send'))).toBe(0);
    expect(await sf.redis.xlen(k('low').redeliver('send'))).toBe(0);
    // The dead letter is the low lane's.
    expect(await sf.redis.xlen(k('low').deadLetters('send'))).toBe(1);
    expect(await sf.redis.xlen(k('normal').deadLetters('send'))).toBe(0);
    expect(await sf.redis.xlen(k('high').deadLetters('send'))).toBe(0);
    await sub.close();
  }, 60_000);

  test("a crashed consumer's lane entries are reclaimed by another consumer, with lane ids", async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('mail', { priorities: ['high', 'low'] });
    const opts = { startFrom: 'beginning' as const, concurrency: 2, visibilityTimeoutMs: 400, reclaimIntervalMs: 100 };
    let took = 0;
    const a = sf.subscribe(t, 'send', (_p, ctx) => {
      took++;
      return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('crashed'))));
    }, { ...opts, consumer: 'a' });
    await a.ready();
    const ids = [...await sf.publishMany(t, [{ n: 1 }, { n: 2 }], { priority: 'high' }), ...await sf.publishMany(t, [{ n: 3 }], { priority: 'low' })];
    await until('a to hold its slots', () => took >= 2);
    await a.close(0); // leaves what it ran (and read) pending, as a crash would
    const reclaimed: string[] = [];
    const b = sf.subscribe(t, 'send', (_p, ctx) => ({ by: ctx.consumer, lane: ctx.priority }), { ...opts, consumer: 'b' });
    b.on('reclaimed', (e) => reclaimed.push(...e.ids));
    const done = await Promise.all(ids.map((id) => sf.waitFor(t, id, { timeoutMs: 20_000 })));
    for (const s of done) expect(s.groups.send).toEqual(expect.objectContaining({ state: 'succeeded', consumer: 'b' }));
    expect(reclaimed.length).toBeGreaterThanOrEqual(1);
    expect(reclaimed.every((id) => ids.includes(id))).toBe(true);
    expect(reclaimed.some((id) => id.startsWith('high:'))).toBe(true);
    await b.close();
  }, 60_000);

  test("a delayed event is promoted into its lane by the lane's consumers, and handled there; stats, running and health sum the lanes", async () => {
    const publisher = env.client({ promoteIntervalMs: 3_600_000 }); // its own promotion timer never fires in this test
    const sf = env.client({ prefix: publisher.prefix });
    const t = defineTopic<{ n: number }>('mail', { priorities: ['high', 'low'] });
    const got: Array<[string, string]> = [];
    const sub = sf.subscribe(t, 'send', (_p, ctx) => { got.push([ctx.id, ctx.priority!]); }, { startFrom: 'beginning', reclaimIntervalMs: 50 });
    await sub.ready();
    const id = await publisher.publish(t, { n: 1 }, { priority: 'high', delayMs: 100 });
    const now = await publisher.publish(t, { n: 2 });
    const st = await sf.waitFor(t, id, { timeoutMs: 20_000 });
    await sf.waitFor(t, now, { timeoutMs: 20_000 });
    expect(st.eventId).toMatch(/^high:\d+-\d+$/);
    expect(got).toContainEqual([st.eventId, 'high']);
    expect(got).toContainEqual([now, 'low']);
    expect(sub.stats.processed).toBe(2);
    expect(sub.running).toEqual([]);
    const health = await sub.health();
    expect(health.healthy).toBe(true);
    expect(health.lag).toBe(0);
    await sub.close();
  }, 60_000);

  test('handlerTimeoutMs counts from the slot grant, not from the read: waiting for a slot is not the handler\'s time', async () => {
    const sf = env.client();
    const t = defineTopic<{ hang?: boolean }>('mail', { priorities: ['high', 'low'] });
    const failed: Array<{ id: string; error: string }> = [];
    const aborted: string[] = [];
    const sub = sf.subscribe(t, 'send', async (p, ctx) => {
      if (p.hang && ctx.attempt === 1) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => { aborted.push(ctx.id); resolve(); }));
        return;
      }
      await sleep(600);
    }, { startFrom: 'beginning', concurrency: 1, handlerTimeoutMs: 1000, backoff: { type: 'fixed', delayMs: 50 }, reclaimIntervalMs: 50 });
    sub.on('failed', (e) => failed.push({ id: e.id, error: e.error }));
    await sub.ready();
    // One slot: the second waits about 600 ms for it, then runs 600 ms (1200 ms after it was read).
    const ids = await sf.publishMany(t, [{}, {}], { priority: 'low' });
    const hang = await sf.publish(t, { hang: true }, { priority: 'high' });
    for (const id of ids) expect((await sf.waitFor(t, id, { timeoutMs: 20_000 })).groups.send).toEqual(expect.objectContaining({ state: 'succeeded', attempts: 1 }));
    const st = await sf.waitFor(t, hang, { timeoutMs: 20_000 });
    expect(st.groups.send).toEqual(expect.objectContaining({ state: 'succeeded', attempts: 2 }));
    expect(failed).toEqual([{ id: hang, error: expect.stringMatching(/handler timed out after 1000ms/) as unknown as string }]);
    expect(aborted).toEqual([hang]);
    await sub.close();
  }, 60_000);

  test("startFrom 'latest' (the default): events published in any lane before subscribe() are not delivered, those published right after it returns are", async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('mail', { priorities: ['high', 'normal', 'low'] });
    await sf.publish(t, { n: 0 }, { priority: 'high' });
    await sf.publish(t, { n: 0 }, { priority: 'low' });
    const got: number[] = [];
    const sub = sf.subscribe(t, 'send', (p) => { got.push(p.n); });
    const ids = [
      await sf.publish(t, { n: 1 }, { priority: 'high' }),
      await sf.publish(t, { n: 2 }),
      await sf.publish(t, { n: 3 }, { priority: 'low' }),
    ];
    for (const id of ids) expect((await sf.waitFor(t, id, { groups: ['send'], timeoutMs: 20_000 })).groups.send!.state).toBe('succeeded');
    expect(got.sort()).toEqual([1, 2, 3]);
    await sub.close();
  }, 60_000);

  test("ordering: 'key' is refused, saying why; lowerLaneShare is checked and refused without lanes", async () => {
    const sf = env.client();
    const t = defineTopic('mail', { priorities: ['high', 'low'] });
    const err = (() => { try { sf.subscribe(t, 'g', () => undefined, { ordering: 'key' }); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(LaneOrderingError);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as Error).message).toMatch(/key order and priority contradict.*high-priority event would overtake/);
    for (const bad of [-0.1, 0.6, NaN, '0.1']) {
      expect(() => sf.subscribe(t, 'g', () => undefined, { lowerLaneShare: bad as number })).toThrow(/lowerLaneShare must be a number from 0 to 0.5/);
    }
    expect(() => sf.subscribe('plain', 'g', () => undefined, { lowerLaneShare: 0.2 })).toThrow(/lowerLaneShare applies only to topics with priority lanes/);
    expect(sf.activeSubscriptions).toHaveLength(0);
  });

  test('a subscriber with another lane set is refused: ready() rejects with LaneMismatchError and nothing is created', async () => {
    const sf = env.client();
    await sf.publish(defineTopic('mail', { priorities: ['high', 'low'] }), {});
    const sub = sf.subscribe(defineTopic('mail', { priorities: ['urgent', 'high', 'low'] }), 'g', () => undefined);
    sub.on('error', () => undefined);
    await expect(sub.ready()).rejects.toThrow(LaneMismatchError);
    expect(await sf.redis.exists(laneKeys(sf.prefix, 'mail', 'urgent', 'low').stream)).toBe(0);
  });
});
