/**
 * The handler's side of a delivery, whatever shape the handler has: it returns at once, returns a
 * promise, returns another thenable, throws at once or rejects; and its context (getters made on
 * first use, `deadLetter` usable when taken off the context, `publishedAt` from the event id, also
 * on a partitioned topic whose context wraps the delivery's).
 */
import { waitFor } from '@streamfan/testing';
import { defineTopic, type HandlerContext } from '../src';
import { idTime } from '../src/consumer/entry';
import { useRedis } from './helpers';

const env = useRedis();

describe('handler shapes and context', () => {
  test('sync return, promise, foreign thenable, sync throw and rejection each settle their own way', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('shapes');
    const attempts = new Map<string, number>();
    const sub = sf.subscribe(topic, 'g', (p) => {
      attempts.set(p, (attempts.get(p) ?? 0) + 1);
      switch (p) {
        case 'sync': return { sync: true };
        case 'promise': return Promise.resolve({ promise: true });
        // A thenable that is not a Promise, and calls back twice: settled once, by its first call.
        case 'thenable': return { then(ok: (v: unknown) => void) { ok({ thenable: true }); ok({ again: true }); } };
        case 'throw': throw new Error('thrown at once');
        case 'reject': return Promise.reject(new Error('rejected'));
        default: return undefined;
      }
    }, { startFrom: 'beginning', concurrency: 5, maxAttempts: 1 });
    const processed = new Map<string, unknown>();
    const dead = new Map<string, string>();
    sub.on('processed', (e) => processed.set(e.id, e.result));
    sub.on('deadLettered', (e) => dead.set(e.id, e.error));
    await sub.ready();
    const names = ['sync', 'promise', 'thenable', 'throw', 'reject', 'plain'];
    const ids = await sf.publishMany(topic, names);
    const id = (name: string): string => ids[names.indexOf(name)]!;
    await waitFor(() => processed.size === 4 && dead.size === 2, { message: 'every delivery settled' });
    expect(processed.get(id('sync'))).toEqual({ sync: true });
    expect(processed.get(id('promise'))).toEqual({ promise: true });
    expect(processed.get(id('thenable'))).toEqual({ thenable: true });
    expect(processed.get(id('plain'))).toBeUndefined();
    expect(dead.get(id('throw'))).toMatch(/thrown at once/);
    expect(dead.get(id('reject'))).toMatch(/rejected/);
    for (const n of names) expect(attempts.get(n)).toBe(1);
    expect((await sf.status(topic, id('sync'))).groups.g?.state).toBe('succeeded');
    expect((await sf.status(topic, id('plain'))).groups.g?.state).toBe('succeeded');
    expect((await sf.status(topic, id('throw'))).groups.g?.state).toBe('dead');
    expect(sub.stats.inFlight).toBe(0);
  });

  test('context: fields, publishedAt from the id, a signal, deadLetter taken off the context', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('ctx');
    const seen: Array<{ ctx: HandlerContext; publishedAt: number; aborted: boolean }> = [];
    const sub = sf.subscribe(topic, 'g', (p, ctx) => {
      seen.push({ ctx, publishedAt: ctx.publishedAt.getTime(), aborted: ctx.signal.aborted });
      if (p === 'give-up') {
        const { deadLetter } = ctx;
        deadLetter('not for us');
      }
    }, { startFrom: 'beginning', maxAttempts: 3 });
    const dead: Array<{ id: string; error: string; reason: string }> = [];
    sub.on('deadLettered', (e) => dead.push(e));
    await sub.ready();
    const [ok, giveUp] = await sf.publishMany(topic, ['ok', 'give-up'], { headers: { tenant: 't1' } });
    await waitFor(() => seen.length === 2 && dead.length === 1, { message: 'both handled' });
    const first = seen.find((s) => s.ctx.id === ok)!;
    expect(first.ctx).toMatchObject({ id: ok, topic: 'ctx', group: 'g', consumer: sub.consumer, attempt: 1, maxAttempts: 3 });
    expect(first.ctx.headers).toEqual({ tenant: 't1' });
    expect(first.publishedAt).toBe(idTime(ok!));
    expect(first.aborted).toBe(false);
    expect(first.ctx.publishedAt).toBe(first.ctx.publishedAt); // made once
    expect(dead).toEqual([expect.objectContaining({ id: giveUp, reason: 'handler', error: 'not for us' })]);
  });

  test('a partitioned topic: the wrapped context reads its own delivery (public id, publishedAt, deadLetter)', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('ctx-parts', { partitions: 2 });
    const seen: Array<{ id: string; partition?: number; publishedAt: number }> = [];
    const sub = sf.subscribe(topic, 'g', (p, ctx) => {
      seen.push({ id: ctx.id, partition: ctx.partition, publishedAt: ctx.publishedAt.getTime() });
      if (p === 'give-up') ctx.deadLetter('no');
    }, { startFrom: 'beginning', maxAttempts: 3 });
    const dead: string[] = [];
    sub.on('deadLettered', (e) => dead.push(e.id));
    await sub.ready();
    const ids = await sf.publishMany(topic, ['a', 'give-up'], { keys: ['k1', 'k2'] });
    await waitFor(() => seen.length === 2 && dead.length === 1, { message: 'both handled' });
    for (const s of seen) {
      expect(ids).toContain(s.id);
      expect(s.id).toMatch(/^p\d+:\d+-\d+$/);
      expect(s.publishedAt).toBe(idTime(s.id.slice(s.id.indexOf(':') + 1)));
    }
    expect(dead).toEqual([ids[1]]);
  });
});
