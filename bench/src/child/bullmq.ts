import { Worker } from 'bullmq';
import type { ConsumeJob } from '../protocol';
import type { Tracker } from './tracker';

/** BullMQ's queue name for one service: fan-out with BullMQ is one queue per service. */
export function bullQueueName(topic: string, group: string): string {
  return `${topic}-${group}`;
}

/** One BullMQ Worker per service queue, as its users run it. */
export async function runBullmq(job: ConsumeJob, tracker: Tracker): Promise<() => Promise<void>> {
  const workers = job.groups.map((group) => {
    const w = new Worker(bullQueueName(job.topic, group), async (j) => {
      if (job.latency) tracker.handlerStarted(group, j.data);
    }, {
      connection: { host: job.host, port: job.port, maxRetriesPerRequest: null },
      prefix: job.prefix,
      concurrency: job.concurrency,
      removeOnComplete: { count: 0 },
    });
    w.on('completed', () => tracker.settled(group, 1));
    w.on('error', (err) => tracker.error(group, err.message));
    w.on('failed', (_j, err) => tracker.error(group, err.message));
    return w;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  return async () => {
    await Promise.allSettled(workers.map((w) => w.close()));
  };
}
