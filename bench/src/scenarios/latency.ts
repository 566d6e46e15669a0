import { now, sleep } from '../clock';
import { flush, type BenchContext } from '../context';
import { makePayload } from '../payload';
import { fraction } from '../progress';
import type { System } from '../protocol';
import { createPublisher, type Publisher } from '../publishers';
import type { LatencyResult } from '../results';
import { summarize } from '../stats';
import { defaultConcurrency, groupNames } from './fanout';

/**
 * Send `count` events at `rate` per second, each as its own publish call, without waiting
 * for one to finish before the next is due (a steady producer, not a closed loop).
 */
async function paced(pub: Publisher, from: number, count: number, rate: number, bytes: number, warm: boolean, onSent: (n: number) => void): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  const start = now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((now() - start) / 1000) * rate) + 1);
    while (sent < due) {
      const p = pub.one(makePayload(from + sent, bytes, warm)).catch((err: Error) => {
        process.stderr.write(`\n[bench] publish failed: ${err.message}\n`);
      });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      sent++;
    }
    onSent(sent);
    await sleep(1);
  }
  await Promise.all(inFlight);
}

/** One latency run: 3 groups, events at a fixed rate; publish → handler start per delivery. */
async function latencyRun(ctx: BenchContext, system: System, rate: number): Promise<LatencyResult> {
  const c = ctx.config;
  await flush(ctx);
  const prefix = `bench-${system}`;
  const topic = 'latency';
  const groups = groupNames(c.groups);
  const measured = Math.round(rate * c.latencySeconds);
  const warm = Math.max(10, Math.round(rate * c.latencyWarmupSeconds));
  const run = await ctx.pool.start({
    system, host: ctx.server.host, port: ctx.server.port, prefix, topic, expected: warm + measured,
    concurrency: defaultConcurrency(ctx, system), blockMs: c.blockMs, latency: true, trackStatus: true,
    statusTtlSeconds: 86_400, rssEvery: 0,
  }, groups);
  const pub = await createPublisher(ctx, system, prefix, topic, groups);
  await paced(pub, 0, warm, rate, c.payloadBytes, true, (n) => ctx.progress.update(`warm-up ${fraction(n, warm)}`));
  await sleep(200);
  await paced(pub, warm, measured, rate, c.payloadBytes, false, (n) =>
    ctx.progress.update(`published ${fraction(n, measured)}, delivered ${fraction(run.delivered(), (warm + measured) * groups.length)}`));
  // A system that cannot keep up (BullMQ at 5,000/s here) drains its backlog after the last publish.
  const res = await run.finish(120_000 + c.latencySeconds * 10_000);
  await pub.close();
  const all: number[] = [];
  for (const g of res.groups) for (const v of g.latencies) all.push(v);
  return { system, rate, seconds: c.latencySeconds, groups: groups.length, summary: summarize(all), complete: res.complete };
}

/** Latency at fixed rates for streamfan, the floor and BullMQ. */
export async function latencyScenario(ctx: BenchContext): Promise<LatencyResult[]> {
  const out: LatencyResult[] = [];
  for (const rate of ctx.config.latencyRates) {
    for (const system of ctx.config.systems) {
      ctx.progress.begin(`latency ${system} at ${rate.toLocaleString('en-US')} events/s × ${ctx.config.groups} groups for ${ctx.config.latencySeconds} s`);
      out.push(await latencyRun(ctx, system, rate));
    }
  }
  return out;
}
