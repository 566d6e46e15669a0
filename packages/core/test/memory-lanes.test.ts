import { waitFor } from '@streamfan/testing';
import { defineTopic } from '../src';
import { useRedis } from './helpers';
import { topicMemory } from '../src/memory';

/**
 * `sf.memory()` (streamfan memory, the dashboard and the metrics endpoint) on a prioritized topic:
 * each lane's keys (`{T}:lane:<L>:…`) are counted under the topic by kind, as the default lane's
 * are; before, a lane's stream, success buckets and dead letters all fell under `other`, and
 * only the default lane's stream was measured as the topic stream.
 */
const env = useRedis();
jest.setTimeout(60_000);

test('a prioritized topic: every lane\'s stream, status and dead letters are counted by kind', async () => {
  const sf = env.client();
  const t = defineTopic<{ n: number; dead?: boolean }>('mail', { priorities: ['high', 'low'] });
  let done = 0;
  const sub = sf.subscribe(t, 'send', (p, ctx) => {
    done++;
    if (p.dead) ctx.deadLetter('no such mailbox');
  }, { startFrom: 'beginning' });
  await sub.ready();
  for (let n = 0; n < 4; n++) await sf.publish(t, { n }, { priority: 'high' });
  for (let n = 0; n < 6; n++) await sf.publish(t, { n }, { priority: 'low' });
  await sf.publish(t, { n: 99, dead: true }, { priority: 'high' });
  await waitFor(() => done >= 11, { timeoutMs: 20_000, message: '11 handled' });
  await waitFor(async () => (await sf.groups(t)).every((g) => g.pending === 0), { timeoutMs: 20_000, message: 'all acknowledged' });
  await sub.close();

  const report = await sf.memory(t);
  const mail = report.topics.find((x) => x.topic === 'mail')!;
  expect(mail.lanes).toEqual(['high', 'low']);
  const kind = (k: string) => mail.kinds.find((x) => x.kind === k)!;
  expect(kind('stream')).toMatchObject({ keys: 2, entries: 11 });
  expect(kind('status').keys).toBeGreaterThanOrEqual(3); // a success bucket per lane, the dead event's hash
  expect(kind('deadLetters')).toMatchObject({ keys: 1, entries: 1 });
  // 'other' is the meta record and the group's bookkeeping, not the lanes' streams or records.
  expect(kind('other').bytes).toBeLessThan(kind('stream').bytes);
  // Same figures through the function the CLI, the dashboard and the metrics call.
  const again = await topicMemory(sf.redis, sf.prefix, 'mail');
  expect(again.topics[0]!.kinds.find((x) => x.kind === 'stream')).toMatchObject({ keys: 2, entries: 11 });
});
