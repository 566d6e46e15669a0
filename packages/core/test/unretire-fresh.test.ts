import { waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

const env = useRedis();

/**
 * unretireGroup says the next subscribe creates the group again at its `startFrom`: with
 * 'beginning', every event the topic still retains. A consumer running when its group was retired
 * meets NOGROUP and may begin a recovery before it learns the group is retired; what that
 * recovery wrote (the recreated key, the known-groups member, the recovering marker) must not make
 * the new group of the same name resume where the old one was.
 */
test('after retire (with its consumer running) and unretire, a subscribe from the beginning gets every retained event', async () => {
  const sf = env.client({ retention: false });
  const topic = defineTopic<string>('unretire-fresh');
  const keys = topicKeys(sf.prefix, topic.name);
  const first: string[] = [];
  const sub = sf.subscribe(topic, 'g', (p) => { first.push(p); }, { startFrom: 'beginning', reclaimIntervalMs: 100, blockMs: 100 });
  let closed = false;
  sub.on('error', () => undefined);
  sub.on('closed', () => { closed = true; });
  await sub.ready();
  await sf.publishMany(topic, ['a', 'b', 'c']);
  await waitFor(() => first.length === 3, { message: 'first run handled a, b, c' });
  await sf.retireGroup(topic, 'g');
  await waitFor(() => closed, { timeoutMs: 10_000, message: 'the consumer stopped on the retirement' });
  await sub.close();
  const leftovers = (await sf.redis.keys(`${keys.stream.slice(0, -':stream'.length)}:*`)).sort();
  expect(await sf.unretireGroup(topic, 'g')).toBe(true);

  const second: string[] = [];
  const again = sf.subscribe(topic, 'g', (p) => { second.push(p); }, { startFrom: 'beginning', blockMs: 100 });
  await again.ready();
  await waitFor(() => second.length >= 3, { timeoutMs: 10_000, message: `the new group handled the 3 retained events (keys left at unretire: ${leftovers.join(', ')})` });
  expect(second.sort()).toEqual(['a', 'b', 'c']);
  await again.close();
});
