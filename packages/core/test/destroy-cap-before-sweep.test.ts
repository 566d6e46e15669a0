import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

// An entry pending for a consumer that will never settle it (dead, or stalled for good) when its
// group is destroyed: the recreated group resumes past it, and only the recovery sweep, 1.5
// visibility timeouts later, takes it back. A hard cap in between removed it as acknowledged (it
// is in no pending list and before the group's position), recorded nothing, and the sweep found
// nothing: its status stayed unknown for good (model seed 10, 06:32: not-final and cap-not-lost
// a|9, the cap 2 s after the recreation). While its sweep is due, the recreated group counts for
// retention as a missing one (known-groups.ts) from where it was.
const env = useRedis();

test('a hard cap after a recreation and before its sweep records the entries nobody holds lost, once', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('cap-before-sweep');
  const keys = topicKeys(sf.prefix, topic.name);
  const seen: string[] = [];
  // A consumer that died holding the first entry (its delivery idle well under the timeout).
  const orphan = await sf.publish(topic, 'orphan');
  await sf.redis.xgroup('CREATE', keys.stream, 'g', '0');
  await sf.redis.xreadgroup('GROUP', 'g', 'dead', 'COUNT', 1, 'STREAMS', keys.stream, '>');
  const sub = sf.subscribe(topic, 'g', (p) => { seen.push(p); }, { startFrom: 'beginning', concurrency: 1, visibilityTimeoutMs: 10_000, reclaimIntervalMs: 100 });
  const recovered: string[] = [];
  sub.on('recovered', (e) => recovered.push(e.reason));
  sub.on('error', () => undefined);
  await sub.ready();
  const last = await sf.publish(topic, 'last');
  await waitFor(() => seen.includes('last'), { message: 'last handled' });
  // The consumer's reclaim ticks record where the group is: its floor is the orphan.
  const known = `${keys.stream.slice(0, -':stream'.length)}:known-groups`;
  await waitFor(async () => ((await sf.redis.zrange(known, 0, -1)) as string[]).some((m) => m.startsWith(`g|${orphan}|${last}`)), { message: 'g recorded with its floor at the orphan' });
  await sf.redis.xgroup('DESTROY', keys.stream, 'g');
  await waitFor(() => recovered.length > 0, { timeoutMs: 10_000, message: 'recovered' });
  // The cap comes before the sweep (15 s from the recreation).
  const r = await sf.trim(topic, { maxLen: 1 });
  expect(r.lostIds).toEqual([orphan]);
  expect(r.lostByGroup).toEqual({ g: 1 });
  expect((await sf.status(topic, orphan)).groups.g?.state).toBe('lost');
  expect((await sf.status(topic, last)).groups.g?.state).toBe('succeeded');
  // Once: a second cap records nothing more.
  expect((await sf.trim(topic, { maxLen: 1 })).lostToCap).toBe(0);
  await sleep(200);
  expect(seen).toEqual(['last']);
  await sub.close();
});
