import { topicKeys } from '@streamfan/core/internal';
import { sleep, waitFor } from '@streamfan/testing';
import { expectClean, useFaultServer, type Scenario } from './harness';

const env = useFaultServer();

/** Disrupt while publishing, then check every event published after the disruption. */
async function disrupt(s: Scenario, name: string, groups: string[], act: () => Promise<unknown>): Promise<void> {
  // The reports made before this disruption, by identity: fleet.events() concatenates the workers'
  // lists, so a count taken here no longer marks where the new reports start once an earlier
  // worker's list grows (w-1's two FLUSHDB reports pushed w-2's old ones past the count).
  const before = new Set(s.fleet.events('recovered'));
  const newReports = () => s.fleet.events('recovered').filter((e) => !before.has(e));
  s.publisher.start();
  await sleep(800);
  await act();
  // Publishes started from here on were executed after the disruption: they are owed.
  const mark = s.publisher.nextSeq;
  // Wait for a recovery of every group this disruption hits: a late report from the previous
  // disruption (a second consumer of the group, or its redelivery stream) must not count.
  await waitFor(() => {
    const since = newReports();
    return groups.every((g) => since.some((e) => e.g === g));
  }, { timeoutMs: 20_000, message: `consumers of ${groups.join(', ')} report recovery after ${name}` }).catch((err: Error) => {
    // Say what the workers were doing: which group never reported, who is alive, their last errors.
    const since = newReports();
    const missing = groups.filter((g) => !since.some((e) => e.g === g));
    const workers = s.fleet.all.map((w) => `${w.consumer} ${w.alive ? 'alive' : 'exited'}; last errors/warnings: ${JSON.stringify([...w.seen('error'), ...w.seen('warning')].slice(-4))}`);
    throw new Error(`${err.message}; no recovery from: ${missing.join(', ')}; recoveries since: ${since.map((e) => `${e.consumer}/${e.g}`).join(', ') || 'none'}; run folder ${s.runDir}; ${workers.join(' | ')}`);
  });
  await sleep(1000);
  await s.publisher.stop();
  const end = s.publisher.nextSeq;
  const recovered = newReports();
  const reports = await s.finish(`11. ${name} under running consumers`, {
    include: (seq) => seq >= mark && seq < end,
    notes: () => [
      `events published before the disruption and not yet handled were deleted with it: not owed`,
      `recoveries reported: ${recovered.map((e) => `${e.consumer}/${e.g}`).join(', ')} (${String((recovered[0]?.data as { reason?: string })?.reason)})`,
    ],
  });
  expectClean(reports);
  for (const g of groups) expect(recovered.some((e) => e.g === g)).toBe(true);
  expect(recovered.every((e) => /NOGROUP/.test((e.data as { reason: string }).reason))).toBe(true);
}

test('11. the stream deleted, a group destroyed, FLUSHDB, under running consumers: they recover by themselves and say so', async () => {
  const s = env.scenario({ worker: { concurrency: 8, visibilityTimeoutMs: 2000, workMs: 5 }, publisher: { batch: 5, intervalMs: 20 } });
  const workers = [s.fleet.spawn('w'), s.fleet.spawn('w')];
  await Promise.all(workers.map((w) => w.ready()));
  const stream = topicKeys(s.sf.prefix, s.topic.name).stream;
  await disrupt(s, 'DEL of the topic stream', ['billing', 'email'], () => s.redis.del(stream));
  await disrupt(s, 'XGROUP DESTROY of one group', ['billing'], () => s.redis.xgroup('DESTROY', stream, 'billing'));
  await disrupt(s, 'FLUSHDB', ['billing', 'email'], () => s.redis.flushdb());
  expect(workers.every((w) => w.alive)).toBe(true);
  await s.fleet.stopAll();
});
