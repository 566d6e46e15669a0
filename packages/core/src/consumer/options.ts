import { DEFAULT_BACKOFF, validateBackoff, type BackoffOption } from '../backoff';
import { InvalidOptionError } from '../errors';
import { validateConsumerName } from '../names';
import { checkLogger } from '../telemetry/logging';
import type { Headers } from '../publisher';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

/** Where a new group starts reading. */
export type StartFrom = 'latest' | 'beginning' | { id: string };

/** Options of {@link Streamfan.subscribe}. */
export interface SubscribeOptions {
  /** Handlers running at once in this consumer (1–10000); it reads only as many entries as it has free slots. @defaultValue 10 */
  concurrency?: number;
  /** An entry not acknowledged, nor its lease extended, for this long is taken back by another consumer (50 ms – 1 day). @defaultValue 30000 */
  visibilityTimeoutMs?: number;
  /** Attempts per event in this group (1–1000), reclaims of hung deliveries included; then dead letters. @defaultValue 5 */
  maxAttempts?: number;
  /** Wait before each retry, measured on the Redis server's clock, capped at 7 days (see {@link BackoffOption}). @defaultValue exponential from 1 s, ×2, max 5 min, 20 % jitter */
  backoff?: BackoffOption;
  /**
   * Where a group created by this call starts. An existing group keeps its position. 'latest'
   * is the stream's end when `subscribe()` was called (read at once on the client's connection),
   * so an event published after `subscribe()` returns is delivered to the new group.
   * @defaultValue 'latest'
   */
  startFrom?: StartFrom;
  /**
   * Where a group starts when it is recreated because its stream vanished (FLUSHDB, DEL): the
   * data is gone, so 'beginning' handles whatever is published from then on. A group destroyed
   * while its stream still exists (XGROUP DESTROY, or a stream recreated by a publish) is not
   * replayed: it resumes after the last entry this consumer read, and the entries its handlers
   * are still running are taken back into the group, so their acks count. To retire a group for good,
   * close its consumers, then destroy it. @defaultValue 'beginning'
   */
  recoverFrom?: 'latest' | 'beginning';
  /** Name of this consumer in the group. @defaultValue `<host>-<pid>-<random>` */
  consumer?: string;
  /** How long one blocking read waits before it loops (1 ms – 10 min). @defaultValue 5000 */
  blockMs?: number;
  /** How often this consumer looks for entries left by dead consumers, and for due retries (10 ms – 1 h). @defaultValue min(visibilityTimeoutMs / 2, 5000) */
  reclaimIntervalMs?: number;
  /**
   * A handler running longer than this fails its attempt (its signal fires with a timeout
   * reason) and the event is retried with backoff, so an event whose handler always hangs
   * ends in dead letters. A handler that ignores its signal and keeps running keeps its slot
   * until it returns, so `concurrency` still bounds what runs. 0: no limit (a live handler keeps
   * its lease for as long as it runs). At most 1 day.
   * @defaultValue 0
   */
  handlerTimeoutMs?: number;
  /** How long close() lets running handlers finish before it leaves them for reclaim (0 – 1 h). @defaultValue 10000 */
  shutdownGraceMs?: number;
  /** Record per-event status (state, attempts, result, error) in the status hash. @defaultValue true */
  trackStatus?: boolean;
  /** Largest handler result stored in the status hash, in bytes of JSON; larger ones are truncated. @defaultValue 8192 */
  maxResultBytes?: number;
  /** Approximate cap on this group's dead-letter stream. @defaultValue 100000 */
  deadLetterMaxLen?: number;
  /**
   * Where errors go when nothing listens for this subscription's `error` event (an error is
   * never silent). Listening on `error` replaces it. @defaultValue the client's `logger`, else
   * one that writes to stderr
   */
  logger?: Logger;
  /**
   * Consumers of this group (on this topic) that hold no pending entries and have not read for
   * this long are removed, so crashed consumers do not pile up in the group. A consumer that
   * holds entries is never removed. Keep it well above the `blockMs` of every consumer of the
   * group (a live consumer reads at least every `blockMs`). 0: never prune.
   * @defaultValue 3600000 (1 hour)
   */
  pruneIdleConsumersMs?: number;
  /**
   * Skip what went stale: an event older than this many ms when this consumer reads it is
   * acknowledged without running the handler, and its status in this group reads `skipped` (a
   * final state: {@link Streamfan.waitFor} resolves with it, and it is not a success). The age is
   * now minus the time the event was published (its id's ms; for a retry or a replay, the
   * original event's, not the copy's), on the Redis server's clock. The group still reads in
   * order: nothing is reordered, so on a partitioned topic with `ordering: 'key'` the events a key
   * keeps still run in its order; on a prioritized topic each lane skips its own stale events.
   * For groups that only care about fresh events (live views, cache warmers, push notifiers)
   * and, when they fall behind, should catch up rather than work through a backlog.
   * Whole ms from 1 to 30 days; unset: nothing is skipped.
   * @example sf.subscribe(prices, 'ticker', render, { skipOlderThanMs: 60_000 })
   */
  skipOlderThanMs?: number;
}

