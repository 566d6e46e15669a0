/**
 * Telemetry of one subscription (one group on one topic, in this process).
 *
 * Spans: each delivery is a CONSUMER span `process <topic>`, linked to the publish span named
 * by the event's `traceparent` header (and parented by it with `parentConsumerSpans`). The
 * handler runs inside it, so the handler's own spans nest. The span stays open until the
 * subscription reports the delivery's outcome, which it records as a span event:
 * `streamfan.retry_scheduled`, `streamfan.dead_lettered`, `streamfan.stale`, `streamfan.lost`,
 * `streamfan.lease_lost`, `streamfan.abandoned` (closed while it ran), and `streamfan.reclaimed`
 * when the delivery was taken over from another consumer. A reclaim is an INTERNAL span
 * `reclaim <topic>`; an event dead-lettered without a handler run (malformed, hung past
 * maxAttempts) an INTERNAL span `dead_letter <topic>`.
 *
 * Metrics: handler duration and publish-to-handler latency are measured around the handler;
 * the counters follow the subscription's lifecycle events.
 *
 * It sits outside the consumer: it wraps the handler and listens to the subscription's events,
 * so the consumer code is the same with or without it. With nothing registered the wrapper
 * calls the handler at once and every listener returns after one check.
 */
import {
  ROOT_CONTEXT, SpanKind, SpanStatusCode, context, defaultTextMapGetter, propagation, trace,
  type Attributes, type Link, type Span, type SpanContext, type Tracer,
} from '@opentelemetry/api';
import type { Handler, HandlerContext, SubscriptionEvents } from '../consumer/options';
import { idMs, type GroupCounts, type Instruments } from './metrics';
import type { Telemetry } from './telemetry';
import { MESSAGING_SYSTEM, failSpan } from './tracing';
import { TRACEPARENT, TRACESTATE, parseTraceparent } from './w3c';

/** The part of a subscription this listens to (both kinds of subscription have it). */
export interface SubscriptionEmitter {
  on<E extends keyof SubscriptionEvents>(event: E, fn: (...args: SubscriptionEvents[E]) => void): unknown;
}

/** Open spans kept per subscription at most (a delivery whose outcome never comes is ended when this fills). */
const MAX_OPEN_SPANS = 10_000;
/** Ids remembered as reclaimed until their delivery starts. */
const MAX_RECLAIMED = 10_000;
/** A delivery without a publish context links to nothing (one shared empty array; the SDK copies links). */
const NO_LINKS: Link[] = [];

