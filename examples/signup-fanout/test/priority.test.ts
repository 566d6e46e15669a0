import { waitFor } from '@streamfan/testing';
import type { Snapshot } from '../src/snapshot';
import { call, startDemo, type RunningDemo } from './helpers';

jest.setTimeout(90_000);

let run: RunningDemo;
beforeAll(async () => { run = await startDemo(); });
afterAll(async () => { await run?.stop(); });

const state = async (): Promise<Snapshot> => (await call(run.url, 'GET', '/api/state')).body as Snapshot;
const lanesOf = (s: Snapshot, g: string) => Object.fromEntries(s.groups.find((x) => x.name === g)!.stats.lanes.map((l) => [l.lane, l.backlog]));

/**
 * Priority lanes in the demo (issue 16): `user.signup` has lanes high, normal (default) and low.
 * POST /api/publish takes `priority`; the snapshot shows each group's backlog per lane and each
 * lane's stream length; a group that was stopped behind a low backlog runs the high events first.
 */
test('publish to a lane: per-lane backlog per group, lane ids, and high events run before the low backlog', async () => {
  expect((await call(run.url, 'POST', '/api/groups/email/stop', {})).status).toBe(200);
  const low = await call(run.url, 'POST', '/api/publish', { count: 30, kind: 'free', priority: 'low' });
  expect(low.status).toBe(200);
  expect(low.body.priority).toBe('low');
  for (const id of low.body.ids as string[]) expect(id).toMatch(/^low:\d+-\d+$/);
  const high = await call(run.url, 'POST', '/api/publish', { count: 5, kind: 'pro', priority: 'high' });
  for (const id of high.body.ids as string[]) expect(id).toMatch(/^high:\d+-\d+$/);
  const normal = await call(run.url, 'POST', '/api/publish', { count: 1, kind: 'pro' }); // no priority: the default lane, plain ids
  expect(normal.body.ids[0]).toMatch(/^\d+-\d+$/);

  let s = await state();
  expect(s.totals.lanes).toEqual([{ lane: 'high', length: 5 }, { lane: 'normal', length: 1 }, { lane: 'low', length: 30 }]);
  expect(s.totals.streamLength).toBe(36);
  expect(lanesOf(s, 'email')).toEqual({ high: 5, normal: 1, low: 30 }); // stopped: everything waits
  expect(s.events.find((e) => e.eventId === high.body.ids[0])).toMatchObject({ priority: 'high', kind: 'pro' });
  // The event drawer takes a lane id.
  const ev = await call(run.url, 'GET', `/api/events/${encodeURIComponent(high.body.ids[0])}`);
  expect(ev.status).toBe(200);
  expect(ev.body.id).toBe(high.body.ids[0]);

  // One email worker, then start: the 5 high events run before all but a few of the low backlog
  // (the starvation guard lets a lower lane in about 1 grant in 10).
  expect((await call(run.url, 'POST', '/api/groups/email', { workers: 1, latencyMs: 50 })).status).toBe(200);
  expect((await call(run.url, 'POST', '/api/groups/email/start', {})).status).toBe(200);
  await waitFor(async () => { s = await state(); const l = lanesOf(s, 'email'); return l.high === 0 && l.normal === 0 && l.low === 0; },
    { timeoutMs: 60_000, intervalMs: 200, message: 'email drained every lane' });
  const finished = async (id: string) => (await call(run.url, 'GET', `/api/events/${encodeURIComponent(id)}`)).body.groups.email.finishedAt as number;
  const highDone = await Promise.all((high.body.ids as string[]).map(finished));
  const lowDone = (await Promise.all((low.body.ids as string[]).map(finished))).sort((a, b) => a - b);
  const lastHigh = Math.max(...highDone);
  const lowBefore = lowDone.filter((t) => t < lastHigh).length;
  console.log(`demo lanes: ${lowBefore} of 30 low events finished before the last of 5 high ones`);
  expect(lowBefore).toBeLessThanOrEqual(3);
});

test('POST /api/publish validates priority', async () => {
  for (const priority of ['urgent', 'HIGH', 3, null]) {
    const r = await call(run.url, 'POST', '/api/publish', { count: 1, priority });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/"priority" must be one of high, normal, low/);
  }
});
