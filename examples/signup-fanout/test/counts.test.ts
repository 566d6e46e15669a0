/**
 * What the group cards count (issue 15, item 7): consumers from the start, and handled events
 * apart from redeliveries, so a retried event is not counted twice ("190 of 186 — 102 %").
 */
import { waitFor } from '@streamfan/testing';
import type { Snapshot } from '../src/snapshot';
import { startDemo, type RunningDemo } from './helpers';

jest.setTimeout(90_000);

let run: RunningDemo;
beforeAll(async () => { run = await startDemo(); });
afterAll(async () => { await run?.stop(); });

const group = (s: Snapshot, name: string) => s.groups.find((g) => g.name === name)!;

test('every running worker counts as a consumer before the first event arrives', async () => {
  // Redis creates a consumer at its first delivery; the demo registers each worker's at start.
  let snap: Snapshot | undefined;
  await waitFor(async () => {
    snap = await run.demo.snapshot();
    return snap.groups.every((g) => g.stats.consumers === g.settings.workers);
  }, { timeoutMs: 15_000, message: 'consumers = workers in every group' });
  expect(snap!.totals.published).toBe(0);
  expect(snap!.groups.map((g) => [g.name, g.stats.consumers])).toEqual([['email', 3], ['billing', 2], ['analytics', 4]]);
});

test('handled events and redeliveries are counted apart: never more handled than published', async () => {
  await run.demo.updateGroup('billing', { failureRate: 0.5, maxAttempts: 20, latencyMs: 5 });
  await run.demo.publish(20, 'pro');
  let snap: Snapshot | undefined;
  await waitFor(async () => {
    snap = await run.demo.snapshot();
    return group(snap, 'billing').stats.processed === 20 && group(snap, 'billing').stats.pending === 0;
  }, { timeoutMs: 60_000, intervalMs: 200, message: 'billing handled all 20' });
  const billing = group(snap!, 'billing').stats;
  expect(billing.processed).toBe(20);
  expect(billing.retries).toBeGreaterThan(0);
  // Each failed attempt was delivered again once: those deliveries are redeliveries, not events.
  expect(billing.redeliveries).toBe(billing.retries);
  for (const g of snap!.groups) expect(g.stats.processed).toBeLessThanOrEqual(snap!.totals.published);
});
