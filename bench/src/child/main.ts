/**
 * A consumer process of the bench. The parent sends `run` (one job: some groups of one
 * topic, on one system), this process answers `ready`, reports progress, says `done` once
 * every group settled the expected count, and on `stop` closes and sends its results.
 * It stays up for the next job until `exit`.
 */
import type { ChildMessage, ConsumeJob, ParentMessage, RssSample } from '../protocol';
import { runBullmq } from './bullmq';
import { runFloor } from './floor';
import { runStreamfan } from './streamfan';
import { Tracker } from './tracker';

function send(m: ChildMessage): void {
  process.send?.(m);
}

interface Current { system: string; tracker: Tracker; stop: () => Promise<void>; timer: NodeJS.Timeout; rss: RssSample[]; cpuStart: NodeJS.CpuUsage; cpuAtDone?: NodeJS.CpuUsage }
let current: Current | undefined;

function rssSample(delivered: number): RssSample {
  const m = process.memoryUsage();
  return { delivered, rss: m.rss, heapUsed: m.heapUsed };
}

async function run(job: ConsumeJob): Promise<void> {
  let lastSent = -1;
  let doneSent = false;
  let nextRss = job.rssEvery;
  const rss: RssSample[] = [];
  const tracker = new Tracker(job.groups, (total) => {
    if (job.rssEvery > 0 && total >= nextRss) {
      nextRss += job.rssEvery;
      const s = rssSample(total);
      rss.push(s);
      send({ type: 'rss', sample: s });
    }
    if (!doneSent && job.expected > 0 && tracker.reached(job.expected)) {
      doneSent = true;
      if (current) current.cpuAtDone = process.cpuUsage(current.cpuStart);
      send({ type: 'progress', delivered: total });
      send({ type: 'done' });
    }
  });
  if (job.rssEvery > 0) rss.push(rssSample(0));
  const start = job.system === 'streamfan' ? runStreamfan : job.system === 'floor' ? runFloor : runBullmq;
  const stop = await start(job, tracker);
  const timer = setInterval(() => {
    if (tracker.total !== lastSent) {
      lastSent = tracker.total;
      send({ type: 'progress', delivered: tracker.total });
    }
  }, 200);
  current = { system: job.system, tracker, stop, timer, rss, cpuStart: process.cpuUsage() };
  send({ type: 'ready' });
}

async function stop(): Promise<void> {
  const c = current;
  current = undefined;
  if (!c) {
    send({ type: 'stopped', groups: [], rss: [], cpuMicros: 0 });
    return;
  }
  clearInterval(c.timer);
  const cpu = c.cpuAtDone ?? process.cpuUsage(c.cpuStart);
  await c.stop();
  c.tracker.writeDump(c.system);
  send({ type: 'stopped', groups: c.tracker.results(), rss: c.rss, cpuMicros: cpu.user + cpu.system });
}

process.on('message', (m: ParentMessage) => {
  const fail = (err: unknown) => send({ type: 'error', message: (err as Error)?.stack ?? String(err) });
  if (m.type === 'run') run(m.job).catch(fail);
  else if (m.type === 'stop') stop().catch(fail);
  else if (m.type === 'exit') {
    const c = current;
    void (c ? c.stop() : Promise.resolve()).finally(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'hello', pid: process.pid });
