import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

// A consumer that starts while its group is missing from the topic stream, destroyed (XGROUP
// DESTROY) while the group's consumers ran and not recreated yet by their recovery (they stalled
// or lost Redis): it created the group at its startFrom, 'beginning', and ran again everything the
// group had finished (model seed 10: destroy-replay seqs 1, 3, 4, 5 in both groups, from a worker
// spawned 11 s after b's destroy, in 3 of 6 runs). Its consumers recorded where the group was
// (known-groups, for retention): it is recreated there, as their recovery would.
const env = useRedis();

test('a consumer that starts while its group is destroyed and not recreated yet does not replay what the group finished', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('start-missing');
  const keys = topicKeys(sf.prefix, topic.name);
  const runs: string[] = [];
  const first = sf.subscribe(topic, 'g', (p) => { runs.push(`first:${p}`); return { ok: p }; },
    { startFrom: 'beginning', reclaimIntervalMs: 100 });
  await first.ready();
  const ids = [await sf.publish(topic, 'a'), await sf.publish(topic, 'b'), await sf.publish(topic, 'c')];
  for (const id of ids) await sf.waitFor(topic, id, { timeoutMs: 10_000 });
  // Its reclaim ticks recorded where the group is (last-delivered: c).
  await waitFor(async () => (await sf.redis.zrange(`${keys.stream.slice(0, -':stream'.length)}:known-groups`, 0, -1)).some((m) => m.startsWith('g|') && m.endsWith(`|${ids[2]}`)), { message: 'known-groups records g at c' });
  await first.close();
  await sf.redis.xgroup('DESTROY', keys.stream, 'g');

  const second = sf.subscribe(topic, 'g', (p) => { runs.push(`second:${p}`); return { ok: p }; }, { startFrom: 'beginning' });
  second.on('recovered', () => undefined);
  await second.ready();
  const next = await sf.publish(topic, 'd');
  await sf.waitFor(topic, next, { timeoutMs: 10_000 });
  await sleep(300);
  expect(runs).toEqual(['first:a', 'first:b', 'first:c', 'second:d']);
  await second.close();
});

test('after retireGroup and unretireGroup (the group gone from both its streams), a subscribe creates the group at its startFrom, not where it was', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('start-missing-retired');
  const keys = topicKeys(sf.prefix, topic.name);
  const runs: string[] = [];
  const first = sf.subscribe(topic, 'g', (p) => { runs.push(p); }, { startFrom: 'beginning', reclaimIntervalMs: 100 });
  await first.ready();
  const id = await sf.publish(topic, 'a');
  await sf.waitFor(topic, id, { timeoutMs: 10_000 });
  await waitFor(async () => (await sf.redis.zcard(`${keys.stream.slice(0, -':stream'.length)}:known-groups`)) > 0, { message: 'known-groups written' });
  await first.close();
  await sf.publish(topic, 'old');
  await sf.retireGroup(topic, 'g');
  await sf.unretireGroup(topic, 'g');
  const again = sf.subscribe(topic, 'g', (p) => { runs.push(`again:${p}`); }, { startFrom: 'latest' });
  await again.ready();
  const next = await sf.publish(topic, 'new');
  await sf.waitFor(topic, next, { timeoutMs: 10_000 });
  await sleep(300);
  expect(runs).toEqual(['a', 'again:new']);
  await again.close();
});
