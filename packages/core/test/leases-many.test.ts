import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, type HandlerContext } from '../src';
import { useRedis } from './helpers';

const env = useRedis();

describe('leases of many running handlers', () => {
  test('five handlers running 3× the visibility timeout all keep their leases: a waiting second consumer starts none of them', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('many-long');
    const vt = 600;
    const starts = new Map<number, number>();
    const reclaimed: string[] = [];
    const handler = async (n: number) => {
      starts.set(n, (starts.get(n) ?? 0) + 1);
      await sleep(3 * vt);
    };
    const opts = { startFrom: 'beginning' as const, visibilityTimeoutMs: vt, reclaimIntervalMs: 50 };
    const a = sf.subscribe(topic, 'g', handler, { ...opts, consumer: 'a', concurrency: 5 });
    await a.ready();
    const ids = await sf.publishMany(topic, [1, 2, 3, 4, 5]);
    await waitFor(() => a.running.length === 5, { message: 'five handlers running on a' });
    // b joins only now, so every entry is a's and b can get one only by reclaiming it.
    const b = sf.subscribe(topic, 'g', handler, { ...opts, consumer: 'b', concurrency: 5 });
    for (const s of [a, b]) s.on('reclaimed', (e) => reclaimed.push(...e.ids));
    await b.ready();
    for (const id of ids) await sf.waitFor(topic, id, { timeoutMs: 20_000 });
    await sleep(vt);
    expect([...starts.values()]).toEqual([1, 1, 1, 1, 1]);
    expect(reclaimed).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });

  test('9,000 running handlers (past Lua unpack\'s ~8,000 limit) keep their leases: none starts twice', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('huge');
    const n = 9000;
    const vt = 2000;
    let starts = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const errors: Error[] = [];
    const a = sf.subscribe(topic, 'g', async (_n: number, _ctx: HandlerContext) => { starts++; await gate; },
      { startFrom: 'beginning', visibilityTimeoutMs: vt, reclaimIntervalMs: 100, concurrency: 10_000, consumer: 'a' });
    a.on('error', (e) => errors.push(e));
    await a.ready();
    for (let i = 0; i < n; i += 1000) await sf.publishMany(topic, Array.from({ length: 1000 }, (_, j) => i + j));
    await waitFor(() => a.running.length === n, { timeoutMs: 20_000, message: 'every handler running' });
    const b = sf.subscribe(topic, 'g', async () => { starts++; },
      { startFrom: 'beginning', visibilityTimeoutMs: vt, reclaimIntervalMs: 100, consumer: 'b' });
    const reclaimed: string[] = [];
    b.on('reclaimed', (e) => reclaimed.push(...e.ids));
    await b.ready();
    await sleep(2.5 * vt);
    expect(reclaimed.length).toBe(0);
    expect(starts).toBe(n);
    expect(errors.map((e) => e.message)).toEqual([]);
    release();
    await waitFor(async () => (await sf.pending(topic, 'g', { limit: 10 })).length === 0, { timeoutMs: 20_000, message: 'all acked' });
    await Promise.all([a.close(), b.close()]);
  }, 60_000);
});
