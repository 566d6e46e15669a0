import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys, type HandlerContext, type Subscription } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

function watch<T>(sub: Subscription<T>) {
  const ev = { lost: [] as string[], failed: [] as string[], processed: [] as string[], dead: [] as string[], stale: [] as string[], leaseLost: [] as string[] };
  sub.on('lost', (e) => ev.lost.push(...e.ids));
  sub.on('failed', (e) => ev.failed.push(e.id));
  sub.on('processed', (e) => ev.processed.push(e.id));
  sub.on('deadLettered', (e) => ev.dead.push(e.id));
  sub.on('stale', (e) => ev.stale.push(...e.ids));
  sub.on('leaseLost', (e) => ev.leaseLost.push(e.id));
  return ev;
}

describe('an entry deleted while its handler runs ends lost, once', () => {
  test.each(['throws', 'dead-letters'] as const)('a handler that %s on a deleted topic entry: lost, no retry, no dead letter', async (how) => {
    const sf = env.client();
    const topic = defineTopic<number>(`gone-${how}`);
    const stream = topicKeys(sf.prefix, topic.name).stream;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const sub = sf.subscribe(topic, 'g', async (_n, ctx: HandlerContext) => {
      await gate;
      if (how === 'dead-letters') ctx.deadLetter('no');
      throw new Error('failed after the entry was deleted');
    }, { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 10 } });
    const ev = watch(sub);
    await sub.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(() => sub.running.length === 1, { message: 'handler running' });
    await sf.redis.xdel(stream, id);
    release();
    await waitFor(() => ev.lost.length === 1, { message: 'lost reported' });
    await sleep(200);
    expect(ev).toMatchObject({ lost: [id], failed: [], dead: [], processed: [] });
    expect((await sf.status(topic, id)).groups.g).toMatchObject({ state: 'lost' });
    expect(await sf.redis.zcard(topicKeys(sf.prefix, topic.name).retry('g'))).toBe(0);
    expect(await sf.deadLetters(topic, 'g').count()).toBe(0);
    expect(await sf.pending(topic, 'g')).toEqual([]);
    await sub.close();
  });

  test('a long handler whose entry is deleted: the lease keeper finds it (XCLAIM drops it silently) and records it lost; no leaseLost, no stale', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('gone-long');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    let aborted = '';
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const sub = sf.subscribe(topic, 'g', async (_n, ctx) => {
      ctx.signal.addEventListener('abort', () => { aborted = String((ctx.signal.reason as Error).message); });
      await gate;
      return 'done';
    }, { startFrom: 'beginning', visibilityTimeoutMs: 300 });
    const ev = watch(sub);
    await sub.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(() => sub.running.length === 1, { message: 'handler running' });
    await sf.redis.xdel(stream, id);
    await waitFor(() => ev.lost.length === 1, { message: 'lost found by the lease keeper' });
    expect(aborted).toMatch(/deleted/);
    release();
    await sleep(300);
    expect(ev).toMatchObject({ lost: [id], processed: [], stale: [], leaseLost: [] });
    const st = await sf.status(topic, id);
    expect(st.groups.g).toMatchObject({ state: 'lost' });
    await sub.close();
  });

  test('a retry copy deleted while its handler runs: lost recorded under the event id, not the copy id', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('gone-copy');
    const keys = topicKeys(sf.prefix, topic.name);
    let copyId = '';
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const sub = sf.subscribe(topic, 'g', async (_n, ctx) => {
      if (ctx.attempt === 1) throw new Error('first attempt fails');
      const rows = await sf.redis.xrange(keys.redeliver('g'), '-', '+');
      copyId = rows[rows.length - 1]![0];
      await gate;
      throw new Error('and the retry fails after its copy was deleted');
    }, { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 10 } });
    const ev = watch(sub);
    await sub.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(() => copyId !== '', { message: 'retry running' });
    await sf.redis.xdel(keys.redeliver('g'), copyId);
    release();
    await waitFor(() => ev.lost.length === 1, { message: 'lost reported' });
    expect(ev.lost).toEqual([id]);
    expect((await sf.status(topic, id)).groups.g).toMatchObject({ state: 'lost', attempts: 2 });
    if (copyId !== id) expect(await sf.redis.exists(keys.status(copyId))).toBe(0);
    await sub.close();
  });

  test('a retry copy deleted while a long handler runs: the lease keeper records the event id lost', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('gone-copy-long');
    const keys = topicKeys(sf.prefix, topic.name);
    let copyId = '';
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const sub = sf.subscribe(topic, 'g', async (_n, ctx) => {
      if (ctx.attempt === 1) throw new Error('first attempt fails');
      const rows = await sf.redis.xrange(keys.redeliver('g'), '-', '+');
      copyId = rows[rows.length - 1]![0];
      await gate;
    }, { startFrom: 'beginning', visibilityTimeoutMs: 300, backoff: { type: 'fixed', delayMs: 10 } });
    const ev = watch(sub);
    await sub.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(() => copyId !== '', { message: 'retry running' });
    await sf.redis.xdel(keys.redeliver('g'), copyId);
    await waitFor(() => ev.lost.length === 1, { message: 'lost found by the lease keeper' });
    release();
    await sleep(200);
    expect(ev.lost).toEqual([id]);
    expect(ev.processed).toEqual([]);
    expect((await sf.status(topic, id)).groups.g).toMatchObject({ state: 'lost' });
    if (copyId !== id) expect(await sf.redis.exists(keys.status(copyId))).toBe(0);
    await sub.close();
  });
});
