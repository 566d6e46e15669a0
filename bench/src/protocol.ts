/** Messages between the bench (parent) and its consumer processes. */

/** Which implementation a consumer process runs. */
export type System = 'streamfan' | 'floor' | 'bullmq';

/** What one consumer process does: consume some groups of one topic until stopped. */
export interface ConsumeJob {
  system: System;
  host: string;
  port: number;
  /** Key prefix (streamfan), key of the stream (floor) or queue-name base (BullMQ) derive from it. */
  prefix: string;
  topic: string;
  /** Groups (services) this process consumes; one subscription / loop / worker each. */
  groups: string[];
  /** Deliveries per group after which the process reports `done` (0: never). */
  expected: number;
  /** streamfan concurrency, BullMQ worker concurrency; the floor reads COUNT this many. */
  concurrency: number;
  blockMs: number;
  /** Record publish→handler-start latency from the payload's `t` (payloads with `w` are warm-up). */
  latency: boolean;
  trackStatus: boolean;
  statusTtlSeconds: number;
  /** Report RSS every this many deliveries (0: only with progress). */
  rssEvery: number;
  /** streamfan: the client's retention option (off when absent). */
  retention?: { intervalMs: number; maxLen?: number };
  /** Take over entries a dead consumer left (the group must exist already). */
  reclaim?: { visibilityTimeoutMs: number; reclaimIntervalMs?: number };
}

export type ParentMessage =
  | { type: 'run'; job: ConsumeJob }
  | { type: 'stop' }
  | { type: 'exit' };

/** What one group delivered in one run. */
export interface GroupResult {
  group: string;
  delivered: number;
  /** When the consumer began (before subscribing), ms wall clock. */
  startedAt: number;
  /** Wall-clock ms of the first and last settled (acked) delivery. */
  firstAt: number;
  lastAt: number;
  /** Publish→handler-start latencies, ms (latency runs only). */
  latencies: number[];
  errors: string[];
}

export interface RssSample { delivered: number; rss: number; heapUsed: number }

export type ChildMessage =
  | { type: 'hello'; pid: number }
  | { type: 'ready' }
  | { type: 'progress'; delivered: number }
  | { type: 'rss'; sample: RssSample }
  | { type: 'done' }
  /** `cpuMicros`: this process's CPU time (user + system) from `ready` until `done` (or `stop`). */
  | { type: 'stopped'; groups: GroupResult[]; rss: RssSample[]; cpuMicros: number }
  | { type: 'error'; message: string };
