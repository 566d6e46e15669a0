import { waitFor } from '@streamfan/testing';
import type { Snapshot } from '../src/snapshot';
import { call, startDemo, type RunningDemo } from './helpers';

jest.setTimeout(90_000);

let run: RunningDemo;
beforeAll(async () => { run = await startDemo(); });
afterAll(async () => { await run?.stop(); });

const state = async (): Promise<Snapshot> => (await call(run.url, 'GET', '/api/state')).body as Snapshot;

/**
 * The demo's partitioned topic (issue 12): `order.updated` with 4 partitions and the group
 * `shipping` with `ordering: 'key'` (two consumers, random latency, 15 % of first attempts fail
 * and are retried). Per order, the handled sequence numbers follow publish order, no two
 * handlings of one order overlapped, and each order stays in one partition.
 */
test('order updates on the partitioned topic are handled in publish order per order, through retries', async () => {
  const first = await state();
  expect(first.orders).toMatchObject({ topic: 'order.updated', partitions: 4, group: 'shipping', ordering: 'key', published: 0 });
  for (let i = 0; i < 4; i++) {
    const r = await call(run.url, 'POST', '/api/orders', { rounds: 5 });
    expect(r.status).toBe(200);
    expect(r.body.published).toBe(30);
    for (const id of r.body.ids as string[]) expect(id).toMatch(/^p[0-3]:\d+-\d+$/);
  }
  let s = first;
  await waitFor(async () => { s = await state(); return s.orders!.handled === 120; }, { timeoutMs: 60_000, intervalMs: 200, message: 'all 120 order updates handled' });
  const o = s.orders!;
  expect(o.published).toBe(120);
  expect(o.keys).toHaveLength(6);
  for (const k of o.keys) {
    expect(k.published).toBe(20);
    expect(k.handled).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(k).toMatchObject({ inOrder: true, overlapped: false });
  }
  expect(o.partitionLengths.reduce((a, b) => a + b, 0)).toBe(120);
  // Every order's updates landed in its key's partition only.
  for (const k of o.keys) expect(o.partitionLengths[k.partition]).toBeGreaterThanOrEqual(20);
  console.log(`orders: 120 updates over 6 orders, partition lengths ${o.partitionLengths.join('/')}, retries ${o.keys.reduce((n, k) => n + k.retries, 0)}, all in order`);
});

test('POST /api/orders validates rounds', async () => {
  for (const body of [{ rounds: 0 }, { rounds: 51 }, { rounds: 'x' }, { count: 1 }]) {
    const r = await call(run.url, 'POST', '/api/orders', body);
    expect(r.status).toBe(400);
    expect(typeof r.body.error).toBe('string');
  }
});
