import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys, type Streamfan, type TrimReport } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

/** True when `group` has read and acknowledged everything in the topic. */
async function caughtUp(sf: Streamfan, topic: string, group: string): Promise<boolean> {
  const g = (await sf.groups(topic)).find((x) => x.group === group);
  return g !== undefined && g.pending === 0 && g.lag === 0;
}

describe('retention', () => {
  test('safe trim keeps every entry a slow group has not acknowledged; a dry run counts without removing', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('orders');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const slowSeen: number[] = [];
    const fast = sf.subscribe(topic, 'fast', () => undefined, { startFrom: 'beginning' });
    // The slow group handles 0..4, then sticks on 5 (concurrency 1: nothing after 5 is read).
    const slow = sf.subscribe(topic, 'slow', async (n) => { slowSeen.push(n); if (n >= 5) await gate; },
      { startFrom: 'beginning', concurrency: 1 });
    await Promise.all([fast.ready(), slow.ready()]);
    const ids = await sf.publishMany(topic, Array.from({ length: 20 }, (_, i) => i));
    await waitFor(() => caughtUp(sf, topic.name, 'fast'), { message: 'fast group caught up' });
    await waitFor(async () => slowSeen.includes(5) && (await sf.status(topic, ids[4]!)).groups.slow?.state === 'succeeded',
      { message: 'slow group stuck on entry 5' });
    expect(await sf.pending(topic, 'slow')).toEqual([expect.objectContaining({ id: ids[5] })]);

    const dry = await sf.trim(topic, { dryRun: true, approximate: false });
    expect(dry).toMatchObject({ dryRun: true, safeMinId: ids[5], removed: 5, lostToCap: 0, length: 15, groups: 2 });
    expect(await sf.redis.xlen(stream)).toBe(20);

    const real = await sf.trim(topic, { approximate: false });
    expect(real).toMatchObject({ dryRun: false, safeMinId: ids[5], removed: 5, lostToCap: 0, lostIds: [], length: 15 });
    expect(await sf.redis.xlen(stream)).toBe(15);
    expect((await sf.redis.xrange(stream, '-', '+')).map(([id]) => id)).toEqual(ids.slice(5));
    expect((await sf.trim(topic, { approximate: false })).removed).toBe(0);

    release();
    await waitFor(() => caughtUp(sf, topic.name, 'slow'), { message: 'slow group caught up' });
    expect(slowSeen).toEqual(Array.from({ length: 20 }, (_, i) => i)); // nothing it needed was trimmed
    const after = await sf.trim(topic, { approximate: false });
    expect(after).toMatchObject({ removed: 15, length: 0 });
    await Promise.all([fast.close(), slow.close()]);
  });

  test('a hard maxLen cap reports exactly what it cost and records the trimmed entries as lost in the slow group, once', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('capped');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    await sf.redis.xgroup('CREATE', stream, 'fast', '$', 'MKSTREAM');
    await sf.redis.xgroup('CREATE', stream, 'slow', '$');
    const ids = await sf.publishMany(topic, Array.from({ length: 10 }, (_, i) => i));
    // fast reads and acks everything; a slow consumer reads 4 entries and dies holding them.
    await sf.redis.xreadgroup('GROUP', 'fast', 'f', 'COUNT', 100, 'STREAMS', stream, '>');
    await sf.redis.xack(stream, 'fast', ...ids);
    await sf.redis.xreadgroup('GROUP', 'slow', 'ghost', 'COUNT', 4, 'STREAMS', stream, '>');

    const dry = await sf.trim(topic, { maxLen: 3, approximate: false, dryRun: true });
    expect(dry).toMatchObject({ removed: 0, lostToCap: 7, lostIds: ids.slice(0, 7), length: 3 });
    expect(await sf.redis.xlen(stream)).toBe(10);
    const report = await sf.trim(topic, { maxLen: 3, approximate: false });
    expect(report).toMatchObject({ safeMinId: ids[0], removed: 0, lostToCap: 7, lostIds: ids.slice(0, 7), lostByGroup: { slow: 7 }, length: 3 });
    expect((await sf.redis.xrange(stream, '-', '+')).map(([id]) => id)).toEqual(ids.slice(7));
    // The 4 it held pending (owner kept) and the 3 it never read are lost there, and settled:
    for (const [i, id] of ids.slice(0, 7).entries()) {
      expect((await sf.status(topic, id)).groups.slow).toMatchObject({ state: 'lost', ...(i < 4 ? { consumer: 'ghost' } : {}) });
    }
    expect(await sf.pending(topic, 'slow')).toEqual([]);

    // ...so a consumer of the slow group never meets them again: no second record, no loop.
    const lost: string[][] = [];
    const handled: number[] = [];
    const sub = sf.subscribe(topic, 'slow', (n) => { handled.push(n); }, { visibilityTimeoutMs: 300, reclaimIntervalMs: 50 });
    sub.on('lost', (e) => lost.push(e.ids));
    await waitFor(() => handled.length === 3, { message: 'the rest handled' });
    await sleep(800); // many reclaim ticks
    expect(lost).toEqual([]);
    expect(handled.sort()).toEqual([7, 8, 9]);
    const done = await sf.waitFor(topic, ids[0]!, { groups: ['slow'], timeoutMs: 5000 }); // lost is final
    expect(done.groups.slow?.state).toBe('lost');
    expect(await sf.pending(topic, 'slow')).toEqual([]);
    await sub.close();
  });

  test('the dead-letter stream has its own cap (deadLetterMaxLen)', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('poison');
    // Approximate trimming removes whole stream nodes: make nodes small so the cap shows at a small scale.
    const [, nodeSize] = (await sf.redis.config('GET', 'stream-node-max-entries')) as [string, string];
    await sf.redis.config('SET', 'stream-node-max-entries', '5');
    try {
      const sub = sf.subscribe(topic, 'g', (_n, ctx) => ctx.deadLetter('bad'), { startFrom: 'beginning', deadLetterMaxLen: 10 });
      const uncapped = sf.subscribe(topic, 'h', (_n, ctx) => ctx.deadLetter('bad'), { startFrom: 'beginning' });
      await Promise.all([sub.ready(), uncapped.ready()]);
      const ids = await sf.publishMany(topic, Array.from({ length: 40 }, (_, i) => i));
      await waitFor(() => sub.stats.deadLettered === 40 && uncapped.stats.deadLettered === 40, { message: '40 dead letters in each group' });
      const capped = await sf.deadLetters(topic, 'g').count();
      expect(capped).toBeGreaterThanOrEqual(10);
      expect(capped).toBeLessThanOrEqual(15); // the cap plus at most one node
      expect(await sf.deadLetters(topic, 'h').count()).toBe(40);
      const kept = (await sf.deadLetters(topic, 'g').list({ count: 100 })).map((d) => d.id);
      expect(kept.slice(-10)).toEqual(ids.slice(-10)); // the newest are kept
      await Promise.all([sub.close(), uncapped.close()]);
    } finally {
      await sf.redis.config('SET', 'stream-node-max-entries', nodeSize);
    }
  });

  test('status hashes expire after statusTtlSeconds', async () => {
    const sf = env.client({ statusTtlSeconds: 1 });
    const topic = defineTopic<number>('ttl');
    const sub = sf.subscribe(topic, 'g', () => 'ok', { startFrom: 'beginning' });
    await sub.ready();
    const id = await sf.publish(topic, 1);
    const st = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(st.groups.g).toMatchObject({ state: 'succeeded', result: 'ok' });
    const key = topicKeys(sf.prefix, topic.name).status(id);
    const ttl = await sf.redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1000);
    await waitFor(async () => (await sf.redis.exists(key)) === 0, { timeoutMs: 10_000, message: 'status hash expired' });
    // The event is still known from the group's position, without a record.
    expect((await sf.status(topic, id)).groups.g).toEqual({ state: 'unknown', attempts: 0 });
    await sub.close();
  });

  test('the client option retention: { intervalMs } trims on a timer and emits trimmed', async () => {
    const sf = env.client({ retention: { intervalMs: 100, approximate: false } });
    const topic = defineTopic<number>('timer');
    const reports: TrimReport[] = [];
    sf.on('trimmed', (r) => reports.push(r));
    const sub = sf.subscribe(topic, 'g', () => undefined, { startFrom: 'beginning' });
    await sub.ready();
    await sf.publishMany(topic, [1, 2, 3, 4, 5]);
    await waitFor(() => reports.reduce((n, r) => n + r.removed, 0) === 5, { message: 'five entries trimmed by the timer' });
    expect(reports.every((r) => r.topic === 'timer' && !r.dryRun && r.lostToCap === 0)).toBe(true);
    expect(await sf.redis.xlen(topicKeys(sf.prefix, topic.name).stream)).toBe(0);
    await sub.close();
  });

  test('the retention timer with a hard maxLen emits capLoss with the ids the cap cost', async () => {
    const sf = env.client({ retention: { intervalMs: 300, maxLen: 2, approximate: false } });
    const topic = defineTopic<number>('overflow');
    const losses: TrimReport[] = [];
    sf.on('capLoss', (r) => losses.push(r));
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const seen: number[] = [];
    const sub = sf.subscribe(topic, 'g', async (n) => { seen.push(n); await gate; }, { startFrom: 'beginning', concurrency: 1 });
    await sub.ready();
    const ids = await sf.publishMany(topic, [0, 1, 2, 3, 4]);
    await waitFor(() => losses.length > 0, { message: 'capLoss emitted' });
    // 0 is in flight, 1..4 not yet delivered: the cap keeps the newest two.
    expect(losses[0]).toMatchObject({ topic: 'overflow', lostToCap: 3, lostIds: ids.slice(0, 3), length: 2 });
    release();
    await waitFor(() => seen.length === 3, { message: 'the group handles what is left' });
    expect(seen).toEqual([0, 3, 4]);
    await sub.close();
  });
});
