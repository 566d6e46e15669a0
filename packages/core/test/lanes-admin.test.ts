/**
 * Priority lanes, step 3 (docs/priorities.md §6): status, admin and listings of a prioritized
 * topic. Measures: per-lane figures of groups() and topics() against what was published where,
 * lane ids in pending, pendingPage, show, dead letters and delayed listings, ack / claim / replay
 * by lane id acting in that lane only, trim per lane, and what is refused.
 */
import { sleep } from '@streamfan/testing';
import { InvalidOptionError, defineTopic, laneKeys, lookupTopic, requireTopic, type LaneGroupRow } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();
const LANES = ['high', 'normal', 'low'];

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('admin of a prioritized topic', () => {
  test('groups() sums over lanes with one row per lane; topics() lists the topic once, with lanes and lane lengths', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('mail', { priorities: LANES });
    const sub = sf.subscribe(t, 'send', () => undefined, { startFrom: 'beginning' });
    await sub.ready();
    await sub.close();
    await sf.publishMany(t, [{ n: 1 }, { n: 2 }, { n: 3 }], { priority: 'high' });
    await sf.publishMany(t, [{ n: 4 }, { n: 5 }], { priority: 'low' });
    await sf.publish(t, { n: 6 });
    await sf.publish('plain', { n: 7 });
    const [g] = await sf.groups(t);
    expect(g!.group).toBe('send');
    expect(g!.lag).toBe(6);
    expect(g!.lanes!.map((l: LaneGroupRow) => [l.lane, l.lag, l.length, l.pending, l.deadLetters])).toEqual([
      ['high', 3, 3, 0, 0], ['normal', 1, 1, 0, 0], ['low', 2, 2, 0, 0],
    ]);
    const rows = await sf.topics();
    expect(rows.map((r) => r.topic)).toEqual(['mail', 'plain']);
    const mail = rows.find((r) => r.topic === 'mail')!;
    expect(mail).toEqual(expect.objectContaining({ length: 6, lanes: LANES, defaultLane: 'normal', laneLengths: [3, 1, 2], groups: 1 }));
    expect(mail.lastId).toMatch(/^(high:|low:)?\d+-\d+$/);
    const plain = rows.find((r) => r.topic === 'plain')!;
    expect(Object.keys(plain)).not.toContain('lanes');
    // A topic known only by name: the CLI's lookup reads its lanes from the meta hash.
    const looked = await lookupTopic(sf, 'mail');
    expect(looked.priorities).toEqual(LANES);
    expect(looked.defaultPriority).toBe('normal');
    expect(await requireTopic(sf, 'mail')).toEqual(['send']);
    expect((await lookupTopic(sf, 'plain')).priorities).toBeUndefined();
  });

  test('a topic published only in a non-default lane is listed (its lane stream is found by the listing scan)', async () => {
    const sf = env.client();
    await sf.publish(defineTopic('mail', { priorities: LANES }), {}, { priority: 'high' });
    const rows = await sf.topics();
    expect(rows).toEqual([expect.objectContaining({ topic: 'mail', length: 1, laneLengths: [1, 0, 0], lanes: LANES })]);
  });

  test('pending, pendingPage, show, ack and claim take and give lane ids, acting in the lane', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('mail', { priorities: LANES });
    const running: string[] = [];
    const sub = sf.subscribe(t, 'send', (_p, ctx) => {
      running.push(ctx.id);
      return new Promise(() => undefined); // hangs: stays pending
    }, { startFrom: 'beginning', concurrency: 4, consumer: 'c1', visibilityTimeoutMs: 60_000 });
    await sub.ready();
    const hi = await sf.publish(t, { n: 1 }, { priority: 'high' });
    const lo = await sf.publish(t, { n: 2 }, { priority: 'low' });
    const df = await sf.publish(t, { n: 3 });
    await until('3 handlers running', () => running.length >= 3);
    const pending = await sf.pending(t, 'send');
    expect(pending.map((p) => [p.id, p.priority, p.consumer])).toEqual([[hi, 'high', 'c1'], [df, 'normal', 'c1'], [lo, 'low', 'c1']]);
    const page1 = await sf.pendingPage(t, 'send', { limit: 2 });
    expect(page1.entries.map((e) => e.id)).toEqual([hi, df]);
    const page2 = await sf.pendingPage(t, 'send', { limit: 2, after: page1.next! });
    expect(page2.entries.map((e) => e.id)).toEqual([lo]);
    const shown = await sf.show(t, hi);
    expect(shown).toEqual(expect.objectContaining({ id: hi, topic: 'mail', priority: 'high', payload: { n: 1 }, inStream: true }));
    expect(shown.groups.send!.state).toBe('processing');
    // Claim the low one to another consumer, ack the high one by hand.
    const claimed = await sf.claim(t, 'send', [lo], 'c2');
    expect(claimed).toEqual([expect.objectContaining({ id: lo, previousOwner: 'c1' })]);
    const acked = await sf.ack(t, 'send', [hi]);
    expect(acked).toEqual([expect.objectContaining({ id: hi, eventId: hi, previousOwner: 'c1' })]);
    expect((await sf.status(t, hi)).groups.send!.state).toBe('succeeded');
    const after = await sf.pending(t, 'send');
    expect(after.map((p) => [p.id, p.consumer])).toEqual([[df, 'c1'], [lo, 'c2']]);
    await expect(sf.ack(t, 'send', ['urgent:1-0'])).rejects.toThrow(/not an event id of topic "mail"/);
    await sub.close(0);
  });

  test('dead letters: listed with lane ids over the lanes, counted, replayed into their own lane, purged', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('mail', { priorities: LANES });
    let heal = false;
    const handled: Array<[string, string, number]> = [];
    const sub = sf.subscribe(t, 'send', (p, ctx) => {
      handled.push([ctx.id, ctx.priority!, ctx.attempt]);
      if (!heal) ctx.deadLetter('not yet');
    }, { startFrom: 'beginning', reclaimIntervalMs: 50 });
    await sub.ready();
    const hi = await sf.publish(t, { n: 1 }, { priority: 'high' });
    const lo = await sf.publish(t, { n: 2 }, { priority: 'low' });
    const df = await sf.publish(t, { n: 3 });
    await Promise.all([hi, lo, df].map((id) => sf.waitFor(t, id, { timeoutMs: 10_000 })));
    const dlq = sf.deadLetters(t, 'send');
    expect(await dlq.count()).toBe(3);
    const listed = await dlq.list();
    expect(listed.map((d) => [d.id, d.priority])).toEqual([[hi, 'high'], [df, 'normal'], [lo, 'low']]);
    expect(listed[0]!.deadLetterId).toMatch(/^high:\d+-\d+$/);
    expect(listed[1]!.deadLetterId).toMatch(/^\d+-\d+$/);
    expect((await dlq.list({ start: `(${listed[0]!.deadLetterId}`, count: 1 })).map((d) => d.id)).toEqual([df]);
    const sh = await sf.show(t, lo);
    expect(sh.groups.send!.deadLetterId).toBe(listed[2]!.deadLetterId);
    heal = true;
    expect(await dlq.replay({ ids: [listed[2]!.deadLetterId] })).toBe(1);
    await until('the low event replayed', async () => (await sf.status(t, lo)).groups.send?.state === 'succeeded');
    expect(handled.filter(([id]) => id === lo).map(([, lane]) => lane)).toEqual(['low', 'low']);
    expect(await sf.redis.xlen(laneKeys(sf.prefix, 'mail', 'low', 'normal').redeliver('send'))).toBeGreaterThanOrEqual(1);
    expect(await sf.redis.xlen(laneKeys(sf.prefix, 'mail', 'high', 'normal').redeliver('send'))).toBe(0);
    expect(await dlq.count()).toBe(2);
    expect(await dlq.purge({ limit: 1 })).toBe(1);
    expect((await dlq.list()).map((d) => d.id)).toEqual([df]);
    expect(await dlq.purge({ all: true })).toBe(1);
    expect(await dlq.count()).toBe(0);
    await expect(dlq.replay({ ids: ['urgent:1-0'] })).rejects.toThrow(InvalidOptionError);
    await sub.close();
  });

  test('trim runs per lane; delayed() and tail() give lane ids', async () => {
    const sf = env.client();
    const t = defineTopic<{ n: number }>('mail', { priorities: LANES });
    await sf.publishMany(t, [{ n: 1 }, { n: 2 }], { priority: 'high' });
    await sf.publish(t, { n: 3 }, { priority: 'low' });
    const report = await sf.trim(t, { maxLen: 1, approximate: false }) as Awaited<ReturnType<typeof sf.trim>> & { lanes: Array<{ lane: string; removed: number }> };
    expect(report.lanes.map((l) => [l.lane, l.removed])).toEqual([['high', 1], ['normal', 0], ['low', 0]]);
    expect(report.removed).toBe(1);
    expect(report.length).toBe(2);
    const d = await sf.publish(t, { n: 4 }, { priority: 'low', delayMs: 60_000 });
    const delayed = await sf.delayed(t);
    expect(delayed.map((x) => [x.id, x.priority])).toEqual([[d, 'low']]);
    const ac = new AbortController();
    const seen: Array<[string, string | undefined]> = [];
    const tail = (async () => {
      for await (const e of sf.tail(t, { signal: ac.signal, blockMs: 100 })) { seen.push([e.id, e.priority]); if (seen.length >= 2) ac.abort(); }
    })();
    await sleep(200);
    const a = await sf.publish(t, { n: 5 }, { priority: 'high' });
    const b = await sf.publish(t, { n: 6 });
    await tail;
    expect(seen).toEqual([[a, 'high'], [b, 'normal']]);
  });

  test("retention runs per lane on the client's timer (its own lock per lane) and reports the topic's name", async () => {
    const sf = env.client({ retention: { intervalMs: 100, approximate: false, minAgeMs: 0 } });
    const t = defineTopic<{ n: number }>('mail', { priorities: LANES });
    const trimmed: Array<{ topic: string; removed: number }> = [];
    sf.on('trimmed', (r) => trimmed.push({ topic: r.topic, removed: r.removed }));
    const sub = sf.subscribe(t, 'send', () => undefined, { startFrom: 'beginning' });
    await sub.ready();
    const ids = [...await sf.publishMany(t, [{ n: 1 }, { n: 2 }, { n: 3 }], { priority: 'high' }), ...await sf.publishMany(t, [{ n: 4 }, { n: 5 }], { priority: 'low' })];
    await Promise.all(ids.map((id) => sf.waitFor(t, id, { timeoutMs: 10_000 })));
    const len = (lane: string) => sf.redis.xlen(laneKeys(sf.prefix, 'mail', lane, 'normal').stream);
    await until('both lanes trimmed and reported', async () => (await len('high')) === 0 && (await len('low')) === 0 && trimmed.reduce((n, r) => n + r.removed, 0) >= 5);
    expect(trimmed.every((r) => r.topic === 'mail')).toBe(true);
    expect(trimmed.reduce((n, r) => n + r.removed, 0)).toBe(5);
    await sub.close();
  });
});
