import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys } from '../src/internal';
import { useRedis } from './helpers';

// A delivery that finishes after its group was destroyed and recreated by another consumer, this
// consumer not a member of the new group yet: the ack script's "orphaned" path records the outcome
// (nothing is pending to acknowledge). It wrote attempts = base + 1 whatever the delivery was, so
// a reclaimed run (delivery 2) left `attempts: 1` beside its result of attempt 2 (model seed 10,
// 06:08: status-mismatch seq 15 in a, `{"attempts":1,"result":{"a":2}}`).
const env = useRedis();

test('a reclaimed delivery acknowledged through the orphaned path (its group recreated by another) records its own attempt number', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('orphaned-attempts');
  const stream = topicKeys(sf.prefix, topic.name).stream;
  const id = await sf.publish(topic, 'x');
  // Delivery 1 went to a consumer that died with it.
  await sf.redis.xgroup('CREATE', stream, 'g', '0');
  await sf.redis.xreadgroup('GROUP', 'g', 'dead', 'COUNT', 1, 'STREAMS', stream, '>');
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const attempts: number[] = [];
  const sub = sf.subscribe(topic, 'g', async (_p, ctx) => {
    attempts.push(ctx.attempt);
    await gate;
    return { attempt: ctx.attempt };
  }, { startFrom: 'beginning', concurrency: 1, visibilityTimeoutMs: 2000, reclaimIntervalMs: 100 });
  sub.on('error', () => undefined);
  await sub.ready();
  // Idle past the visibility timeout: reclaimed (delivery 2).
  await sf.redis.xclaim(stream, 'g', 'dead', 0, id, 'IDLE', 5000, 'JUSTID');
  await waitFor(() => attempts.length === 1, { timeoutMs: 10_000, message: 'reclaimed and running' });
  expect(attempts).toEqual([2]);
  // Destroyed and recreated by someone else while it runs (long before its lease renewal is due).
  await sf.redis.multi().xgroup('DESTROY', stream, 'g').xgroup('CREATE', stream, 'g', '$').exec();
  release();
  await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded', { timeoutMs: 10_000, message: 'succeeded' });
  await sleep(200);
  const st = (await sf.status(topic, id)).groups.g;
  expect(st?.result).toEqual({ attempt: 2 });
  expect(st?.attempts).toBe(2);
  await sub.close();
});

// The same path, when another consumer had finished the entry before the destroy (it reclaimed it
// while this one stalled): the recreated group has no pending record to refuse the late ack, and
// the orphaned path counted the stalled run as the success over the other's, never told (model
// seed 10, 06:25: destroy-overlap a|30, w3's stalled run written over w2's success).
test('the orphaned path refuses (stale) a run whose event another consumer finished: its success stands', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('orphaned-finished');
  const keys = topicKeys(sf.prefix, topic.name);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const told: string[] = [];
  const sub = sf.subscribe(topic, 'g', async () => { await gate; return { by: 'A' }; },
    { startFrom: 'beginning', concurrency: 1, visibilityTimeoutMs: 60_000, reclaimIntervalMs: 60_000 });
  sub.on('error', () => undefined);
  sub.on('stale', () => told.push('stale'));
  sub.on('processed', () => told.push('processed'));
  await sub.ready();
  const id = await sf.publish(topic, 'x');
  await waitFor(async () => ((await sf.redis.xpending(keys.stream, 'g')) as [number])[0] === 1, { message: 'running' });
  // Another consumer finished it (as its ack script writes), then the group was destroyed and
  // recreated by someone else.
  await sf.redis.multi()
    .hset(keys.status(id), 'g:state', 'succeeded', 'g:attempts', '2', 'g:consumer', 'other', 'g:result', JSON.stringify({ by: 'other' }), 'g:updatedAt', String(Date.now()))
    .xgroup('DESTROY', keys.stream, 'g').xgroup('CREATE', keys.stream, 'g', '$').exec();
  release();
  await waitFor(() => told.length > 0, { timeoutMs: 10_000, message: 'the ack settled one way or the other' });
  await sleep(200);
  expect(told).toEqual(['stale']);
  const st = (await sf.status(topic, id)).groups.g;
  expect(st?.result).toEqual({ by: 'other' });
  expect(st?.consumer).toBe('other');
  await sub.close();
});

