import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, topicKeys, type Streamfan } from '../src/internal';
import { useRedis } from './helpers';

// A consumer (A) whose process stalls past the visibility timeout while its handler runs; another
// consumer (B) reclaims the entry and finishes it; then the group is destroyed (XGROUP DESTROY).
// A's handler ends, its ack meets NOGROUP and is parked until the group is back (9c13e9b). The
// recreated group has no record of B's reclaim, so the parked ack took the entry back and counted
// A's stalled run as the success: B's result overwritten, A never told (model seed 10:
// overlap-untold a|2, a|12). When the entry had also been trimmed meanwhile, the parked ack
// recorded it `lost` over B's success, and told A nothing either (a|12, a|18).
// A "stalls" here by a visibility timeout longer than the test (its lease is never renewed),
// B reclaims after 400 ms.
const env = useRedis();

interface Pair {
  sf: Streamfan;
  stream: string;
  id: string;
  release: () => void;
  staleA: string[];
  lostA: string[];
  /** A's outcome events for the entry, in order: 'stale', 'lost', 'processed'. */
  told: string[];
  runs: string[];
  closeAll: () => Promise<void>;
}

async function reclaimedThenDestroyed(name: string): Promise<Pair> {
  const sf = env.client();
  const topic = defineTopic<string>(name);
  const stream = topicKeys(sf.prefix, topic.name).stream;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const runs: string[] = [];
  const staleA: string[] = [];
  const lostA: string[] = [];
  const told: string[] = [];
  const a = sf.subscribe(topic, 'g', async () => {
    runs.push('A');
    await gate;
    return { by: 'A' };
  }, { startFrom: 'beginning', concurrency: 1, visibilityTimeoutMs: 60_000, reclaimIntervalMs: 60_000 });
  a.on('error', () => undefined);
  a.on('stale', (e) => { staleA.push(...e.ids); told.push('stale'); });
  a.on('lost', (e) => { lostA.push(...e.ids); told.push('lost'); });
  a.on('processed', () => told.push('processed'));
  await a.ready();
  const id = await sf.publish(topic, 'x');
  await waitFor(() => runs.length === 1, { message: 'A runs it' });
  // B joins after A got the entry, and reclaims it once it is idle for 400 ms.
  const b = sf.subscribe(topic, 'g', () => { runs.push('B'); return { by: 'B' }; },
    { startFrom: 'beginning', concurrency: 1, visibilityTimeoutMs: 400, reclaimIntervalMs: 100 });
  b.on('error', () => undefined);
  await b.ready();
  await waitFor(async () => (await sf.status(topic, id)).groups.g?.state === 'succeeded', { timeoutMs: 10_000, message: 'B reclaimed and finished it' });
  expect(runs).toEqual(['A', 'B']);
  await sf.redis.xgroup('DESTROY', stream, 'g');
  return { sf, stream, id, release, staleA, lostA, told, runs, closeAll: async () => { await Promise.all([a.close(), b.close()]); } };
}

test("a parked ack of an entry another consumer reclaimed and finished before the destroy is refused (stale): the other's success stands", async () => {
  const p = await reclaimedThenDestroyed('parked-finished');
  const before = await p.sf.redis.hgetall(topicKeys(p.sf.prefix, 'parked-finished').status(p.id));
  expect(before['g:result']).toBe(JSON.stringify({ by: 'B' }));
  p.release();
  await waitFor(() => p.told.length > 0, { timeoutMs: 10_000, message: "A's ack settled one way or the other" });
  await sleep(300);
  expect(p.told).toEqual(['stale']);
  const after = await p.sf.redis.hgetall(topicKeys(p.sf.prefix, 'parked-finished').status(p.id));
  expect(after['g:state']).toBe('succeeded');
  expect(after['g:result']).toBe(JSON.stringify({ by: 'B' }));
  expect(after['g:consumer']).toBe(before['g:consumer']);
  expect(p.runs).toEqual(['A', 'B']);
  expect((await p.sf.redis.xpending(p.stream, 'g')) as unknown[]).toEqual([0, null, null, null]);
  await p.closeAll();
});

test('a parked ack of an entry another consumer finished, trimmed while the group was missing, is stale, not lost over the success', async () => {
  const p = await reclaimedThenDestroyed('parked-finished-gone');
  await p.sf.redis.xdel(p.stream, p.id);
  p.release();
  await waitFor(() => p.told.length > 0, { timeoutMs: 10_000, message: "A's ack settled one way or the other" });
  await sleep(300);
  expect(p.told).toEqual(['stale']);
  const st = (await p.sf.status(defineTopic<string>('parked-finished-gone'), p.id)).groups.g;
  expect(st?.state).toBe('succeeded');
  expect(st?.result).toEqual({ by: 'B' });
  expect(p.lostA).toEqual([]);
  await p.closeAll();
});
