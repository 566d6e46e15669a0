import { topicKeys, type TrimReport } from '@streamfan/core/internal';
import { loggedEvents, readLogs } from '../src/checker';
import type { DeliveryRecord } from '../src/protocol';
import { waitFor } from '@streamfan/testing';
import { expectClean, useFaultServer } from './harness';

const env = useFaultServer();

test('10. trimming by a hard cap while a slow group is behind: the loss is reported exactly, recorded as lost by the trim, and no consumer loops', async () => {
  const s = env.scenario({ groups: ['fast', 'slow'], worker: { visibilityTimeoutMs: 1000, concurrency: 8 }, publisher: { batch: 5, intervalMs: 20 } });
  const fast = s.fleet.spawn('fast', { groups: ['fast'], workMs: 1, retention: { intervalMs: 500, maxLen: 100 } });
  const slow = s.fleet.spawn('slow', { groups: ['slow'], workMs: 100, concurrency: 4 });
  await Promise.all([fast.ready(), slow.ready()]);
  // The slow group's consumer dies holding entries; the cap will trim them while pending.
  await s.publisher.publishN(20);
  await waitFor(() => readLogs(s.runDir).filter((d) => d.k === 'd' && d.consumer === slow.consumer).length >= 4, { message: 'the slow consumer holds entries' });
  await slow.kill();
  const killedAt = Date.now();
  await s.publisher.publishN(600);
  await waitFor(() => loggedEvents(s.runDir, 'capLoss').some((e) => e.t > killedAt), { timeoutMs: 20_000, message: 'a trim after the kill' });
  s.fleet.spawn('slow', { groups: ['slow'], workMs: 100, concurrency: 4 });

  const capReports = () => loggedEvents(s.runDir, 'capLoss').map((e) => ({ t: e.t, r: e.data as TrimReport }));
  const reported = () => new Set(capReports().flatMap((c) => c.r.lostIds));
  const reports = await s.finish('10. hard cap (maxLen 100) while the slow group is behind', {
    reportedLost: (_g, id) => reported().has(id),
    notes: (r) => [
      `trim reports with loss: ${capReports().length}; lostToCap total: ${capReports().reduce((n, c) => n + c.r.lostToCap, 0)}; distinct ids reported: ${reported().size}`,
      `slow group: ${r.find((g) => g.group === 'slow')?.reportedLost} events lost to the cap, each reported and recorded as lost by the trim (lostByGroup.slow: ${capReports().reduce((n, c) => n + (c.r.lostByGroup?.slow ?? 0), 0)}); met again by a consumer: ${s.fleet.events('lost').flatMap((e) => (e.data as { ids: string[] }).ids).length}`,
    ],
  });
  expectClean(reports);
  const caps = capReports();
  const lostIds = caps.flatMap((c) => c.r.lostIds);
  // Reported exactly: the count matches the ids, no id twice...
  expect(caps.reduce((n, c) => n + c.r.lostToCap, 0)).toBe(lostIds.length);
  expect(new Set(lostIds).size).toBe(lostIds.length);
  // ...every event some group did not handle is among them (checked above as reportedLost)...
  const slowReport = reports.find((r) => r.group === 'slow')!;
  expect(slowReport.reportedLost).toBeGreaterThan(0);
  // ...and no id was reported that every group had finished well before the trim.
  const oks = readLogs(s.runDir).filter((d): d is DeliveryRecord => d.k === 'd' && d.o === 'ok');
  const overReported = caps.flatMap((c) => c.r.lostIds.filter((id) =>
    s.groups.every((g) => oks.some((o) => o.g === g && o.id === id && o.t < c.t - 500))));
  expect(overReported).toEqual([]);
  // The cap itself records each trimmed entry as lost in the slow group (pending or never read)
  // and settles the pending ones, so no consumer meets them again or loops on them.
  for (const id of lostIds) expect((await s.sf.status(s.topic, id)).groups.slow?.state).toBe('lost');
  expect(caps.reduce((n, c) => n + (c.r.lostByGroup?.slow ?? 0), 0)).toBe(lostIds.length);
  const lostEvents = s.fleet.events('lost').flatMap((e) => (e.data as { ids: string[] }).ids);
  expect(lostEvents).toEqual([]);
  await s.fleet.stopAll();
});

test('10. an approximate trim before the cap: entries every group acknowledged are not reported as lost', async () => {
  const sf = env.scenario({ groups: ['fast', 'slow'] }).sf;
  const stream = topicKeys(sf.prefix, 'capped').stream;
  const ids = await sf.publishMany('capped', Array.from({ length: 1000 }, (_, i) => ({ seq: i + 1 })));
  for (const [group, n] of [['fast', 1000], ['slow', 550]] as const) {
    await sf.redis.xgroup('CREATE', stream, group, '0');
    await sf.redis.xreadgroup('GROUP', group, 'c', 'COUNT', n, 'STREAMS', stream, '>');
    await sf.redis.xack(stream, group, ...ids.slice(0, n));
  }
  // slow still needs entries 551..1000; a cap of 100 keeps 901..1000, so 551..900 are lost.
  const report = await sf.trim('capped', { maxLen: 100, approximate: true });
  expect({ lostToCap: report.lostToCap, first: report.lostIds[0], last: report.lostIds[report.lostIds.length - 1], length: report.length })
    .toEqual({ lostToCap: 350, first: ids[550], last: ids[899], length: 100 });
});
