import { waitFor } from '@streamfan/testing';
import { defineTopic } from '../src';
import { partitionForKey } from '../src/partitions/hash';
import { useRedis } from './helpers';

const env = useRedis();
jest.setTimeout(60_000);

/** The first key `k<n>` that lands in partition `p` of `partitions`. */
function keyIn(p: number, partitions: number): string {
  for (let n = 0; ; n++) if (partitionForKey(`k${n}`, partitions) === p) return `k${n}`;
}

/**
 * skipOlderThanMs on an unordered partitioned topic: each partition's subscription judges an entry
 * when it reads it, and again when the consumer's shared handler slots let it run. An event of
 * partition 1, read while partition 0's long handler held the only slot and stale by the time the
 * slot freed, is skipped, not run (docs/partitions.md §6.5).
 */
test('an event that went stale waiting for the shared slot behind another partition is skipped at the grant', async () => {
  const sf = env.client({ retention: false });
  const topic = defineTopic<{ n: string }>('pgrant', { partitions: 2 });
  const ran: string[] = [];
  const skipped: string[] = [];
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => { release = r; });
  let longStarted = false;
  const sub = sf.subscribe(topic, 'g', async (p) => {
    ran.push(p.n);
    if (p.n === 'long') { longStarted = true; await held; }
  }, { concurrency: 1, skipOlderThanMs: 1500, blockMs: 100 });
  sub.on('skipped', ({ ids }) => skipped.push(...ids));
  await sub.ready();
  await sf.publish(topic, { n: 'long' }, { key: keyIn(0, 2) });
  await waitFor(() => longStarted, { message: 'partition 0 holds the only slot' });
  const late = await sf.publish(topic, { n: 'late' }, { key: keyIn(1, 2) });
  await new Promise((r) => setTimeout(r, 2500));
  release();
  await waitFor(() => skipped.includes(late) || ran.includes('late'), { timeoutMs: 20_000, message: 'the partition 1 event settled' });
  expect(ran).toEqual(['long']);
  expect(skipped).toEqual([late]);
  await waitFor(async () => (await sf.status(topic, late)).groups.g?.state === 'skipped', { timeoutMs: 10_000, message: 'status skipped' });
  await sf.publish(topic, { n: 'fresh' }, { key: keyIn(1, 2) });
  await waitFor(() => ran.includes('fresh'), { message: 'a fresh event runs' });
  await sub.close();
});
