import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

// The consumer that recreates a destroyed group resumed after the last entry it knew of (its own
// reads, the group's position at its last reclaim tick). When that view was stale, entries other
// consumers had read and still ran came again as new deliveries, to a second consumer while the
// first ran them (model seed 3, CI run 4: destroy-overlap a|11..13). Every consumer of a group now
// records the group's last-delivered id on its reclaim ticks (known-groups.ts), and the recreation
// resumes from the furthest one recorded.
const env = useRedis();

test('a recreation by a consumer with a stale view does not deliver again what another consumer runs', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('resume-position');
  const keys = topicKeys(sf.prefix, topic.name);
  const gates = new Map<string, () => void>();
  const runs: string[] = [];
  const handler = (who: string) => async (p: string) => {
    runs.push(`${who}:${p}`);
    await new Promise<void>((r) => gates.set(p, r));
  };
  // B: busy with e1, no reclaim tick: its view of the group stops at e1.
  const b = sf.subscribe(topic, 'g', handler('B'), { consumer: 'B', startFrom: 'beginning', concurrency: 1, reclaimIntervalMs: 60_000, visibilityTimeoutMs: 60_000 });
  await b.ready();
  await sf.publish(topic, 'e1');
  await waitFor(() => runs.includes('B:e1'), { message: 'B runs e1' });
  // A: runs e2, and records where the group is on its reclaim ticks.
  const a = sf.subscribe(topic, 'g', handler('A'), { consumer: 'A', startFrom: 'beginning', concurrency: 1, reclaimIntervalMs: 300, visibilityTimeoutMs: 60_000 });
  await a.ready();
  const e2 = await sf.publish(topic, 'e2');
  await waitFor(() => runs.includes('A:e2'), { message: 'A runs e2' });
  const known = `${keys.stream.slice(0, -':stream'.length)}:known-groups`;
  await waitFor(async () => ((await sf.redis.zrange(known, 0, -1)) as string[]).some((m) => m.startsWith('g|') && m.endsWith(`|${e2}`)), { message: "A recorded the group's position" });

  await sf.redis.xgroup('DESTROY', keys.stream, 'g');
  // B recovers first (as its read loop or reclaim tick would), with its stale view.
  await (b as unknown as { recover(reason: string): Promise<void> }).recover('test: B meets NOGROUP');
  gates.get('e1')!(); // B is free: it reads the recreated group
  await sleep(1000);
  expect(runs).toEqual(['B:e1', 'A:e2']);
  gates.get('e2')!();
  await waitFor(async () => (await sf.status(topic, e2)).groups.g?.state === 'succeeded', { message: 'e2 succeeded' });
  expect(runs).toEqual(['B:e1', 'A:e2']);
  await Promise.all([a.close(), b.close()]);
});
