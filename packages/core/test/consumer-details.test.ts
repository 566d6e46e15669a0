import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { retryStrategy } from '../src/connection';
import { useRedis } from './helpers';

const env = useRedis();

describe('consumer details (issue 10, smaller items)', () => {
  test('a retry and a dead-letter replay show processing while they run, with their attempt and consumer', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('shows-processing');
    const gates: Array<() => void> = [];
    const sub = sf.subscribe(topic, 'g', async (_n, ctx) => {
      if (ctx.attempt === 1) throw new Error('first fails');
      await new Promise<void>((r) => gates.push(r));
      if (gates.length === 1) ctx.deadLetter('then give up');
    }, { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 10 }, consumer: 'worker-1' });
    await sub.ready();
    const id = await sf.publish(topic, 1);
    await waitFor(() => gates.length === 1, { message: 'retry running' });
    expect((await sf.status(topic, id)).groups.g).toMatchObject({ state: 'processing', attempts: 2, consumer: 'worker-1' });
    gates[0]!();
    await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'dead', { message: 'dead' });
    expect(await sf.deadLetters(topic, 'g').replay({ all: true } as never)).toBe(1);
    await waitFor(() => gates.length === 2, { message: 'replay running' });
    const st = (await sf.status(topic, id)).groups.g!;
    expect(st).toMatchObject({ state: 'processing', consumer: 'worker-1' });
    expect(st).not.toHaveProperty('deadLetterId');
    gates[1]!();
    await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded', { message: 'replay succeeded' });
    await sub.close();
  });

  test('a retry of a delayed event keeps its delayed-id header', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('delayed-retry');
    const seen: Array<[number, unknown]> = [];
    const sub = sf.subscribe(topic, 'g', (_n, ctx) => {
      seen.push([ctx.attempt, ctx.headers['streamfan-delayed-id']]);
      if (ctx.attempt === 1) throw new Error('first fails');
    }, { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 10 }, reclaimIntervalMs: 50 });
    await sub.ready();
    const delayedId = await sf.publish(topic, 1, { delayMs: 50 });
    await waitFor(() => seen.length === 2, { message: 'two attempts' });
    expect(seen).toEqual([[1, delayedId], [2, delayedId]]);
    await sub.close();
  });

  test('crashed consumers that hold nothing are pruned once idle; one holding entries never is', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('prune');
    const stream = topicKeys(sf.prefix, topic.name).stream;
    await sf.redis.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
    await sf.publish(topic, 1);
    await sf.redis.xgroup('CREATECONSUMER', stream, 'g', 'crashed-empty');
    await sf.redis.xreadgroup('GROUP', 'g', 'crashed-holding', 'COUNT', 1, 'STREAMS', stream, '>');
    const pruned: string[] = [];
    const sub = sf.subscribe(topic, 'g', () => undefined,
      { consumer: 'live', pruneIdleConsumersMs: 300, reclaimIntervalMs: 50, visibilityTimeoutMs: 600_000 });
    sub.on('pruned', (e) => pruned.push(e.consumer));
    await waitFor(() => pruned.includes('crashed-empty'), { message: 'empty crashed consumer pruned' });
    await sleep(500);
    const names = ((await sf.redis.xinfo('CONSUMERS', stream, 'g')) as unknown[][]).map((r) => String(r[1]));
    expect(names).toContain('crashed-holding');
    expect(names).not.toContain('crashed-empty');
    expect(pruned).toEqual(['crashed-empty']);
    await sub.close();
  });

  test('handlerTimeoutMs settles the attempt but keeps the slot until the handler returns; close() waits for it', async () => {
    const sf = env.client();
    const topic = defineTopic<string>('timeout-slot');
    let live = 0;
    let maxLive = 0;
    const sub = sf.subscribe(topic, 'g', async (p) => {
      live++;
      maxLive = Math.max(maxLive, live);
      try {
        if (p === 'stubborn') await sleep(800); // ignores its signal
      } finally {
        live--;
      }
    }, { startFrom: 'beginning', concurrency: 1, handlerTimeoutMs: 100, maxAttempts: 1 });
    const dead: string[] = [];
    sub.on('deadLettered', (e) => dead.push(e.id));
    await sub.ready();
    const [stubborn] = await sf.publishMany(topic, ['stubborn', 'next']);
    await waitFor(() => dead.includes(stubborn!), { message: 'timed-out attempt settled' });
    expect(live).toBe(1);
    expect(sub.stats.inFlight).toBe(1);
    await sleep(200);
    expect(maxLive).toBe(1);
    let liveAtClose = -1;
    await waitFor(() => live === 0 || liveAtClose >= 0, { timeoutMs: 5000 });
    await sub.close().then(() => { liveAtClose = live; });
    expect(liveAtClose).toBe(0);
    expect(maxLive).toBe(1);
  });
});

describe('reconnect backoff', () => {
  test('has jitter: waits spread over 50–100 % of each step, capped at 2 s', () => {
    expect(retryStrategy(1, () => 0)).toBe(50);
    expect(retryStrategy(1, () => 1)).toBe(100);
    expect(retryStrategy(20, () => 0.999)).toBeLessThanOrEqual(2000);
    const waits = new Set(Array.from({ length: 50 }, () => retryStrategy(3)));
    expect(waits.size).toBeGreaterThan(5);
  });
});
