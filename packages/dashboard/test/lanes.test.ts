import { defineTopic, type Streamfan } from '@streamfan/core/internal';
import { Streamfan as Client } from '@streamfan/core/internal';
import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { startDashboard, type RunningDashboard } from '../src';

/**
 * A prioritized topic (docs/priorities.md) on the dashboard's overview: one topic row whose
 * length and groups are summed over its lanes, with its lanes in the meta hash's order (the
 * default one marked), each lane's length and each group's lag and pending in it; a lane's
 * stream opens as its own topic page (home `<topic>+<lane>`, the default lane's too: the topic's
 * page merges every lane, lanes-pages.test). A plain topic has no lanes.
 */
jest.setTimeout(60_000);

const emails = defineTopic<{ n: number }>('emails', { priorities: ['high', 'normal', 'low'], defaultPriority: 'normal' });
let redis: RedisServer;
let sf: Streamfan;
let d: RunningDashboard;

beforeAll(async () => {
  redis = await startRedis();
  sf = new Client({ connection: redis.url, prefix: uniquePrefix('dashl'), retention: false });
  // The group exists on every lane and reads nothing: each lane's lag is what was published to it.
  const sub = sf.subscribe(emails, 'sender', () => undefined, { startFrom: 'beginning', blockMs: 50 });
  await sub.ready();
  await sub.close();
  await sf.publishMany(emails, [{ n: 1 }, { n: 2 }], { priority: 'high' });
  await sf.publishMany(emails, [{ n: 3 }, { n: 4 }, { n: 5 }], { priority: 'low' });
  await sf.publish(emails, { n: 6 });
  await sf.publish('plain', { n: 0 });
  d = await startDashboard({ client: sf, port: 0 });
});
afterAll(async () => {
  await d?.close();
  await sf?.close();
  await redis?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
async function get(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(path, d.url));
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body };
}

test('the overview lists a prioritized topic once, summed, with each lane and each group backlog per lane', async () => {
  const r = await get('api/overview');
  expect(r.status).toBe(200);
  const topics = r.body.topics as Array<{ topic: string; length: number; groups: Array<{ group: string; lag: number; pending: number }>; lanes?: unknown[] }>;
  expect(topics.map((t) => t.topic)).toEqual(['emails', 'plain']); // one row per topic, never 'emails+high'
  const t = topics[0]!;
  expect(t.length).toBe(6);
  expect(t.groups.map((g) => [g.group, g.lag, g.pending])).toEqual([['sender', 6, 0]]);
  expect(t.lanes).toEqual([
    { lane: 'high', home: 'emails+high', default: false, length: 2, groups: [{ group: 'sender', lag: 2, pending: 0 }] },
    { lane: 'normal', home: 'emails+normal', default: true, length: 1, groups: [{ group: 'sender', lag: 1, pending: 0 }] },
    { lane: 'low', home: 'emails+low', default: false, length: 3, groups: [{ group: 'sender', lag: 3, pending: 0 }] },
  ]);
  expect(topics[1]).not.toHaveProperty('lanes');

  // A lane's own page: its stream (2 entries in the high lane), its group.
  const lane = await get(`api/topics/${encodeURIComponent('emails+high')}`);
  expect(lane.status).toBe(200);
  expect(JSON.stringify(lane.body)).toContain('"sender"');
  expect(lane.body.length ?? lane.body.stream?.length).toBe(2);
});

test('api/memory of a prioritized topic: its memory by lane and the keys lanes share, adding up to the topic', async () => {
  const r = await get('api/memory?topic=emails');
  expect(r.status).toBe(200);
  const t = r.body.topics[0] as { bytes: number; defaultLane: string; byLane: Array<{ lane: string; bytes: number; kinds: Array<{ kind: string; entries?: number }> }>; laneShared: { bytes: number } };
  expect(t.defaultLane).toBe('normal');
  expect(t.byLane.map((l) => [l.lane, l.kinds.find((k) => k.kind === 'stream')?.entries])).toEqual([['high', 2], ['normal', 1], ['low', 3]]);
  expect(t.byLane.reduce((n, l) => n + l.bytes, 0) + t.laneShared.bytes).toBe(t.bytes);
});
