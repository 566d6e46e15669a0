import { context, trace, type Link, type SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** A span as the tests compare it (also what the child process sends back, as JSON). */
export interface SpanSummary {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  links: Array<{ traceId: string; spanId: string }>;
  attributes: Record<string, unknown>;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  status: { code: number; message?: string };
}

export function summarize(s: ReadableSpan): SpanSummary {
  return {
    name: s.name,
    kind: s.kind,
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext?.spanId,
    links: s.links.map((l: Link) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
    attributes: { ...s.attributes },
    events: s.events.map((e) => ({ name: e.name, attributes: { ...(e.attributes ?? {}) } })),
    status: { code: s.status.code, ...(s.status.message !== undefined ? { message: s.status.message } : {}) },
  };
}

/**
 * Register the real OpenTelemetry SDK globally in this process: a tracer provider sampling
 * everything into an in-memory exporter, and the AsyncLocalStorage context manager (so a
 * handler's own spans nest under the delivery span).
 */
export function registerTracing(): { exporter: InMemorySpanExporter; provider: BasicTracerProvider; spans: () => SpanSummary[]; unregister: () => void } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  return {
    exporter,
    provider,
    spans: () => exporter.getFinishedSpans().map(summarize),
    unregister: () => { trace.disable(); context.disable(); },
  };
}
