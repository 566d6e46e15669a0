import { sleep } from '@streamfan/testing';
import { cutShort } from '../src/checker';
import { between, expectClean, useFaultServer } from './harness';

const env = useFaultServer();

test('1. SIGKILL of worker processes mid-batch, repeatedly, while publishing continues: the others finish the work', async () => {
  const s = env.scenario({ worker: { concurrency: 8, visibilityTimeoutMs: 1500, workMs: 10, workJitterMs: 40 }, publisher: { batch: 5, intervalMs: 10 } });
  const workers = [s.fleet.spawn('w'), s.fleet.spawn('w'), s.fleet.spawn('w')];
  await Promise.all(workers.map((w) => w.ready()));
  s.publisher.start();
  let kills = 0;
  for (let round = 0; round < 8; round++) {
    await sleep(between(700, 1500));
    const alive = s.fleet.alive;
    const victim = alive[between(0, alive.length - 1)]!;
    await victim.kill();
    kills++;
    await s.fleet.spawn('w').ready();
  }
  await s.publisher.stop();
  const reports = await s.finish('1. SIGKILL worker processes mid-batch (8 kills, 3 processes, 2 groups)', { notes: () => [`workers SIGKILLed: ${kills}; handler runs cut short by a kill: ${cutShort(s.runDir)}`] });
  expectClean(reports);
  // The kills must have landed mid-handler, else the fault did not bite.
  expect(cutShort(s.runDir)).toBeGreaterThan(0);
});
