import { defineTopic, InvalidOptionError, partitionKeys, type Streamfan } from '@streamfan/core/internal';
import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { Streamfan as Client } from '@streamfan/core/internal';
import { startDashboard, type RunningDashboard } from '../src';

/**
 * A partitioned topic (docs/partitions.md) on the dashboard: the overview shows its partitions,
 * the group page of the topic sums its partitions and merges their first pages (ids p<i>:…),
 * each partition has its own group page, events open by their p<i>: id, and actions act in
 * the partition: replay and purge (core supports them on partitions), claim and ack (where core
 * still refuses them, a clear 409 that changes nothing).
 */
jest.setTimeout(60_000);

const P = 3;
const parted = defineTopic<{ k: string }>('parted', { partitions: P });
let redis: RedisServer;
let sf: Streamfan;
let d: RunningDashboard;
let ids: string[];
let prefix: string;

beforeAll(async () => {
  redis = await startRedis();
  prefix = uniquePrefix('dashp');
  sf = new Client({ connection: redis.url, prefix, retention: false });
  const subs = [
    sf.subscribe(parted, 'indexer', async () => 'ok', { startFrom: 'beginning', leaseMs: 1000, blockMs: 50 }),
    sf.subscribe(parted, 'failing', (_p, ctx) => ctx.deadLetter('poison <b>x</b>'), { startFrom: 'beginning', leaseMs: 1000, blockMs: 50 }),
  ];
  await Promise.all(subs.map((s) => s.ready()));
  const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  ids = await sf.publishMany(parted, keys.map((k) => ({ k })), { keys });
  for (const id of ids) await sf.waitFor(parted, id, { timeoutMs: 15_000, groups: ['indexer', 'failing'] });
  await Promise.all(subs.map((s) => s.close()));
  // "held": every entry read by a consumer that never acks (pending in each partition).
  for (let i = 0; i < P; i++) {
    const k = partitionKeys(prefix, 'parted', i);
    await sf.redis.xgroup('CREATE', k.stream, 'held', '0');
    await sf.redis.xreadgroup('GROUP', 'held', 'stuck-worker', 'COUNT', 100, 'STREAMS', k.stream, '>');
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

test('overview: the topic with its partition count and each partition (length, its groups)', async () => {
  const t = (await call('api/overview')).body.topics.find((x: { topic: string }) => x.topic === 'parted');
  expect(t).toMatchObject({ partitions: P, length: ids.length });
  expect(t.parts.map((p: { home: string; partition: number }) => [p.home, p.partition])).toEqual([['parted#0', 0], ['parted#1', 1], ['parted#2', 2]]);
  expect(t.parts.reduce((n: number, p: { length: number }) => n + p.length, 0)).toBe(ids.length);
  const g = Object.fromEntries(t.groups.map((x: { group: string }) => [x.group, x]));
  expect(g.held).toMatchObject({ pending: ids.length });
  expect(g.failing).toMatchObject({ deadLetters: ids.length });
  expect(g.indexer).toMatchObject({ pending: 0, deadLetters: 0 });
});

test('group page of the topic: summed, one row per partition, first pages merged with p<i>: ids', async () => {
  const { status, body } = await call('api/topics/parted/groups/held');
  expect(status).toBe(200);
  expect(body).toMatchObject({ kind: 'partitioned', partitions: P, merged: true, group: { group: 'held', pending: ids.length } });
  expect(body.parts.map((p: { partition: number }) => p.partition)).toEqual([0, 1, 2]);
  expect(body.parts.reduce((n: number, p: { group: { pending: number } }) => n + p.group.pending, 0)).toBe(ids.length);
  expect(body.pending.entries.map((e: { id: string }) => e.id).sort()).toEqual([...ids].sort());
  expect(body.pending.entries.every((e: { id: string; eventId: string }) => e.id === e.eventId && /^p\d:/.test(e.id))).toBe(true);
  expect(body.consumers).toEqual([expect.objectContaining({ name: 'stuck-worker', pending: ids.length })]);
  const dead = (await call('api/topics/parted/groups/failing')).body.deadLetters;
  expect(dead.total).toBe(ids.length);
  expect(dead.entries.map((x: { eventId: string }) => x.eventId).sort()).toEqual([...ids].sort());
  expect(dead.entries.every((x: { deadLetterId: string; eventId: string }) => x.deadLetterId.split(':')[0] === x.eventId.split(':')[0])).toBe(true);
  // A partition's own group page pages its tables (local ids); the topic's tables do not page.
  const one = (await call(`api/topics/${enc('parted#1')}/groups/held`)).body;
  expect(one).toMatchObject({ partition: 1, home: 'parted#1' });
  expect((await call('api/topics/parted/groups/held/pending')).body.code).toBe('PARTITIONED');
  expect((await call('api/topics/parted/groups/nope')).status).toBe(404);
});

test('event page by p<i>: id: payload, status in every group, its dead letter; a bad partition is a 400', async () => {
  const id = ids[0]!;
  const { status, body } = await call(`api/topics/parted/events/${enc(id)}`);
  expect(status).toBe(200);
  expect(body).toMatchObject({ partitionedId: id, partition: Number(/^p(\d+):/.exec(id)![1]), payload: { k: 'a' }, inStream: true });
  expect(body.status.indexer.state).toBe('succeeded');
  expect(body.status.failing.state).toBe('dead');
  expect(body.status.held.state).toBe('processing');
  expect(body.deadLetters).toEqual([expect.objectContaining({ group: 'failing', error: 'poison <b>x</b>' })]);
  const bad = await call(`api/topics/parted/events/${enc(`p${P}:1-0`)}`);
  expect([bad.status, bad.body.code]).toEqual([400, 'INVALID_ID']);
  // Search finds it by the same id and links to its partition.
  expect((await call(`api/search?q=${enc(id)}`)).body.hits).toEqual([expect.objectContaining({ topic: 'parted', partition: body.partition })]);
});

test('dead letters on partitions: replay one by p<i>: id, purge one from a partition page, purge all of one partition only', async () => {
  const list = (await call('api/topics/parted/groups/failing')).body.deadLetters.entries as Array<{ deadLetterId: string; partition: number }>;
  const replayed = await post('api/topics/parted/groups/failing/dead-letters/replay', { ids: [list[0]!.deadLetterId] });
  expect([replayed.status, replayed.body]).toEqual([200, { replayed: 1 }]);
  const second = list[1]!;
  const local = second.deadLetterId.split(':')[1];
  const purged = await post(`api/topics/${enc(`parted#${second.partition}`)}/groups/failing/dead-letters/purge`, { ids: [local] });
  expect([purged.status, purged.body]).toEqual([200, { purged: 1 }]);
  expect((await post('api/topics/parted/groups/failing/dead-letters/purge', { ids: ['1-0'] })).body.code).toBe('INVALID_OPTION');
  const counts = async () => (await call('api/topics/parted/groups/failing')).body.parts.map((p: { group: { deadLetters: number } }) => p.group.deadLetters) as number[];
  const before = await counts();
  const target = before.findIndex((n) => n > 0);
  const all = await post(`api/topics/${enc(`parted#${target}`)}/groups/failing/dead-letters/purge`, { all: true });
  expect([all.status, all.body.purged]).toEqual([200, before[target]]);
  const after = await counts();
  expect(after).toEqual(before.map((n, i) => (i === target ? 0 : n)));
});

test('claim and ack on partitions: done by core where it supports them, else a clear 409 that changes nothing', async () => {
  const entries = (await call('api/topics/parted/groups/held')).body.pending.entries as Array<{ id: string; partition: number }>;
  const owner = async (id: string) => ((await call('api/topics/parted/groups/held')).body.pending.entries as Array<{ id: string; consumer: string }>).find((e) => e.id === id)?.consumer;
  const claim = await post('api/topics/parted/groups/held/claim', { ids: [entries[0]!.id], consumer: 'ops' });
  if (claim.status === 409) {
    expect(claim.body.code).toBe('NOT_AVAILABLE');
    expect(claim.body.error).toMatch(/claim on partitioned topic "parted" is not supported by this version of @streamfan\/core yet, so nothing was changed/);
    expect(await owner(entries[0]!.id)).toBe('stuck-worker');
  } else {
    expect(claim.status).toBe(200);
    expect(await owner(entries[0]!.id)).toBe('ops');
  }
  const e = entries[1]!;
  const ack = await post(`api/topics/${enc(`parted#${e.partition}`)}/groups/held/ack`, { ids: [e.id.split(':')[1]] });
  if (ack.status === 409) {
    expect(ack.body.code).toBe('NOT_AVAILABLE');
    expect(await owner(e.id)).toBe('stuck-worker');
  } else {
    expect(ack.status).toBe(200);
    await waitFor(async () => (await owner(e.id)) === undefined, { message: 'acked entry left the pending list' });
  }
});

test('where core refuses an action on a partitioned topic, the dashboard answers 409 NOT_AVAILABLE with core\'s reason', async () => {
  // A client whose core still refuses claim on partitioned topics (as before partitions/admin-ops).
  const old = new Client({ connection: redis.url, prefix, retention: false });
  old.claim = async () => { throw new InvalidOptionError('claim() is not wired for partitioned topics yet ("parted" has 3 partitions; docs/partitions.md §12)'); };
  const od = await startDashboard({ client: old, port: 0, allowActions: true });
  try {
    const meta = await (await fetch(new URL('api/meta', od.url))).json() as { csrf: string };
    const entry = (await call('api/topics/parted/groups/held')).body.pending.entries[0].id as string;
    const res = await fetch(new URL('api/topics/parted/groups/held/claim', od.url), { method: 'POST', body: JSON.stringify({ ids: [entry], consumer: 'ops' }), headers: { 'content-type': 'application/json', 'x-streamfan-csrf': meta.csrf } });
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ code: 'NOT_AVAILABLE', error: expect.stringMatching(/^claim on partitioned topic "parted" is not supported by this version of @streamfan\/core yet, so nothing was changed\. Core says: claim\(\) is not wired/) });
  } finally {
    await od.close();
    await old.close();
  }
});
