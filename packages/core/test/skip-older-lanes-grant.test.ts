import { waitFor } from '@streamfan/testing';
import { defineTopic } from '../src';
import { useRedis } from './helpers';

const env = useRedis();
jest.setTimeout(60_000);

/**
 * skipOlderThanMs on a prioritized topic: an entry is judged when its lane reads it, and again
 * when the shared pool grants it a slot. A low event read while a long high handler held the only
 * slot, and stale by the time the slot freed, is skipped, not run (docs/priorities.md §5.1).
 */
test('a low event that went stale waiting for the slot behind a long high handler is skipped at the grant', async () => {
  const sf = env.client({ retention: false });
  const topic = defineTopic<{ n: string; ms: number }>('grant', { priorities: ['high', 'low'] });
  const ran: string[] = [];
  const skipped: string[] = [];
  let releaseHigh: () => void = () => undefined;
  const highRunning = new Promise<void>((started) => {
    releaseHigh = started;
  });
  let highStarted = false;
  const sub = sf.subscribe(topic, 'g', async (p) => {
    ran.push(p.n);
    if (p.n === 'h0') { highStarted = true; await highRunning; }
  }, { concurrency: 1, lowerLaneShare: 0, skipOlderThanMs: 1500, blockMs: 100 });
  sub.on('skipped', ({ ids }) => skipped.push(...ids));
  await sub.ready();
  await sf.publish(topic, { n: 'h0', ms: 0 }, { priority: 'high' });
  await waitFor(() => highStarted, { message: 'the high handler holds the only slot' });
  const low = await sf.publish(topic, { n: 'L', ms: 0 }, { priority: 'low' });
  // The lane reads it at once (fresh), then it waits for the slot: hold the slot past the bound.
  await new Promise((r) => setTimeout(r, 2500));
  releaseHigh();
  await waitFor(() => skipped.includes(low) || ran.includes('L'), { timeoutMs: 20_000, message: 'the low event settled' });
  expect(ran).toEqual(['h0']);
  expect(skipped).toEqual([low]);
  await waitFor(async () => (await sf.status(topic, low)).groups.g?.state === 'skipped', { timeoutMs: 10_000, message: 'status skipped' });
  // The entry is acknowledged: nothing pending in the low lane.
  await waitFor(async () => (await sf.groups(topic)).find((g) => g.group === 'g')?.pending === 0, { message: 'nothing pending' });
  // A fresh low event afterwards still runs.
  await sf.publish(topic, { n: 'L2', ms: 0 }, { priority: 'low' });
  await waitFor(() => ran.includes('L2'), { message: 'a fresh low event runs' });
  await sub.close();
});
