/**
 * The telemetry variants of the bench's consumer processes (telemetry-child.ts, consumer-cpu.ts):
 * off (nothing registered) | tracing (an SDK tracer provider sampling everything, spans batched to
 * an exporter that drops them, the AsyncLocalStorage context manager) | sampled (as tracing,
 * sampling 1 trace in 100) | metrics (an SDK meter provider read every second by an exporter
 * that drops the data) | both (tracing and metrics).
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';

export type TelemetryVariant = 'off' | 'tracing' | 'sampled' | 'metrics' | 'both';

/** What {@link setupTelemetry} registered: the spans exported so far, and how to shut it down. */
export interface TelemetrySetup {
  spans(): number;
  shutdown(): Promise<void>;
}

export function setupTelemetry(variant: string): TelemetrySetup {
  let spans = 0;
  const shutdowns: Array<() => Promise<void>> = [];
  if (variant === 'tracing' || variant === 'sampled' || variant === 'both') {
    const drop: SpanExporter = {
      export: (batch, done) => { spans += batch.length; done({ code: 0 }); },
      shutdown: () => Promise.resolve(),
    };
    // sampled: 1 trace in 100 (by trace id; a delivery's span is the root of its own trace, linked to the publish).
    const sampler = variant === 'sampled' ? new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.01) }) : new AlwaysOnSampler();
    const provider = new BasicTracerProvider({ sampler, spanProcessors: [new BatchSpanProcessor(drop, { maxQueueSize: 65_536, maxExportBatchSize: 2048, scheduledDelayMillis: 200 })] });
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
  return {
    spans: () => spans,
    shutdown: async () => { for (const s of shutdowns) await s(); },
  };
}
