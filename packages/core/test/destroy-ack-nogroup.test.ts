import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

// A handler that finishes while its group is destroyed and not recreated yet: the ack script
// fails with NOGROUP. The batcher reported it ("they stay pending and will be redelivered") and
// dropped the entries, though no pending list held them any more: the recreated group resumes
// after the last entry read, so nothing delivered them again and the event stayed 'unknown'
// (only a recovery sweep, 1.5 visibility timeouts later and only when this consumer recreated
// the group, would run it a second time). Model seed 10 with `+destroy`: 10 (event, group) never final.
const env = useRedis();

test('an ack refused with NOGROUP counts once the group is back: the event succeeds, its handler ran once', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('ack-nogroup');
  const stream = topicKeys(sf.prefix, topic.name).stream;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const runs = new Map<string, number>();
  const errors: string[] = [];
  // Concurrency 1: while the handler runs the consumer neither reads nor meets the NOGROUP, so the
  // ack comes first (the read loop settles before it reads). Long visibility timeout and reclaim
  // interval: no sweep, no reclaim within the test.
  const sub = sf.subscribe(topic, 'g', async (p) => {
    runs.set(p, (runs.get(p) ?? 0) + 1);
    if (p === 'long') await gate;
  }, { startFrom: 'beginning', concurrency: 1, visibilityTimeoutMs: 60_000, reclaimIntervalMs: 60_000 });
  sub.on('error', (e) => errors.push(e.message));
  await sub.ready();
  const id = await sf.publish(topic, 'long');
  await waitFor(() => runs.get('long') === 1, { message: 'handler running' });

  await sf.redis.xgroup('DESTROY', stream, 'g');
  release();
  await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded', { timeoutMs: 10_000, message: `${id} succeeded in g` });
  // The group works on: a new event is handled once.
  const next = await sf.publish(topic, 'next');
  await waitFor(async () => (await sf.status(topic, next)).groups.g?.state === 'succeeded', { message: 'new event handled' });
  await sleep(200);
  expect(Object.fromEntries(runs)).toEqual({ long: 1, next: 1 });
  expect((await sf.redis.xpending(stream, 'g')) as unknown[]).toEqual([0, null, null, null]);
  await sub.close();
});

test('an ack refused with NOGROUP for an entry removed from the stream meanwhile ends lost, not unknown', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('ack-nogroup-gone');
  const stream = topicKeys(sf.prefix, topic.name).stream;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let started = 0;
  const sub = sf.subscribe(topic, 'g', async () => { started++; await gate; },
    { startFrom: 'beginning', concurrency: 1, visibilityTimeoutMs: 60_000, reclaimIntervalMs: 60_000 });
  const lost: string[] = [];
  sub.on('error', () => undefined);
  sub.on('lost', (e) => lost.push(...e.ids));
  await sub.ready();
  const id = await sf.publish(topic, 'long');
  await waitFor(() => started === 1, { message: 'handler running' });
  await sf.redis.xgroup('DESTROY', stream, 'g');
  // A trim while the group does not exist: nothing holds the entry back.
  await sf.redis.xdel(stream, id);
  release();
  await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'lost', { timeoutMs: 10_000, message: `${id} lost in g` });
  expect(started).toBe(1);
  await waitFor(() => lost.length > 0, { message: "the subscription's lost event" });
  expect(lost).toEqual([id]);
  expect(sub.stats.lost).toBe(1);
  await sub.close();
});

test('a failure refused with NOGROUP schedules its retry once the group is back: the event is retried and succeeds', async () => {
  // Before, the failEntry error was reported ("schedule retry: NOGROUP") and dropped: the pending
  // record went with the group, no retry was scheduled, the event stayed unknown (model seed 10,
  // 06:26: a|22).
  const sf = env.client();
  const topic = defineTopic<string>('fail-nogroup');
  const stream = topicKeys(sf.prefix, topic.name).stream;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const attempts: number[] = [];
  const sub = sf.subscribe(topic, 'g', async (_p, ctx) => {
    attempts.push(ctx.attempt);
    if (ctx.attempt === 1) { await gate; throw new Error('first attempt fails'); }
  }, { startFrom: 'beginning', concurrency: 1, visibilityTimeoutMs: 60_000, reclaimIntervalMs: 60_000, backoff: { type: 'fixed', delayMs: 50 } });
  sub.on('error', () => undefined);
  await sub.ready();
  const id = await sf.publish(topic, 'x');
  await waitFor(() => attempts.length === 1, { message: 'handler running' });
  await sf.redis.xgroup('DESTROY', stream, 'g');
  release();
  await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded', { timeoutMs: 10_000, message: `${id} retried and succeeded in g` });
  expect(attempts).toEqual([1, 2]);
  await sub.close();
});
