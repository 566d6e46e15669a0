import { now } from '../clock';
import { flush, type BenchContext } from '../context';
import { makePayloads, type BenchPayload } from '../payload';
import { fraction } from '../progress';
import { createPublisher, type Publisher } from '../publishers';
import type { PublishResult } from '../results';
import { median } from '../stats';
import { groupNames } from './fanout';

interface Method { name: string; system: 'streamfan' | 'floor' | 'bullmq'; run: (p: Publisher, batch: BenchPayload[]) => Promise<void> }

/**
 * Publish rate with nobody consuming: streamfan publishMany against the floor's pipelined
 * XADD (batches of 1000), plus single publish calls 1000 at a time and BullMQ addBulk to one
 * queue for reference. Rounds alternate the methods; the median is reported.
 */
export async function publishScenario(ctx: BenchContext): Promise<PublishResult[]> {
  const c = ctx.config;
  const methods: Method[] = [
    { name: 'floor: pipelined XADD (1000 per pipeline)', system: 'floor', run: (p, b) => p.batch(b) },
    { name: 'streamfan publishMany (1000 per call)', system: 'streamfan', run: (p, b) => p.batch(b) },
    { name: 'streamfan publish (1000 calls in flight)', system: 'streamfan', run: async (p, b) => { await Promise.all(b.map((x) => p.one(x))); } },
    { name: 'BullMQ addBulk (1000 per call, 1 queue)', system: 'bullmq', run: (p, b) => p.batch(b) },
  ];
  const rounds = 3;
  const rates = new Map<string, number[]>();
  const batches: BenchPayload[][] = [];
  for (let i = 0; i < c.publishEvents; i += 1000) batches.push(makePayloads(i, Math.min(1000, c.publishEvents - i), c.payloadBytes));
  ctx.progress.begin(`publish rate (${c.publishEvents.toLocaleString('en-US')} events, ${rounds} rounds, nobody consuming)`);
  for (let round = 1; round <= rounds; round++) {
    for (const m of methods) {
      await flush(ctx);
      const pub = await createPublisher(ctx, m.system, `bench-${m.system}`, 'publish', groupNames(1));
      let done = 0;
      const t0 = now();
      for (const b of batches) {
        await m.run(pub, b);
        done += b.length;
        ctx.progress.update(`round ${round}/${rounds} ${m.name}: ${fraction(done, c.publishEvents)}`);
      }
      const perSec = c.publishEvents / ((now() - t0) / 1000);
      await pub.close();
      rates.set(m.name, [...(rates.get(m.name) ?? []), perSec]);
    }
  }
  return methods.map((m) => {
    const list = rates.get(m.name) ?? [];
    return { method: m.name, events: c.publishEvents, perSec: median(list), rounds: list };
  });
}
