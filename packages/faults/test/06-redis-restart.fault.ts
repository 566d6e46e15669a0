import { sleep } from '@streamfan/testing';
import { expectClean, useFaultServer } from './harness';

const always = useFaultServer(['--appendonly', 'yes', '--appendfsync', 'always']);
const everysec = useFaultServer(['--appendonly', 'yes', '--appendfsync', 'everysec']);

test('6a. Redis restart under load with AOF appendfsync always (SHUTDOWN, then SIGKILL): consumers and publishers resume; no event whose publish resolved is lost', async () => {
  const s = always.scenario({ worker: { concurrency: 8, visibilityTimeoutMs: 2000, workMs: 5 }, publisher: { batch: 5, intervalMs: 10 } });
  const workers = [s.fleet.spawn('w'), s.fleet.spawn('w')];
  await Promise.all(workers.map((w) => w.ready()));
  s.publisher.start();
  await sleep(1500);
  await s.server.shutdown();
  await sleep(1000);
  await s.server.start();
  await sleep(2000);
  await s.server.kill('SIGKILL');
  await sleep(1000);
  await s.server.start();
  await sleep(2000);
  await s.publisher.stop();
  const reports = await s.finish('6a. redis-server SHUTDOWN and SIGKILL under load, appendfsync always', {
    notes: () => [`consumer reconnects: ${s.fleet.events('reconnected').length}; NOGROUP recoveries: ${s.fleet.events('recovered').length}`],
  });
  expectClean(reports);
  expect(s.publisher.failures.size).toBeGreaterThan(0); // the outages were felt
  expect(workers.every((w) => w.alive)).toBe(true);
  await s.fleet.stopAll();
});

test('6b. Redis SIGKILL under load with appendfsync everysec: the loss is measured and reported', async () => {
  const s = everysec.scenario({ worker: { concurrency: 8, visibilityTimeoutMs: 2000, workMs: 5 }, publisher: { batch: 5, intervalMs: 10 } });
  const workers = [s.fleet.spawn('w'), s.fleet.spawn('w')];
  await Promise.all(workers.map((w) => w.ready()));
  s.publisher.start();
  await sleep(2000);
  await s.server.kill('SIGKILL');
  await sleep(1000);
  await s.server.start();
  await sleep(2000);
  await s.publisher.stop();
  const reports = await s.finish('6b. redis-server SIGKILL under load, appendfsync everysec (loss measured, not asserted)', {
    timeoutMs: 20_000,
    notes: (r) => [`measured loss after SIGKILL: ${r.reduce((n, g) => n + g.lost, 0)} events`, 'a process kill with the OS alive keeps what Redis wrote to the AOF file (page cache), so the expected loss is 0; a power loss could cost up to a second of writes'],
  });
  for (const r of reports) {
    expect({ pending: r.pending, lag: r.lag, overlaps: r.overlaps }).toEqual({ pending: 0, lag: 0, overlaps: 0 });
  }
  await s.fleet.stopAll();
});
