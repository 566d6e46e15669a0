import type { BenchConfig } from './config';
import type { Machine } from './machine';
import type { RssSample, System } from './protocol';
import type { SustainResult } from './scenarios/sustain';
import type { AckCostResult } from './scenarios/ackcost';
import type { TelemetryCostResult } from './scenarios/telemetry';
import type { LatencySummary } from './stats';

/** One fan-out run: N events published once, delivered to every group. */
export interface FanoutResult {
  system: System;
  events: number;
  groups: number;
  processes: number;
  concurrency: number;
  payloadBytes: number;
  /** Events published per second (BullMQ: one job per queue per event). */
  publishPerSec: number;
  /** Deliveries (events × groups) per second, from the first publish to the last ack. */
  deliveriesPerSec: number;
  seconds: number;
  delivered: number;
  /** CPU per delivery, µs: redis-server (publishing included) and the consumer processes. */
  redisCpuPerDelivery: number;
  consumerCpuPerDelivery: number;
  complete: boolean;
  errors: string[];
  /** Redis commands per delivery in this run (INFO commandstats deltas): calls and µs. */
  commands?: Array<{ command: string; calls: number; usec: number }>;
}

/** The median of a few fan-out rounds, with every round kept. */
export interface FanoutSummary extends FanoutResult { rounds: number[] }

export interface PublishResult { method: string; events: number; perSec: number; rounds: number[] }

export interface LatencyResult {
  system: System;
  rate: number;
  seconds: number;
  groups: number;
  /** The medians of the rounds' percentiles (one round: that round's). */
  summary: LatencySummary;
  /** Every round's percentiles, in the order run (the systems alternate round by round). */
  rounds?: LatencySummary[];
  /**
   * The consumer processes' CPU µs per delivery over the run, warm-up included (median of the
   * rounds): on a shared machine, the CPU a process needs per event sets how long it waits for
   * a core, so it drives the tail.
   */
  consumerCpuPerDelivery?: number;
  /** Redis CPU µs per delivery over the run (INFO CPU delta of the bench's server, publishing included; median of the rounds). */
  redisCpuPerDelivery?: number;
  complete: boolean;
}

export interface ReclaimResult { label: string; entries: number; perSec: number; seconds: number; complete: boolean }

export interface MemoryResult {
  entries: number;
  payloadBytes: number;
  /** Bytes per stream entry: INFO used_memory delta, and MEMORY USAGE of the stream. */
  streamEntry: { info: number; usage: number };
  /** Bytes per pending (delivered, unacked) entry. */
  pendingEntry: { info: number; usage: number };
  /** Bytes per status hash with `statusGroups` groups' fields (from the 3-group per-event run). */
  statusHash: { info: number; usage: number; groups: number; keys: number };
  /** Issue 17: bytes per published event with 1, 3 and 10 groups, all succeeded, default options. */
  perEvent: MemoryPerEvent[];
  /** Bytes per retry, dead letter, idempotency key and delayed event. */
  breakdown: MemoryBreakdown;
}

/** One memory-per-event run: N events, `groups` groups, all succeeded, default options (retention off). */
export interface MemoryPerEvent {
  groups: number;
  events: number;
  /** Status hashes left (protocol 2: results, failures and the like only). */
  statusKeys: number;
  /** Success buckets (protocol 2): one string per group per second of event ids. */
  bucketKeys?: number;
  /** MEMORY USAGE (SAMPLES 0) of every success bucket ÷ events, and the mean per bucket. */
  bucketUsagePerEvent?: number;
  bucketUsageMean?: number;
  /** used_memory delta ÷ events, from before publishing to after every group succeeded. */
  totalPerEvent: number;
  /** used_memory freed by UNLINKing the status hashes and success buckets ÷ events. */
  statusPerEvent: number;
  /** The rest ÷ events: the stream entry and the groups' bookkeeping. */
  restPerEvent: number;
  /** MEMORY USAGE (SAMPLES 0) of the first event's status key, and the mean of 200. */
  statusKeyUsage: number;
  statusKeyUsageMean: number;
  statusFields: number;
  encoding: string;
  complete: boolean;
}

/** Bytes of one thing (INFO: used_memory freed by deleting the keys ÷ count; MEMORY USAGE ÷ count). */
export interface BytesEach { info: number; usage: number; count: number }

export interface MemoryBreakdown {
  events: number;
  payloadBytes: number;
  /** A retry waiting for its backoff: one member of the group's retry sorted set (the entry's fields as JSON). */
  retrySet: BytesEach;
  /** A retry copy once due: one entry of the group's redelivery stream (kept after its ack until trimmed). */
  redelivery: BytesEach;
  deadLetter: BytesEach;
  idempotency: BytesEach;
  /** A delayed event: its member of the schedule plus its delayed-id hash (INFO: the publish's used_memory delta). */
  delayed: BytesEach;
}

export interface RssResult {
  events: number;
  samples: RssSample[];
  startMiB: number;
  endMiB: number;
  /** Lowest and highest RSS after the first tenth (warm-up) of the run. */
  minMiB: number;
  maxMiB: number;
  /** RSS change per 100,000 events over the last nine tenths, MiB (a least-squares slope). */
  slopeMiBPer100k: number;
  seconds: number;
  complete: boolean;
}

/** Everything one run measured. */
export interface BenchResults {
  date: string;
  mode: BenchConfig['mode'];
  machine: Machine;
  config: BenchConfig;
  durationSeconds: number;
  fanout: FanoutSummary[];
  publish: PublishResult[];
  latency: LatencyResult[];
  scaling: { groups: FanoutResult[]; concurrency: FanoutResult[]; payload: FanoutResult[] };
  reclaim: ReclaimResult[];
  memory?: MemoryResult;
  rss?: RssResult;
  sustain?: SustainResult;
  ackCost?: AckCostResult[];
  telemetry?: TelemetryCostResult;
}
