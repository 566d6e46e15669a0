/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as the event page shows it: the
 * `traceparent` header a publisher's tracing wrote (`00-<trace id>-<parent span id>-<flags>`),
 * parsed by the specification's rules, so a malformed header is reported as such, never shown
 * as a trace.
 */

/** A valid `traceparent`, as the event page shows it. */
export interface TraceContext {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** The publishing span's id: 16 lowercase hex digits. */
  spanId: string;
  /** The sampled flag (bit 0 of the trace flags). */
  sampled: boolean;
  /** The header's version field (`00` today). */
  version: string;
  /** The `tracestate` header, when present. */
  traceState?: string;
}

/** A `traceparent` header that is present but not valid: the reason, and the value as text. */
export interface MalformedTrace {
  invalid: string;
  raw: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** A header's value by name, case-insensitively (HTTP header names are; stored headers keep the publisher's case). */
function header(headers: Record<string, unknown>, name: string): unknown {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/**
 * The trace an event's headers name: undefined without a `traceparent`, a {@link TraceContext}
 * for a valid one, a {@link MalformedTrace} otherwise (wrong shape, version ff, a version-00
 * header with extra fields, an all-zero trace or span id).
 */
export function traceOf(headers: Record<string, unknown>): TraceContext | MalformedTrace | undefined {
  const value = header(headers, 'traceparent');
  if (value === undefined || value === null) return undefined;
  const raw = typeof value === 'string' ? value : JSON.stringify(value);
  const bad = (invalid: string): MalformedTrace => ({ invalid, raw: raw.length > 200 ? `${raw.slice(0, 199)}…` : raw });
  if (typeof value !== 'string') return bad('traceparent is not a string');
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return bad('not version-traceid-spanid-flags in lowercase hex (00-<32 hex>-<16 hex>-<2 hex>)');
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === 'ff') return bad('version ff is invalid');
  if (version === '00' && rest !== undefined) return bad('version 00 has exactly four fields');
  if (/^0+$/.test(traceId!)) return bad('the trace id is all zeros');
  if (/^0+$/.test(spanId!)) return bad('the parent span id is all zeros');
  const state = header(headers, 'tracestate');
  return { traceId: traceId!, spanId: spanId!, sampled: (parseInt(flags!, 16) & 1) === 1, version: version!, ...(typeof state === 'string' && state !== '' ? { traceState: state } : {}) };
}
