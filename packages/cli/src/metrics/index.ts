export {
  formatPrometheus,
  escapeLabelValue,
  formatSampleValue,
  PROMETHEUS_CONTENT_TYPE,
  type MetricFamily,
  type MetricSample,
} from './exposition';
export {
  collectMetrics,
  cachedCollector,
  createMetricsCollector,
  type CollectMetricsOptions,
  type MetricsCollectorOptions,
  type MetricsTopic,
  METRIC_NAMES,
  type MetricName,
} from './collect';
export { createMemoryReader, memoryFamilies, type MemoryMetricsOptions, type TimedMemoryReport } from './memory';
export { startMetricsServer, type MetricsServerOptions, type RunningMetricsServer } from './server';