function isThenable<R>(v: R | Promise<R>): v is Promise<R> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** The publish span's context carried by an event's headers (W3C, else the global propagator's). */
export function producerContext(headers: Readonly<Record<string, string>>): SpanContext | undefined {
  const tp = headers[TRACEPARENT];
  if (tp !== undefined) return parseTraceparent(tp, headers[TRACESTATE]);
  return trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
}

export class ConsumerTelemetry {
  private readonly open = new Map<string, Span>();
  private readonly reclaimedIds = new Set<string>();
  /** Metric attributes of this subscription (made once) and its group's counts. */
  private readonly attrs: Attributes;
  private readonly counts: GroupCounts;

  /** The delivery span's name and the attributes every delivery of this subscription shares (made once). */
  private readonly spanName: string;
  private readonly spanAttrs: Attributes;
  private lastProducer: SpanContext | undefined;
  private lastLinks: Link[] = NO_LINKS;

  constructor(private readonly tel: Telemetry, private readonly topic: string, private readonly group: string) {
    ({ attrs: this.attrs, counts: this.counts } = tel.counts.group(topic, group));
    this.spanName = `process ${topic}`;
    this.spanAttrs = Object.freeze({
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': topic,
      'messaging.consumer.group.name': group,
    });
  }

  /** The handler the consumer runs: the user's, inside a span and timed when telemetry is on. */
  wrap<T, R>(handler: Handler<T, R>): Handler<T, R> {
    const tel = this.tel;
    const run = this.run.bind(this);
    // A function, not an arrow: the handler is called with the `this` the consumer gave, as before.
    return function instrumented(this: unknown, payload: T, ctx: HandlerContext): R | Promise<R> {
      const tracer = tel.tracer();
      const ins = tel.instruments();
      if (tracer === undefined && ins === undefined) return handler.call(this, payload, ctx);
      return run(this, tracer, ins, handler, payload, ctx);
    };
  }

  private run<T, R>(thisArg: unknown, tracer: Tracer | undefined, ins: Instruments | undefined, handler: Handler<T, R>, payload: T, ctx: HandlerContext): R | Promise<R> {
    const started = performance.now();
    if (ins && ctx.attempt === 1) {
      const ms = idMs(ctx.id);
      if (ms === ms) ins.latency.record(Math.max(0, Date.now() - ms) / 1000, this.attrs);
    }
    const span = tracer && this.startSpan(tracer, ctx);
    const recording = span !== undefined && span.isRecording();
    // A span the sampler dropped records nothing: only the duration metric needs the outcome.
    const watch = ins !== undefined || recording;
    let result: R | Promise<R>;
    try {
      // The handler runs inside its span's context (its own spans nest) when the span records,
      // or when the handler's spans need the dropped span's context to be dropped alike: a
      // parent-based sampler follows the remote parent (parentConsumerSpans), or the
      // `unsampledContext` option asks for it. Otherwise entering the context (AsyncLocalStorage)
      // is skipped: it costs more than the rest of an unsampled delivery's tracing.
      result = span !== undefined && (recording || this.bindUnsampled(ctx))
        ? context.with(trace.setSpan(ROOT_CONTEXT, span), handler, thisArg, payload, ctx)
        : handler.call(thisArg, payload, ctx);
    } catch (err) {
      this.finish(ins, span, started, true, err);
      throw err;
    }
    if (!watch) return result;
    if (!isThenable(result)) {
      this.finish(ins, span, started, false);
      return result;
    }
    return result.then((v) => { this.finish(ins, span, started, false); return v; }, (err: unknown) => { this.finish(ins, span, started, true, err); throw err; }) as Promise<R>;
  }

  /** The handler returned or threw: its duration, and the span's error. */
  private finish(ins: Instruments | undefined, span: Span | undefined, started: number, failed: boolean, err?: unknown): void {
    if (ins) ins.handlerDuration.record((performance.now() - started) / 1000, this.attrs);
    if (failed && span && span.isRecording()) failSpan(span, err);
  }

  /** An unsampled delivery's context is entered only when its handler's spans follow it (see run). */
  private bindUnsampled(ctx: HandlerContext): boolean {
    return this.tel.unsampledContext || (this.tel.parentConsumerSpans && ctx.headers[TRACEPARENT] !== undefined);
  }

  private startSpan(tracer: Tracer, ctx: HandlerContext): Span {
    const producer = producerContext(ctx.headers);
    // The sampler sees the subscription's attributes (one object made once) and the link; the
    // delivery's own attributes are set only on a span that records, so an unsampled delivery
    // allocates no attribute object.
    // The subscription's read loop carries whatever context subscribe() was called in: start
    // from the root (or the producer's context), never from that.
    const parent = producer && this.tel.parentConsumerSpans ? trace.setSpanContext(ROOT_CONTEXT, producer) : ROOT_CONTEXT;
    const span = tracer.startSpan(this.spanName, { kind: SpanKind.CONSUMER, attributes: this.spanAttrs, links: this.linksTo(producer) }, parent);
    if (!span.isRecording()) {
      this.reclaimedIds.delete(ctx.id);
      return span;
    }
    span.setAttribute('messaging.message.id', ctx.id);
    span.setAttribute('messaging.client.id', ctx.consumer);
    span.setAttribute('streamfan.attempt', ctx.attempt);
    span.setAttribute('streamfan.max_attempts', ctx.maxAttempts);
    if (ctx.partition !== undefined) span.setAttribute('messaging.destination.partition.id', String(ctx.partition));
    if (this.reclaimedIds.delete(ctx.id)) span.addEvent('streamfan.reclaimed');
    // Kept until the delivery's outcome ends it; a span the sampler dropped has nothing to end.
    this.keep(ctx.id, span);
    return span;
  }

  /**
   * The links of a delivery span: one to its publish. The events of one publishMany carry the
   * same parsed context (parseTraceparent keeps its last answer), so the array is reused.
   */
  private linksTo(producer: SpanContext | undefined): Link[] {
    if (producer === undefined) return NO_LINKS;
    if (producer !== this.lastProducer) {
      this.lastProducer = producer;
      this.lastLinks = [{ context: producer }];
    }
    return this.lastLinks;
  }

  private keep(id: string, span: Span): void {
    const before = this.open.get(id);
    if (before) { this.open.delete(id); before.end(); }
    if (this.open.size >= MAX_OPEN_SPANS) {
      const [oldId, oldest] = this.open.entries().next().value as [string, Span];
      this.open.delete(oldId);
      oldest.addEvent('streamfan.outcome_unknown');
      oldest.end();
    }
    this.open.set(id, span);
  }

  /** End a delivery's span with an outcome event; false when no span of it is open. */
  private end(id: string, event?: string, attributes?: Attributes): boolean {
    if (this.open.size === 0) return false;
    const span = this.open.get(id);
    if (!span) return false;
    this.open.delete(id);
    if (event) span.addEvent(event, attributes);
    span.end();
    return true;
  }

  /** A span of its own, for what happens without a delivery span (reclaim, dead letters without a handler run). */
  private standalone(name: string, attributes: Attributes): void {
    const tracer = this.tel.tracer();
    if (!tracer) return;
    tracer.startSpan(`${name} ${this.topic}`, {
      kind: SpanKind.INTERNAL,
      attributes: { 'messaging.system': MESSAGING_SYSTEM, 'messaging.destination.name': this.topic, 'messaging.consumer.group.name': this.group, ...attributes },
    }, ROOT_CONTEXT).end();
  }

  /** Follow the subscription's lifecycle events: counters, and the outcome of each open span. */
  attach(sub: SubscriptionEmitter): void {
    const c = this.counts;
    const counting = (): boolean => this.tel.instruments() !== undefined;
    sub.on('processed', (e) => {
      if (counting()) c.processed++;
      this.end(e.id);
    });
    sub.on('failed', (e) => {
      if (counting()) { c.failed++; c.retried++; }
      this.failOpen(e.id, e.error);
      this.end(e.id, 'streamfan.retry_scheduled', { 'streamfan.attempt': e.attempt, 'streamfan.retry_in_ms': e.retryInMs });
    });
    sub.on('deadLettered', (e) => {
      if (counting()) {
        c.deadLettered++;
        if (e.reason !== 'malformed') c.failed++;
      }
      const attributes = { 'streamfan.attempt': e.attempt, 'streamfan.reason': e.reason, 'streamfan.error': e.error };
      this.failOpen(e.id, e.error);
      if (!this.end(e.id, 'streamfan.dead_lettered', attributes)) this.standalone('dead_letter', { 'messaging.message.id': e.id, ...attributes });
    });
    sub.on('stale', (e) => {
      if (counting()) c.stale += e.ids.length;
      for (const id of e.ids) this.end(id, 'streamfan.stale');
    });
    sub.on('skipped', (e) => {
      if (counting()) c.skipped += e.ids.length;
    });
    sub.on('lost', (e) => {
      if (counting()) c.lost += e.ids.length;
      for (const id of e.ids) this.end(id, 'streamfan.lost', { 'streamfan.reason': e.reason });
    });
    sub.on('leaseLost', (e) => {
      this.open.get(e.id)?.addEvent('streamfan.lease_lost');
    });
    sub.on('reclaimed', (e) => {
      if (counting()) c.reclaimed += e.ids.length;
      if (!this.tel.tracer()) return;
      this.standalone('reclaim', { 'messaging.batch.message_count': e.ids.length, 'streamfan.source': e.source });
      if (this.reclaimedIds.size + e.ids.length > MAX_RECLAIMED) this.reclaimedIds.clear();
      for (const id of e.ids) this.reclaimedIds.add(id);
    });
    sub.on('closed', () => {
      for (const span of this.open.values()) { span.addEvent('streamfan.abandoned'); span.end(); }
      this.open.clear();
      this.reclaimedIds.clear();
    });
  }

  /**
   * A failure settled while the span is still open: its status says so (a handler past
   * `handlerTimeoutMs` is settled while it still runs, so the wrapper has not seen it fail).
   */
  private failOpen(id: string, error: string): void {
    const span = this.open.get(id);
    if (!span) return;
    span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    if (error.includes('handler timed out after')) span.setAttribute('error.type', 'timeout');
  }
}
