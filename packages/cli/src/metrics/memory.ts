import type { MemoryReport, Streamfan } from '@streamfan/core';
import type { MetricFamily } from './exposition';

/** Options of {@link createMemoryReader}. */
export interface MemoryMetricsOptions {
  /**
   * Read the memory report (`sf.memory()`, what `streamfan memory` prints) at most this often;
   * scrapes in between serve the last report, with its age. 0: on every scrape.
   * @defaultValue 60000
   */
  everyMs?: number;
  /** Most SCAN pages (COUNT 1000) per server per report, as `streamfan memory --scan-pages`. @defaultValue 50 */
  maxScanPages?: number;
  /** Keys of each sampled kind measured with MEMORY USAGE, as `streamfan memory --sample`. @defaultValue 100 */
  sampleSize?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** Called with the error of every failed read (also one whose previous report is served instead). */
  onError?: (err: unknown) => void;
}

/** The last memory report and when it was read (ms, by the reader's clock). */
export interface TimedMemoryReport {
  report: MemoryReport;
  at: number;
}

/**
 * A reader of `sf.memory()` (every topic under the prefix) for a metrics endpoint: the report is
 * read at most once per `everyMs` (concurrent callers share one read; a failed read is not kept,
 * and the previous report is served meanwhile). One report is bounded work: at most
 * `maxScanPages` SCAN calls per node and `sampleSize` MEMORY USAGE per sampled kind and topic,
 * never a walk of the whole keyspace (see `topicMemory` in core).
 */
export function createMemoryReader(sf: Streamfan, options: MemoryMetricsOptions = {}): () => Promise<TimedMemoryReport> {
  const now = options.now ?? Date.now;
  const everyMs = options.everyMs ?? 60_000;
  let last: TimedMemoryReport | undefined;
  let running: Promise<TimedMemoryReport> | undefined;
  const read = (): Promise<TimedMemoryReport> => {
    if (running) return running;
    running = sf
      .memory(undefined, {
        ...(options.maxScanPages !== undefined ? { maxScanPages: options.maxScanPages } : {}),
        ...(options.sampleSize !== undefined ? { sampleSize: options.sampleSize } : {}),
      })
      .then(
        (report) => {
          last = { report, at: now() };
          return last;
        },
        (err: unknown) => {
          options.onError?.(err);
          throw err;
        },
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  return async () => {
    if (last && now() - last.at < everyMs) return last;
    if (!last) return read();
    // A report is kept: refresh it, and serve the old one if the refresh fails.
    return read().catch(() => last!);
  };
}

/**
 * The memory report as metric families, with the figures of `streamfan memory`: bytes, its 95%
 * error, keys and entries per topic and kind, and the scan's coverage.
 */
export function memoryFamilies(m: TimedMemoryReport, now: number): MetricFamily[] {
  const g = (name: string, help: string): MetricFamily => ({ name, help, type: 'gauge', samples: [] });
  const bytes = g(
    'streamfan_memory_bytes',
    "Redis memory of the topic's keys of this kind (MEMORY USAGE; status, idempotency and delayed keys sampled and extrapolated), as `streamfan memory` reports it.",
  );
  const bytesError = g(
    'streamfan_memory_bytes_error',
    'Half-width of a 95% interval of streamfan_memory_bytes (0 when every key was measured and counted).',
  );
  const keys = g('streamfan_memory_keys', 'Keys of this kind of the topic (estimated for sampled kinds).');
  const entries = g(
    'streamfan_memory_entries',
    "Entries in the kind's streams or sets (topic stream, redelivery, retry, dead letters, delayed schedule).",
  );
  const sampled = g('streamfan_memory_sampled', '1 when the figures of this kind are extrapolated from a sample of its keys, else 0.');
  const fraction = g(
    'streamfan_memory_scan_fraction',
    'Share of the keyspace the bounded SCAN of the last memory report covered (1: all of it, per-event key counts exact).',
  );
  const age = g(
    'streamfan_memory_report_age_seconds',
    'Age of the memory report served, in seconds (it is read at most once per --memory-every).',
  );
  const used = g('streamfan_redis_used_memory_bytes', "Redis' INFO used_memory when the memory report was read.");
  const max = g('streamfan_redis_maxmemory_bytes', "Redis' INFO maxmemory (0: no limit) when the memory report was read.");
  const laneBytes = g(
    'streamfan_memory_lane_bytes',
    'Redis memory of a prioritized topic\'s keys of this kind in this priority lane (lane "*": the keys every lane shares, idempotency keys, producer ledgers, the meta hash); the lanes add up to streamfan_memory_bytes.',
  );
  for (const t of m.report.topics) {
    for (const l of [...(t.byLane ?? []), ...(t.laneShared ? [{ lane: '*', ...t.laneShared }] : [])]) {
      for (const k of l.kinds) laneBytes.samples.push({ labels: { topic: t.topic, lane: l.lane, kind: k.kind }, value: k.bytes });
    }
    for (const k of t.kinds) {
      const labels = { topic: t.topic, kind: k.kind };
      bytes.samples.push({ labels, value: k.bytes });
      bytesError.samples.push({ labels, value: k.bytesError });
      keys.samples.push({ labels, value: k.keys });
      if (k.entries !== undefined) entries.samples.push({ labels, value: k.entries });
      sampled.samples.push({ labels, value: k.sampled ? 1 : 0 });
    }
  }
  fraction.samples.push({ labels: {}, value: m.report.scan.fraction });
  age.samples.push({ labels: {}, value: Math.max(0, now - m.at) / 1000 });
  used.samples.push({ labels: {}, value: m.report.usedMemory });
  max.samples.push({ labels: {}, value: m.report.maxMemory });
  return [bytes, bytesError, keys, entries, sampled, laneBytes, fraction, age, used, max];
}