/** Receives errors and warnings nobody listens for (console and pino satisfy it). */
export interface Logger {
  error(message: string, error?: unknown): void;
  /** Warnings (lost events, a recovered group, a risky Redis setting); without it they go to `error` as `warning: …`. */
  warn?(message: string, detail?: unknown): void;
}

/** Writes to stderr: the last resort for an error with no listener. */
export const defaultLogger: Logger = {
  error(message: string, error?: unknown): void {
    process.stderr.write(`[streamfan] ${message}${error instanceof Error && error.message !== message ? `: ${error.message}` : ''}\n`);
  },
  warn(message: string): void {
    process.stderr.write(`[streamfan] warning: ${message}\n`);
  },
};

/** A subscription's options with every default filled in and validated (`sub.options`). */
export type ResolvedSubscribeOptions = Required<Omit<SubscribeOptions, 'reclaimIntervalMs' | 'skipOlderThanMs'>> & { reclaimIntervalMs: number; skipOlderThanMs?: number };

const KNOWN_OPTIONS: ReadonlyArray<keyof SubscribeOptions> = [
  'concurrency', 'visibilityTimeoutMs', 'maxAttempts', 'backoff', 'startFrom', 'recoverFrom', 'consumer', 'blockMs',
  'reclaimIntervalMs', 'handlerTimeoutMs', 'shutdownGraceMs', 'trackStatus', 'maxResultBytes', 'deadLetterMaxLen',
  'logger', 'pruneIdleConsumersMs', 'skipOlderThanMs',
];

/** Most {@link SubscribeOptions.skipOlderThanMs}: 30 days. */
export const MAX_SKIP_OLDER_THAN_MS = 30 * 86_400_000;

/** `skipOlderThanMs` checked: undefined (skip nothing) or whole ms from 1 to 30 days. */
function skipBound(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_SKIP_OLDER_THAN_MS) {
    throw new InvalidOptionError(`skipOlderThanMs must be a whole number of milliseconds from 1 to ${MAX_SKIP_OLDER_THAN_MS} (30 days), got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}: ` +
      'events older than it when read are acknowledged without running the handler (status skipped); leave it out to handle every event');
  }
  return value;
}

