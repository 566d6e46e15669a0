import { Streamfan, defineTopic, laneKeys, type Streamfan as Client } from '@streamfan/core/internal';
import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { startDashboard, type RunningDashboard } from '../src';

/**
 * An event a group skipped (subscribe option skipOlderThanMs): its skip record sits in the
 * group's success bucket like a plain success, marked as a skip; the dashboard's status matrix
 * and event page show `skipped` for that group (and `succeeded` for a group that handled it).
 * Before, every record of a success bucket read as `succeeded`.
 */
jest.setTimeout(60_000);

let redis: RedisServer;
let sf: Client;
let d: RunningDashboard;
let old = '';
let prefix = '';

beforeAll(async () => {
  redis = await startRedis();
  prefix = uniquePrefix('dashsk');
  sf = new Streamfan({ connection: redis.url, prefix, retention: false });
  const [s, us] = await sf.redis.time();
  old = `${Number(s) * 1000 + Math.floor(Number(us) / 1000) - 60_000}-0`;
  await sf.redis.xadd(`${prefix}:{prices}:stream`, old, 'payload', '{"p":1}', 'headers', '');
  const live = sf.subscribe('prices', 'ticker', () => undefined, { consumer: 'ticker-1', startFrom: 'beginning', skipOlderThanMs: 10_000, blockMs: 50 });
  const audit = sf.subscribe('prices', 'audit', () => undefined, { consumer: 'audit-1', startFrom: 'beginning', blockMs: 50 });
  await Promise.all([live.ready(), audit.ready()]);
  await waitFor(async () => {
    const st = await sf.status('prices', old);
    return st.groups.ticker?.state === 'skipped' && st.groups.audit?.state === 'succeeded';
  }, { timeoutMs: 20_000, message: 'ticker skipped, audit succeeded' });
  await Promise.all([live.close(), audit.close()]);
  d = await startDashboard({ client: sf, port: 0 });
});
afterAll(async () => {
  await d?.close();
  await sf?.close();
  await redis?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
async function get(path: string): Promise<any> {
  return (await fetch(new URL(path, d.url))).json();
}

test('status matrix and event page: skipped in the group that skipped it, succeeded in the other', async () => {
  const page = await get('api/topics/prices');
  const row = page.recent.find((e: { id: string }) => e.id === old);
  expect(row.status.ticker).toMatchObject({ state: 'skipped', attempts: 0 });
  expect(row.status.audit.state).toBe('succeeded');
  const ev = await get(`api/topics/prices/events/${encodeURIComponent(old)}`);
  expect(ev.status.ticker).toMatchObject({ state: 'skipped', attempts: 0 });
  expect(ev.status.audit.state).toBe('succeeded');
});

test('a prioritized topic\'s merged pages: an event skipped in a lane reads skipped there (its public id), the others succeeded', async () => {
  const alerts = defineTopic<{ p: number }>('alerts', { priorities: ['high', 'low'] });
  const highIds = [await sf.publish(alerts, { p: 0 }, { priority: 'high' })]; // fixes the lanes (meta hash)
  const [s, us] = await sf.redis.time();
  const stale = `${Number(s) * 1000 + Math.floor(Number(us) / 1000) - 60_000}-0`;
  highIds.push(`high:${String(await sf.redis.xadd(laneKeys(prefix, 'alerts', 'high', 'low').stream, '*', 'payload', '{"p":1}', 'headers', ''))}`);
  // An entry of a minute ago in the low (default) lane's stream, as a publisher a minute ago left it.
  await sf.redis.xadd(laneKeys(prefix, 'alerts', 'low', 'low').stream, stale, 'payload', '{"p":2}', 'headers', '');
  const sub = sf.subscribe(alerts, 'pager', () => undefined, { consumer: 'p1', startFrom: 'beginning', skipOlderThanMs: 10_000, blockMs: 50 });
  await sub.ready();
  await waitFor(async () => (await sf.status(alerts, stale)).groups.pager?.state === 'skipped', { timeoutMs: 20_000, message: 'the stale low event skipped' });
  for (const id of highIds) await waitFor(async () => (await sf.status(alerts, id)).groups.pager?.state === 'succeeded', { timeoutMs: 20_000, message: `${id} handled` });
  await sub.close();
  const page = await get('api/topics/alerts');
  expect(page.kind).toBe('laned');
  const row = page.recent.find((e: { id: string }) => e.id === stale);
  expect(row).toMatchObject({ priority: 'low', status: { pager: { state: 'skipped' } } });
  expect(page.recent.filter((e: { priority: string; status: { pager?: { state: string } } }) => e.priority === 'high').map((e: { status: { pager?: { state: string } } }) => e.status.pager?.state)).toEqual(['succeeded', 'succeeded']);
});
