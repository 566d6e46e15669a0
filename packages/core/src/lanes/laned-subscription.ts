/**
 * A consumer of one group on a prioritized topic (docs/priorities.md §5).
 *
 * Each lane is worked by an ordinary {@link Subscription} on the lane's keys (a lane is, for key
 * names, a topic whose home is `T+L`), so reading, batch acks, retries with backoff (in the
 * lane's redelivery stream: a retry stays in its lane), dead letters (the lane's), lease renewal,
 * reclaim of a crashed consumer's entries, recovery, delayed promotion and retention run per lane
 * exactly as for a topic without lanes — the same, tested code. What is shared is the handler
 * slots: one {@link LaneSlots} pool of `concurrency` slots, granted to the highest lane with an
 * entry waiting, with the `lowerLaneShare` starvation guard. Reading is driven by the pool (see
 * {@link LaneSubscription}): each lane holds at most {@link laneAllowance} entries waiting for a
 * slot (beyond its handlers with one), and a lane whose last read came back full has freed slots
 * held for its next read instead of granted to a lower lane.
 *
 * Costs: two connections per lane (a blocking reader and a worker), and up to
 * {@link laneAllowance} entries per lane pending to this consumer while they wait for a slot
 * (their leases kept, as a running handler's).
 */
import EventEmitter from 'eventemitter3';
import type Redis from 'ioredis';
import { ClosedError, GroupRetiredError, fromRedisError, isNoGroup } from '../errors';
import { topicKeys } from '../keys';
import { captureStreamEnd } from '../consumer/start-position';
import type { Subscription, SubscriptionSettings } from '../consumer/subscription';
import { LaneSubscription } from './lane-subscription';
import { emitOrLog, forwardSubscriptionEvents } from '../consumer/forward';
import { STALE_AT_GRANT } from '../consumer/settler';
import type { Handler, HandlerContext, ResolvedSubscribeOptions, SubscriptionEvents } from '../consumer/options';
import type { Topic } from '../topic';
import { sleep } from '../timing';
import { groupInfos } from '../status';
import { lastErrorOf, probeSubscription, type HealthOptions, type LastError, type SubscriptionHealth } from '../health';
import { formatLaneId } from './ids';
import { ensureLanesOnce } from './meta';
import { LaneSlots, type LaneSlotStats } from './slots';
import { lanesOf, listLanedGroups } from './admin';

/** Settings a laned subscription needs from its client. */
export interface LanedSettings extends Omit<SubscriptionSettings, 'startAt' | 'retention'> {
  /** Retention of one lane (its home), on its subscription's timer; undefined when off. */
  retentionFor?: (home: string) => SubscriptionSettings['retention'];
  /** The client's command connection: the lanes are checked and the start positions of `startFrom: 'latest'` read on it. */
  commands: Redis;
}

/**
 * Entries each lane may hold waiting for a handler slot, beyond its handlers with one:
 * `concurrency + 1`: enough to start a slot's worth of entries while the lane's next read is on
 * the wire, and one more, so a read that comes back full (the pool then holds freed slots for the
 * lane's next read) means a backlog, not one event of a trickle at concurrency 1. What a consumer
 * whose handlers hang keeps from a burst: this many per lane.
 */
export function laneAllowance(concurrency: number): number {
  return concurrency + 1;
}

/** Counts of a {@link LanedSubscription} since it started, over every lane (as a Subscription's `stats`). */
export interface LanedStats {
  processed: number;
  failed: number;
  deadLettered: number;
  reclaimed: number;
  lost: number;
  /** Events skipped as older than `skipOlderThanMs`, over every lane. */
  skipped: number;
  /** Errors reported, listened for or not. */
  errors: number;
}


/** One lane's row of {@link LanedSubscription.lanes}. */
export interface LaneActivity extends LaneSlotStats {
  /** The lane. */
  lane: string;
}

