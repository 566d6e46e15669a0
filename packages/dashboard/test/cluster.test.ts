import { defineTopic, Streamfan } from '@streamfan/core/internal';
import { startCluster, uniquePrefix, waitFor, type RedisCluster } from '@streamfan/testing';
import { startDashboard, type RunningDashboard } from '../src';

/**
 * The dashboard against a local Redis Cluster of 3 masters (@streamfan/testing's startCluster):
 * topics hash to different masters, so the overview must SCAN every master, and a page's reads
 * span slots (one pipeline per slot is all a cluster allows). Overview, topic, group, event and
 * search pages, a partitioned topic's pages, and an action (purge) work there.
 */
jest.setTimeout(120_000);

let cluster: RedisCluster;
let sf: Streamfan;
let d: RunningDashboard;
const names = ['orders', 'invoices', 'shipments', 'refunds', 'signups', 'audits'];
const published: Record<string, string[]> = {};
let partedIds: string[] = [];

beforeAll(async () => {
  cluster = await startCluster(3);
  sf = new Streamfan({ connection: { cluster: cluster.startupNodes }, prefix: uniquePrefix('dashc'), retention: false });
  const subs = [];
  for (const name of names) {
    const t = defineTopic<{ n: number }>(name);
    subs.push(sf.subscribe(t, 'email', async () => 'sent', { blockMs: 100 }));
    subs.push(sf.subscribe(t, 'billing', (_p, ctx) => ctx.deadLetter('declined'), { blockMs: 100 }));
  }
  await Promise.all(subs.map((s) => s.ready()));
  for (const name of names) {
    const t = defineTopic<{ n: number }>(name);
    published[name] = [await sf.publish(t, { n: 1 }), await sf.publish(t, { n: 2 }, { idempotencyKey: `${name}-key` })];
  }
  const parted = defineTopic<{ k: string }>('parted', { partitions: 3 });
  const psub = sf.subscribe(parted, 'indexer', async () => 'ok', { startFrom: 'beginning', leaseMs: 2000, blockMs: 100 });
  await psub.ready();
  partedIds = await sf.publishMany(parted, ['a', 'b', 'c', 'd'].map((k) => ({ k })), { keys: ['a', 'b', 'c', 'd'] });
  for (const name of names) for (const id of published[name]!) await sf.waitFor(defineTopic(name), id, { timeoutMs: 20_000 });
  for (const id of partedIds) await sf.waitFor(parted, id, { timeoutMs: 20_000 });
  await Promise.all([...subs, psub].map((s) => s.close()));
  d = await startDashboard({ client: sf, port: 0, allowActions: true });
});
afterAll(async () => {
  await d?.close();
  await sf?.close();
  await cluster?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
async function call(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(path, d.url), init);
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body };
}

test('the topics live on more than one master', async () => {
  const masters = new Set<number>();
  for (const name of names) {
    const slot = Number(await cluster.nodes[0]!.client().call('CLUSTER', 'KEYSLOT', `{${name}}`));
    masters.add(Math.floor(slot / 5462)); // redis-cli --cluster create splits 16384 slots evenly over 3 masters
  }
  expect(masters.size).toBeGreaterThan(1);
});

test('overview: every topic from every master, with its groups', async () => {
  const { status, body } = await call('api/overview');
  expect(status).toBe(200);
  const topics = body.topics.map((t: { topic: string }) => t.topic).sort();
  expect(topics).toEqual([...names, 'parted'].sort());
  for (const name of names) {
    const t = body.topics.find((x: { topic: string }) => x.topic === name);
    expect(t.length).toBe(2);
    const g = Object.fromEntries(t.groups.map((x: { group: string }) => [x.group, x]));
    expect(g.email).toMatchObject({ pending: 0, lag: 0, deadLetters: 0 });
    expect(g.billing).toMatchObject({ deadLetters: 2 });
  }
  expect(body.topics.find((x: { topic: string }) => x.topic === 'parted')).toMatchObject({ partitions: 3, length: 4 });
});

test('topic, group and event pages of each topic; search across masters', async () => {
  for (const name of names) {
    const topic = (await call(`api/topics/${name}`)).body;
    expect(topic.recent.map((e: { id: string }) => e.id).sort()).toEqual([...published[name]!].sort());
    expect(topic.recent[0].status).toMatchObject({ email: { state: 'succeeded' }, billing: { state: 'dead' } });
    const group = (await call(`api/topics/${name}/groups/billing`)).body;
    expect(group.deadLetters.total).toBe(2);
    expect(group.deadLetters.entries.map((x: { eventId: string }) => x.eventId).sort()).toEqual([...published[name]!].sort());
    const ev = (await call(`api/topics/${name}/events/${published[name]![0]}`)).body;
    expect(ev).toMatchObject({ payload: { n: 1 }, status: { email: { state: 'succeeded' }, billing: { state: 'dead' } } });
    expect(ev.deadLetters).toEqual([expect.objectContaining({ group: 'billing', error: 'declined' })]);
    expect((await call(`api/search?q=${name}-key`)).body.hits).toEqual([expect.objectContaining({ topic: name, kind: 'idempotency', eventId: published[name]![1] })]);
  }
});

test('a partitioned topic on the cluster: group page over partitions, event by p<i>: id', async () => {
  const g = (await call('api/topics/parted/groups/indexer')).body;
  expect(g).toMatchObject({ kind: 'partitioned', partitions: 3 });
  expect(g.parts).toHaveLength(3);
  const ev = (await call(`api/topics/parted/events/${encodeURIComponent(partedIds[0]!)}`)).body;
  expect(ev).toMatchObject({ partitionedId: partedIds[0], payload: { k: 'a' }, status: { indexer: { state: 'succeeded' } } });
});

test('an action on the cluster: purge one dead letter', async () => {
  const csrf = (await call('api/meta')).body.csrf as string;
  const dl = (await call('api/topics/orders/groups/billing')).body.deadLetters.entries[0].deadLetterId as string;
  const r = await call('api/topics/orders/groups/billing/dead-letters/purge', { method: 'POST', body: JSON.stringify({ ids: [dl] }), headers: { 'content-type': 'application/json', 'x-streamfan-csrf': csrf } });
  expect([r.status, r.body]).toEqual([200, { purged: 1 }]);
  await waitFor(async () => (await call('api/topics/orders/groups/billing')).body.deadLetters.total === 1, { message: 'one dead letter left' });
});
