import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

/** Names of the consumers of a group on one stream (XINFO CONSUMERS), with their pending counts. */
async function consumersOn(sf: Streamfan, stream: string, group: string): Promise<Array<[string, number]>> {
  const rows = (await sf.redis.xinfo('CONSUMERS', stream, group)) as unknown[][];
  return rows.map((row) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < row.length; i += 2) o[String(row[i])] = row[i + 1];
    return [String(o.name), Number(o.pending)] as [string, number];
  }).sort();
}

describe('leases and shutdown', () => {
  test('a handler running 3× the visibility timeout keeps its lease: not reclaimed by a second consumer, one attempt, processed once', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('long');
    const vt = 1000;
    let calls = 0;
    const reclaimed: string[] = [];
    const processed: string[] = [];
    const handler = async (_n: number, ctx: { attempt: number; consumer: string }) => {
      calls++;
      await sleep(3 * vt);
      return { attempt: ctx.attempt, by: ctx.consumer };
    };
    const opts = { startFrom: 'beginning' as const, visibilityTimeoutMs: vt, reclaimIntervalMs: 50 };
    const a = sf.subscribe(topic, 'g', handler, { ...opts, consumer: 'a' });
    const b = sf.subscribe(topic, 'g', handler, { ...opts, consumer: 'b' });
    for (const s of [a, b]) {
      s.on('reclaimed', (e) => reclaimed.push(...e.ids));
      s.on('processed', (e) => processed.push(e.id));
    }
    await Promise.all([a.ready(), b.ready()]);
    const id = await sf.publish(topic, 1);
    const st = await sf.waitFor(topic, id, { timeoutMs: 20_000 });
    await sleep(vt); // a reclaim would show up as a second call here
    expect(calls).toBe(1);
    expect(reclaimed).toEqual([]);
    expect(processed).toEqual([id]);
    expect(st.groups.g).toMatchObject({ state: 'succeeded', attempts: 1, result: { attempt: 1 } });
    expect(await sf.pending(topic, 'g')).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });

  test('the signal fires when the lease is lost, and the late ack is refused: stale event, status not overwritten', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('thief');
    const stale: string[][] = [];
    const leaseLost: string[] = [];
    const processed: string[] = [];
    let abortReason = '';
    let finishedAfterAbort = false;
    const sub = sf.subscribe(topic, 'g', async (_n, ctx) => {
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
      abortReason = String((ctx.signal.reason as Error)?.message);
      finishedAfterAbort = true;
      return 'late'; // a handler that ignores its signal and "succeeds" anyway
    }, { startFrom: 'beginning', visibilityTimeoutMs: 400, consumer: 'slowpoke' });
    sub.on('stale', (e) => stale.push(e.ids));
    sub.on('leaseLost', (e) => leaseLost.push(e.id));
    sub.on('processed', (e) => processed.push(e.id));
    await sub.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(() => sub.running.length === 1, { message: 'handler running' });
    // Another consumer takes the entry over by hand (as XAUTOCLAIM would after a long pause).
    await sf.redis.xclaim(topicKeys(sf.prefix, topic.name).stream, 'g', 'thief', 0, id, 'JUSTID');
    await waitFor(() => stale.length === 1, { timeoutMs: 15_000, message: 'late ack refused' });
    expect(finishedAfterAbort).toBe(true);
    expect(abortReason).toMatch(/lease lost/);
    expect(leaseLost).toEqual([id]);
    expect(stale).toEqual([[id]]);
    expect(processed).toEqual([]);
    const pending = await sf.pending(topic, 'g');
    expect(pending.map((p) => [p.id, p.consumer])).toEqual([[id, 'thief']]);
    const st = await sf.status(topic, id);
    expect(st.groups.g).toMatchObject({ state: 'processing', consumer: 'thief' });
    expect(st.groups.g?.result).toBeUndefined();
    await sub.close();
  });

  test('the signal fires when the shutdown grace period ends; the entry is left pending, then reclaimed and finished by another consumer', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('grace');
    let abortReason = '';
    const failed: number[] = [];
    const stale: string[][] = [];
    // A cooperative handler: it stops when its signal fires (as fetch(url, { signal }) does).
    const first = sf.subscribe(topic, 'g', (_n, ctx) => new Promise((_, reject) => {
      ctx.signal.addEventListener('abort', () => {
        abortReason = String((ctx.signal.reason as Error)?.message);
        reject(new Error('aborted by signal'));
      });
    }), { startFrom: 'beginning', visibilityTimeoutMs: 500, consumer: 'leaving', backoff: { type: 'fixed', delayMs: 10 } });
    first.on('failed', (e) => failed.push(e.attempt));
    first.on('stale', (e) => stale.push(e.ids));
    await first.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(() => first.running.length === 1, { message: 'handler running' });
    let closedInfo: { left: number; deleted: boolean } | undefined;
    first.on('closed', (e) => { closedInfo = e; });
    await first.close(300);
    expect(abortReason).toMatch(/grace period/);
    expect(closedInfo).toEqual({ consumer: 'leaving', left: 1, deleted: false });
    await sleep(100); // whatever the aborted handler does now must not settle the entry
    expect(failed).toEqual([]);
    const stream = topicKeys(sf.prefix, topic.name).stream;
    expect((await sf.pending(topic, 'g')).map((p) => [p.id, p.consumer])).toEqual([[id, 'leaving']]);
    expect(await consumersOn(sf, stream, 'g')).toEqual([['leaving', 1]]);
    expect((await sf.status(topic, id)).groups.g).toMatchObject({ state: 'processing', consumer: 'leaving' });

    const attempts: number[] = [];
    const next = sf.subscribe(topic, 'g', (_n, ctx) => { attempts.push(ctx.attempt); return 'done'; },
      { visibilityTimeoutMs: 500, reclaimIntervalMs: 50, consumer: 'next' });
    const st = await sf.waitFor(topic, id, { timeoutMs: 15_000 });
    expect(attempts).toEqual([2]);
    expect(st.groups.g).toMatchObject({ state: 'succeeded', attempts: 2, consumer: 'next', result: 'done' });
    await next.close();
  });

  test('close() with a handler in flight waits for it, acks it and leaves the group', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('drain');
    let finished = false;
    const sub = sf.subscribe(topic, 'g', async (n) => { await sleep(600); finished = true; return n * 2; },
      { startFrom: 'beginning', consumer: 'drainer' });
    await sub.ready();
    const id = await sf.publish(topic, 21);
    await waitFor(() => sub.running.length === 1, { message: 'handler running' });
    let closedInfo: { left: number; deleted: boolean } | undefined;
    sub.on('closed', (e) => { closedInfo = e; });
    await sub.close();
    expect(finished).toBe(true);
    expect(closedInfo).toEqual({ consumer: 'drainer', left: 0, deleted: true });
    expect(sub.stats.processed).toBe(1);
    expect((await sf.status(topic, id)).groups.g).toMatchObject({ state: 'succeeded', attempts: 1, result: 42 });
    expect(await sf.pending(topic, 'g')).toEqual([]);
    const keys = topicKeys(sf.prefix, topic.name);
    expect(await consumersOn(sf, keys.stream, 'g')).toEqual([]);
    expect(await consumersOn(sf, keys.redeliver('g'), 'g')).toEqual([]);
  });

  test('close() removes a consumer that holds nothing and keeps one that holds pending entries', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('orphans');
    const keys = topicKeys(sf.prefix, topic.name);
    // A consumer is registered in the group once it has been handed an entry.
    const idle = sf.subscribe(topic, 'g', () => undefined, { startFrom: 'beginning', consumer: 'idle' });
    await idle.ready();
    const first = await sf.publish(topic, 0);
    await sf.waitFor(topic, first, { timeoutMs: 10_000 });
    expect(await consumersOn(sf, keys.stream, 'g')).toEqual([['idle', 0]]);
    let idleDeleted: boolean | undefined;
    idle.on('closed', (e) => { idleDeleted = e.deleted; });
    await idle.close();
    expect(idleDeleted).toBe(true);
    expect(await consumersOn(sf, keys.stream, 'g')).toEqual([]);

    const stuck = sf.subscribe(topic, 'g', () => new Promise(() => undefined), { consumer: 'stuck' });
    await stuck.ready();
    await sf.publish(topic, 1);
    await waitFor(() => stuck.running.length === 1, { message: 'stuck handler running' });
    let deleted: boolean | undefined;
    stuck.on('closed', (e) => { deleted = e.deleted; });
    await stuck.close(0);
    expect(deleted).toBe(false);
    expect(await consumersOn(sf, keys.stream, 'g')).toEqual([['stuck', 1]]);
  });

  test('pruneConsumers removes consumers idle past the threshold that hold nothing, and only those', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('janitor');
    const keys = topicKeys(sf.prefix, topic.name);
    await sf.redis.xgroup('CREATE', keys.stream, 'g', '$', 'MKSTREAM');
    await sf.publish(topic, 1);
    await sf.redis.xgroup('CREATECONSUMER', keys.stream, 'g', 'idle-empty');
    // 'idle-holding' reads the entry and never acks it.
    await sf.redis.xreadgroup('GROUP', 'g', 'idle-holding', 'COUNT', 1, 'STREAMS', keys.stream, '>');
    await sleep(500);
    // 'active-empty' holds nothing but was seen just now.
    await sf.redis.xgroup('CREATECONSUMER', keys.stream, 'g', 'active-empty');
    const removed = await sf.pruneConsumers(topic, 'g', 400);
    expect(removed).toEqual(['idle-empty']);
    expect(await consumersOn(sf, keys.stream, 'g')).toEqual([['active-empty', 0], ['idle-holding', 1]]);
    // Nothing left to prune with a threshold no one reaches.
    expect(await sf.pruneConsumers(topic, 'g', 3_600_000)).toEqual([]);

    // A consumer that only ever took retries exists in the group's redelivery stream alone.
    await sf.redis.xgroup('CREATE', keys.redeliver('g'), 'g', '0', 'MKSTREAM');
    await sf.redis.xgroup('CREATECONSUMER', keys.redeliver('g'), 'g', 'retries-only');
    await sleep(500);
    expect(await sf.pruneConsumers(topic, 'g', 400)).toEqual(['active-empty', 'retries-only']);
    expect(await consumersOn(sf, keys.redeliver('g'), 'g')).toEqual([]);
    expect(await consumersOn(sf, keys.stream, 'g')).toEqual([['idle-holding', 1]]);
  });

  test('close() twice is safe and returns the same promise (subscription and client)', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('twice');
    const sub = sf.subscribe(topic, 'g', () => undefined, { startFrom: 'beginning' });
    await sub.ready();
    let closedEvents = 0;
    sub.on('closed', () => { closedEvents++; });
    const p1 = sub.close();
    const p2 = sub.close();
    expect(p2).toBe(p1);
    await p1;
    expect(sub.close()).toBe(p1);
    await sub.close();
    expect(closedEvents).toBe(1);

    const c1 = sf.close();
    expect(sf.close()).toBe(c1);
    await c1;
    await expect(sf.publish(topic, 1)).rejects.toThrow(/closed/);
  });
});
