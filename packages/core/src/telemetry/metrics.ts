/**
 * In-process metrics through the OpenTelemetry metrics API (docs/observability.md lists them).
 * Every instrument has the attribute `topic`; those of a group's handling also `group`. The
 * attribute objects are made once per topic and group, never per event.
 */
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';

/** Every instrument the library records to. */
export interface Instruments {
  /** Events written to a topic (delayed events count when scheduled). */
  published: Counter;
  /** Deliveries handled successfully and acknowledged. */
  processed: Counter;
  /** Attempts that failed (the handler threw, timed out, or asked for dead letters). */
  failed: Counter;
  /** Failed attempts for which a retry was scheduled. */
  retried: Counter;
  /** Events moved to the group's dead letters. */
  deadLettered: Counter;
  /** Entries taken over from a dead or stuck consumer. */
  reclaimed: Counter;
  /** Entries deleted from the stream before the group settled them (trimmed or XDEL). */
  lost: Counter;
  /** Settlements refused because another consumer owned the entry by then. */
  stale: Counter;
  /** How long handlers ran, in seconds. */
  handlerDuration: Histogram;
  /** From publish (the entry's id time, on the Redis server's clock) to a first attempt's start, in seconds. */
  latency: Histogram;
}

/** Metric names, as exported (a Prometheus exporter turns `streamfan.processed` into `streamfan_processed_total`). */
export const METRIC_NAMES = {
  published: 'streamfan.published',
  processed: 'streamfan.processed',
  failed: 'streamfan.failed',
  retried: 'streamfan.retried',
  deadLettered: 'streamfan.dead_lettered',
  reclaimed: 'streamfan.reclaimed',
  lost: 'streamfan.lost',
  stale: 'streamfan.stale',
  handlerDuration: 'streamfan.handler.duration',
  latency: 'streamfan.delivery.latency',
} as const;

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export function createInstruments(meter: Meter): Instruments {
  const counter = (name: string, description: string): Counter => meter.createCounter(name, { description, unit: '{event}' });
  return {
    published: counter(METRIC_NAMES.published, 'Events written to a topic'),
    processed: counter(METRIC_NAMES.processed, 'Deliveries handled successfully and acknowledged'),
    failed: counter(METRIC_NAMES.failed, 'Attempts that failed (handler threw, timed out, or dead-lettered the event)'),
    retried: counter(METRIC_NAMES.retried, 'Failed attempts for which a retry was scheduled'),
    deadLettered: counter(METRIC_NAMES.deadLettered, "Events moved to the group's dead letters"),
    reclaimed: counter(METRIC_NAMES.reclaimed, 'Entries taken over from a dead or stuck consumer'),
    lost: counter(METRIC_NAMES.lost, 'Entries deleted from the stream before the group settled them'),
    stale: counter(METRIC_NAMES.stale, 'Settlements refused because another consumer owned the entry'),
    handlerDuration: meter.createHistogram(METRIC_NAMES.handlerDuration, {
      description: 'How long handlers ran', unit: 's', advice: { explicitBucketBoundaries: SECONDS },
    }),
    latency: meter.createHistogram(METRIC_NAMES.latency, {
      description: "From publish (the entry's id time, Redis server clock) to the start of the first attempt", unit: 's', advice: { explicitBucketBoundaries: SECONDS },
    }),
  };
}

/** Attribute objects made once per topic, and per topic and group. */
export class AttributeCache {
  private readonly byTopic = new Map<string, Attributes>();

  topic(topic: string): Attributes {
    let a = this.byTopic.get(topic);
    if (!a) { a = Object.freeze({ topic }); this.byTopic.set(topic, a); }
    return a;
  }
}

/** The epoch ms a stream id (or a partitioned id `p<i>:<ms>-<seq>`) was written at, NaN for a delayed id. */
export function idMs(id: string): number {
  const start = id.charCodeAt(0) === 112 /* p */ ? id.indexOf(':') + 1 : 0;
  return parseInt(id.slice(start), 10);
}
