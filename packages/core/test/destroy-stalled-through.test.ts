import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

// A consumer that stalls through an XGROUP DESTROY and the recreation by another consumer never
// meets the NOGROUP, so it never takes back what its handlers run. Its lease renewal then found
// the running entry pending for no one and, as this consumer had become a member of the new group
// (a read re-sent after a reconnect is enough), called the lease lost: the handler was aborted,
// its outcome refused, and the event stayed unknown in the recreated group (model seed 10 with
// `+destroy`, seq 6 in b). The consumer now notices the recreation (the recreated key changed)
// before renewing, and takes its running deliveries back.
const env = useRedis();

test('a running delivery survives a recreation this consumer never saw: not aborted, no leaseLost, its ack counts', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('stalled-through');
  const keys = topicKeys(sf.prefix, topic.name);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let aborted = '';
  let runs = 0;
  const told: string[] = [];
  const sub = sf.subscribe(topic, 'g', async (_p, ctx) => {
    runs++;
    ctx.signal.addEventListener('abort', () => { aborted = String((ctx.signal.reason as Error)?.message); });
    await gate;
  }, { startFrom: 'beginning', concurrency: 1, visibilityTimeoutMs: 1000, reclaimIntervalMs: 60_000 });
  sub.on('leaseLost', (e) => told.push(`leaseLost ${e.id}`));
  sub.on('stale', (e) => told.push(`stale ${e.ids.join(',')}`));
  sub.on('error', () => undefined);
  await sub.ready();
  const id = await sf.publish(topic, 'long');
  await waitFor(() => runs === 1, { message: 'handler running' });

  // What another consumer's recovery does, in one step so this consumer's lease renewal cannot
  // run in between: destroy, recreate after the entry, record the recreation; and this consumer
  // is a member of the new group (as after a re-sent read).
  const [sec] = await sf.redis.time();
  await sf.redis.multi()
    .xgroup('DESTROY', keys.stream, 'g')
    .xgroup('CREATE', keys.stream, 'g', id)
    .xgroup('CREATECONSUMER', keys.stream, 'g', sub.consumer)
    .set(keys.recreated('g'), `${Number(sec) * 1000 + 1000}-${Number.MAX_SAFE_INTEGER}`, 'EX', 3600)
    .exec();
  // Several renewals (every 250 ms; due after 500 ms).
  await sleep(1500);
  expect(aborted).toBe('');
  expect(told).toEqual([]);
  expect(((await sf.redis.xpending(keys.stream, 'g', '-', '+', 10)) as Array<[string, string]>).map((r) => [r[0], r[1]])).toEqual([[id, sub.consumer]]);
  release();
  await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded', { message: 'its ack counted' });
  expect(runs).toBe(1);
  expect(told).toEqual([]);
  await sub.close();
});
