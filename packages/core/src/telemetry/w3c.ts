/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) in event headers: what any process,
 * in any language, that reads a stream entry needs to continue the publisher's trace. Written
 * here rather than through the global propagator so the headers are W3C's whatever propagator
 * the application registered (or none).
 */
import { INVALID_SPANID, INVALID_TRACEID, TraceFlags, createTraceState, type SpanContext } from '@opentelemetry/api';

/** Header carrying the publish span's context: `00-<trace id>-<span id>-<flags>`. */
export const TRACEPARENT = 'traceparent';
/** Header carrying the vendor-specific trace state, when the span has one. */
export const TRACESTATE = 'tracestate';

const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** The `traceparent` value of a span context. */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & TraceFlags.SAMPLED).toString(16)}`;
}

/**
 * The remote span context a `traceparent` (and optional `tracestate`) header names, or
 * undefined when it is missing or malformed (a malformed header is ignored, as the W3C
 * specification asks: the consumer then starts a trace of its own).
 */
export function parseTraceparent(traceparent: string | undefined, tracestate?: string): SpanContext | undefined {
  if (typeof traceparent !== 'string') return undefined;
  // The events of one publishMany, and one event in every group of this process, carry the same
  // headers: the last answer is kept (span contexts are never modified once made).
  if (traceparent === lastParent && tracestate === lastState) return lastContext;
  lastParent = traceparent;
  lastState = tracestate;
  return (lastContext = parse(traceparent, tracestate));
}

let lastParent: string | undefined;
let lastState: string | undefined;
let lastContext: SpanContext | undefined;

function parse(traceparent: string, tracestate: string | undefined): SpanContext | undefined {
  const m = TRACEPARENT_RE.exec(traceparent.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  // Version ff is invalid; version 00 has exactly four fields; a later version may add fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === INVALID_TRACEID || spanId === INVALID_SPANID) return undefined;
  const sc: SpanContext = { traceId: traceId!, spanId: spanId!, traceFlags: parseInt(flags!, 16), isRemote: true };
  if (typeof tracestate === 'string' && tracestate.length > 0) sc.traceState = createTraceState(tracestate);
  return Object.freeze(sc);
}
