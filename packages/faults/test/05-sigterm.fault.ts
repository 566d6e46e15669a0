import { waitFor } from '@streamfan/testing';
import { readLogs } from '../src/checker';
import type { DeliveryRecord } from '../src/protocol';
import { expectClean, useFaultServer } from './harness';

const env = useFaultServer();

test('5. SIGTERM drains in-flight work; a grace period shorter than a job leaves the job for reclaim, not lost', async () => {
  const HANG = 9;
  const s = env.scenario({
    groups: ['billing'],
    worker: { concurrency: 4, visibilityTimeoutMs: 1000, reclaimIntervalMs: 200 },
    publisher: { shape: (seq) => (seq === HANG ? { hangMs: 4000 } : {}) },
  });
  const deliveries = () => readLogs(s.runDir).filter((r): r is DeliveryRecord => r.k === 'd');

  // Graceful: the grace period (3 s) covers the jobs (300 ms each).
  const w1 = s.fleet.spawn('drain', { workMs: 300, shutdownGraceMs: 3000 });
  await w1.ready();
  await s.publisher.publishN(8);
  await waitFor(() => deliveries().filter((d) => d.consumer === w1.consumer && d.o === 'start').length >= 4, { message: 'w1 runs 4 jobs' });
  w1.signal('SIGTERM');
  expect(await w1.exited).toEqual({ code: 0, signal: null });
  const started = deliveries().filter((d) => d.consumer === w1.consumer && d.o === 'start');
  const finished = deliveries().filter((d) => d.consumer === w1.consumer && d.o === 'ok');
  expect(finished.map((d) => d.seq).sort()).toEqual(started.map((d) => d.seq).sort());
  expect(w1.seen('closed')[0]?.data).toMatchObject({ left: 0, deleted: true });
  expect((await s.sf.consumers(s.topic, 'billing')).map((c) => c.name)).not.toContain(w1.consumer);

  const w2 = s.fleet.spawn('rest', { workMs: 10 });
  await w2.ready();
  await waitFor(() => deliveries().filter((d) => d.o === 'ok').length >= 8, { message: 'the other 4 handled by w2' });
  await w2.stop();

  // Too short: the grace period (500 ms) ends before the 4 s job; the job stays pending.
  const w3 = s.fleet.spawn('short', { shutdownGraceMs: 500 });
  await w3.ready();
  await s.publisher.publishN(1);
  await waitFor(() => deliveries().some((d) => d.consumer === w3.consumer && d.seq === HANG), { message: 'w3 runs the long job' });
  w3.signal('SIGTERM');
  expect(await w3.exited).toEqual({ code: 0, signal: null });
  expect(w3.seen('closed')[0]?.data).toMatchObject({ left: 1, deleted: false });
  expect((await s.sf.pending(s.topic, 'billing')).map((p) => p.consumer)).toEqual([w3.consumer]);

  const w4 = s.fleet.spawn('reclaimer');
  await w4.ready();
  const reports = await s.finish('5. SIGTERM: drain within the grace period; a longer job is left for reclaim', {
    notes: () => [`drained on SIGTERM: ${finished.length} of ${started.length} running jobs; left for reclaim: ${w3.seen('closed').map((e) => (e.data as { left: number }).left).join()}`],
  });
  expectClean(reports);
  expect(reports[0]!.duplicates).toBe(0);
  expect(deliveries().find((d) => d.seq === HANG && d.o === 'ok')).toMatchObject({ consumer: w4.consumer, attempt: 2 });
  await s.fleet.stopAll();
});
