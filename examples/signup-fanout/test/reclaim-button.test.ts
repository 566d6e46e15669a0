import { topicKeys } from '@streamfan/core/internal';
import { waitFor } from '@streamfan/testing';
import type { Snapshot } from '../src/snapshot';
import { call, startDemo, type RunningDemo } from './helpers';

jest.setTimeout(60_000);

// A visibility timeout far longer than the test: only the Reclaim button can free the entry.
let run: RunningDemo;
beforeAll(async () => { run = await startDemo({ visibilityTimeoutMs: 120_000 }); });
afterAll(async () => { await run?.stop(); });

async function emailPending(): Promise<Snapshot['groups'][number]['pending']> {
  return (await call(run.url, 'GET', '/api/groups/email/pending')).body.entries;
}

test('Reclaim stuck now hands a crashed worker\'s entry to a live worker without waiting for the visibility timeout', async () => {
  await call(run.url, 'POST', '/api/groups/email/crash', { count: 1 });
  const pub = await call(run.url, 'POST', '/api/publish', { count: 1, kind: 'team' });
  const id = pub.body.ids[0] as string;
  const redis = run.redis.client();
  const held = await waitFor(async () => (await emailPending()).find((e) => e.eventId === id && e.owner === 'crashed'), { message: 'held by a crashed worker' });
  expect(held.reclaimInMs).toBeGreaterThan(60_000);
  const r = await call(run.url, 'POST', '/api/groups/email/reclaim', {});
  expect(r.status).toBe(200);
  expect(r.body.reclaimed).toEqual([held.id]);
  const ev = await waitFor(async () => {
    const e = (await call(run.url, 'GET', `/api/events/${id}`)).body;
    return Object.values(e.groups as Record<string, { state: string }>).every((g) => g.state === 'succeeded') ? e : undefined;
  }, { timeoutMs: 20_000, message: 'every group handled the event (email after the manual reclaim)' });
  expect(ev.groups.email.attempts).toBe(2);
  expect(ev.groups.email.consumer).not.toBe(held.consumer);
  const s = (await call(run.url, 'GET', '/api/state')).body as Snapshot;
  const email = s.groups.find((g) => g.name === 'email')!;
  expect(email.stats).toMatchObject({ crashes: 1, takeovers: 1 });
  expect(email.workers.some((w) => w.state === 'crashed')).toBe(false);
  // The crashed worker's consumer is gone from the group once it holds nothing.
  await waitFor(async () => {
    const rows = (await redis.xinfo('CONSUMERS', topicKeys(run.demo.prefix, 'user.signup').stream, 'email')) as unknown[][];
    return !rows.some((row) => row[1] === held.consumer);
  }, { message: `consumer ${held.consumer} removed` });
});

test('reclaiming an entry a live worker still runs: if another worker takes it, the first owner\'s ack is refused', async () => {
  await call(run.url, 'POST', '/api/groups/billing', { latencyMs: 4000, workers: 2 });
  const before = ((await call(run.url, 'GET', '/api/state')).body as Snapshot).groups.find((g) => g.name === 'billing')!.stats.processed;
  const pub = await call(run.url, 'POST', '/api/publish', { count: 1, kind: 'pro' });
  const id = pub.body.ids[0] as string;
  const entry = await waitFor(async () => ((await call(run.url, 'GET', '/api/groups/billing/pending')).body.entries as Array<{ eventId: string; id: string; owner: string; consumer: string }>).find((e) => e.eventId === id), { message: 'billing running the event' });
  expect(entry.owner).toBe('live');
  const r = await call(run.url, 'POST', '/api/groups/billing/reclaim', { ids: [entry.id] });
  expect(r.body.reclaimed).toEqual([entry.id]);
  const ev = await waitFor(async () => {
    const e = (await call(run.url, 'GET', `/api/events/${id}`)).body;
    return e.groups.billing.state === 'succeeded' ? e : undefined;
  }, { timeoutMs: 30_000, message: 'billing succeeded' });
  const s = (await call(run.url, 'GET', '/api/state')).body as Snapshot;
  const billing = s.groups.find((g) => g.name === 'billing')!;
  expect(billing.stats.processed).toBe(before + 1);
  // The first owner renews the lease of a running handler, so it may keep the entry when its
  // lease keeper runs before another worker's sweep. When the other worker took it, the
  // first owner's ack was refused and only the new owner's result counts.
  if (ev.groups.billing.consumer !== entry.consumer) {
    await waitFor(async () => ((await call(run.url, 'GET', '/api/state')).body as Snapshot).groups.find((g) => g.name === 'billing')!.stats.stale >= 1, { timeoutMs: 15_000, message: 'the first owner\'s ack refused' });
    expect(ev.groups.billing.attempts).toBe(2);
  } else {
    expect(ev.groups.billing.attempts).toBe(1);
  }
});
