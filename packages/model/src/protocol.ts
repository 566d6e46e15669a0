/**
 * What the driver (the test process), the worker processes and the checker agree on: the
 * payload of a model event (its seq and, per group, how the handler behaves), the worker's
 * configuration, and the lines a worker appends to its log.
 */

/**
 * How the handler of one group behaves on one event. Chosen by the command generator (so by
 * the seed), carried in the payload, so every process and every attempt agree.
 * - ok: succeed at once; slow: await `ms`, then succeed
 * - fail: throw on attempts up to `n`, then succeed
 * - poison: always throw (ends in dead letters after maxAttempts)
 * - dead: call ctx.deadLetter at once
 * - hang: on attempt 1 await `ms` (longer than the visibility timeout) while live: the lease must be kept
 * - block: on attempt 1 busy-loop `ms` (the whole process stalls past the visibility timeout): reclaim expected
 * - heal: throw until the driver "heals" this (group, seq) (then a dead-letter replay succeeds)
 * - stuck: on attempt 1 await `ms` (longer than handlerTimeoutMs), ignoring the signal: the attempt
 *   fails by timeout and is retried while this handler still runs (it must keep its slot)
 */
export type Plan =
  | { k: 'ok' }
  | { k: 'slow'; ms: number }
  | { k: 'fail'; n: number }
  | { k: 'poison' }
  | { k: 'dead' }
  | { k: 'hang'; ms: number }
  | { k: 'block'; ms: number }
  | { k: 'heal' }
  | { k: 'stuck'; ms: number };

/** Payload of every model event. */
export interface ModelPayload {
  seq: number;
  /** Plan per group; a group not named here succeeds at once. */
  p: Record<string, Plan>;
}

/** Configuration of one worker process, passed as one JSON argument. */
export interface ModelWorkerConfig {
  url: string;
  prefix: string;
  topic: string;
  groups: string[];
  /** Groups subscribed with startFrom 'latest' (a `subscribing` record is written just before each subscribe call). */
  lateGroups?: string[];
  /** Consumer name (unique per process incarnation). */
  consumer: string;
  /** This process's log file (JSON lines). */
  log: string;
  /** File listing healed "<group>:<seq>" lines, one a line (read on each `heal` delivery). */
  healFile: string;
  concurrency: number;
  visibilityTimeoutMs: number;
  reclaimIntervalMs: number;
  maxAttempts: number;
  backoffMs: number;
  blockMs: number;
  shutdownGraceMs: number;
  /** 0: no limit. */
  handlerTimeoutMs: number;
  /** Retention run by the subscriptions (safe trims only); 0: off. */
  retentionIntervalMs: number;
  /** Its minimum age (`retention.minAgeMs`). */
  retentionMinAgeMs: number;
}

/** One handler invocation, as the handler recorded it (before/after its side effect). */
export interface RunRecord {
  k: 'd';
  /** start; ok (side effect done, returns next); fail (throws next); dead (dead-letters next). */
  o: 'start' | 'ok' | 'fail' | 'dead';
  g: string;
  seq: number;
  id: string;
  attempt: number;
  consumer: string;
  /** Wall-clock ms with a fraction (performance.timeOrigin + now), comparable across processes. */
  t: number;
}

/** A lifecycle event of a worker (subscription events, stalls of its event loop). */
export interface WorkerEventRecord {
  k: 'e';
  type: string;
  g?: string;
  consumer: string;
  data?: unknown;
  t: number;
}

export type ModelLogRecord = RunRecord | WorkerEventRecord;

/** What a handler returns (stored as the status result): which delivery produced it. */
export interface ModelResult {
  seq: number;
  c: string;
  a: number;
}

/** Wall-clock ms with a fraction, the same clock in every process of the machine. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
