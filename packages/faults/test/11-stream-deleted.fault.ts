import { topicKeys } from '@streamfan/core/internal';
import { sleep, waitFor } from '@streamfan/testing';
import { expectClean, useFaultServer, type Scenario } from './harness';

const env = useFaultServer();

/** Disrupt while publishing, then check every event published after the disruption. */
async function disrupt(s: Scenario, name: string, groups: string[], act: () => Promise<unknown>): Promise<void> {
  const before = s.fleet.events('recovered').length;
  s.publisher.start();
  await sleep(800);
  await act();
  // Publishes started from here on were executed after the disruption: they are owed.
  const mark = s.publisher.nextSeq;
  // Wait for a recovery of every group this disruption hits: a late report from the previous
  // disruption (a second consumer of the group, or its redelivery stream) must not count.
  await waitFor(() => {
    const since = s.fleet.events('recovered').slice(before);
    return groups.every((g) => since.some((e) => e.g === g));
  }, { timeoutMs: 20_000, message: `consumers of ${groups.join(', ')} report recovery after ${name}` });
  await sleep(1000);
  await s.publisher.stop();
  const end = s.publisher.nextSeq;
  const recovered = s.fleet.events('recovered').slice(before);
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
