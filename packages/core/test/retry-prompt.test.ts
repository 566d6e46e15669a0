import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic } from '../src';
import { useRedis } from './helpers';

const env = useRedis();

describe('reads never deliver more than the free slots', () => {
  test('retries with a 20 ms backoff at concurrency 1 run promptly; no entry is handed back (no 10-day idle), nothing counts as reclaimed', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('prompt');
    const failedAt = new Map<string, number>();
    const gaps: number[] = [];
    // Each handler runs longer than the backoff, so a read finds entries in both streams.
    const sub = sf.subscribe(topic, 'g', async (_n, ctx) => {
      await sleep(50);
      const before = failedAt.get(ctx.id);
      if (before !== undefined) gaps.push(Date.now() - 50 - before);
      if (ctx.attempt < 3) {
        failedAt.set(ctx.id, Date.now());
        throw new Error('again');
      }
    }, { startFrom: 'beginning', concurrency: 1, backoff: { type: 'fixed', delayMs: 20 } });
    await sub.ready();
    let maxIdle = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const source of ['topic', 'redelivery'] as const) {
          for (const p of await sf.pending(topic, 'g', { source })) maxIdle = Math.max(maxIdle, p.idleMs);
        }
        await sleep(20);
      }
    })();
    const ids = await sf.publishMany(topic, Array.from({ length: 8 }, (_, i) => i));
    for (const id of ids) {
      await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded', { timeoutMs: 20_000, message: `event ${id} succeeded` });
    }
    sampling = false;
    await sampler;
    expect(gaps.length).toBe(16);
    if (process.env.SHOW_MEASURES) console.log(`retry gaps (ms): max ${Math.max(...gaps)}, median ${[...gaps].sort((a, b) => a - b)[8]}; max idle seen ${maxIdle} ms`);
    // A retry runs after its backoff plus the read; the bound is generous (not a speed claim):
    // before the fix the median gap was the reclaim interval (about 5 s).
    expect(Math.max(...gaps)).toBeLessThan(1000);
    expect(maxIdle).toBeLessThan(60_000);
    expect(sub.stats.reclaimed).toBe(0);
    await sub.close();
  }, 60_000);
});
