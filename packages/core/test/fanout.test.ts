import { waitFor, sleep } from '@streamfan/testing';
import { defineTopic } from '../src';
import { useRedis } from './helpers';

const env = useRedis();

describe('fan-out', () => {
  test('one event reaches each of three groups exactly once, status succeeded with 1 attempt', async () => {
    const sf = env.client();
    const topic = defineTopic<{ n: number }>('user.signup');
    const seen: Record<string, number[]> = { email: [], billing: [], analytics: [] };
    const subs = Object.keys(seen).map((g) => sf.subscribe(topic, g, async (p) => { seen[g]!.push(p.n); return { by: g }; }, { startFrom: 'beginning' }));
    await Promise.all(subs.map((s) => s.ready()));
    const id = await sf.publish(topic, { n: 7 });
    const status = await sf.waitFor(topic, id, { timeoutMs: 5000 });
    expect(Object.keys(status.groups).sort()).toEqual(['analytics', 'billing', 'email']);
    for (const g of Object.keys(seen)) {
      expect(status.groups[g]).toMatchObject({ state: 'succeeded', attempts: 1, result: { by: g } });
    }
    await sleep(300); // any duplicate delivery would show up here
    expect(seen).toEqual({ email: [7], billing: [7], analytics: [7] });
    const groups = await sf.groups(topic);
    expect(groups.map((g) => [g.group, g.pending, g.lag])).toEqual([['analytics', 0, 0], ['billing', 0, 0], ['email', 0, 0]]);
  });

  test('concurrency 8: eight handlers run at once and never more', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('jobs');
    let running = 0;
    let peak = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let done = 0;
    const sub = sf.subscribe(topic, 'workers', async () => {
      running++;
      peak = Math.max(peak, running);
      await gate;
      running--;
      done++;
    }, { concurrency: 8, startFrom: 'beginning' });
    await sub.ready();
    await sf.publishMany(topic, Array.from({ length: 20 }, (_, i) => i));
    await waitFor(() => running === 8, { message: '8 handlers running' });
    await sleep(300);
    expect(running).toBe(8);
    const pending = await sf.pending(topic, 'workers');
    expect(pending).toHaveLength(8); // no prefetch beyond free slots
    release();
    await waitFor(() => done === 20, { message: 'all 20 handled' });
    expect(peak).toBe(8);
  });

  test('publishMany returns ids in order and every group sees them in order', async () => {
    const sf = env.client();
    const topic = defineTopic<number>('ordered');
    const got: number[] = [];
    const sub = sf.subscribe(topic, 'g', (n) => { got.push(n); }, { concurrency: 1, startFrom: 'beginning' });
    await sub.ready();
    const ids = await sf.publishMany(topic, [1, 2, 3, 4, 5]);
    expect(ids).toHaveLength(5);
    expect([...ids].sort()).toEqual(ids);
    await waitFor(() => got.length === 5);
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });
});
