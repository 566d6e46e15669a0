import { loggedEvents, readLogs } from '../src/checker';
import { expectClean, useFaultServer } from './harness';

const env = useFaultServer();

test('2. SIGKILL right after the side effect, before the ack: the event is handled again (a counted duplicate), never lost', async () => {
  const s = env.scenario({ worker: { concurrency: 4, visibilityTimeoutMs: 1000, workMs: 5, crashAfterSideEffectEvery: 50 }, publisher: { batch: 10, intervalMs: 50 } });
  const stop = s.supervise('w', 3);
  await s.fleet.all[0]!.ready();
  await s.publisher.publishN(300);
  const reports = await s.finish('2. SIGKILL after the side effect, before the ack (every 50th handling)', {
    notes: () => [`self-kills after a side effect: ${loggedEvents(s.runDir, 'crashing').length}`],
  });
  stop();
  expectClean(reports);
  const crashes = loggedEvents(s.runDir, 'crashing');
  expect(crashes.length).toBeGreaterThan(3);
  // Every event whose side effect preceded a crash was handled again: ≥ 2 successful handlings.
  const oks = readLogs(s.runDir).filter((r) => r.k === 'd' && r.o === 'ok');
  for (const c of crashes) {
    const { id } = c.data as { id: string };
    expect({ id, group: c.g, handled: oks.filter((o) => o.k === 'd' && o.id === id && o.g === c.g).length >= 2 }).toEqual({ id, group: c.g, handled: true });
  }
  const duplicates = reports.reduce((n, r) => n + r.duplicates, 0);
  expect(duplicates).toBeGreaterThanOrEqual(crashes.length);
});
