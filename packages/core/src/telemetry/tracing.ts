/**
 * Spans of the publishing side and of admin operations (OpenTelemetry messaging semantic
 * conventions): `send <topic>` (PRODUCER) around publish and publishMany, whose context travels
 * in the event's headers as W3C `traceparent`/`tracestate`, and `replay <topic>` (INTERNAL)
 * around a dead-letter replay. Each is a plain call when {@link Telemetry.off}.
 */
import { SpanKind, SpanStatusCode, context, defaultTextMapSetter, propagation, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { Headers, PublishManyOptions } from '../publisher';
import type { Telemetry } from './telemetry';
import { TRACEPARENT, TRACESTATE, formatTraceparent } from './w3c';

/** `messaging.system` of every span: the broker is Redis. */
export const MESSAGING_SYSTEM = 'redis';

/** A low-cardinality name for what was thrown (OpenTelemetry's `error.type`). */
export function errorType(err: unknown): string {
  if (err instanceof Error) {
    const ctor = (err.constructor as { name?: unknown } | undefined)?.name;
    return typeof ctor === 'string' && ctor !== '' && ctor !== 'Error' ? ctor : err.name || 'Error';
  }
  return '_OTHER';
}

/** Mark a span failed: `error.type`, status ERROR with the message, and the exception event. */
export function failSpan(span: Span, err: unknown): void {
  span.setAttribute('error.type', errorType(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  if (err instanceof Error) span.recordException(err);
}

function isHeaderObject(h: unknown): h is Headers {
  return typeof h === 'object' && h !== null && !Array.isArray(h);
}

/** Ids a failed publishMany did write (a {@link PartialPublishError} says which). */
function writtenCount(err: unknown): number {
  const written = (err as { written?: unknown } | null)?.written;
  return written instanceof Map ? written.size : 0;
}

/**
 * Run a publish (`count` events, shared `options`) inside a `send <topic>` PRODUCER span whose
 * context is added to the events' headers, and count what was published. With neither spans nor
 * metrics registered, `send(options)` is called as it is.
 */
export function instrumentPublish<O extends PublishManyOptions, R extends string | string[]>(
  tel: Telemetry, topic: string, count: number, options: O, send: (options: O) => Promise<R>,
): Promise<R> {
  const tracer = tel.tracer();
  const ins = tel.instruments();
  if (tracer === undefined && ins === undefined) return send(options);
  let span: Span | undefined;
  let sendOptions = options;
  if (tracer !== undefined && (options.headers === undefined || isHeaderObject(options.headers))) {
    const attributes: Attributes = {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.destination.name': topic,
    };
    if (count !== 1) attributes['messaging.batch.message_count'] = count;
    if (options.delayMs !== undefined || options.runAt !== undefined) attributes['streamfan.delayed'] = true;
    span = tracer.startSpan(`send ${topic}`, { kind: SpanKind.PRODUCER, attributes }, context.active());
    const headers: Headers = { ...options.headers };
    // An application's own propagator (baggage, B3...) adds its fields; W3C's are always written.
    propagation.inject(trace.setSpan(context.active(), span), headers, defaultTextMapSetter);
    const sc = span.spanContext();
    headers[TRACEPARENT] = formatTraceparent(sc);
    const state = sc.traceState?.serialize();
    if (state) headers[TRACESTATE] = state;
    else delete headers[TRACESTATE];
    sendOptions = { ...options, headers };
  }
  const s = span;
  return send(sendOptions).then((ids) => {
    if (s) {
      if (typeof ids === 'string') s.setAttribute('messaging.message.id', ids);
      else if (ids.length === 1) s.setAttribute('messaging.message.id', ids[0]!);
      s.end();
    }
    if (ins) tel.counts.published(topic, count);
    return ids;
  }, (err: unknown) => {
    if (s) { failSpan(s, err); s.end(); }
    const written = writtenCount(err);
    if (ins && written > 0) tel.counts.published(topic, written);
    throw err;
  });
}

/**
 * Run an operation on a group (`replay`) inside an INTERNAL span `<operation> <topic>`; its
 * numeric result is recorded as `messaging.batch.message_count`.
 */
export function traceGroupOperation<R>(tel: Telemetry, operation: string, topic: string, group: string, run: () => Promise<R>): Promise<R> {
  const tracer = tel.tracer();
  if (tracer === undefined) return run();
  const span = tracer.startSpan(`${operation} ${topic}`, {
    kind: SpanKind.INTERNAL,
    attributes: {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.operation.name': operation,
      'messaging.destination.name': topic,
      'messaging.consumer.group.name': group,
    },
  }, context.active());
  return context.with(trace.setSpan(context.active(), span), run).then((r) => {
    if (typeof r === 'number') span.setAttribute('messaging.batch.message_count', r);
    span.end();
    return r;
  }, (err: unknown) => {
    failSpan(span, err);
    span.end();
    throw err;
  });
}
