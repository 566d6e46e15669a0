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

/**
 * The same report split by lane: each lane's keys (its stream, success buckets and status
 * hashes, dead letters, delayed events) in its own row, the keys every lane shares (idempotency
 * keys, producer ledgers, the meta hash) in `laneShared`, and the rows adding up to the topic's
 * figures. Before, lane keys were counted under the topic only.
 */
test('a prioritized topic: memory by lane, the shared keys apart, adding up to the topic', async () => {
  const sf = env.client();
  const t = defineTopic<{ n: number }>('split', { priorities: ['high', 'normal', 'low'], defaultPriority: 'normal' });
  const sub = sf.subscribe(t, 'send', (p, ctx) => { if (p.n % 2 === 1) ctx.deadLetter('odd'); }, { startFrom: 'beginning' });
  await sub.ready();
  const ids: string[] = [];
  for (let n = 0; n < 6; n++) ids.push(await sf.publish(t, { n }, { priority: 'high' }));
  for (let n = 0; n < 2; n++) ids.push(await sf.publish(t, { n: n * 2 }, { idempotencyKey: `k${n}` })); // default lane, even: succeed
  for (const id of ids) await sf.waitFor(t, id, { timeoutMs: 20_000 });
  await sub.close();
  await sf.publish(t, { n: 100 }, { priority: 'low', delayMs: 600_000 });

  const mail = (await sf.memory(t)).topics[0]!;
  expect(mail.byLane?.map((l) => l.lane)).toEqual(['high', 'normal', 'low']);
  const lane = (name: string, k: string) => mail.byLane!.find((l) => l.lane === name)!.kinds.find((x) => x.kind === k)!;
  expect(lane('high', 'stream')).toMatchObject({ keys: 1, entries: 6 });
  expect(lane('normal', 'stream')).toMatchObject({ keys: 1, entries: 2 });
  expect(lane('low', 'stream').entries ?? 0).toBe(0); // only a delayed event so far (the group made its stream)
  expect(lane('high', 'deadLetters')).toMatchObject({ keys: 1, entries: 3 });
  expect(lane('normal', 'deadLetters').keys).toBe(0);
  expect(lane('high', 'status').keys).toBeGreaterThanOrEqual(4); // 3 dead events' hashes and a success bucket
  expect(lane('low', 'delayed').keys).toBe(2); // the lane's schedule and the event's hash
  expect(lane('high', 'delayed').keys).toBe(0);
  // Idempotency keys are one per topic, whatever the lane: shared, never a lane's.
  expect(mail.laneShared!.kinds.find((x) => x.kind === 'idempotency')).toMatchObject({ keys: 2 });
  expect(lane('normal', 'idempotency').keys).toBe(0);
  // The rows add up to the topic.
  for (const k of mail.kinds) {
    const rows = [...mail.byLane!, mail.laneShared!].map((l) => l.kinds.find((x) => x.kind === k.kind)!);
    expect([k.kind, rows.reduce((n, r) => n + r.keys, 0)]).toEqual([k.kind, k.keys]);
    expect([k.kind, rows.reduce((n, r) => n + r.bytes, 0)]).toEqual([k.kind, k.bytes]);
  }
  expect(mail.byLane!.reduce((n, l) => n + l.bytes, 0) + mail.laneShared!.bytes).toBe(mail.bytes);
  // A plain topic has no breakdown.
  await sf.publish('flat', { n: 1 });
  const flat = (await sf.memory('flat')).topics[0]!;
  expect(flat.byLane).toBeUndefined();
  expect(flat.laneShared).toBeUndefined();
});