/** A whole number in [min, max]: rejects NaN, Infinity, fractions and non-numbers, naming the option. */
function int(name: string, value: unknown, min: number, max: number, hint = ''): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${name} must be a whole number from ${min} to ${max}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}${hint ? `: ${hint}` : ''}`);
  }
  return value;
}

/** Fill defaults and validate every option; throws {@link InvalidOptionError} naming the option and what to change. */
export function resolveSubscribeOptions(o: SubscribeOptions = {}): ResolvedSubscribeOptions {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new InvalidOptionError(`subscribe options must be an object, got ${o === null ? 'null' : Array.isArray(o) ? 'an array' : typeof o}`);
  }
  for (const k of Object.keys(o)) {
    if (!(KNOWN_OPTIONS as string[]).includes(k)) {
      throw new InvalidOptionError(`unknown subscribe option "${k}": the options are ${KNOWN_OPTIONS.join(', ')}`);
    }
  }
  const visibilityTimeoutMs = int('visibilityTimeoutMs', o.visibilityTimeoutMs ?? 30_000, 50, 86_400_000, 'how long an unacknowledged entry stays with a silent consumer before another takes it');
  const backoff = o.backoff ?? DEFAULT_BACKOFF;
  validateBackoff(backoff);
  const startFrom = o.startFrom ?? 'latest';
  if (typeof startFrom === 'object' && startFrom !== null) {
    if (typeof startFrom.id !== 'string' || !/^\d+(-\d+)?$/.test(startFrom.id)) {
      throw new InvalidOptionError(`startFrom.id must be a stream id like 1700000000000-0, got ${JSON.stringify(startFrom.id)}`);
    }
  } else if (startFrom !== 'latest' && startFrom !== 'beginning') {
    throw new InvalidOptionError(`startFrom must be 'latest', 'beginning' or { id }, got ${JSON.stringify(startFrom)}`);
  }
  const recoverFrom = o.recoverFrom ?? 'beginning';
  if (recoverFrom !== 'latest' && recoverFrom !== 'beginning') {
    throw new InvalidOptionError(`recoverFrom must be 'latest' or 'beginning', got ${JSON.stringify(recoverFrom)}`);
  }
  const trackStatus = o.trackStatus ?? true;
  if (typeof trackStatus !== 'boolean') throw new InvalidOptionError(`trackStatus must be true or false, got ${JSON.stringify(trackStatus)}`);
  if (o.consumer !== undefined && typeof o.consumer !== 'string') throw new InvalidOptionError(`consumer must be a string, got ${typeof o.consumer}`);
  const logger = o.logger ?? defaultLogger;
  checkLogger(logger, 'logger');
  const concurrency = int('concurrency', o.concurrency ?? 10, 1, 10_000, 'handlers running at once in this consumer');
  const blockMs = int('blockMs', o.blockMs ?? 5000, 1, 600_000);
  const skipOlderThanMs = skipBound(o.skipOlderThanMs);
  return {
    concurrency,
    visibilityTimeoutMs,
    maxAttempts: int('maxAttempts', o.maxAttempts ?? 5, 1, 1000),
    backoff,
    startFrom,
    recoverFrom,
    consumer: validateConsumerName(o.consumer ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, '').slice(0, 30) || 'host'}-${process.pid}-${randomBytes(3).toString('hex')}`),
    blockMs,
    reclaimIntervalMs: int('reclaimIntervalMs', o.reclaimIntervalMs ?? Math.min(Math.floor(visibilityTimeoutMs / 2), 5000), 10, 3_600_000),
    handlerTimeoutMs: int('handlerTimeoutMs', o.handlerTimeoutMs ?? 0, 0, 86_400_000, '0 for no limit'),
    shutdownGraceMs: int('shutdownGraceMs', o.shutdownGraceMs ?? 10_000, 0, 3_600_000),
    trackStatus,
    maxResultBytes: int('maxResultBytes', o.maxResultBytes ?? 8192, 0, 16 * 1024 * 1024),
    deadLetterMaxLen: int('deadLetterMaxLen', o.deadLetterMaxLen ?? 100_000, 0, 1_000_000_000, '0 for no cap'),
    logger,
    pruneIdleConsumersMs: int('pruneIdleConsumersMs', o.pruneIdleConsumersMs ?? 3_600_000, 0, 30 * 86_400_000, '0 turns pruning off; keep it above the blockMs of every consumer of the group'),
    ...(skipOlderThanMs !== undefined ? { skipOlderThanMs } : {}),
  };
}

