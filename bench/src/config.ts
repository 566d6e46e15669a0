/** Sizes of one bench run. Quick mode finishes in about a minute; full mode is the one to publish. */
export interface BenchConfig {
  mode: 'quick' | 'full' | 'smoke';
  /** Events per fan-out run. */
  events: number;
  /** Groups (services) in the fan-out, latency and memory runs. */
  groups: number;
  /** Fan-out rounds of streamfan and the floor (the median is reported); BullMQ runs once. */
  rounds: number;
  /** Events of one publish-rate measurement. */
  publishEvents: number;
  latencyRates: number[];
  latencySeconds: number;
  /**
   * Latency rounds per rate (`--latency-rounds`): each round runs every system once, in turn, so
   * the systems alternate; the reported percentiles are the medians of the rounds' percentiles.
   */
  latencyRounds: number;
  /** Seconds of events published first in each latency run (same rate) and left out of the figures. */
  latencyWarmupSeconds: number;
  scaleEvents: number;
  scaleGroups: number[];
  scaleConcurrency: number[];
  scalePayloads: number[];
  reclaimEntries: number;
  memoryEntries: number;
  rssEvents: number;
  /** Seconds of the sustained-load run, and its retention interval (ms). */
  sustainSeconds: number;
  sustainRetentionMs: number;
  payloadBytes: number;
  /** Tuned consumer settings (the same for every streamfan run unless a scaling axis changes them). */
  streamfanConcurrency: number;
  floorCount: number;
  bullmqConcurrency: number;
  blockMs: number;
  maxProcesses: number;
  /** Systems of the fan-out and latency runs (`--systems`). */
  systems: Array<'streamfan' | 'floor' | 'bullmq'>;
  /** Groups of the memory-per-event runs (issue 17: 1, 3 and 10). */
  memoryGroups: number[];
  /** Events of each memory-per-event run (≥ 20,000 in quick and full mode). */
  memoryEvents: number;
  /** Entries (× 3 groups) of each ack-cost variant, and the publish rates their ids are spaced for. */
  ackCostEntries: number;
  ackCostRates: number[];
}

const quick: BenchConfig = {
  mode: 'quick',
  events: 10_000,
  groups: 3,
  rounds: 1,
  publishEvents: 10_000,
  latencyRates: [500, 5000],
  latencySeconds: 2,
  latencyRounds: 1,
  latencyWarmupSeconds: 0.5,
  scaleEvents: 2_000,
  scaleGroups: [1, 3, 10, 30],
  scaleConcurrency: [1, 10, 50, 200, 1000],
  scalePayloads: [100, 1024, 10_240],
  reclaimEntries: 10_000,
  memoryEntries: 10_000,
  rssEvents: 30_000,
  sustainSeconds: 20,
  sustainRetentionMs: 5000,
  payloadBytes: 100,
  streamfanConcurrency: 200,
  floorCount: 200,
  bullmqConcurrency: 100,
  blockMs: 1000,
  maxProcesses: 10,
  systems: ['streamfan', 'floor', 'bullmq'],
  memoryGroups: [1, 3, 10],
  memoryEvents: 20_000,
  ackCostEntries: 30_000,
  ackCostRates: [1000],
};

const full: BenchConfig = {
  ...quick,
  mode: 'full',
  events: 100_000,
  rounds: 5,
  publishEvents: 100_000,
  latencySeconds: 10,
  latencyWarmupSeconds: 2,
  scaleEvents: 20_000,
  memoryEntries: 100_000,
  rssEvents: 1_000_000,
  sustainSeconds: 120,
  ackCostRates: [100, 1000, 10_000],
};

const smoke: BenchConfig = {
  ...quick,
  mode: 'smoke',
  events: 300,
  publishEvents: 300,
  latencyRates: [500],
  latencySeconds: 0.3,
  latencyWarmupSeconds: 0.2,
  scaleEvents: 100,
  scaleGroups: [1, 3],
  scaleConcurrency: [1, 200],
  scalePayloads: [100, 10_240],
  reclaimEntries: 300,
  memoryEntries: 300,
  rssEvents: 1_000,
  sustainSeconds: 3,
  sustainRetentionMs: 1000,
  maxProcesses: 3,
  memoryGroups: [1, 3],
  memoryEvents: 300,
  ackCostEntries: 600,
};

export const CONFIGS = { quick, full, smoke } as const;
