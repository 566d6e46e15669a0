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
 * read the minimum. `bare` (no span: the loop's own cost) and `sdk` (the same span made directly
 * through the API, no streamfan code) split the cost into the SDK's and streamfan's.
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
const bare = async (): Promise<number> => { await Promise.resolve(); return 1; };
// `bare`: the handler alone, no wrapper (the floor of this loop); `sdk`: what the SDK needs for
// the same span (start with the same 9 attributes and link, the handler inside its context, end),
// written directly against the API with no streamfan code: `all` − `sdk` is streamfan's share.
const tracer = trace.getTracer('micro');
const spanAttrs = Object.freeze({ 'messaging.system': 'redis', 'messaging.operation.type': 'process', 'messaging.operation.name': 'process', 'messaging.destination.name': 'telemetry.cost', 'messaging.consumer.group.name': 'g0' });
const open = new Map<string, import('@opentelemetry/api').Span>();
const link = [{ context: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true } }];
const sdkOnly = (_p: unknown, ctx: HandlerContext): Promise<number> => {
  const span = tracer.startSpan('process telemetry.cost', { kind: 4, attributes: spanAttrs, links: link });
  span.setAttribute('messaging.message.id', ctx.id);
  span.setAttribute('messaging.client.id', ctx.consumer);
  span.setAttribute('streamfan.attempt', ctx.attempt);
  span.setAttribute('streamfan.max_attempts', ctx.maxAttempts);
  open.set(ctx.id, span);
  return context.with(trace.setSpan(context.active(), span), bare);
};
if (variant === 'sdk') events.on('processed', (e: { id: string }) => { const s = open.get(e.id); open.delete(e.id); s?.end(); });
const handler = variant === 'bare' ? bare : variant === 'sdk' ? sdkOnly : tel.wrap<unknown, number>(bare);
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