/** See the file comment. Created by {@link Streamfan.subscribe} for a topic with `priorities`. */
export class LanedSubscription<T = unknown> extends EventEmitter<SubscriptionEvents> {
  readonly topic: string;
  readonly group: string;
  readonly consumer: string;
  readonly options: Readonly<ResolvedSubscribeOptions & { lowerLaneShare: number }>;
  /** The lanes, highest first. */
  readonly priorities: readonly string[];
  private readonly slots: LaneSlots;
  private readonly subs: Array<LaneSubscription<T> | undefined>;
  /** Per lane: deliveries whose handlers got a slot and whose delivery has not settled. */
  private readonly slotted: number[];
  /** Per lane: whether a read of its stream has answered yet. */
  private readonly readSeen: boolean[];
  /** Per lane: whether its subscription is ready (reads). */
  private readonly laneReady: boolean[];
  /** Each lane subscription's `closed` event, listened for from its start (a lane may close by itself before this one closes). */
  private readonly subClosed: Array<Promise<{ left: number; deleted: boolean }> | undefined>;
  private readonly startAt: Array<Promise<string | undefined>> | undefined;
  private readonly executing = new Set<string>();
  private readonly done: LanedStats = { processed: 0, failed: 0, deadLettered: 0, reclaimed: 0, lost: 0, skipped: 0, errors: 0 };
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private isReady = false;
  private stopping = false;
  private lastError: LastError | undefined;
  private closing: Promise<void> | undefined;
  /** Set when a lane found the group retired (retireGroup retires it in every lane): reported once, with the topic's name. */
  private retired: GroupRetiredError | undefined;

  /** @internal use {@link Streamfan.subscribe} */
  constructor(
    private readonly topicDef: Topic<T>,
    group: string,
    private readonly handler: Handler<T>,
    options: ResolvedSubscribeOptions,
    lowerLaneShare: number,
    private readonly settings: LanedSettings,
  ) {
    super();
    this.topic = topicDef.name;
    this.group = group;
    this.consumer = options.consumer;
    this.priorities = topicDef.priorities!;
    this.options = Object.freeze({ ...options, lowerLaneShare });
    this.slots = new LaneSlots(options.concurrency, this.priorities.length, lowerLaneShare, undefined, (i) => this.hasUndelivered(i));
    this.subs = this.priorities.map(() => undefined);
    this.slotted = this.priorities.map(() => 0);
    this.readSeen = this.priorities.map(() => false);
    this.laneReady = this.priorities.map(() => false);
    this.subClosed = this.priorities.map(() => undefined);
    // Read every lane's end now, on the command connection, so an event published after
    // subscribe() is after the position a new group starts at (as captureStreamEnd explains).
    this.startAt = options.startFrom === 'latest'
      ? lanesOf(topicDef as Topic<unknown>).map((l) => captureStreamEnd(settings.commands, topicKeys(settings.prefix, l.home).stream))
      : undefined;
    void this.start();
  }

  /** Counts since this subscription started, over every lane. */
  get stats(): Readonly<LanedStats & { inFlight: number }> {
    const s = { ...this.done, inFlight: this.executing.size };
    for (const sub of this.subs) {
      if (!sub) continue;
      const x = sub.stats;
      s.processed += x.processed; s.failed += x.failed; s.deadLettered += x.deadLettered;
      s.reclaimed += x.reclaimed; s.lost += x.lost; s.skipped += x.skipped; s.errors += x.errors;
    }
    return s;
  }

  /** Per lane, highest first: entries waiting for a slot, handlers running, slots granted since start. */
  get lanes(): LaneActivity[] {
    return this.slots.snapshot().map((s, i) => ({ lane: this.priorities[i]!, ...s }));
  }

  /** Ids (`<lane>:…`, plain in the default lane) of the events whose handlers run now (not those waiting for a slot). */
  get running(): string[] {
    return [...this.executing];
  }

