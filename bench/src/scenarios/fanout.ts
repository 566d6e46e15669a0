import { now, sleep } from '../clock';
import { commandDelta, commandStats, flush, redisCpuMicros, type BenchContext, type CommandStat } from '../context';
import { makePayloads } from '../payload';
import { fraction } from '../progress';
import type { System } from '../protocol';
import { createPublisher } from '../publishers';
import type { FanoutResult, FanoutSummary } from '../results';
import { median } from '../stats';

export interface FanoutOptions {
  events: number;
  groups: number;
  concurrency: number;
  payloadBytes: number;
  /** Label in the progress line. */
  label: string;
}

export function groupNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `svc${i}`);
}

/** The tuned consumer setting of each system (streamfan concurrency, floor COUNT, BullMQ concurrency). */
export function defaultConcurrency(ctx: BenchContext, system: System): number {
  const c = ctx.config;
  return system === 'streamfan' ? c.streamfanConcurrency : system === 'floor' ? c.floorCount : c.bullmqConcurrency;
}

/**
 * One fan-out run: consumers (one process per group) are ready, then N events are published
 * in batches of 1000 while they consume. Deliveries/s = N × groups / (last ack − first publish).
 */
export async function fanoutRun(ctx: BenchContext, system: System, o: FanoutOptions): Promise<FanoutResult> {
  await flush(ctx);
  const prefix = `bench-${system}`;
  const topic = 'fanout';
  const groups = groupNames(o.groups);
  const total = o.events * o.groups;
  ctx.progress.update(`${o.label}: starting ${ctx.pool.processesFor(o.groups)} consumer process(es)`, true);
  const run = await ctx.pool.start({
    system, host: ctx.server.host, port: ctx.server.port, prefix, topic, expected: o.events,
    concurrency: o.concurrency, blockMs: ctx.config.blockMs, latency: false, trackStatus: true,
    statusTtlSeconds: 86_400, rssEvery: 0,
  }, groups);
  const pub = await createPublisher(ctx, system, prefix, topic, groups);
  const batches: ReturnType<typeof makePayloads>[] = [];
  for (let i = 0; i < o.events; i += 1000) batches.push(makePayloads(i, Math.min(1000, o.events - i), o.payloadBytes));
  await sleep(100);
  const show = (published: number): void =>
    ctx.progress.update(`${o.label}: published ${fraction(published, o.events)}, delivered ${fraction(run.delivered(), total)}`);
  const stats0 = await commandStats(ctx.redis);
  const cpu0 = await redisCpuMicros(ctx.redis);
  const t0 = now();
  let published = 0;
  for (const b of batches) {
    await pub.batch(b);
    published += b.length;
    show(published);
  }
  const publishedAt = now();
  const ticker = setInterval(() => show(published), 200);
  let cpu1 = Number.NaN;
  let stats1 = new Map<string, CommandStat>();
  const res = await run.finish(Math.max(120_000, (total / 300) * 1000), async () => {
    cpu1 = await redisCpuMicros(ctx.redis);
    stats1 = await commandStats(ctx.redis);
  });
  clearInterval(ticker);
  await pub.close();
  const lastAt = Math.max(...res.groups.map((g) => g.lastAt));
  const delivered = res.groups.reduce((a, g) => a + g.delivered, 0);
  const seconds = (lastAt - t0) / 1000;
  return {
    system, events: o.events, groups: o.groups, processes: ctx.pool.processesFor(o.groups), concurrency: o.concurrency,
    payloadBytes: o.payloadBytes,
    publishPerSec: o.events / ((publishedAt - t0) / 1000),
    deliveriesPerSec: delivered / seconds,
    seconds, delivered, complete: res.complete,
    redisCpuPerDelivery: (cpu1 - cpu0) / delivered,
    consumerCpuPerDelivery: res.cpuMicros / delivered,
    errors: res.groups.flatMap((g) => g.errors),
    commands: commandDelta(stats0, stats1, delivered),
  };
}

/** Fan-out throughput of streamfan, the floor and BullMQ: rounds alternate, the median is kept. */
export async function fanoutScenario(ctx: BenchContext): Promise<FanoutSummary[]> {
  const c = ctx.config;
  const runs = new Map<System, FanoutResult[]>();
  const systems: System[] = c.systems;
  for (let round = 1; round <= c.rounds; round++) {
    for (const system of systems) {
      if (system === 'bullmq' && round > 1) continue;
      ctx.progress.begin(`fan-out ${system} (${c.events.toLocaleString('en-US')} events × ${c.groups} groups, round ${round}/${system === 'bullmq' ? 1 : c.rounds})`);
      const r = await fanoutRun(ctx, system, {
        events: c.events, groups: c.groups, concurrency: defaultConcurrency(ctx, system), payloadBytes: c.payloadBytes, label: system,
      });
      runs.set(system, [...(runs.get(system) ?? []), r]);
    }
  }
  return systems.map((system) => {
    const list = runs.get(system) ?? [];
    const m = median(list.map((r) => r.deliveriesPerSec));
    const closest = list.reduce((a, b) => (Math.abs(b.deliveriesPerSec - m) < Math.abs(a.deliveriesPerSec - m) ? b : a));
    return {
      ...closest,
      deliveriesPerSec: m,
      publishPerSec: median(list.map((r) => r.publishPerSec)),
      redisCpuPerDelivery: median(list.map((r) => r.redisCpuPerDelivery)),
      consumerCpuPerDelivery: median(list.map((r) => r.consumerCpuPerDelivery)),
      complete: list.every((r) => r.complete),
      rounds: list.map((r) => r.deliveriesPerSec),
    };
  });
}
