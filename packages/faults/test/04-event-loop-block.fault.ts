import { expectClean, useFaultServer } from './harness';

const env = useFaultServer();

test('4. a handler that blocks the event loop longer than the visibility timeout: its entries are reclaimed and handled, never lost, never run twice at once by one consumer', async () => {
  const s = env.scenario({
    groups: ['billing'],
    worker: { concurrency: 4, visibilityTimeoutMs: 1000, reclaimIntervalMs: 200, maxAttempts: 5, workMs: 20 },
    publisher: { batch: 1, intervalMs: 20, shape: (seq) => (seq % 10 === 0 ? { blockMs: 2500 } : {}) },
  });
  const workers = [s.fleet.spawn('w'), s.fleet.spawn('w')];
  await Promise.all(workers.map((w) => w.ready()));
  await s.publisher.publishN(50);
  const reports = await s.finish('4. handler blocks the event loop 2.5 s (visibility timeout 1 s)', {
    notes: () => [`reclaims: ${s.fleet.events('reclaimed').length}; late acks refused: ${s.fleet.events('stale').length}; leases lost: ${s.fleet.events('leaseLost').length}`],
  });
  expectClean(reports);
  expect(reports[0]!.deadLetters).toBe(0);
  // The blocks must have cost leases, else the fault did not bite.
  expect(s.fleet.events('reclaimed').length).toBeGreaterThan(0);
  await s.fleet.stopAll();
});