  /** See {@link Subscription.health}; lag and pending are summed over the lanes. */
  health(options?: HealthOptions): Promise<SubscriptionHealth> {
    return probeSubscription({
      topic: this.topic, group: this.group, consumer: this.consumer,
      connections: [this.settings.commands, ...this.subs.flatMap((s) => (s ? [s.worker] : []))],
      started: this.isReady, closing: this.stopping, readFailing: false, retired: this.retired !== undefined, lastError: this.lastError,
      groupInfo: async () => (await listLanedGroups(this.settings.commands, this.settings.prefix, this.topicDef as Topic<unknown>)).find((g) => g.group === this.group),
    }, options);
  }

  /** Resolves when every lane's consumer reads; rejects with {@link ClosedError} if it closes first, or with the error that stopped it (e.g. {@link LaneMismatchError}). */
  ready(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    if (this.stopping) return Promise.reject(this.retired ?? new ClosedError(`subscription ${this.group}@${this.topic}`));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** @internal Report an error without throwing: to `error` listeners, else to the logger. */
  report(err: unknown, context: string): void {
    if (this.stopping && /Connection is closed/.test((err as Error)?.message ?? '')) return;
    const e = fromRedisError(err, `${this.group}@${this.topic} ${context}`);
    this.done.errors++;
    this.lastError = lastErrorOf(e);
    emitOrLog(this, this.options.logger, e, `${e.name} (${e.code}) in subscription ${this.group}@${this.topic}: ${e.message}`);
  }

  private async start(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await ensureLanesOnce(this.settings.commands, this.settings.prefix, this.topicDef as Topic<unknown>);
        break;
      } catch (err) {
        this.report(err, 'start');
        // A lane set that does not match is not going to change: stop. Anything else (Redis
        // unreachable) is tried again, as a Subscription's start is.
        if ((err as { code?: string }).code === 'LANE_MISMATCH') {
          for (const w of this.readyWaiters.splice(0)) w.reject(err as Error);
          void this.close();
          return;
        }
        await sleep(Math.min(100 * 2 ** attempt, 5000));
      }
    }
    if (this.stopping) return;
    const lanes = lanesOf(this.topicDef as Topic<unknown>);
    // Every lane is held for from the start: a lower lane whose subscription is ready (and reads)
    // first must not take the slots a higher lane's first read is about to fill.
    for (const l of lanes) this.slots.expectMore(l.index, true);
    const ready = lanes.map((l) => this.startLane(l.lane, l.home, l.index));
    const results = await Promise.allSettled(ready);
    if (this.stopping) return;
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      const reason = failed.reason instanceof GroupRetiredError ? this.retiredOnce(failed.reason) ?? this.retired! : failed.reason as Error;
      for (const w of this.readyWaiters.splice(0)) w.reject(reason);
      void this.close();
      return;
    }
    this.isReady = true;
    for (const w of this.readyWaiters.splice(0)) w.resolve();
    this.emit('ready', { consumer: this.consumer, group: this.group, topic: this.topic });
  }

  /** Work lane `lane`: a subscription on its keys, its handlers run in the shared slots. */
  private startLane(lane: string, home: string, index: number): Promise<void> {
    const limit = this.options.handlerTimeoutMs;
    const wrapped: Handler<T> = async (payload, ctx) => {
      await this.slots.acquire(index, ctx.signal);
      // skipOlderThanMs is judged at dispatch, when the lane read the entry; it may then have
      // waited for a slot behind higher lanes: judged again now, it is skipped if it went stale.
      if (this.subs[index]?.staleAtGrant(ctx.publishedAt.getTime())) {
        this.slots.release(index);
        this.subs[index]?.wake();
        throw STALE_AT_GRANT;
      }
      this.slotted[index]!++;
      // An entry of the lane left the waiting ones: the lane may read another.
      this.subs[index]?.wake();
      const c = this.publicContext(ctx, lane, limit);
      this.executing.add(c.ctx.id);
      const running = Promise.resolve().then(() => this.handler(payload, c.ctx));
      // The slot is held until the handler returns, even past its time limit (concurrency bounds what runs).
      void running.then(() => undefined, () => undefined).finally(() => {
        c.stop();
        this.executing.delete(c.ctx.id);
        this.slots.release(index);
      });
      const settled = c.timeout ? Promise.race([running, c.timeout]) : running;
      settled.then(() => { this.slotted[index]!--; }, () => { this.slotted[index]!--; });
      return settled;
    };
    const allowance = laneAllowance(this.options.concurrency);
    const sub = new LaneSubscription<T>({ ...this.topicDef, name: home }, this.group, wrapped, {
      ...this.options,
      // What the lane holds is bounded by its allowance (LaneSubscription.free); this only caps it.
      concurrency: this.options.concurrency + allowance,
      handlerTimeoutMs: 0, // the time limit counts from the slot grant
    }, {
      connection: this.settings.connection,
      redisOptions: this.settings.redisOptions,
      prefix: this.settings.prefix,
      statusTtlSeconds: this.settings.statusTtlSeconds,
      ...(this.startAt ? { startAt: this.startAt[index]! } : {}),
      ...(this.settings.retentionFor ? { retention: this.settings.retentionFor(home) } : {}),
    }, {
      allowance: () => allowance,
      slotted: () => this.slotted[index]!,
      read: (asked, got) => this.laneRead(index, asked, got),
    });
    sub.once('ready', () => {
      this.laneReady[index] = true;
      if (!this.stopping) void this.holdForFirstRead(index, home);
    });
    this.subs[index] = sub;
    this.subClosed[index] = new Promise((resolve) => sub.once('closed', (e) => resolve(e)));
    this.forward(sub, lane);
    return sub.ready();
  }

  /**
   * Whether the group has entries not yet delivered on lane `index`'s stream (XINFO GROUPS lag >
   * 0; unknown: false), or the lane has not started reading yet (its subscription is not ready).
   */
  private async hasUndelivered(index: number): Promise<boolean> {
    if (!this.laneReady[index]) return !this.stopping;
    const home = lanesOf(this.topicDef as Topic<unknown>)[index]!.home;
    const row = (await groupInfos(this.settings.commands, topicKeys(this.settings.prefix, home).stream)).find((g) => g.name === this.group);
    return typeof row?.lag === 'number' && row.lag > 0;
  }

  /**
   * Until its first read says otherwise, a lane is taken to have entries, so a lower lane that
   * read first does not take the slots the higher lane's first read is about to fill. A lane whose
   * group has nothing to deliver (XINFO GROUPS lag 0: a new group at 'latest', an idle lane) is let
   * go at once, rather than when its first read, which blocks, would have answered (the hold's
   * time limit). Lag unknown (Redis 6.2, or entries deleted): the hold stays.
   */
  private async holdForFirstRead(index: number, home: string): Promise<void> {
    this.slots.expectMore(index, true);
    try {
      const row = (await groupInfos(this.settings.commands, topicKeys(this.settings.prefix, home).stream)).find((g) => g.name === this.group);
      if (row?.lag === 0 && !this.readSeen[index] && !this.stopping) this.slots.expectMore(index, false);
    } catch { /* the hold ends by itself */ }
  }

  /**
   * What a read of lane `index`'s stream found, for the pool: short (fewer than asked) → the lane
   * is drained for now; full with at least 2 asked → it probably has more, so freed slots wait for
   * its next read. One asked and got (the lane held entries already) proves nothing: a lane
   * expected to have more stays so, any other stays not (one event of a trickle must not hold
   * slots for a read that will block).
   */
  private laneRead(index: number, asked: number, got: number): void {
    this.readSeen[index] = true;
    if (got < asked) this.slots.expectMore(index, false);
    else if (asked >= 2 || this.slots.expects(index)) this.slots.expectMore(index, true);
  }

  /**
   * The handler's context with public ids (`<lane>:…`), the topic's name and the lane; with
   * `handlerTimeoutMs`, a signal that also fires when the limit (counted from the slot grant) ends.
   */
  private publicContext(ctx: HandlerContext, lane: string, limit: number): { ctx: HandlerContext; timeout?: Promise<never>; stop: () => void } {
    const id = formatLaneId(lane, ctx.id, this.topicDef.defaultPriority!);
    if (limit <= 0) {
      return { ctx: Object.create(ctx, { id: { value: id, enumerable: true }, topic: { value: this.topic, enumerable: true }, priority: { value: lane, enumerable: true } }) as HandlerContext, stop: () => undefined };
    }
    const own = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`handler timed out after ${limit}ms (handlerTimeoutMs)`);
        own.abort(err);
        reject(err);
      }, limit);
    });
    timeout.catch(() => undefined);
    const signal = AbortSignal.any([ctx.signal, own.signal]);
    return {
      ctx: Object.create(ctx, {
        id: { value: id, enumerable: true }, topic: { value: this.topic, enumerable: true }, priority: { value: lane, enumerable: true },
        signal: { value: signal, enumerable: true },
      }) as HandlerContext,
      timeout,
      stop: () => clearTimeout(timer),
    };
  }

  /** Re-emit a lane's events with public ids. */
  private forward(sub: LaneSubscription<T>, lane: string): void {
    const def = this.topicDef.defaultPriority!;
    forwardSubscriptionEvents(sub, this, `lane ${lane}`, (x) => formatLaneId(lane, x, def), (e) => {
      // Every lane finds the group retired (retireGroup retires it in each): one error, naming the topic.
      // A lane that had not noticed yet meets the destroyed group while it closes: nothing new.
      const err = e instanceof GroupRetiredError ? this.retiredOnce(e) : this.retired && isNoGroup(e) ? undefined : e;
      if (!err) return;
      this.done.errors++;
      this.lastError = lastErrorOf(err);
      emitOrLog(this, this.options.logger, err, `${err.name} in subscription ${this.group}@${this.topic} (lane ${lane}): ${err.message}`);
    });
    // A lane that stops by itself (its group retired) stops the whole consumer.
    sub.once('closed', () => { if (!this.stopping) void this.close(); });
  }

  /** The first lane's GroupRetiredError, as the topic's (undefined for the later lanes'). */
  private retiredOnce(e: GroupRetiredError): GroupRetiredError | undefined {
    if (this.retired) return undefined;
    this.retired = new GroupRetiredError(this.topic, this.group, e.retiredAt);
    return this.retired;
  }

  /**
   * Stop reading in every lane, let running handlers finish within `graceMs` (what is left runs
   * out as on an unprioritized topic: pending, for another consumer to reclaim), close the
   * connections. Safe to call more than once.
   */
  close(graceMs: number = this.options.shutdownGraceMs): Promise<void> {
    if (!this.closing) this.closing = this.shutdown(graceMs);
    return this.closing;
  }

  /** `await using sub = sf.subscribe(...)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    this.slots.close();
    for (const w of this.readyWaiters.splice(0)) w.reject(this.retired ?? new ClosedError(`subscription ${this.group}@${this.topic}`));
    let left = 0;
    let deleted = true;
    await Promise.all(this.subs.map(async (sub, i) => {
      if (!sub) return;
      await sub.close(graceMs);
      const e = await this.subClosed[i]!;
      left += e.left;
      deleted &&= e.deleted;
    }));
    this.emit('closed', { consumer: this.consumer, left, deleted });
  }
}

/** @internal {@link Streamfan.subscribe} of a prioritized topic, typed as the client returns it. */
export function subscribeLaned<T>(topic: Topic<T>, group: string, handler: Handler<T>, options: ResolvedSubscribeOptions, lowerLaneShare: number, settings: LanedSettings): Subscription<T> {
  // The client's subscriptions are typed Subscription; this class has its public surface
  // (events, ready, close, stats, running, report, health), not its internals (keys, worker).
  return new LanedSubscription<T>(topic, group, handler, options, lowerLaneShare, settings) as unknown as Subscription<T>;
}