// A consumer whose group was recreated by another while its handler ran, and that read from the
// new group (becoming a member of it) before that handler's ack landed: the ack script's orphaned
// path, which knows a recreated group by this consumer not being a member, refused the ack, and
// the refusal counted as stale (or, after a dropped connection, as its own earlier run): the
// event, in no pending list and with no status, stayed unknown (model seed 10, 06:31: not-final
// b|6, w1's ack sent after its read from w2's recreated group).
test('an ack refused because the consumer joined the recreated group first is taken back and counts: the event succeeds', async () => {
  const sf = env.client();
  const topic = defineTopic<string>('orphaned-member');
  const keys = topicKeys(sf.prefix, topic.name);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const runs: string[] = [];
  const told: string[] = [];
  const sub = sf.subscribe(topic, 'g', async (p) => { runs.push(p); if (p === 'old') await gate; return { p }; },
    { startFrom: 'beginning', concurrency: 2, visibilityTimeoutMs: 60_000, reclaimIntervalMs: 60_000 });
  sub.on('error', () => undefined);
  sub.on('stale', () => told.push('stale'));
  await sub.ready();
  const id = await sf.publish(topic, 'old');
  await waitFor(() => runs.length === 1, { message: 'old runs' });
  // Destroyed and recreated by another consumer; this one reads a new event from the new group.
  await sf.redis.multi().xgroup('DESTROY', keys.stream, 'g').xgroup('CREATE', keys.stream, 'g', '$').exec();
  const next = await sf.publish(topic, 'new');
  await waitFor(async () => (await sf.status(topic, next)).groups.g?.state === 'succeeded', { timeoutMs: 10_000, message: 'new handled from the recreated group' });
  release();
  await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded' || told.length > 0, { timeoutMs: 10_000, message: 'old settled one way or the other' });
  await sleep(200);
  expect(told).toEqual([]);
  expect((await sf.status(topic, id)).groups.g?.state).toBe('succeeded');
  expect(runs).toEqual(['old', 'new']);
  expect((await sf.redis.xpending(keys.stream, 'g')) as unknown[]).toEqual([0, null, null, null]);
  await sub.close();
});

// A run whose entry another consumer took over, then a hard cap removed (recorded lost, naming the
// consumer that held it): the ack script counted every late ack of a `lost` entry as settled
// ("trimmed while it ran"), so the superseded run was reported processed, never told (model seed
// 10 in the CI set at 07:00: destroy-overlap a|11, neither run told).
test("a late ack of an entry a cap recorded lost while another consumer held it is stale, not processed", async () => {
  const sf = env.client();
  const topic = defineTopic<string>('lost-superseded');
  const keys = topicKeys(sf.prefix, topic.name);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const told: string[] = [];
  const sub = sf.subscribe(topic, 'g', async (p) => { if (p === 'x') await gate; },
    { startFrom: 'beginning', concurrency: 1, visibilityTimeoutMs: 60_000, reclaimIntervalMs: 60_000 });
  sub.on('error', () => undefined);
  sub.on('stale', () => told.push('stale'));
  sub.on('processed', (e) => { if (e.id === id) told.push('processed'); });
  await sub.ready();
  const id = await sf.publish(topic, 'x');
  await waitFor(async () => ((await sf.redis.xpending(keys.stream, 'g')) as [number])[0] === 1, { message: 'running' });
  // Another consumer took it over (its process stalled past the timeout), then a cap removed it.
  await sf.redis.xclaim(keys.stream, 'g', 'other', 0, id, 'JUSTID');
  await sf.publish(topic, 'y');
  const r = await sf.trim(topic, { maxLen: 1 });
  expect(r.lostIds).toEqual([id]);
  release();
  await waitFor(() => told.length > 0, { timeoutMs: 10_000, message: 'the ack settled one way or the other' });
  await sleep(200);
  expect(told).toEqual(['stale']);
  expect((await sf.status(topic, id)).groups.g?.state).toBe('lost');
  await sub.close();
});
