import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type HistogramMetricData, type MetricData } from '@opentelemetry/sdk-metrics';
import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic } from '../src';
import { METRIC_NAMES } from '../src/telemetry/metrics';
import { useRedis } from './helpers';

const env = useRedis();

/** The real metrics SDK with an in-memory exporter, read on demand (forceFlush), passed to one client. */
function meters(): { meterProvider: MeterProvider; read: () => Promise<MetricData[]> } {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    meterProvider,
    read: async () => {
      exporter.reset();
      await reader.forceFlush();
      return exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
    },
  };
}

/** Sum of a counter's points whose attributes include `attrs`. */
function count(data: MetricData[], name: string, attrs: Record<string, string>): number {
  const m = data.find((d) => d.descriptor.name === name);
  if (!m) return 0;
  return m.dataPoints
    .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
    .reduce((sum, p) => sum + (p.value as number), 0);
}

function histogram(data: MetricData[], name: string, attrs: Record<string, string>): { count: number; sum: number } {
  const m = data.find((d) => d.descriptor.name === name) as HistogramMetricData | undefined;
  const points = (m?.dataPoints ?? []).filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
  return { count: points.reduce((s, p) => s + p.value.count, 0), sum: points.reduce((s, p) => s + (p.value.sum ?? 0), 0) };
}

describe('metrics (OpenTelemetry metrics SDK, in-memory reader)', () => {
  test('published, processed, failed, retried, dead-lettered; handler duration and latency, per topic and group', async () => {
    const m = meters();
    const sf = env.client({ telemetry: { meterProvider: m.meterProvider } });
    const topic = defineTopic<{ n: number; fail?: 'once' | 'dead' }>('signup');
    const failedOnce = new Set<number>();
    const email = sf.subscribe(topic, 'email', async () => { await sleep(30); }, { startFrom: 'beginning' });
    const billing = sf.subscribe(topic, 'billing', async (p, ctx) => {
      if (p.fail === 'dead') ctx.deadLetter('no account');
      if (p.fail === 'once' && !failedOnce.has(p.n)) { failedOnce.add(p.n); throw new Error('busy'); }
    }, { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 20 } });
    await Promise.all([email.ready(), billing.ready()]);
    const ids = [await sf.publish(topic, { n: 1 }), ...(await sf.publishMany(topic, [{ n: 2, fail: 'once' }, { n: 3, fail: 'dead' }]))];
    await Promise.all(ids.map((id) => sf.waitFor(topic, id, { timeoutMs: 10_000 })));
    const data = await waitFor(async () => {
      const d = await m.read();
      return count(d, METRIC_NAMES.processed, { group: 'billing' }) === 2 ? d : undefined;
    }, { timeoutMs: 5000 });
    const email_ = { topic: 'signup', group: 'email' };
    const billing_ = { topic: 'signup', group: 'billing' };
    expect(count(data, METRIC_NAMES.published, { topic: 'signup' })).toBe(3);
    expect(count(data, METRIC_NAMES.processed, email_)).toBe(3);
    expect(count(data, METRIC_NAMES.processed, billing_)).toBe(2);
    expect(count(data, METRIC_NAMES.failed, email_)).toBe(0);
    expect(count(data, METRIC_NAMES.failed, billing_)).toBe(2); // the retried attempt and the dead-lettered one
    expect(count(data, METRIC_NAMES.retried, billing_)).toBe(1);
    expect(count(data, METRIC_NAMES.deadLettered, billing_)).toBe(1);
    expect(count(data, METRIC_NAMES.deadLettered, email_)).toBe(0);
    // Every attempt is timed (4 in billing: 3 first attempts and a retry); latency only for first attempts.
    expect(histogram(data, METRIC_NAMES.handlerDuration, email_).count).toBe(3);
    expect(histogram(data, METRIC_NAMES.handlerDuration, email_).sum).toBeGreaterThanOrEqual(0.08);
    expect(histogram(data, METRIC_NAMES.handlerDuration, billing_).count).toBe(4);
    expect(histogram(data, METRIC_NAMES.latency, email_).count).toBe(3);
    expect(histogram(data, METRIC_NAMES.latency, billing_).count).toBe(3);
    const lat = histogram(data, METRIC_NAMES.latency, email_);
    expect(lat.sum / lat.count).toBeLessThan(10); // seconds from publish to handler start, same machine
    for (const d of data) expect(Object.keys(d.dataPoints[0]?.attributes ?? {}).sort()).toEqual(d.descriptor.name === METRIC_NAMES.published ? ['topic'] : ['group', 'topic']);
  });

  test('reclaimed, lost and stale are counted', async () => {
    const m = meters();
    const sf = env.client({ telemetry: { meterProvider: m.meterProvider } });
    const topic = defineTopic<number>('jobs');
    const stream = `${sf.prefix}:{jobs}:stream`;
    // The group exists; then a consumer that will die reads two entries and never acks them.
    const first = sf.subscribe(topic, 'workers', async () => undefined, { startFrom: 'beginning' });
    await first.ready();
    await first.close();
    const [kept, gone] = await sf.publishMany(topic, [1, 2]);
    await sf.redis.xreadgroup('GROUP', 'workers', 'ghost', 'COUNT', 2, 'STREAMS', stream, '>');
    await sf.redis.xdel(stream, gone!); // trimmed while pending: lost
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const live = sf.subscribe(topic, 'workers', async () => { await gate; }, { consumer: 'live', visibilityTimeoutMs: 200, reclaimIntervalMs: 50 });
    await live.ready();
    await waitFor(() => live.stats.inFlight === 1, { timeoutMs: 10_000 });
    // Taken away by hand while its handler runs: its ack is refused (stale).
    await sf.claim(topic, 'workers', [kept!], 'someone-else');
    await waitFor(async () => count(await m.read(), METRIC_NAMES.lost, { group: 'workers' }) === 1, { timeoutMs: 5000 });
    release();
    const data = await waitFor(async () => {
      const d = await m.read();
      return count(d, METRIC_NAMES.stale, { group: 'workers' }) >= 1 ? d : undefined;
    }, { timeoutMs: 10_000 });
    expect(count(data, METRIC_NAMES.reclaimed, { topic: 'jobs', group: 'workers' })).toBe(1);
    expect(count(data, METRIC_NAMES.lost, { topic: 'jobs', group: 'workers' })).toBe(1);
    expect(count(data, METRIC_NAMES.stale, { topic: 'jobs', group: 'workers' })).toBe(1);
    expect(count(data, METRIC_NAMES.processed, { group: 'workers' })).toBe(0);
  });
});