/** What a handler gets besides the payload. */
export interface HandlerContext {
  /** The event id (the topic stream entry id), the same in every group and on every retry. */
  readonly id: string;
  readonly topic: string;
  readonly group: string;
  readonly consumer: string;
  /** 1 on the first delivery; reclaims of hung deliveries count too. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly headers: Readonly<Headers>;
  /** When the event was published (from its id, server time). */
  readonly publishedAt: Date;
  /** Fires when this delivery's lease is lost (another consumer took it) or shutdown's grace period ends. */
  readonly signal: AbortSignal;
  /** Give up on this event without retrying: it goes to the group's dead letters with `reason`. */
  deadLetter(reason: string): never;
  /** Partitioned topics: the event's partition (its id is `p<partition>:…`). */
  readonly partition?: number;
  /**
   * Partitioned topics: this consumer's lease token on the partition when the delivery started.
   * It grows with every takeover, so a handler can fence its own writes with it (a consumer
   * paused past its lease holds an older token).
   */
  readonly fencingToken?: number;
  /** Partitioned topics with `ordering: 'key'`: the event's key (undefined for an event without one). */
  readonly key?: string;
  /** Prioritized topics: the event's lane (its id is `<lane>:…` off the default lane; docs/priorities.md §5). */
  readonly priority?: string;
}

/** Handles one event for one group. Throw to fail the attempt; the return value is stored as the result. */
export type Handler<T, R = unknown> = (payload: T, ctx: HandlerContext) => R | Promise<R>;

/** Why an event went to dead letters. */
export type DeadLetterReason = 'handler' | 'attempts' | 'hung' | 'malformed';

/** Typed lifecycle events of a {@link Subscription}. */
export interface SubscriptionEvents {
  /** Groups exist, scripts are loaded and the consumer is reading. */
  ready: [info: { consumer: string; group: string; topic: string }];
  /** A handler succeeded and its ack and status were written. */
  processed: [info: { id: string; attempt: number; durationMs: number; result: unknown }];
  /** A handler failed and a retry is scheduled. */
  failed: [info: { id: string; attempt: number; error: string; retryInMs: number }];
  /** An event went to this group's dead letters. */
  deadLettered: [info: { id: string; attempt: number; reason: DeadLetterReason; error: string }];
  /** Entries left by a dead or stuck consumer were taken over by this one (only such takeovers count as reclaimed). */
  reclaimed: [info: { ids: string[]; source: 'topic' | 'redelivery' }];
  /** Entries deleted from the stream while pending (trimmed): recorded as lost. */
  lost: [info: { ids: string[]; reason: string }];
  /** A running handler's entry was taken by another consumer; its signal fired and its ack will be refused. */
  leaseLost: [info: { id: string }];
  /**
   * Events older than `skipOlderThanMs` when read were acknowledged without running the handler;
   * their status in this group is `skipped`. `ids`: event ids (for a retry or replay, its event's).
   */
  skipped: [info: { ids: string[] }];
  /** Acks refused because another consumer owns the entries now. */
  stale: [info: { ids: string[] }];
  /**
   * The group or its stream vanished and the group was recreated (handlers on a vanished
   * stream's entries were aborted; those on a destroyed group's entries keep them). `startedAt`: 'beginning' or 'latest' (the stream was gone, see
   * `recoverFrom`), or the id the group resumed after (the group was destroyed).
   */
  recovered: [info: { reason: string; startedAt: string }];
  /** The connection to Redis dropped; the consumer will resume by itself. */
  disconnected: [info: { connection: string }];
  /** The connection is back. */
  reconnected: [info: { connection: string }];
  /** Something went wrong in the background (Redis errors, an unusable backoff result...). With no listener it goes to the `logger`, never silent. */
  error: [error: Error];
  /** A crashed consumer of this group was removed: it held nothing and was idle past `pruneIdleConsumersMs`. */
  pruned: [info: { consumer: string; stream: 'topic' | 'redelivery' }];
  /** close() finished: nothing runs, connections are closed. */
  closed: [info: { consumer: string; left: number; deleted: boolean }];
}
