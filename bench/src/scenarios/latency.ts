import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { now, sleep } from '../clock';
import { flush, redisCpuMicros, type BenchContext } from '../context';
import { makePayload } from '../payload';
import { fraction } from '../progress';
import type { System } from '../protocol';
import { createPublisher, type Publisher } from '../publishers';
import type { LatencyResult } from '../results';
import { median, summarize, type LatencySummary } from '../stats';
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
    await sleep(1);
    // After the sleep, not before: a publish that defers its write to a microtask (streamfan's
    // coalescing queue) would otherwise wait for the progress line's formatting (number
    // formatting, several µs) between its payload's time and its write, and the floor's
    // XADD, written inside the call, would not.
    onSent(sent);
  }
  await Promise.all(inFlight);
}

/**
 * `BENCH_MONITOR=<dir>`: the Redis commands of the measured part of each latency run, as MONITOR
 * sees them (server time in µs, client address, command), in `<dir>/<system>-<rate>-<ms>.log`: the
 * timeline of every event (publish, the read that delivered it, the ack) on the server's clock.
 * MONITOR costs Redis time per command: for finding where latency goes, not for the figures.
 */
async function startMonitor(ctx: BenchContext, name: string): Promise<(() => Promise<void>) | undefined> {
  const dir = process.env.BENCH_MONITOR;
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  const out = createWriteStream(join(dir, `${name}.log`));
  const conn = ctx.redis.duplicate();
  const mon = await conn.monitor();
  let open = true;
  mon.on('monitor', (time: string, args: string[], source: string) => {
    if (open) out.write(`${time} ${source} ${args.map((a) => (a.length > 40 ? `${a.slice(0, 40)}…` : a)).join(' ')}\n`);
  });
  return async () => {
    open = false;
    mon.disconnect();
    conn.disconnect();
    await new Promise((r) => out.end(r));
  };
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
  const redisCpu0 = await redisCpuMicros(ctx.redis);
  await paced(pub, 0, warm, rate, c.payloadBytes, true, (n) => ctx.progress.update(`warm-up ${fraction(n, warm)}`));
  await sleep(200);
  const monitor = await startMonitor(ctx, `${system}-${rate}-${Date.now()}`);
  await paced(pub, warm, measured, rate, c.payloadBytes, false, (n) =>
    ctx.progress.update(`published ${fraction(n, measured)}, delivered ${fraction(run.delivered(), (warm + measured) * groups.length)}`));
  await monitor?.();
  // A system that cannot keep up (BullMQ at 5,000/s here) drains its backlog after the last publish.
  const res = await run.finish(120_000 + c.latencySeconds * 10_000);
  const redisCpu = (await redisCpuMicros(ctx.redis)) - redisCpu0;
  await pub.close();
  const all: number[] = [];
  for (const g of res.groups) for (const v of g.latencies) all.push(v);
  const deliveries = (warm + measured) * groups.length;
  return { system, rate, seconds: c.latencySeconds, groups: groups.length, summary: summarize(all), complete: res.complete, consumerCpuPerDelivery: res.cpuMicros / deliveries, redisCpuPerDelivery: redisCpu / deliveries };
}

/** The medians of several rounds' percentiles (count: the rounds' total). */
function medianSummary(rounds: readonly LatencySummary[]): LatencySummary {
  const m = (k: keyof LatencySummary) => median(rounds.map((r) => r[k]));
  return { count: rounds.reduce((n, r) => n + r.count, 0), p50: m('p50'), p99: m('p99'), p999: m('p999'), max: m('max'), mean: m('mean') };
}

/**
 * Latency at fixed rates for streamfan, the floor and BullMQ. With `latencyRounds` > 1 every
 * round runs each system once, in turn (the systems alternate, so a burst of load on the shared
 * machine hits both), and the percentiles reported are the medians of the rounds'.
 */
export async function latencyScenario(ctx: BenchContext): Promise<LatencyResult[]> {
  const out: LatencyResult[] = [];
  const rounds = Math.max(1, ctx.config.latencyRounds ?? 1);
  for (const rate of ctx.config.latencyRates) {
    const runs = new Map<System, LatencyResult[]>();
    for (let round = 0; round < rounds; round++) {
      for (const system of ctx.config.systems) {
        if (system === 'bullmq' && round > 0) continue;
        ctx.progress.begin(`latency ${system} at ${rate.toLocaleString('en-US')} events/s × ${ctx.config.groups} groups for ${ctx.config.latencySeconds} s${rounds > 1 ? `, round ${round + 1} of ${rounds}` : ''}`);
        const r = await latencyRun(ctx, system, rate);
        runs.set(system, [...(runs.get(system) ?? []), r]);
      }
    }
    for (const [system, list] of runs) {
      const first = list[0]!;
      out.push({ ...first, system, summary: medianSummary(list.map((l) => l.summary)), rounds: list.map((l) => l.summary), complete: list.every((l) => l.complete),
        consumerCpuPerDelivery: median(list.map((l) => l.consumerCpuPerDelivery ?? Number.NaN)),
        redisCpuPerDelivery: median(list.map((l) => l.redisCpuPerDelivery ?? Number.NaN)) });
    }
  }
  return out;
}
