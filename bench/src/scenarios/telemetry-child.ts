/**
 * One run of the telemetry-cost scenario, in a process of its own (forked by telemetry.ts with
 * the tsx loader), so each variant starts with nothing registered and the same JIT state.
 *
 * argv: url prefix events groups concurrency payloadBytes variant workUs
 * variant: off (nothing registered) | tracing (an SDK tracer provider sampling everything, spans
 * batched to an exporter that drops them, the AsyncLocalStorage context manager) | metrics (an
 * SDK meter provider read every second by an exporter that drops the data) | both.
 *
 * It publishes `events` (publishMany, 1,000 a call, inside the variant: traced publishes), then
 * subscribes `groups` groups from the beginning and measures the drain: deliveries/s from the
 * first subscribe() to the last `processed`, and this process's CPU µs per delivery. The result
 * goes to the parent over IPC. With workUs > 0 each handler spins that long (a handler with work
 * of its own, against which the telemetry's cost is measured too).
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { Streamfan, defineTopic } from '../lib';

export type TelemetryVariant = 'off' | 'tracing' | 'metrics' | 'both';

export interface TelemetryChildResult {
  variant: TelemetryVariant;
  workUs: number;
  deliveries: number;
  seconds: number;
  perSec: number;
  /** CPU time of this (the consumer's) process per delivery, µs. */
  cpuPerDelivery: number;
  /** Spans the SDK ended (tracing variants). */
  spans: number;
}

const [url, prefix, eventsArg, groupsArg, concurrencyArg, payloadArg, variantArg, workArg] = process.argv.slice(2);
/** CPU each handler burns, µs (0: an empty handler, the worst case for relative overhead). */
const workUs = Number(workArg ?? 0);
const events = Number(eventsArg);
const groups = Number(groupsArg);
const variant = variantArg as TelemetryVariant;

let spans = 0;
const shutdowns: Array<() => Promise<void>> = [];
if (variant === 'tracing' || variant === 'both') {
  const drop: SpanExporter = {
    export: (batch, done) => { spans += batch.length; done({ code: 0 }); },
    shutdown: () => Promise.resolve(),
  };
  const provider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new BatchSpanProcessor(drop, { maxQueueSize: 65_536, maxExportBatchSize: 2048, scheduledDelayMillis: 200 })] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  shutdowns.push(() => provider.shutdown());
}
if (variant === 'metrics' || variant === 'both') {
  const drop: PushMetricExporter = {
    export: (_m, done) => done({ code: 0 }),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
    selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
  };
  const provider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: drop, exportIntervalMillis: 1000 })] });
  metrics.setGlobalMeterProvider(provider);
  shutdowns.push(() => provider.shutdown());
}

/** Spin the CPU for `us` µs (a handler's own work: parsing, computing, a client library's CPU). */
function burn(us: number): void {
  const until = performance.now() + us / 1000;
  while (performance.now() < until) { /* work */ }
}

async function run(): Promise<TelemetryChildResult> {
  const sf = new Streamfan({ connection: url!, prefix: prefix!, retention: false });
  const topic = defineTopic<{ n: number; pad: string }>('telemetry.cost');
  const pad = 'x'.repeat(Number(payloadArg));
  for (let i = 0; i < events; i += 1000) {
    await sf.publishMany(topic, Array.from({ length: Math.min(1000, events - i) }, (_, j) => ({ n: i + j, pad })));
  }
  const total = events * groups;
  let processed = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => { finish = r; });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let g = 0; g < groups; g++) {
    const sub = sf.subscribe(topic, `g${g}`, () => { if (workUs > 0) burn(workUs); }, { startFrom: 'beginning', concurrency: Number(concurrencyArg), blockMs: 1000 });
    sub.on('processed', () => { if (++processed === total) finish(); });
  }
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await sf.close();
  for (const s of shutdowns) await s();
  return { variant, workUs, deliveries: total, seconds, perSec: total / seconds, cpuPerDelivery: (cpu.user + cpu.system) / total, spans };
}

run().then((r) => {
  process.send!({ type: 'telemetry-result', result: r }, () => process.exit(0));
}, (err: unknown) => {
  process.stderr.write(`telemetry bench child failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
