import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { Streamfan, defineTopic } from '@streamfan/core/internal';
import { startDashboard, type RunningDashboard } from '../src';

jest.setTimeout(60_000);

/**
 * Protocol 2 records a plain success (a handler that returned nothing) in the group's success
 * bucket, not in a per-event status hash. The topic page's status matrix and the event page read
 * both, as `status()` does: before, they read only the hashes and showed such events `unknown`.
 */
let redis: RedisServer;
let sf: Streamfan;
let dash: RunningDashboard;

beforeAll(async () => {
  redis = await startRedis();
  sf = new Streamfan({ connection: { host: '127.0.0.1', port: redis.port }, prefix: uniquePrefix('plain') });
  dash = await startDashboard({ client: sf, port: 0 });
});
afterAll(async () => {
  await dash?.close();
  await sf?.close();
  await redis?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
async function get(path: string): Promise<any> {
  const res = await fetch(new URL(path, dash.url));
  expect(res.status).toBe(200);
  return res.json();
}

test('a plain success shows succeeded (with attempts and time) on the topic page and the event page; a result still shows its result', async () => {
  const topic = defineTopic<{ n: number }>('signups');
  let first = true;
  const plain = sf.subscribe(topic, 'plain', async () => {
    if (first) { first = false; throw new Error('once'); }
  }, { blockMs: 100, backoff: { type: 'fixed', delayMs: 10 } });
  const withResult = sf.subscribe(topic, 'result', async (p) => ({ n: p.n }), { blockMs: 100 });
  await Promise.all([plain.ready(), withResult.ready()]);
  const ids = await sf.publishMany(topic, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  for (const id of ids) await sf.waitFor(topic, id, { timeoutMs: 20_000 });
  // status() reads the bucket: the ground truth the dashboard must agree with.
  const truth = await sf.status(topic, ids[0]!);
  expect(truth.groups.plain?.state).toBe('succeeded');

  const page = await get('api/topics/signups?limit=10');
  for (const id of ids) {
    const row = page.recent.find((e: { id: string }) => e.id === id);
    expect(row.status.plain.state).toBe('succeeded');
    expect(row.status.result.state).toBe('succeeded');
  }
  const attempts = ids.map((id) => page.recent.find((e: { id: string }) => e.id === id).status.plain.attempts as number);
  expect(attempts.sort()).toEqual([1, 1, 2]);

  const ev = await get(`api/topics/signups/events/${ids[1]}`);
  expect(ev.status.plain).toMatchObject({ state: 'succeeded', attempts: 1 });
  expect(typeof ev.status.plain.updatedAt).toBe('number');
  expect(ev.status.result).toMatchObject({ state: 'succeeded', result: { n: 2 } });
  await plain.close();
  await withResult.close();
});
