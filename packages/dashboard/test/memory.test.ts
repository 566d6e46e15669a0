import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { Streamfan, defineTopic, type MemoryReport } from '@streamfan/core/internal';
import { ASSET_TEXT } from '../src/assets.generated';
import { startDashboard, type RunningDashboard } from '../src';

jest.setTimeout(90_000);

/**
 * The dashboard shows the memory figures of `streamfan memory` (issue 17): `/api/memory` (every
 * topic, or ?topic=) answers core's report, read at most once per memoryEveryMs however many pages
 * ask, and the page has a Memory view of it.
 */
let redis: RedisServer;
let sf: Streamfan;
let dash: RunningDashboard;
const prefix = uniquePrefix('mem');

beforeAll(async () => {
  redis = await startRedis();
  sf = new Streamfan({ connection: redis.url, prefix, retention: false });
  dash = await startDashboard({ client: sf, port: 0, memoryEveryMs: 60_000 });
  const orders = defineTopic<{ n: number }>('orders');
  const parts = defineTopic<{ n: number }>('parts', { partitions: 2 });
  const subs = [
    sf.subscribe(orders, 'plain', async () => undefined, { blockMs: 100 }),
    sf.subscribe(orders, 'result', async (p) => ({ n: p.n }), { blockMs: 100 }),
    sf.subscribe(orders, 'dead', async (_p, ctx) => { ctx.deadLetter('no'); }, { blockMs: 100 }),
    sf.subscribe(parts, 'pack', async () => undefined, { blockMs: 100 }),
  ];
  await Promise.all(subs.map((s) => s.ready()));
  const ids = await sf.publishMany(orders, Array.from({ length: 10 }, (_, n) => ({ n })));
  for (const id of ids) await sf.waitFor(orders, id, { timeoutMs: 20_000 });
  for (let n = 0; n < 6; n++) await sf.publish(parts, { n }, { key: `k${n}` });
  await waitFor(async () => (await sf.groups(parts))[0]?.pending === 0 && (await sf.groups(parts))[0]?.lag === 0, { timeoutMs: 20_000, message: 'parts handled' });
  await Promise.all(subs.map((s) => s.close()));
  // The publisher forgets its answered calls 250 ms after its last publish (one HDEL per producer
  // ledger, which then goes): wait for it, so the two reports compared below read the same keys.
  await waitFor(async () => (await sf.redis.keys(`${prefix}:*:producer:*`)).length === 0, { timeoutMs: 20_000, message: 'producer ledgers forgotten' });
});
afterAll(async () => {
  await dash?.close();
  await sf?.close();
  await redis?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
async function get(path: string, status = 200): Promise<any> {
  const res = await fetch(new URL(path, dash.url));
  expect(res.status).toBe(status);
  return res.json();
}

const calls = async (cmd: string): Promise<number> =>
  Number(new RegExp(`cmdstat_${cmd.replace('|', '\\|')}:calls=(\\d+)`).exec(await sf.redis.info('commandstats'))?.[1] ?? 0);

/** A report's figures without what changes from one read to the next (server memory, commands). */
function figures(r: MemoryReport): unknown {
  return r.topics.map((t) => ({ topic: t.topic, partitions: t.partitions, groups: t.groups, bytes: t.bytes, kinds: t.kinds }));
}

test('/api/memory answers the figures of sf.memory() (streamfan memory), by topic and kind', async () => {
  const truth = await sf.memory();
  const page = await get('api/memory');
  expect(figures(page)).toEqual(figures(truth));
  expect(page.scan.complete).toBe(true);
  const orders = page.topics.find((t: { topic: string }) => t.topic === 'orders');
  const kind = (k: string) => orders.kinds.find((x: { kind: string }) => x.kind === k);
  expect(kind('status').keys).toBeGreaterThanOrEqual(10 + 1); // "result" and "dead" hashes share one per event; ≥ 1 success bucket of "plain"
  expect(kind('status').bytes).toBeGreaterThan(0);
  expect(kind('deadLetters')).toMatchObject({ keys: 1, entries: 10 });
  expect(kind('stream')).toMatchObject({ keys: 1, entries: 10 });
  const parts = page.topics.find((t: { topic: string }) => t.topic === 'parts');
  expect(parts.partitions).toBe(2);
  expect(parts.kinds.find((x: { kind: string }) => x.kind === 'stream')).toMatchObject({ keys: 2, entries: 6 });
  expect(page.everyMs).toBe(60_000);
  expect(typeof page.readAt).toBe('number');

  const one = await get('api/memory?topic=parts');
  expect(one.topics.map((t: { topic: string }) => t.topic)).toEqual(['parts']);
  expect(figures(one)).toEqual(figures(await sf.memory('parts')));
  const bad = await get('api/memory?topic=a%20b', 400);
  expect(bad.code).toBe('INVALID_NAME');
});

test('pages asking within memoryEveryMs share one report: no SCAN, no MEMORY USAGE', async () => {
  const first = await get('api/memory');
  const before = [await calls('scan'), (await calls('memory|usage')) + (await calls('memory'))];
  const again = await Promise.all([get('api/memory'), get('api/memory'), get('api/memory')]);
  expect([await calls('scan'), (await calls('memory|usage')) + (await calls('memory'))]).toEqual(before);
  for (const r of again) {
    expect(r.readAt).toBe(first.readAt);
    expect(r.ageMs).toBeGreaterThanOrEqual(0);
  }
});

test('a concurrent first read is one report; memoryEveryMs 0 reads every time; a bad value is refused', async () => {
  const other = await startDashboard({ client: sf, port: 0, memoryEveryMs: 0 });
  try {
    const s0 = await calls('scan');
    const res = await Promise.all([1, 2, 3].map(async () => (await fetch(new URL('api/memory?topic=orders', other.url))).json() as Promise<{ readAt: number }>));
    const s1 = await calls('scan');
    // One SCAN pass (a handful of pages over this small keyspace) for three concurrent requests.
    expect(new Set(res.map((r) => r.readAt)).size).toBe(1);
    await (await fetch(new URL('api/memory?topic=orders', other.url))).json();
    expect(await calls('scan')).toBeGreaterThan(s1);
    expect(s1).toBeGreaterThan(s0);
  } finally {
    await other.close();
  }
  await expect(startDashboard({ client: sf, port: 0, memoryEveryMs: -1 })).rejects.toThrow(/memoryEveryMs/);
});

test('the page has a Memory view: a link on the overview and topic pages, a table by topic and kind', () => {
  const js = ASSET_TEXT['app.js']!;
  expect(js).toContain("page === 'memory'");
  expect(js).toContain("api(topic ? `memory?topic=${enc(topic)}` : 'memory')");
  expect(js).toContain("'data-testid': 'memory-link'");
  expect(js).toContain("'data-testid': 'topic-memory-link'");
});
