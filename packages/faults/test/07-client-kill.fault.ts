import { sleep } from '@streamfan/testing';
import { between, expectClean, useFaultServer } from './harness';

const env = useFaultServer();

test('7. connections cut by CLIENT KILL (every normal client, then the blocking readers), repeatedly: nothing lost, consumers resume', async () => {
  const s = env.scenario({ worker: { concurrency: 8, visibilityTimeoutMs: 2000, workMs: 5 }, publisher: { batch: 5, intervalMs: 10 } });
  const workers = [s.fleet.spawn('w'), s.fleet.spawn('w')];
  await Promise.all(workers.map((w) => w.ready()));
  const admin = s.server.client({ maxRetriesPerRequest: null });
  s.publisher.start();
  let normalKills = 0;
  let readerKills = 0;
  for (let round = 0; round < 10; round++) {
    await sleep(between(300, 700));
    if (round % 2 === 0) {
      normalKills += Number(await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes'));
    } else {
      const list = String(await admin.client('LIST'));
      for (const line of list.split('\n').filter((l) => /cmd=xreadgroup/.test(l))) {
        const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
        if (id) readerKills += Number(await admin.client('KILL', 'ID', id));
      }
    }
  }
  await s.publisher.stop();
  admin.disconnect();
  const reports = await s.finish('7. CLIENT KILL of every connection and of the blocking readers (10 rounds)', {
    notes: () => [`connections killed: ${normalKills} (type normal), ${readerKills} (blocking readers); consumer reconnects: ${s.fleet.events('reconnected').length}`],
  });
  expectClean(reports);
  expect(readerKills).toBeGreaterThan(0);
  expect(workers.every((w) => w.alive)).toBe(true);
  await s.fleet.stopAll();
});
