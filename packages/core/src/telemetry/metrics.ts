/**
 * In-process metrics through the OpenTelemetry metrics API (docs/observability.md lists them).
 * Every instrument has the attribute `topic`; those of a group's handling also `group`. The
 * attribute objects are made once per topic and group, never per event; counters are counts the
 * library keeps and the SDK reads when it collects (observable counters).
 */
import type { Attributes, Histogram, Meter, ObservableCounter } from '@opentelemetry/api';

/**
 * Counts kept by the library itself, per topic and group: an event costs an integer increment,
 * and the SDK reads them (observable counters) when it collects, instead of being called per
 * event.
 */
export interface GroupCounts {
  processed: number;
  failed: number;
  retried: number;
  deadLettered: number;
  reclaimed: number;
  lost: number;
  stale: number;
  skipped: number;
}

type CounterName = keyof GroupCounts | 'published';

/** What is recorded per event while a meter provider is registered. */
export interface Instruments {
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
  skipped: 'streamfan.skipped',
  handlerDuration: 'streamfan.handler.duration',
  latency: 'streamfan.delivery.latency',
} as const;

const DESCRIPTIONS: Record<CounterName, string> = {
  published: 'Events written to a topic',
  processed: 'Deliveries handled successfully and acknowledged',
  failed: 'Attempts that failed (handler threw, timed out, or dead-lettered the event)',
  retried: 'Failed attempts for which a retry was scheduled',
  deadLettered: "Events moved to the group's dead letters",
  reclaimed: 'Entries taken over from a dead or stuck consumer',
  lost: 'Entries deleted from the stream before the group settled them',
  stale: 'Settlements refused because another consumer owned the entry',
  skipped: 'Events older than the subscription\'s skipOlderThanMs when read: acknowledged without running the handler',
};

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * One client's counts (cumulative while it lives) and the attribute objects they are reported
 * with, each made once per topic, and per topic and group.
 */
export class MetricCounts {
  private readonly topics = new Map<string, { attrs: Attributes; published: number }>();
  private readonly groups = new Map<string, { attrs: Attributes; counts: GroupCounts }>();

  /** The counts of one group on one topic (made on first use, kept for the client's life). */
  group(topic: string, group: string): { attrs: Attributes; counts: GroupCounts } {
    const key = `${topic}\u0000${group}`;
    let g = this.groups.get(key);
    if (!g) {
      g = { attrs: Object.freeze({ topic, group }), counts: { processed: 0, failed: 0, retried: 0, deadLettered: 0, reclaimed: 0, lost: 0, stale: 0, skipped: 0 } };
      this.groups.set(key, g);
    }
    return g;
  }

  /** Count `n` events published to `topic`. */
  published(topic: string, n: number): void {
    let t = this.topics.get(topic);
    if (!t) { t = { attrs: Object.freeze({ topic }), published: 0 }; this.topics.set(topic, t); }
    t.published += n;
  }

  /** Register the observable counters on `meter`, reading these counts when the SDK collects. */
  observe(meter: Meter): void {
    const counters = {} as Record<CounterName, ObservableCounter>;
    for (const name of Object.keys(DESCRIPTIONS) as CounterName[]) {
      counters[name] = meter.createObservableCounter(METRIC_NAMES[name], { description: DESCRIPTIONS[name], unit: '{event}' });
    }
    meter.addBatchObservableCallback((r) => {
      for (const t of this.topics.values()) r.observe(counters.published, t.published, t.attrs);
      for (const { attrs, counts } of this.groups.values()) {
        for (const name of Object.keys(counts) as Array<keyof GroupCounts>) r.observe(counters[name], counts[name], attrs);
      }
    }, Object.values(counters));
  }
}

export function createInstruments(meter: Meter, counts: MetricCounts): Instruments {
  counts.observe(meter);
  return {
    handlerDuration: meter.createHistogram(METRIC_NAMES.handlerDuration, {
      description: 'How long handlers ran', unit: 's', advice: { explicitBucketBoundaries: SECONDS },
    }),
    latency: meter.createHistogram(METRIC_NAMES.latency, {
      description: "From publish (the entry's id time, Redis server clock) to the start of the first attempt", unit: 's', advice: { explicitBucketBoundaries: SECONDS },
    }),
  };
}

/** The epoch ms a stream id (or a partitioned id `p<i>:<ms>-<seq>`) was written at, NaN for a delayed id. */
export function idMs(id: string): number {
  const start = id.charCodeAt(0) === 112 /* p */ ? id.indexOf(':') + 1 : 0;
  return parseInt(id.slice(start), 10);
}
