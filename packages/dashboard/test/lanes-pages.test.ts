import { defineTopic, laneKeys, type Streamfan } from '@streamfan/core/internal';
import { Streamfan as Client } from '@streamfan/core/internal';
import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { startDashboard, type RunningDashboard } from '../src';

/**
 * A prioritized topic's topic page and group page (docs/priorities.md) merge its lanes, as a
 * partitioned topic's merge its partitions: one row per lane (length, and per group lag,
 * pending, retrying, dead letters), pending entries and dead letters of every lane with lane ids
 * (`high:<id>`, plain in the default lane) and the lane in `priority`; actions on lane ids go
 * through core's lane-aware admin; each lane (the default one too, as `<topic>+<lane>`) has its
 * own pages with local ids. Before, the topic's pages showed the default lane only.
 */
jest.setTimeout(90_000);

const LANES = ['high', 'normal', 'low'] as const;
const emails = defineTopic<{ n: number }>('emails', { priorities: [...LANES], defaultPriority: 'normal' });
let redis: RedisServer;
let sf: Streamfan;
let d: RunningDashboard;
let prefix: string;
const ids: Record<string, string[]> = { high: [], normal: [], low: [] };

beforeAll(async () => {
  redis = await startRedis();
  prefix = uniquePrefix('dashlp');
  sf = new Client({ connection: redis.url, prefix, retention: false });
  const failing = sf.subscribe(emails, 'failing', (_p, ctx) => ctx.deadLetter('bounced'), { startFrom: 'beginning', blockMs: 50 });
  await failing.ready();
  ids.high = await sf.publishMany(emails, [{ n: 1 }, { n: 2 }], { priority: 'high' });
  ids.normal = [await sf.publish(emails, { n: 3 })];
  ids.low = await sf.publishMany(emails, [{ n: 4 }, { n: 5 }, { n: 6 }], { priority: 'low' });
  for (const id of Object.values(ids).flat()) await sf.waitFor(emails, id, { timeoutMs: 20_000, groups: ['failing'] });
  await waitFor(async () => (await sf.groups(emails)).find((g) => g.group === 'failing')?.pending === 0, { timeoutMs: 20_000, message: 'failing: every entry acknowledged' });
  await failing.close();
  // "held": every entry of every lane read by a consumer that never acks.
  for (const lane of LANES) {
    const k = laneKeys(prefix, 'emails', lane, 'normal');
    await sf.redis.xgroup('CREATE', k.stream, 'held', '0');
    await sf.redis.xreadgroup('GROUP', 'held', 'ghost', 'COUNT', 100, 'STREAMS', k.stream, '>');
  }
  d = await startDashboard({ client: sf, port: 0, allowActions: true });
});
afterAll(async () => {
  await d?.close();
  await sf?.close();
  await redis?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
async function call(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(path, d.url), init);
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body };
}
let csrf = '';
async function post(path: string, body: unknown): ReturnType<typeof call> {
  csrf ||= (await call('api/meta')).body.csrf;
  return call(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', 'x-streamfan-csrf': csrf } });
}
const enc = encodeURIComponent;
const all = () => [...ids.high!, ...ids.normal!, ...ids.low!];

test('topic page: every lane (its page, length, groups), the groups summed, recent events of every lane with lane ids', async () => {
  const { status, body } = await call('api/topics/emails');
  expect(status).toBe(200);
  expect(body).toMatchObject({ kind: 'laned', topic: 'emails', defaultLane: 'normal' });
  expect(body.lanes.map((l: { lane: string; home: string; default: boolean; length: number }) => [l.lane, l.home, l.default, l.length])).toEqual([
    ['high', 'emails+high', false, 2], ['normal', 'emails+normal', true, 1], ['low', 'emails+low', false, 3],
  ]);
  expect(body.lanes[2].groups.find((g: { group: string }) => g.group === 'held')).toMatchObject({ pending: 3, lag: 0 });
  const g = Object.fromEntries(body.groups.map((x: { group: string }) => [x.group, x]));
  expect(g.held).toMatchObject({ pending: 6 });
  expect(g.failing).toMatchObject({ deadLetters: 6, pending: 0 });
  // Recent events over the lanes, newest first, with lane ids, their lane and status in each group.
  expect(body.recent.map((e: { id: string }) => e.id).sort()).toEqual(all().sort());
  const high = body.recent.find((e: { id: string }) => e.id === ids.high![0]);
  expect(high).toMatchObject({ priority: 'high', status: { failing: { state: 'dead' }, held: { state: 'processing' } } });
  expect(body.recent.find((e: { id: string }) => e.id === ids.normal![0]).priority).toBe('normal');
});

test('group page: summed, one row per lane, pending and dead letters of every lane with lane ids and their lane', async () => {
  const { status, body } = await call('api/topics/emails/groups/held');
  expect(status).toBe(200);
  expect(body).toMatchObject({ kind: 'laned', topic: 'emails', home: 'emails', group: { group: 'held', pending: 6 } });
  expect(body.lanes.map((l: { lane: string; home: string; length: number; group: { pending: number; lag: number } }) => [l.lane, l.home, l.length, l.group.pending, l.group.lag])).toEqual([
    ['high', 'emails+high', 2, 2, 0], ['normal', 'emails+normal', 1, 1, 0], ['low', 'emails+low', 3, 3, 0],
  ]);
  // Highest lane first, as core's pending lists them.
  expect(body.pending.entries.map((e: { id: string }) => e.id)).toEqual(all());
  expect(body.pending.entries.map((e: { priority: string }) => e.priority)).toEqual(['high', 'high', 'normal', 'low', 'low', 'low']);
  expect(body.pending.entries.every((e: { id: string; eventId: string }) => e.id === e.eventId)).toBe(true);
  expect(body.consumers).toEqual([expect.objectContaining({ name: 'ghost', pending: 6, lanes: ['high', 'normal', 'low'] })]);
  const dead = (await call('api/topics/emails/groups/failing')).body;
  expect(dead.group).toMatchObject({ deadLetters: 6 });
  expect(dead.lanes.map((l: { group: { deadLetters: number } }) => l.group.deadLetters)).toEqual([2, 1, 3]);
  expect(dead.deadLetters.total).toBe(6);
  expect(dead.deadLetters.entries.map((x: { eventId: string }) => x.eventId)).toEqual(all());
  expect(dead.deadLetters.entries.map((x: { deadLetterId: string; priority: string }) => [x.deadLetterId.split(':').length === 2 ? x.deadLetterId.split(':')[0] : 'plain', x.priority])).toEqual([
    ['high', 'high'], ['high', 'high'], ['plain', 'normal'], ['low', 'low'], ['low', 'low'], ['low', 'low'],
  ]);
  expect((await call('api/topics/emails/groups/nope')).status).toBe(404);
});

test('pending pages over the lanes: next is a lane id, the next page starts after it', async () => {
  const first = (await call('api/topics/emails/groups/held/pending?limit=2')).body;
  expect(first.entries.map((e: { id: string }) => e.id)).toEqual(ids.high);
  expect(first.next).toBe(ids.high![1]);
  const second = (await call(`api/topics/emails/groups/held/pending?limit=3&after=${enc(first.next)}`)).body;
  expect(second.entries.map((e: { id: string }) => e.id)).toEqual([ids.normal![0], ids.low![0], ids.low![1]]);
  expect((await call('api/topics/emails/groups/held/pending?after=urgent:1-0')).status).toBe(400);
});

test('each lane has its own pages with local ids, the default lane as <topic>+<lane>; an unknown lane is a 404', async () => {
  const normal = await call(`api/topics/${enc('emails+normal')}`);
  expect(normal.status).toBe(200);
  expect(normal.body).toMatchObject({ kind: 'stream', home: 'emails+normal', lane: 'normal', length: 1 });
  expect(normal.body.recent.map((e: { id: string }) => e.id)).toEqual(ids.normal);
  const lowGroup = (await call(`api/topics/${enc('emails+low')}/groups/held`)).body;
  expect(lowGroup).toMatchObject({ home: 'emails+low', lane: 'low', group: { pending: 3 } });
  expect(lowGroup.pending.entries.map((e: { id: string }) => `low:${e.id}`)).toEqual(ids.low);
  expect((await call(`api/topics/${enc('emails+urgent')}`)).status).toBe(404);
});

test('event page by lane id: read in its lane, with its lane', async () => {
  const id = ids.low![1]!;
  const { status, body } = await call(`api/topics/emails/events/${enc(id)}`);
  expect(status).toBe(200);
  expect(body).toMatchObject({ laneId: id, priority: 'low', home: 'emails+low', payload: { n: 5 }, inStream: true });
  expect(body.status.failing.state).toBe('dead');
  const plain = (await call(`api/topics/emails/events/${enc(ids.normal![0]!)}`)).body;
  expect(plain).toMatchObject({ priority: 'normal', payload: { n: 3 } });
  expect((await call(`api/topics/emails/events/${enc('urgent:1-0')}`)).status).toBe(400);
});

test('actions on lane ids: ack and claim in each id\'s lane, replay and purge dead letters by lane id or from a lane\'s page', async () => {
  const acked = await post('api/topics/emails/groups/held/ack', { ids: [ids.high![0]] });
  expect([acked.status, acked.body.acked?.map((a: { id: string }) => a.id)]).toEqual([200, [ids.high![0]]]);
  const claimed = await post('api/topics/emails/groups/held/claim', { ids: [ids.low![0]], consumer: 'ops' });
  expect([claimed.status, claimed.body.claimed?.map((c: { id: string }) => c.id)]).toEqual([200, [ids.low![0]]]);
  // From the low lane's own page: a local id.
  const local = ids.low![1]!.split(':')[1];
  const acked2 = await post(`api/topics/${enc('emails+low')}/groups/held/ack`, { ids: [local] });
  expect([acked2.status, acked2.body.acked?.map((a: { id: string }) => a.id)]).toEqual([200, [ids.low![1]]]);
  const held = (await call('api/topics/emails/groups/held')).body;
  expect(held.lanes.map((l: { group: { pending: number } }) => l.group.pending)).toEqual([1, 1, 2]);
  expect(held.pending.entries.find((e: { id: string }) => e.id === ids.low![0])?.consumer).toBe('ops');
  // An id in a lane the topic lacks: refused, nothing changed.
  const bad = await post('api/topics/emails/groups/held/ack', { ids: ['urgent:1-0'] });
  expect(bad.status).toBe(400);

  const dead = (await call('api/topics/emails/groups/failing')).body.deadLetters.entries as Array<{ deadLetterId: string; priority: string }>;
  const highLetter = dead.find((x) => x.priority === 'high')!;
  const replayed = await post('api/topics/emails/groups/failing/dead-letters/replay', { ids: [highLetter.deadLetterId] });
  expect([replayed.status, replayed.body]).toEqual([200, { replayed: 1 }]);
  const lowLetter = dead.find((x) => x.priority === 'low')!;
  const purged = await post(`api/topics/${enc('emails+low')}/groups/failing/dead-letters/purge`, { ids: [lowLetter.deadLetterId.split(':')[1]] });
  expect([purged.status, purged.body]).toEqual([200, { purged: 1 }]);
  // "All" on the default lane's page: that lane's dead letters only.
  const allNormal = await post(`api/topics/${enc('emails+normal')}/groups/failing/dead-letters/purge`, { all: true });
  expect([allNormal.status, allNormal.body]).toEqual([200, { purged: 1 }]);
  await waitFor(async () => {
    const lanes = (await call('api/topics/emails/groups/failing')).body.lanes as Array<{ group: { deadLetters: number } }>;
    return lanes.map((l) => l.group.deadLetters).join() === '1,0,2';
  }, { timeoutMs: 10_000, message: 'dead letters per lane high 1, normal 0, low 2' });
});

test('search by lane id, or by a lane event\'s stream id: the hit opens the event by its lane id', async () => {
  const id = ids.low![2]!;
  const byLaneId = (await call(`api/search?q=${enc(id)}`)).body.hits;
  expect(byLaneId).toEqual([expect.objectContaining({ topic: 'emails', home: 'emails', lane: 'low', kind: 'event', eventId: id })]);
  const byLocal = (await call(`api/search?q=${enc(id.split(':')[1]!)}`)).body.hits;
  expect(byLocal).toContainEqual(expect.objectContaining({ topic: 'emails', home: 'emails', lane: 'low', eventId: id }));
  expect((await call(`api/topics/emails/events/${enc(byLaneId[0].eventId)}`)).body.payload).toEqual({ n: 6 });
  // The default lane by its name: the topic's own stream.
  const normal = (await call(`api/search?q=${enc(`normal:${ids.normal![0]!}`)}`)).body.hits;
  expect(normal).toEqual([expect.objectContaining({ topic: 'emails', lane: 'normal', eventId: ids.normal![0] })]);
  expect((await call(`api/search?q=${enc('urgent:1-0')}`)).body.hits).toEqual([]);
});

test('search by an idempotency key of a lane event: its lane id, its lane', async () => {
  const id = await sf.publish(emails, { n: 40 }, { priority: 'high', idempotencyKey: 'order-40' });
  const hits = (await call('api/search?q=order-40')).body.hits;
  expect(hits).toEqual([expect.objectContaining({ kind: 'idempotency', topic: 'emails', home: 'emails', lane: 'high', eventId: id })]);
});
