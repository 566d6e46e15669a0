import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { Streamfan, defineTopic, topicKeys } from '@streamfan/core/internal';
import { startDashboard, type RunningDashboard } from '../src';

jest.setTimeout(60_000);

/**
 * A group with `skipOlderThanMs` records an event that went stale as a skip record in its success
 * bucket (`~<token>;`, protocol 2): the topic page's status matrix and the event page show it
 * `skipped`, as `status()` does, not `succeeded` (the record sits beside the success records).
 */
let redis: RedisServer;
let sf: Streamfan;
let dash: RunningDashboard;

beforeAll(async () => {
  redis = await startRedis();
  sf = new Streamfan({ connection: { host: '127.0.0.1', port: redis.port }, prefix: uniquePrefix('skip') });
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

test('a skipped event shows skipped in the group that skipped it, succeeded in the other, on the topic page and the event page', async () => {
  const [s] = await sf.redis.time();
  const old = `${(Number(s) - 60) * 1000}-0`;
  await sf.redis.xadd(topicKeys(sf.prefix, 'prices').stream, old, 'payload', '{"p":1}', 'headers', '');
  const topic = defineTopic<{ p: number }>('prices');
  const live = sf.subscribe(topic, 'live', () => undefined, { startFrom: 'beginning', skipOlderThanMs: 10_000, blockMs: 100 });
  const audit = sf.subscribe(topic, 'audit', () => undefined, { startFrom: 'beginning', blockMs: 100 });
  await Promise.all([live.ready(), audit.ready()]);
  const truth = await sf.waitFor(topic, old, { timeoutMs: 20_000 });
  expect(truth.groups.live?.state).toBe('skipped');
  expect(truth.groups.audit?.state).toBe('succeeded');

  const page = await get('api/topics/prices?limit=10');
  const row = page.recent.find((e: { id: string }) => e.id === old);
  expect(row.status.live).toMatchObject({ state: 'skipped', attempts: 0 });
  expect(row.status.audit.state).toBe('succeeded');
  const ev = await get(`api/topics/prices/events/${old}`);
  expect(ev.status.live).toMatchObject({ state: 'skipped', attempts: 0 });
  await live.close();
  await audit.close();
});
