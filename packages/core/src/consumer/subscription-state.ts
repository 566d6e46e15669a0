import EventEmitter from 'eventemitter3';
import type Redis from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { openConnection, type ConnectionOption } from '../connection';
import { fromRedisError, isNoGroup, type GroupRetiredError } from '../errors';
import { topicKeys, type TopicKeys } from '../keys';
import type { Topic } from '../topic';
import { AckBatcher } from './ack-batcher';
import { Reclaimer } from './reclaimer';
import { DeliveryMap, type InFlight } from './in-flight';
import { monotonicMs } from '../timing';
import type { RawEntry } from './entry';
import type { Handler, ResolvedSubscribeOptions, SubscriptionEvents } from './options';
import { lastErrorOf, type LastError } from '../health';

/** Counts of a subscription since it started ({@link Subscription.stats}). */
export interface SubscriptionStats {
  processed: number;
  failed: number;
  deadLettered: number;
  reclaimed: number;
  lost: number;
  /** Events older than `skipOlderThanMs` when read: acknowledged without running the handler (status `skipped`). */
  skipped: number;
  /** Errors reported, listened for or not (unobserved ones go to the `logger`). */
  errors: number;
  /** Handlers running now (timed-out ones still running included). */
  inFlight: number;
}

/** Settings the client passes to each subscription. */
export interface SubscriptionSettings {
  connection: ConnectionOption;
  redisOptions: RedisOptions;
  prefix: string;
  statusTtlSeconds: number;
  retention?: { intervalMs: number; run: () => Promise<unknown> };
  /**
   * For `startFrom: 'latest'`: the stream's last id when subscribe() was called (see
   * {@link captureStreamEnd}); a group this subscription creates starts there, not where the
   * stream is when the group appears.
   */
  startAt?: Promise<string | undefined>;
}

/**
 * What every part of a {@link Subscription} shares: its connections, state, counters, slots and
 * error reporting. A subscription is built in layers, one file each, every layer using those
 * below it (and, where a lower layer needs a higher one, through the abstract methods here):
 *
 * - `subscription-state.ts` (this): state, connections, `report`, slots;
 * - `settler.ts`: run a handler and settle its delivery (ack, fail and retry, dead-letter, lost),
 *   promote due retries, keep the leases of long handlers;
 * - `reader.ts`: the read loop, held entries, reclaim ticks, orphans after a reconnect;
 * - `recovery.ts`: group creation, recovery after NOGROUP (XGROUP DESTROY, FLUSHDB), the sweep of a
 *   destroyed group's orphans, retirement;
 * - `subscription.ts`: the public class: start, `ready`, `stats`, `close`.
 * @internal
 */
export abstract class SubscriptionState<T = unknown> extends EventEmitter<SubscriptionEvents> {
  readonly topic: string;
  readonly group: string;
  readonly consumer: string;
  readonly options: Readonly<ResolvedSubscribeOptions>;
  /** @internal */ readonly keys: TopicKeys;
  /** @internal */ readonly worker: Redis;
  protected readonly blocking: Redis;
  protected readonly inFlight = new DeliveryMap<InFlight>();
  protected readonly sideTasks = new Set<Promise<unknown>>();
  protected readonly acks: AckBatcher;
  protected readonly reclaimer: Reclaimer;
  /**
   * Entries delivered to this consumer that found no free slot (a rare race of two reads, or
   * reclaim meeting a read): run before anything else is read, their leases kept meanwhile.
   */
  protected held: Array<{ stream: string; raw: RawEntry; deliveries: number; leasedAt: number }> = [];
  protected blockingId: number | undefined;
  protected stopping = false;
  protected closing: Promise<void> | undefined;
  protected readLoopDone: Promise<void> | undefined;
  protected slotWaiters: Array<() => void> = [];
  protected timers: NodeJS.Timeout[] = [];
  protected leaseTimer: NodeJS.Timeout | undefined;
  protected retryTimer: NodeJS.Timeout | undefined;
  protected retryDueAt = Infinity;
  protected reclaiming = false;
  protected lastPruneAt: number | undefined;
  /** Handlers past handlerTimeoutMs, already settled, still running: they keep their slots. */
  protected overrun = 0;
  /** The group's last-delivered-id on each stream, as last seen (reclaim ticks, start). */
  protected readonly groupPos = new Map<string, string>();
  /** The last entry id read from each stream ('>' reads return ids in order). */
  protected readonly lastRead = new Map<string, string>();
  /**
   * The oldest entry pending in the group on the topic stream, as last seen (reclaim ticks): after
   * an XGROUP DESTROY, entries from there on may have been pending with a consumer that will never
   * settle them (dead, stopped, or its read's reply lost), and the group's pending list is gone.
   */
  protected pendingFloor: string | undefined;
  /**
   * Set when this consumer recovered from a destroyed topic group (or learnt that another did, from
   * the recreated key): an id at or after every entry published before the recovery.
   * The recreated group starts only where its position was last seen, so entries up to this one
   * may come again that the group had finished before the destroy: a first delivery of one is
   * checked against the status and acknowledged without running when it is settled there.
   */
  protected settledUpTo: string | undefined;
  protected sweepTimer: NodeJS.Timeout | undefined;
  /** The id this subscription created its topic group at, if it did. */
  protected createdAt: string | undefined;
  protected reclaimOwed = false;
  protected isReady = false;
  /** How completion notices are sent: 'S' (SPUBLISH) on a Cluster whose servers have it, else 'P'. */
  protected publishMode: 'P' | 'S' = 'P';
  protected readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  /** Set when the group was found retired: the subscription stops, and ready() rejects with it. */
  protected retired: GroupRetiredError | undefined;
  /** The last error reported, and whether the last read failed (health()). */
  protected lastError: LastError | undefined;
  protected readFailing = false;
  protected counters: Omit<SubscriptionStats, 'inFlight'> = { processed: 0, failed: 0, deadLettered: 0, reclaimed: 0, lost: 0, skipped: 0, errors: 0 };

