import { Streamfan } from '../lib';
import type { ConsumeJob } from '../protocol';
import type { Tracker } from './tracker';

/** One streamfan subscription per group, each with its own worker pool. */
export async function runStreamfan(job: ConsumeJob, tracker: Tracker): Promise<() => Promise<void>> {
  const sf = new Streamfan({
    connection: { host: job.host, port: job.port },
    prefix: job.prefix,
    statusTtlSeconds: job.statusTtlSeconds,
    retention: job.retention ?? false,
  });
  sf.on('error', (err) => tracker.error(job.groups[0]!, err.message));
  const subs = job.groups.map((group) => {
    const sub = sf.subscribe(job.topic, group, (payload, ctx) => {
      if (job.latency) tracker.handlerStarted(group, payload, ctx.id);
    }, {
      concurrency: job.concurrency,
      blockMs: job.blockMs,
      trackStatus: job.trackStatus,
      startFrom: job.reclaim ? 'beginning' : 'latest',
      ...(job.reclaim ?? {}),
    });
    // An ack batch emits 'processed' for each entry in one synchronous burst: count them and
    // settle once per burst, so the bench's own clock reads do not cost streamfan per entry.
    let burst = 0;
    sub.on('processed', () => {
      if (burst++ === 0) queueMicrotask(() => { const n = burst; burst = 0; tracker.settled(group, n); });
    });
    sub.on('error', (err) => tracker.error(group, err.message));
    return sub;
  });
  await Promise.all(subs.map((s) => s.ready()));
  return () => sf.close();
}
