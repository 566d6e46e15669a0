import { sleep, waitFor } from '@streamfan/testing';
import { DeadLetterError, defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

async function serverMs(sf: { redis: { time(): Promise<Array<string | number>> } }): Promise<number> {
  const [s, us] = await sf.redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

describe('retries and dead letters', () => {
  test('a handler that throws is retried for its group only, after the backoff, and the status keeps attempts and last error', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('signup');
    const starts: number[] = [];
    let other = 0;
    const failures: number[] = [];
    const flaky = sf.subscribe(topic, 'email', async (_p, ctx) => {
      starts.push(await serverMs(sf));
      if (ctx.attempt < 3) throw new Error(`smtp down (attempt ${ctx.attempt})`);
      return 'sent';
    }, { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 400 }, reclaimIntervalMs: 100 });
    flaky.on('failed', (e) => failures.push(e.attempt));
    const steady = sf.subscribe(topic, 'analytics', () => { other++; }, { startFrom: 'beginning' });
    await Promise.all([flaky.ready(), steady.ready()]);
    const id = await sf.publish(topic, { n: 1 });

    await waitFor(() => failures.length === 1);
    const afterFirst = await sf.status(topic, id);
    expect(afterFirst.groups.email).toMatchObject({ state: 'failed', attempts: 1, error: 'Error: smtp down (attempt 1)' });
    expect(afterFirst.groups.email?.nextAttemptAt).toBeInstanceOf(Date);

    const st = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(st.groups.email).toMatchObject({ state: 'succeeded', attempts: 3, result: 'sent', error: 'Error: smtp down (attempt 2)' });
    expect(st.groups.analytics).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(other).toBe(1);
    expect(failures).toEqual([1, 2]);
    // Each retry waited at least its backoff, on the server's clock (10 ms for timer granularity).
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(390);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(390);
    expect(await sf.pending(topic, 'email')).toEqual([]);
  });

  test('after maxAttempts the event goes to dead letters with payload, headers, id, attempts and error, and is acked', async () => {
    const sf = env.client();
    const topic = defineTopic<{ order: string }>('billing');
    const dead: Array<{ id: string; reason: string }> = [];
    let calls = 0;
    const sub = sf.subscribe(topic, 'charge', () => { calls++; throw new TypeError('card declined'); },
      { startFrom: 'beginning', maxAttempts: 3, backoff: { type: 'fixed', delayMs: 20 }, reclaimIntervalMs: 50 });
    sub.on('deadLettered', (e) => dead.push({ id: e.id, reason: e.reason }));
    await sub.ready();
    const id = await sf.publish(topic, { order: 'o-1' }, { headers: { tenant: 'acme' } });
    const st = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(st.groups.charge).toMatchObject({ state: 'dead', attempts: 3, error: 'TypeError: card declined' });
    expect(calls).toBe(3);
    expect(dead).toEqual([{ id, reason: 'attempts' }]);
    const letters = await sf.deadLetters(topic, 'charge').list();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ id, payload: { order: 'o-1' }, headers: { tenant: 'acme' }, attempts: 3, error: 'TypeError: card declined', reason: 'attempts' });
    expect(letters[0]!.deadAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
    const [group] = await sf.groups(topic);
    expect(group).toMatchObject({ pending: 0, retrying: 0, deadLetters: 1 });
    await sleep(200);
    expect(calls).toBe(3);
  });

  test('ctx.deadLetter() and DeadLetterError dead-letter at once, without retries', async () => {
    const sf = env.client();
    const topic = defineTopic<{ kind: string }>('webhooks');
    const attempts: number[] = [];
    const sub = sf.subscribe(topic, 'deliver', (p, ctx) => {
      attempts.push(ctx.attempt);
      if (p.kind === 'ctx') ctx.deadLetter('endpoint returned 410 Gone');
      throw new DeadLetterError('payload fails the schema');
    }, { startFrom: 'beginning', maxAttempts: 5, backoff: { type: 'fixed', delayMs: 10 } });
    await sub.ready();
    const [a, b] = await sf.publishMany(topic, [{ kind: 'ctx' }, { kind: 'error' }]);
    const sa = await sf.waitFor(topic, a!, { timeoutMs: 5000 });
    const sb = await sf.waitFor(topic, b!, { timeoutMs: 5000 });
    expect(sa.groups.deliver).toMatchObject({ state: 'dead', attempts: 1, error: 'endpoint returned 410 Gone' });
    expect(sb.groups.deliver).toMatchObject({ state: 'dead', attempts: 1, error: 'DeadLetterError: payload fails the schema' });
    expect(attempts).toEqual([1, 1]);
    const reasons = (await sf.deadLetters(topic, 'deliver').list()).map((d) => d.reason);
    expect(reasons).toEqual(['handler', 'handler']);
  });

  test('attempts live in Redis: a retry picked up by a new consumer after a restart continues the count', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('resume');
    const first = sf.subscribe(topic, 'g', () => { throw new Error('boom'); }, { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 300 }, consumer: 'first' });
    await first.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'failed');
    await first.close();
    const seen: number[] = [];
    const second = sf.subscribe(topic, 'g', (_n, ctx) => { seen.push(ctx.attempt); }, { consumer: 'second', reclaimIntervalMs: 100 });
    const st = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(seen).toEqual([2]);
    // A plain success records no consumer (protocol 2's success records); `seen` shows the second one ran it.
    expect(st.groups.g).toMatchObject({ state: 'succeeded', attempts: 2 });
    await second.close();
  });

  test('a delivery whose worker always dies is bounded: reclaims count as attempts and it ends in dead letters', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('poison');
    const id = await (async () => {
      const warm = sf.subscribe(topic, 'g', () => undefined, { startFrom: 'beginning' });
      await warm.ready();
      await warm.close();
      return sf.publish(topic, 42);
    })();
    let calls = 0;
    for (let i = 1; i <= 3; i++) {
      // Each consumer takes the entry and "dies" mid-handler (closed with no grace).
      const sub = sf.subscribe(topic, 'g', () => { calls++; return new Promise(() => undefined); },
        { maxAttempts: 3, visibilityTimeoutMs: 250, reclaimIntervalMs: 50, consumer: `doomed-${i}` });
      await waitFor(() => sub.running.length === 1, { message: `consumer ${i} took the entry` });
      await sub.close(0);
    }
    expect(calls).toBe(3);
    const dead: string[] = [];
    const last = sf.subscribe(topic, 'g', () => { calls++; }, { maxAttempts: 3, visibilityTimeoutMs: 250, reclaimIntervalMs: 50, consumer: 'survivor' });
    last.on('deadLettered', (e) => dead.push(e.reason));
    const st = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(calls).toBe(3); // the fourth delivery is not handed to a handler
    expect(dead).toEqual(['hung']);
    expect(st.groups.g).toMatchObject({ state: 'dead', attempts: 3 });
    expect(st.groups.g?.error).toMatch(/attempt 3 of 3 never finished/);
    expect(await sf.pending(topic, 'g')).toEqual([]);
    await last.close();
  });

  test('handlerTimeoutMs bounds a handler that hangs in a live process', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('hang');
    let aborted = 0;
    const sub = sf.subscribe(topic, 'g', (_n, ctx) => new Promise(() => { ctx.signal.addEventListener('abort', () => { aborted++; }); }),
      { startFrom: 'beginning', maxAttempts: 2, handlerTimeoutMs: 150, backoff: { type: 'fixed', delayMs: 10 }, reclaimIntervalMs: 50 });
    await sub.ready();
    const id = await sf.publish(topic, 1);
    const st = await sf.waitFor(topic, id, { timeoutMs: 10_000 });
    expect(st.groups.g).toMatchObject({ state: 'dead', attempts: 2 });
    expect(st.groups.g?.error).toMatch(/timed out after 150ms/);
    expect(aborted).toBe(2);
  });

  test('retries wait in the group retry set and move to its redelivery stream when due', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('visible');
    const sub = sf.subscribe(topic, 'g', (_n, ctx) => { if (ctx.attempt === 1) throw new Error('later'); },
      { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 60_000 } });
    await sub.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(async () => (await sf.groups(topic))[0]?.retrying === 1);
    const keys = topicKeys(sf.prefix, topic.name);
    const [member, score] = await sf.redis.zrange(keys.retry('g'), 0, -1, 'WITHSCORES');
    expect(JSON.parse(member!)).toMatchObject({ orig: id, base: '1' });
    expect(Number(score) - (await serverMs(sf))).toBeGreaterThan(50_000);
    expect(await sf.pending(topic, 'g')).toEqual([]); // nothing held by a worker meanwhile
  });
});
