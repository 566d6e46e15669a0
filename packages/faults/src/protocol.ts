/**
 * What the test process, the worker processes and the checker agree on: the payload of a
 * fault-suite event, the worker's configuration, and the lines a worker writes to its log.
 */

/**
 * Payload of every event the suite publishes. `seq` identifies the event across publishes;
 * the other fields make the handler misbehave on purpose, on that event only.
 */
export interface FaultPayload {
  seq: number;
  /** Always fail: `throw` retries until maxAttempts, `dead` calls ctx.deadLetter at once. */
  poison?: 'throw' | 'dead';
  /** Fail (throw) on attempts up to this number, then succeed. */
  failAttempts?: number;
  /** Block the event loop (busy loop) this long, on attempts up to `blockAttempts` (default 1). */
  blockMs?: number;
  blockAttempts?: number;
  /** Await this long (a hung but live handler), on attempts up to `hangAttempts` (default 1). */
  hangMs?: number;
  hangAttempts?: number;
  /** Padding, to fill memory. */
  pad?: string;
  /** Arbitrary data that must round-trip unchanged. */
  data?: unknown;
}

/** Configuration of one worker process, passed as one JSON argument. */
export interface WorkerConfig {
  url: string;
  prefix: string;
  topic: string;
  /** One subscription per group, all in this process. */
  groups: string[];
  /** Consumer name (unique per process incarnation). */
  consumer: string;
  /** File this worker appends its records to (one JSON object a line). */
  log: string;
  concurrency?: number;
  visibilityTimeoutMs?: number;
  reclaimIntervalMs?: number;
  maxAttempts?: number;
  /** Fixed backoff between retries, in ms. @defaultValue 50 */
  backoffMs?: number;
  blockMs?: number;
  shutdownGraceMs?: number;
  handlerTimeoutMs?: number;
  /** Async work per event, in ms (a uniform random amount up to `workJitterMs` is added). */
  workMs?: number;
  workJitterMs?: number;
  /** SIGKILL this process right after the side effect of every Nth successful handling, before the ack. */
  crashAfterSideEffectEvery?: number;
  /** Retention run by the subscriptions: a hard cap on the topic stream. */
  retention?: { intervalMs: number; maxLen?: number };
}

/** One delivery to a handler, as the handler recorded it. */
export interface DeliveryRecord {
  k: 'd';
  /** start: the handler began; ok: its side effect is done (it returns next); fail: it throws next. */
  o: 'start' | 'ok' | 'fail';
  g: string;
  seq: number;
  id: string;
  attempt: number;
  consumer: string;
  /** Wall-clock ms when recorded. */
  t: number;
}

/** A lifecycle event of a worker's subscription or client, as the worker saw it. */
export interface EventRecord {
  k: 'e';
  type: string;
  g?: string;
  consumer: string;
  data?: unknown;
  /** Wall-clock ms when recorded. */
  t: number;
}

export type LogRecord = DeliveryRecord | EventRecord;

/** What a handler returns, stored as the status hash's result. */
export interface HandlerResult {
  seq: number;
  /** Consumer and attempt of the delivery that produced this result. */
  c: string;
  a: number;
}
