/**
 * The consumer-side tracing code alone, without Redis: what one delivery's span costs in CPU
 * (streamfan's wrapper and listeners plus the OpenTelemetry SDK's span handling), where the
 * end-to-end telemetry scenario cannot resolve a microsecond on a loaded machine.
 *
 *   pnpm --filter @streamfan/bench exec tsx src/scenarios/telemetry-micro.ts [all|ratio|off] [deliveries]
 *
 * An SDK tracer provider (AlwaysOnSampler: `all`; ParentBased over TraceIdRatioBased 1/100:
 * `ratio`; AlwaysOffSampler: `off`), a batch processor whose exporter drops the spans, the
 * AsyncLocalStorage context manager. Each delivery runs the wrapped handler (one await) with a
 * W3C traceparent in its headers and then ends its span through the `processed` listener, 200
 * at a time. Prints the process's CPU µs per delivery after a warm-up. Run it several times and
 * read the minimum.
 */
import { EventEmitter } from 'node:events';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { HandlerContext } from '../../../packages/core/src/consumer/options';
import { ConsumerTelemetry, type SubscriptionEmitter } from '../../../packages/core/src/telemetry/consumer';
import { Telemetry } from '../../../packages/core/src/telemetry/telemetry';

const variant = process.argv[2] ?? 'all';
const deliveries = Number(process.argv[3] ?? 200_000);
const drop: SpanExporter = { export: (_b, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };
const sampler = variant === 'ratio' ? new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.01) }) : variant === 'off' ? new AlwaysOffSampler() : new AlwaysOnSampler();
const provider = new BasicTracerProvider({ sampler, spanProcessors: [new BatchSpanProcessor(drop, { maxQueueSize: 65_536, maxExportBatchSize: 2048, scheduledDelayMillis: 200 })] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);

const tel = new ConsumerTelemetry(new Telemetry({}), 'telemetry.cost', 'g0');
const events = new EventEmitter();
tel.attach(events as unknown as SubscriptionEmitter);
const handler = tel.wrap<unknown, number>(async () => { await Promise.resolve(); return 1; });
const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

async function run(n: number, base: number): Promise<void> {
  const batch: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) {
    const id = `${1_700_000_000_000 + base + i}-0`;
    const ctx = { id, attempt: 1, maxAttempts: 5, consumer: 'c1', headers: { traceparent } } as unknown as HandlerContext;
    batch.push(Promise.resolve(handler.call(undefined, undefined, ctx)).then(() => events.emit('processed', { id, attempt: 1, durationMs: 0, result: 1 })));
    if (batch.length === 200) { await Promise.all(batch); batch.length = 0; }
  }
  await Promise.all(batch);
}

void (async () => {
  await run(50_000, 0);
  const cpu0 = process.cpuUsage();
  await run(deliveries, 1_000_000);
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${variant}: ${((cpu.user + cpu.system) / deliveries).toFixed(2)} µs CPU per delivery\n`);
  await provider.shutdown();
})();
