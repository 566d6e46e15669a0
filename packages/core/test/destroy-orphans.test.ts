import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

// XGROUP DESTROY drops the group's pending list. Entries pending then with a consumer that will
// never settle them (dead, SIGSTOPped and later killed, or whose read reply a dropped connection
// lost) were in no one's hands after the recreation, which resumes after the last entry read:
// never delivered again, status unknown for good (model test, `--commands all --seed 3`).
const env = useRedis();

test('entries pending with a consumer that never settles them when the group is destroyed are handled after the recovery; finished ones are not', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('orphans');
  const stream = topicKeys(sf.prefix, topic.name).stream;
  await sf.redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
  const [a, b] = await sf.publishMany(topic, ['a', 'b', 'c']);
  // A consumer that reads two entries and then is gone for good.
  await sf.redis.xreadgroup('GROUP', 'g', 'ghost', 'COUNT', 2, 'STREAMS', stream, '>');
  const handled: string[] = [];
  const sub = sf.subscribe(topic, 'g', (p) => { handled.push(p); },
    { consumer: 'live', visibilityTimeoutMs: 1500, reclaimIntervalMs: 60_000 });
  await sub.ready();
  await waitFor(() => handled.includes('c'), { message: 'the live consumer handled c' });
  await sf.redis.xgroup('DESTROY', stream, 'g');
  await waitFor(() => handled.includes('a') && handled.includes('b'), { timeoutMs: 10_000, message: "the ghost's entries handled after the recovery" });
  for (const id of [a!, b!]) await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded', { message: `${id} succeeded` });
  await sleep(300);
  expect(handled.sort()).toEqual(['a', 'b', 'c']); // c, finished before the destroy, not again
  await sub.close();
});