  /** @internal see {@link Subscription} */
  constructor(
    protected readonly topicDef: Topic<T>,
    group: string,
    protected readonly handler: Handler<T>,
    options: ResolvedSubscribeOptions,
    /** @internal */ readonly settings: SubscriptionSettings,
  ) {
    super();
    this.topic = topicDef.name;
    this.group = group;
    this.consumer = options.consumer;
    this.options = Object.freeze({ ...options });
    this.keys = topicKeys(settings.prefix, topicDef.name);
    this.worker = openConnection(settings.connection, 'worker', settings.redisOptions);
    this.blocking = openConnection(settings.connection, 'blocking', settings.redisOptions);
    this.watchConnection(this.worker, 'worker');
    this.watchConnection(this.blocking, 'blocking');
    this.blocking.on('close', () => { this.blockingId = undefined; });
    this.acks = new AckBatcher({
      worker: this.worker, keys: this.keys, group, consumer: this.consumer,
      statusTtlSeconds: settings.statusTtlSeconds, trackStatus: this.options.trackStatus,
      publishMode: () => this.publishMode,
      acked: (f, result) => this.onAcked(f, result),
      stale: (ids) => this.emit('stale', { ids }),
      lost: (ids, reason) => { this.counters.lost += ids.length; this.emit('lost', { ids, reason }); },
      report: (err, context) => this.report(err, context),
    });
    this.reclaimer = new Reclaimer({
      worker: this.worker, group, consumer: this.consumer,
      visibilityTimeoutMs: this.options.visibilityTimeoutMs,
      free: () => this.free(),
      stopping: () => this.stopping,
      inFlightCount: () => this.inFlight.size,
      owns: (stream, id) => this.inFlight.has(stream, id) || this.acks.has(stream, id) || this.held.some((h) => h.stream === stream && h.raw[0] === id),
      renewed: (stream, id) => {
        const f = this.inFlight.get(stream, id);
        if (f) f.leasedAt = monotonicMs();
      },
      take: (stream, raw, deliveries) => this.take(stream, raw, deliveries),
      reclaimed: (stream, ids) => {
        this.counters.reclaimed += ids.length;
        this.emit('reclaimed', { ids, source: stream === this.keys.stream ? 'topic' : 'redelivery' });
      },
      deletedWhilePending: (stream, ids) => this.lostWhilePending(stream, ids),
    });
  }

  protected watchConnection(c: Redis, name: string): void {
    let wasReady = false;
    let down = false;
    let droppedAt = 0;
    c.on('error', () => { /* reported once per outage through 'disconnected' */ });
    c.on('ready', () => {
      if (wasReady && down) {
        this.emit('reconnected', { connection: name });
        this.track(this.runOrphans(droppedAt, monotonicMs()));
      }
      wasReady = true;
      down = false;
    });
    c.on('close', () => {
      if (wasReady && !down && !this.stopping) {
        down = true;
        droppedAt = monotonicMs();
        this.emit('disconnected', { connection: name });
      }
    });
  }

  /**
   * @internal Report an error without ever throwing: to the `error` listeners, or, when there
   * are none, to the logger (an error is never silent). Counted in `stats.errors` either way.
   */
  report(err: unknown, context: string): void {
    if (this.stopping && /Connection is closed/.test((err as Error)?.message ?? '')) return;
    // Retired: the group and its redelivery stream are gone on purpose; what still touches them
    // while the subscription stops (acks, leases, leaving the group) fails, and says nothing new.
    if (this.retired && isNoGroup(err)) return;
    const e = fromRedisError(err, `${this.group}@${this.topic} ${context}`);
    this.counters.errors++;
    this.lastError = lastErrorOf(e);
    if (this.listenerCount('error') > 0) {
      this.emit('error', e);
      return;
    }
    try {
      this.options.logger.error(`${e.name} (${e.code}) in subscription ${this.group}@${this.topic}: ${e.message}`, e);
    } catch { /* a logger that throws must not break the consumer */ }
  }

  protected track<R>(p: Promise<R>): void {
    const t = p.catch((err) => this.report(err, 'background task')).finally(() => this.sideTasks.delete(t));
    this.sideTasks.add(t);
  }

  protected free(): number {
    return this.options.concurrency - this.inFlight.size - this.overrun;
  }

  protected waitForSlot(): Promise<void> {
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  protected slotFreed(): void {
    this.runHeld();
    for (const w of this.slotWaiters.splice(0)) w();
  }

  /** Start held entries while slots are free (reader.ts). */
  protected abstract runHeld(): void;
  /** Run an entry delivered to this consumer now, or as soon as a slot frees (reader.ts). */
  protected abstract take(stream: string, raw: RawEntry, deliveries: number, leasedAt?: number): void;
  /** Run this consumer's pending entries a dropped connection's lost reply left unhandled (reader.ts). */
  protected abstract runOrphans(droppedAt: number, readyAt: number): Promise<void>;
  /** Entries XAUTOCLAIM found deleted from the stream while pending (settler.ts). */
  protected abstract lostWhilePending(stream: string, ids: string[]): Promise<void>;
  /** A delivery was acknowledged (settler.ts). */
  protected abstract onAcked(f: InFlight, result: unknown): void;
  /** After NOGROUP: recreate what vanished (recovery.ts). */
  protected abstract recover(reason: string): Promise<void>;
  /** The group was retired for good: stop (recovery.ts). */
  protected abstract stopRetired(err: GroupRetiredError): void;
  /** See {@link Subscription.close}. */
  abstract close(graceMs?: number): Promise<void>;
}
