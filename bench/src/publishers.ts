import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { bullQueueName } from './child/bullmq';
import { floorKeys } from './child/floor';
import type { BenchContext } from './context';
import { Streamfan } from './lib';
import type { BenchPayload } from './payload';
import type { System } from './protocol';

/** Publishes bench events the way users of each system would. */
export interface Publisher {
  /** One batch in one round trip: publishMany, a pipeline of XADD, or addBulk per queue. */
  batch(payloads: BenchPayload[]): Promise<void>;
  /** One event: publish, XADD, or add to every service's queue. */
  one(payload: BenchPayload): Promise<void>;
  close(): Promise<void>;
}

/** A connected publisher (connections and BullMQ queues ready, so the first event pays no set-up). */
export async function createPublisher(ctx: BenchContext, system: System, prefix: string, topic: string, groups: string[]): Promise<Publisher> {
  const connection = { host: ctx.server.host, port: ctx.server.port };
  if (system === 'streamfan') {
    const sf = new Streamfan({ connection, prefix, retention: false });
    await sf.redis.ping();
    return {
      batch: async (p) => { await sf.publishMany(topic, p); },
      one: async (p) => { await sf.publish(topic, p); },
      close: () => sf.close(),
    };
  }
  if (system === 'floor') {
    const r = new Redis(connection);
    await r.ping();
    const { stream } = floorKeys(prefix, topic);
    return {
      batch: async (payloads) => {
        const p = r.pipeline();
        for (const x of payloads) p.xadd(stream, '*', 'payload', JSON.stringify(x));
        await p.exec();
      },
      one: async (x) => { await r.xadd(stream, '*', 'payload', JSON.stringify(x)); },
      close: async () => { r.disconnect(); },
    };
  }
  const queues = groups.map((g) => new Queue(bullQueueName(topic, g), { connection, prefix }));
  await Promise.all(queues.map((q) => q.waitUntilReady()));
  return {
    batch: async (payloads) => {
      await Promise.all(queues.map((q) => q.addBulk(payloads.map((data) => ({ name: 'event', data, opts: { removeOnComplete: true } })))));
    },
    one: async (data) => {
      await Promise.all(queues.map((q) => q.add('event', data, { removeOnComplete: true })));
    },
    close: async () => { await Promise.all(queues.map((q) => q.close())); },
  };
}
