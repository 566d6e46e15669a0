/**
 * Where a client's traces and metrics go: the OpenTelemetry API only. The library ships no SDK;
 * the application registers one (or passes providers in {@link TelemetryOptions}). With nothing
 * registered the API hands out no-op tracers and meters, and the client notices that with one
 * identity check per operation, so it allocates no span, attribute object or closure at all.
 */
import { ProxyTracerProvider, createNoopMeter, metrics, trace, type Meter, type MeterProvider, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { InvalidOptionError } from '../errors';
import { MetricCounts, createInstruments, type Instruments } from './metrics';

/** Options of a client's OpenTelemetry instrumentation (`new Streamfan({ telemetry })`). */
export interface TelemetryOptions {
  /**
   * Where spans go. @defaultValue the global tracer provider (`trace.setGlobalTracerProvider`,
   * or an SDK's `register()`); none registered: no spans, at no cost
   */
  tracerProvider?: TracerProvider;
  /**
   * Where metrics go. @defaultValue the global meter provider (`metrics.setGlobalMeterProvider`);
   * none registered: no metrics, at no cost
   */
  meterProvider?: MeterProvider;
  /**
   * Make each `process <topic>` span a child of the publish span (one trace from the publish to
   * every group's handling), besides linking it. Off, each delivery starts a trace of its own
   * linked to the publish, as OpenTelemetry's messaging conventions recommend for consumers
   * that may see many messages of many publishers. @defaultValue false
   */
  parentConsumerSpans?: boolean;
  /**
   * Run the handler inside its delivery span's context even when the sampler dropped that span,
   * so the handler's own spans see a dropped parent (a parent-based sampler then drops them too)
   * instead of starting traces of their own. Off, an unsampled delivery skips entering the
   * context (the AsyncLocalStorage context manager's cost), except with `parentConsumerSpans`
   * and a publish context, where the handler's spans follow the publisher's decision. A sampled
   * delivery always runs inside its span. @defaultValue false
   */
  unsampledContext?: boolean;
}

/** Instrumentation scope name of every tracer and meter the library asks for. */
export const INSTRUMENTATION_NAME = '@streamfan/core';

const OPTION_KEYS: ReadonlySet<string> = new Set(['tracerProvider', 'meterProvider', 'parentConsumerSpans', 'unsampledContext']);

/** Refuse telemetry options that would do nothing or fail later. */
export function checkTelemetryOptions(o: unknown): void {
  if (o === undefined) return;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new InvalidOptionError('telemetry must be an object: { tracerProvider?, meterProvider?, parentConsumerSpans?, unsampledContext? }');
  }
  const unknown = Object.keys(o).filter((k) => !OPTION_KEYS.has(k));
  if (unknown.length > 0) throw new InvalidOptionError(`unknown telemetry option ${unknown.map((k) => JSON.stringify(k)).join(', ')}: known options are ${[...OPTION_KEYS].join(', ')}`);
  const t = o as TelemetryOptions;
  if (t.tracerProvider !== undefined && typeof (t.tracerProvider as { getTracer?: unknown } | null)?.getTracer !== 'function') {
    throw new InvalidOptionError('telemetry.tracerProvider must be an OpenTelemetry TracerProvider (an object with getTracer), e.g. an SDK BasicTracerProvider');
  }
  if (t.meterProvider !== undefined && typeof (t.meterProvider as { getMeter?: unknown } | null)?.getMeter !== 'function') {
    throw new InvalidOptionError('telemetry.meterProvider must be an OpenTelemetry MeterProvider (an object with getMeter), e.g. an SDK MeterProvider');
  }
  if (t.parentConsumerSpans !== undefined && typeof t.parentConsumerSpans !== 'boolean') {
    throw new InvalidOptionError(`telemetry.parentConsumerSpans must be true or false, got ${JSON.stringify(t.parentConsumerSpans)}`);
  }
  if (t.unsampledContext !== undefined && typeof t.unsampledContext !== 'boolean') {
    throw new InvalidOptionError(`telemetry.unsampledContext must be true or false, got ${JSON.stringify(t.unsampledContext)}`);
  }
}

/** What the API hands out when no tracer provider is registered (a module-level singleton). */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();
const NoopTracer = NOOP_TRACER_PROVIDER.getTracer('noop').constructor;
const NoopMeter = createNoopMeter().constructor;

/** One client's view of the OpenTelemetry providers, looked up per operation (cheaply). */
export class Telemetry {
  readonly parentConsumerSpans: boolean;
  readonly unsampledContext: boolean;
  /** The counters' counts, per topic and group (read by the SDK when it collects). */
  readonly counts = new MetricCounts();
  private tracerFrom: unknown;
  private cachedTracer: Tracer | undefined;
  private meterFrom: unknown;
  private cachedInstruments: Instruments | undefined;

  constructor(private readonly options: TelemetryOptions = {}) {
    this.parentConsumerSpans = options.parentConsumerSpans ?? false;
    this.unsampledContext = options.unsampledContext ?? false;
  }

  /**
   * The tracer to use now, or undefined when spans would go nowhere (no provider registered).
   * A provider registered after the client was made is picked up at the next operation.
   */
  tracer(): Tracer | undefined {
    let p: TracerProvider = this.options.tracerProvider ?? trace.getTracerProvider();
    // The global provider is a proxy whose delegate is set on registration: look through it.
    if (p instanceof ProxyTracerProvider) p = p.getDelegate();
    if (p === this.tracerFrom) return this.cachedTracer;
    this.tracerFrom = p;
    if (p === NOOP_TRACER_PROVIDER) return (this.cachedTracer = undefined);
    const t = p.getTracer(INSTRUMENTATION_NAME);
    return (this.cachedTracer = t instanceof NoopTracer ? undefined : t);
  }

  /** The instruments to record to now, or undefined when no meter provider is registered. */
  instruments(): Instruments | undefined {
    const p: MeterProvider = this.options.meterProvider ?? metrics.getMeterProvider();
    if (p === this.meterFrom) return this.cachedInstruments;
    this.meterFrom = p;
    const meter: Meter = p.getMeter(INSTRUMENTATION_NAME);
    return (this.cachedInstruments = meter instanceof NoopMeter ? undefined : createInstruments(meter, this.counts));
  }

  /** True when neither spans nor metrics would be recorded: callers take their plain path. */
  off(): boolean {
    return this.tracer() === undefined && this.instruments() === undefined;
  }
}
