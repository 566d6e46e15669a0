/**
 * What each part of one delivery span costs in the OpenTelemetry SDK (issue 13), without Redis:
 * the span as streamfan makes it, then the same span with one part taken away at a time, so the
 * differences say which of the SDK's work comes from how the span is used.
 *
 *   pnpm --filter @streamfan/bench exec tsx src/scenarios/telemetry-parts.ts [deliveries] [processor]
 *
 * processor: `batch` (BatchSpanProcessor, exporter dropping the spans: a production setup's
 * processor) or `simple` (SimpleSpanProcessor: exports every span as it ends, what an in-memory
 * test setup uses). Each variant runs in turn, three times, alternating; the minimum of its
 * CPU µs per delivery is printed (the machine is shared: minima are the stable figure).
 */
import { context, trace, type Span, type Link } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';

const deliveries = Number(process.argv[2] ?? 100_000);
const processorKind = process.argv[3] ?? 'batch';
const ROUNDS = Number(process.env.PARTS_ROUNDS ?? 3);
const drop: SpanExporter = { export: (_b, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };
const processor = processorKind === 'simple' ? new SimpleSpanProcessor(drop) : new BatchSpanProcessor(drop, { maxQueueSize: 65_536, maxExportBatchSize: 2048, scheduledDelayMillis: 200 });
const provider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [processor] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
const tracer = trace.getTracer('parts');

const spanAttrs = Object.freeze({ 'messaging.system': 'redis', 'messaging.operation.type': 'process', 'messaging.operation.name': 'process', 'messaging.destination.name': 'telemetry.cost', 'messaging.consumer.group.name': 'g0' });
const links: Link[] = [{ context: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true } }];
const bare = async (): Promise<number> => { await Promise.resolve(); return 1; };

interface Parts { span: boolean; attrs: 'none' | 'start' | 'set' | 'all-at-start'; link: boolean; ctx: boolean; event: boolean; keepOpen: boolean }
const full: Parts = { span: true, attrs: 'set', link: true, ctx: true, event: false, keepOpen: true };
const VARIANTS: Record<string, Parts> = {
  'no span (handler alone)': { ...full, span: false },
  'as streamfan: 5 attributes at start + 4 set, link, context.with, ended at the ack': full,
  'all 9 attributes at start': { ...full, attrs: 'all-at-start' },
  'only the 5 shared attributes': { ...full, attrs: 'start' },
  'no attributes': { ...full, attrs: 'none' },
  'no link': { ...full, link: false },
  'no context.with (handler outside the span)': { ...full, ctx: false },
  'ended when the handler returns': { ...full, keepOpen: false },
  'plus one span event': { ...full, event: true },
};

async function run(p: Parts, n: number, base: number): Promise<void> {
  const open = new Map<string, Span>();
  const batch: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) {
    const id = `${1_700_000_000_000 + base + i}-0`;
    if (!p.span) { batch.push(bare()); continue; }
    const attributes = p.attrs === 'none' ? undefined : p.attrs === 'all-at-start'
      ? { ...spanAttrs, 'messaging.message.id': id, 'messaging.client.id': 'c1', 'streamfan.attempt': 1, 'streamfan.max_attempts': 5 } : spanAttrs;
    const span = tracer.startSpan('process telemetry.cost', { kind: 4, attributes, links: p.link ? links : undefined });
    if (p.attrs === 'set') {
      span.setAttribute('messaging.message.id', id);
      span.setAttribute('messaging.client.id', 'c1');
      span.setAttribute('streamfan.attempt', 1);
      span.setAttribute('streamfan.max_attempts', 5);
    }
    if (p.event) span.addEvent('streamfan.reclaimed');
    const r = p.ctx ? context.with(trace.setSpan(context.active(), span), bare) : bare();
    if (p.keepOpen) {
      open.set(id, span);
      batch.push(r.then(() => { open.get(id)?.end(); open.delete(id); }));
    } else batch.push(r.then(() => span.end()));
    if (batch.length === 200) { await Promise.all(batch); batch.length = 0; }
  }
  await Promise.all(batch);
}

void (async () => {
  const best = new Map<string, number>();
  let base = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, p] of Object.entries(VARIANTS)) {
      await run(p, 20_000, (base += 1_000_000));
      const cpu0 = process.cpuUsage();
      await run(p, deliveries, (base += 1_000_000));
      const cpu = process.cpuUsage(cpu0);
      const us = (cpu.user + cpu.system) / deliveries;
      best.set(name, Math.min(best.get(name) ?? Infinity, us));
    }
  }
  const ref = best.get('as streamfan: 5 attributes at start + 4 set, link, context.with, ended at the ack')!;
  process.stdout.write(`processor: ${processorKind}; CPU µs per delivery (minimum of ${ROUNDS} rounds), and the difference from streamfan's span\n`);
  for (const [name, us] of best) process.stdout.write(`${us.toFixed(2).padStart(7)}  ${(us - ref >= 0 ? '+' : '') + (us - ref).toFixed(2)}  ${name}\n`);
  await provider.shutdown();
})();
