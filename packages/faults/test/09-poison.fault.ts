import { topicKeys } from '@streamfan/core/internal';
import { sleep } from '@streamfan/testing';
import { expectClean, useFaultServer } from './harness';

const env = useFaultServer();

test('9. poison and malformed messages mixed into the stream end in dead letters; everything else flows', async () => {
  const throws = (seq: number) => seq % 20 === 3;
  const refuses = (seq: number) => seq % 20 === 11;
  const s = env.scenario({
    worker: { concurrency: 8, visibilityTimeoutMs: 2000, maxAttempts: 3, backoffMs: 30, workMs: 5 },
    publisher: { batch: 5, intervalMs: 10, shape: (seq) => (throws(seq) ? { poison: 'throw' } : refuses(seq) ? { poison: 'dead' } : seq % 20 === 17 ? { failAttempts: 2 } : {}) },
  });
  const workers = [s.fleet.spawn('w'), s.fleet.spawn('w')];
  await Promise.all(workers.map((w) => w.ready()));
  const stream = topicKeys(s.sf.prefix, s.topic.name).stream;
  const malformed: string[][] = [
    ['foo', 'bar'],
    ['payload', '{not json'],
    ['payload', '{"seq":-5}', 'headers', '[1,2]'],
    ['payload', ''],
    ['headers', '{}'],
  ];
  s.publisher.start();
  for (const fields of malformed) {
    await sleep(150);
    await s.redis.xadd(stream, '*', ...fields);
  }
  await sleep(500);
  await s.publisher.stop();
  const reports = await s.finish('9. poison (always throws / dead-letters itself), transient failures and malformed entries', {
    notes: () => [`malformed entries written by another program: ${malformed.length}; dead-lettered events: ${s.fleet.events('deadLettered').length}`],
  });
  expectClean(reports);
  const poison = [...s.publisher.resolved.keys()].filter((q) => throws(q) || refuses(q)).length;
  for (const r of reports) {
    expect({ group: r.group, dead: r.deadLetters, malformed: r.foreignDeadLetters }).toEqual({ group: r.group, dead: poison, malformed: malformed.length });
    const rows = await s.sf.deadLetters(s.topic, r.group).list({ count: 10_000 });
    const reasons = rows.reduce<Record<string, number>>((m, d) => ({ ...m, [d.reason]: (m[d.reason] ?? 0) + 1 }), {});
    expect(reasons).toEqual({
      attempts: [...s.publisher.resolved.keys()].filter(throws).length,
      handler: [...s.publisher.resolved.keys()].filter(refuses).length,
      malformed: malformed.length,
    });
  }
  await s.fleet.stopAll();
});
