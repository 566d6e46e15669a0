/**
 * A consumer of one group on a partitioned topic (docs/partitions.md §5), unordered
 * (`ordering: 'none'`). The group's consumers share the partitions through leases
 * ({@link PartitionKeeper}: heartbeat, fair quotas, rebalancing without a coordinator); this
 * consumer works only the partitions it holds.
 *
 * Each held partition is worked by a {@link Subscription} of its own on the partition's keys
 * (a partition is, for key names, a topic whose tag is `T#i`), so reading, acking in batches,
 * retries with backoff, dead letters, lease renewal of long handlers, reclaim of entries idle
 * past the visibility timeout, recovery from a vanished group, delayed promotion and retention
 * all run per partition exactly as they run for an unpartitioned topic — the same, tested code.
 * A partition given up (rebalance, close) is drained first: its subscription closes with
 * `shutdownGraceMs`, then the lease is released. `concurrency` bounds the handlers running in
 * this consumer over all its partitions (one shared set of slots).
 *
 * Costs of this composition, against §5.4's single read loop: two connections per held
 * partition (a blocking reader and a worker), and reads that are not fenced (an unordered group
 * needs no fence: a delivery taken by a paused consumer is reclaimed after the visibility
 * timeout, as on an unpartitioned topic).
 *
 * Ordered groups (`ordering: 'key'`) work each held partition with an {@link OrderedPartition}
 * instead: fenced reads, starts, retries in place and settles, on this consumer's one worker
 * connection (§6).
 *
 * A retired group (retireGroup lists it retired on every partition, then destroys it on each):
 * the first partition that finds it retired (a partition's Subscription, or an ordered partition
 * meeting NOGROUP and then the partition's `retired` hash) stops the whole consumer: one
 * {@link GroupRetiredError} naming the topic, running handlers aborted with it, the consumer
 * closed (leases released). A subscribe finds it at start (the createGroup script refuses on a
 * partition listed retired): `ready()` rejects with it, and no partition gets the group back.
 */
import EventEmitter from 'eventemitter3';
import type Redis from 'ioredis';
import { openConnection } from '../connection';
import { ClosedError, GroupRetiredError, fromRedisError, isNoGroup } from '../errors';
import { partitionKeys, partitionTag } from '../keys';
import { captureStreamEnd } from '../consumer/start-position';
import { Subscription, type SubscriptionSettings } from '../consumer/subscription';
import { emitOrLog, forwardSubscriptionEvents } from '../consumer/forward';
import { STALE_AT_GRANT } from '../consumer/settler';
import type { Handler, HandlerContext, ResolvedSubscribeOptions, SubscriptionEvents } from '../consumer/options';
import { loadScripts, runScript } from '../scripts/runner';
import { sleep } from '../timing';
import type { Topic } from '../topic';
import { PartitionKeeper } from './keeper';
import { listenRebalance } from './rebalance-notice';
import { ensureTopicMetaOnce } from './meta';
import { noticeMode } from '../notice';
import { promoteDelayed } from '../delayed';
import { IdleWait } from './idle-wait';
import { OrderedPartition, type OrderedHost } from './ordered-partition';
import type { ResolvedPartitionOptions } from './options';
import { formatPartitionedId } from './partitionKeys';
import { listPartitionedGroups } from './admin';
import { ServerClock } from '../consumer/skipper';
import { lastErrorOf, probeSubscription, type HealthOptions, type LastError, type SubscriptionHealth } from '../health';

/** What a handler of a partitioned topic gets besides the {@link HandlerContext}. */
export interface PartitionContext {
  /** The partition the event is in (its id is `p<partition>:…`). */
  readonly partition: number;
  /** This consumer's lease token on the partition when the delivery started (grows with every takeover). */
  readonly fencingToken: number;
}

/** Settings a partitioned subscription needs from its client. */
export interface PartitionedSettings extends Omit<SubscriptionSettings, 'startAt' | 'retention'> {
  /** Retention of one partition (its tag), on the subscription's timer; undefined when off. */
  retentionFor?: (home: string) => SubscriptionSettings['retention'];
  /** The client's command connection: the start positions of `startFrom: 'latest'` are read on it. */
  commands: Redis;
}

/** Handler slots shared by every partition of one consumer: FIFO, released in finally. */
class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly size: number) {}
  acquire(signal: AbortSignal): Promise<void> {
    if (this.used < this.size) { this.used++; return Promise.resolve(); }
    return new Promise((resolve, reject) => {
      const go = () => { signal.removeEventListener('abort', stop); this.used++; resolve(); };
      const stop = () => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted while waiting for a handler slot'));
      };
      signal.addEventListener('abort', stop, { once: true });
      this.waiting.push(go);
    });
  }
  release(): void {
    this.used--;
    const next = this.waiting.shift();
    if (next) next();
  }
}

type Counters = { processed: number; failed: number; deadLettered: number; reclaimed: number; lost: number; skipped: number; errors: number };

/** See the file comment. Created by {@link Streamfan.subscribe} for a topic with `partitions`. */
export class PartitionedSubscription<T = unknown> extends EventEmitter<SubscriptionEvents> {
  readonly topic: string;
  readonly group: string;
  readonly consumer: string;
  readonly options: Readonly<ResolvedSubscribeOptions & ResolvedPartitionOptions>;
  /** The partition count. */
  readonly partitions: number;
  private readonly redis: Redis;
  private readonly keeper: PartitionKeeper;
  private readonly slots: Slots;
  private readonly parts = new Map<number, { sub?: Subscription<T>; subClosed?: Promise<{ left: number; deleted: boolean }>; ordered?: OrderedPartition<T>; token: number; closing?: Promise<void> }>();
  private readonly host: OrderedHost<T> | undefined;
  /** Ordered groups: the one blocking XREAD all idle partitions wait in (idle-wait.ts). */
  private readonly idleWait: IdleWait | undefined;
  private mode: 'P' | 'S' = 'P';
  private retentionTimer: NodeJS.Timeout | undefined;
  private promoteTimer: NodeJS.Timeout | undefined;
  /** Unordered: public ids of the handlers running now (not those read and waiting for a slot). */
  private readonly executing = new Set<string>();
  private readonly startAt: Array<Promise<string | undefined>> | undefined;
  private readonly done: Counters = { processed: 0, failed: 0, deadLettered: 0, reclaimed: 0, lost: 0, skipped: 0, errors: 0 };
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private isReady = false;
  private stopping = false;
  private lastError: LastError | undefined;
  private closing: Promise<void> | undefined;
  private left = 0;
  private deleted = true;
  /** Set when a partition found the group retired: reported once, with the topic's name; the consumer closes. */
  private retired: GroupRetiredError | undefined;
  /** Unordered: the signals given to the handlers running now (each follows its delivery's; retire() aborts them all). */
  private readonly handlerAborts = new Set<AbortController>();

  /** @internal use {@link Streamfan.subscribe} */
  constructor(
    private readonly topicDef: Topic<T>,
    group: string,
    private readonly handler: Handler<T>,
    options: ResolvedSubscribeOptions,
    partition: ResolvedPartitionOptions,
    private readonly settings: PartitionedSettings,
  ) {
    super();
    this.topic = topicDef.name;
    this.group = group;
    this.consumer = options.consumer;
    this.partitions = topicDef.partitions!;
    this.options = Object.freeze({ ...options, ...partition });
    this.slots = new Slots(options.concurrency);
    // Read every partition's end now, on the command connection, so an event published after
    // subscribe() is after the position a new group starts at (as captureStreamEnd explains).
    this.startAt = options.startFrom === 'latest'
      ? Array.from({ length: this.partitions }, (_, i) => captureStreamEnd(settings.commands, partitionKeys(settings.prefix, this.topic, i).stream))
      : undefined;
    this.redis = openConnection(settings.connection, 'worker', settings.redisOptions);
    this.redis.on('error', () => { /* each command reports its own failure */ });
    this.keeper = new PartitionKeeper({
      redis: this.redis, prefix: settings.prefix, topic: this.topic, group, partitions: this.partitions,
      consumer: this.consumer, leaseMs: partition.leaseMs, ordering: partition.ordering,
      busy: () => new Set([...this.parts].filter(([, p]) => (p.sub?.stats.inFlight ?? p.ordered?.inFlight ?? 0) > 0).map(([i]) => i)),
      // An ordered partition is released only once no handler of it runs: a handler past its
      // time limit counts as settled (its late settle is fenced once another consumer holds it).
      drain: (p) => this.stopPartition(p, partition.ordering === 'key' ? this.orderedTimeoutMs : options.shutdownGraceMs),
      // Rebalance notices on one subscriber connection shared by the client's partitioned consumers.
      notices: {
        mode: () => this.mode,
        listen: (channel, mode, onNotice) => listenRebalance(settings.commands, () => {
          const sub = openConnection(settings.connection, 'subscriber', settings.redisOptions);
          sub.on('error', () => { /* a lost notice costs a tick; the keeper's ticks go on */ });
          return sub;
        }, channel, mode, onNotice),
      },
    });
    this.keeper.on('assigned', ({ partition: p, token }) => this.startPartition(p, token));
    this.keeper.on('revoked', ({ partition: p, reason }) => {
      if (reason === 'lost') this.parts.get(p)?.ordered?.lose();
      void this.stopPartition(p, options.shutdownGraceMs);
    });
    if (partition.ordering === 'key') {
      const slots = this.slots;
      this.idleWait = new IdleWait({
        redis: this.redis, blockMs: options.blockMs,
        openBlocking: () => openConnection(settings.connection, 'blocking', settings.redisOptions),
        report: (err, context) => this.report(err, context),
      });
      const emit = this.emit.bind(this) as (ev: string, x: unknown) => boolean;
      this.host = {
        redis: this.redis, topic: topicDef, group, consumer: this.consumer, options: this.options,
        statusTtlSeconds: settings.statusTtlSeconds, handler, maxHeld: partition.maxHeldPerPartition,
        handlerTimeoutMs: this.orderedTimeoutMs,
        publishMode: () => this.mode,
        clock: new ServerClock(this.redis),
        waitForNew: (p, streams, ids) => this.idleWait!.wait(p, streams, ids),
        leaveWait: (p) => this.idleWait?.leave(p),
        hold: partition.afterDeadLetter === 'hold',
        acquireSlot: (signal) => slots.acquire(signal),
        releaseSlot: () => slots.release(),
        emit: (event: string, e: unknown) => { emit(event, e); },
        report: (err, context) => this.report(err, context),
        leaseFresh: (p) => this.keeper.isFresh(p),
        fenced: (p) => {
          this.parts.get(p)?.ordered?.lose();
          void this.stopPartition(p, 0);
        },
      } as OrderedHost<T>;
    }
    this.keeper.on('error', (err) => this.report(err, 'partition lease'));
    void this.start();
  }

  /** Ordered groups: the handler time limit (handlerTimeoutMs, else 3 × leaseMs). */
  private get orderedTimeoutMs(): number {
    return this.options.handlerTimeoutMs > 0 ? this.options.handlerTimeoutMs : 3 * this.options.leaseMs;
  }

  /** Counts since this subscription started, over every partition it held. */
  get stats(): Readonly<Counters & { inFlight: number }> {
    const s = { ...this.done, inFlight: 0 };
    for (const { sub, ordered } of this.parts.values()) {
      if (ordered) {
        const c = ordered.counters;
        s.processed += c.processed; s.failed += c.failed; s.deadLettered += c.deadLettered; s.lost += c.lost; s.skipped += c.skipped; s.inFlight += ordered.inFlight;
      }
      if (!sub) continue;
      const x = sub.stats;
      s.processed += x.processed; s.failed += x.failed; s.deadLettered += x.deadLettered;
      s.reclaimed += x.reclaimed; s.lost += x.lost; s.skipped += x.skipped; s.errors += x.errors; s.inFlight += x.inFlight;
    }
    return s;
  }

  /**
   * Ids (`p<i>:…`) of the events whose handlers run now. (An unordered consumer reads up to
   * `concurrency` entries per held partition; those waiting for one of the `concurrency` slots
   * are pending to it, their leases kept, but not running.)
   */
  get running(): string[] {
    return [...this.executing, ...[...this.parts.values()].flatMap(({ ordered }) => ordered?.runningIds ?? [])];
  }

  /** Partitions this consumer holds now, with their lease tokens. */
  get owned(): ReadonlyMap<number, number> {
    return this.keeper.partitions;
  }

  /** See {@link Subscription.health}; the lag and pending are summed over the partitions. */
  health(options?: HealthOptions): Promise<SubscriptionHealth> {
    return probeSubscription({
      topic: this.topic, group: this.group, consumer: this.consumer,
      connections: [this.redis, ...[...this.parts.values()].flatMap((p) => (p.sub ? [p.sub.worker] : []))],
      started: this.isReady, closing: this.stopping, readFailing: false, retired: this.retired !== undefined, lastError: this.lastError,
      groupInfo: async () => (await listPartitionedGroups(this.redis, this.settings.prefix, this.topic, this.partitions)).find((g) => g.group === this.group),
    }, options);
  }

  /**
   * Resolves when the groups exist on every partition and this consumer took its first share;
   * rejects with {@link ClosedError} if it closes first, with {@link GroupRetiredError} when the
   * group was retired.
   */
  ready(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    if (this.stopping) return Promise.reject(this.retired ?? new ClosedError(`subscription ${this.group}@${this.topic}`));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** @internal Report an error without throwing: to `error` listeners, else to the logger. */
  report(err: unknown, context: string): void {
    if (this.stopping && /Connection is closed/.test((err as Error)?.message ?? '')) return;
    if (this.retired && isNoGroup(err)) return; // a partition meeting the destroyed group: nothing new
    const e = fromRedisError(err, `${this.group}@${this.topic} ${context}`);
    this.done.errors++;
    this.lastError = lastErrorOf(e);
    emitOrLog(this, this.options.logger, e, `${e.name} (${e.code}) in subscription ${this.group}@${this.topic}: ${e.message}`);
  }

  /**
   * Create the group (and its redelivery stream) on every partition, so no partition misses
   * events published meanwhile: the createGroup script, which refuses on a partition where the
   * group is listed retired (atomic with retireGroup's listing there).
   * @throws GroupRetiredError when any partition lists the group retired
   */
  private async ensureGroups(): Promise<void> {
    const start = this.options.startFrom;
    await Promise.all(Array.from({ length: this.partitions }, async (_, i) => {
      const keys = partitionKeys(this.settings.prefix, this.topic, i);
      const from = start === 'latest' ? ((await this.startAt![i]) ?? '$') : start === 'beginning' ? '0' : start.id;
      for (const [stream, at] of [[keys.stream, from], [keys.redeliver(this.group), '0']] as const) {
        const [state, when] = await runScript<[string, string]>(this.redis, 'createGroup', [stream, keys.retired], [this.group, at, '']);
        if (state === 'retired') throw new GroupRetiredError(this.topic, this.group, new Date(Number(when)));
      }
    }));
  }

  /**
   * The group was found retired (on any partition; retireGroup retires it on every one): report
   * it once, naming the topic, abort the running handlers with it, and close.
   */
  private retire(retiredAt: Date | undefined): void {
    if (this.retired) return;
    const err = new GroupRetiredError(this.topic, this.group, retiredAt);
    this.retired = err;
    for (const a of this.handlerAborts) a.abort(err);
    for (const part of this.parts.values()) part.ordered?.retire(err);
    for (const w of this.readyWaiters.splice(0)) w.reject(err);
    this.done.errors++;
    this.lastError = lastErrorOf(err);
    emitOrLog(this, this.options.logger, err, `${err.name} in subscription ${this.group}@${this.topic}: ${err.message}`);
    void this.close();
  }

  /**
   * An ordered partition's error: NOGROUP means its group was destroyed; when the partition lists
   * it retired, the consumer stops (one GroupRetiredError), else the error is reported.
   */
  private reportFrom(p: number, err: unknown, context: string): void {
    if (!isNoGroup(err) || this.retired) { this.report(err, context); return; }
    void this.redis.hget(partitionKeys(this.settings.prefix, this.topic, p).retired, this.group).then(
      (at) => (at === null ? this.report(err, context) : this.retire(new Date(Number(at)))),
      () => this.report(err, context),
    );
  }

  private async start(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await ensureTopicMetaOnce(this.redis, this.settings.prefix, this.topic, this.partitions);
        this.mode = await noticeMode(this.redis, this.settings.prefix);
        await loadScripts(this.redis, ['heartbeatMember', 'acquireLease', 'renewLease', 'releaseLease']);
        // skipOlderThanMs: ordered partitions judge ages on the server's clock, measured before the first entry.
        if (this.host && this.options.skipOlderThanMs !== undefined) await this.host.clock.sync();
        await this.ensureGroups();
        break;
      } catch (err) {
        if (err instanceof GroupRetiredError) {
          this.retire(err.retiredAt);
          return;
        }
        this.report(err, 'start');
        // A partition count that does not match is not going to change: stop.
        if ((err as { code?: string }).code === 'PARTITION_MISMATCH') {
          for (const w of this.readyWaiters.splice(0)) w.reject(err as Error);
          void this.close();
          return;
        }
        await sleep(Math.min(100 * 2 ** attempt, 5000));
      }
    }
    if (this.stopping) return;
    this.keeper.start();
    // Ordered partitions have no Subscription of their own: retention runs here, on each held partition.
    const retentionFor = this.settings.retentionFor;
    if (this.host && retentionFor) {
      const every = retentionFor(partitionTag(this.topic, 0))?.intervalMs;
      if (every !== undefined) {
        this.retentionTimer = setInterval(() => {
          for (const p of this.keeper.partitions.keys()) {
            retentionFor(partitionTag(this.topic, p))?.run().catch((err: unknown) => this.report(err, `retention of partition ${p}`));
          }
        }, every);
      }
    }
    if (this.host) {
      // Delayed events of the partitions held: an unordered partition's Subscription promotes
      // them; an ordered one has none, so promote here (as often as a Subscription would).
      let promoting = false;
      this.promoteTimer = setInterval(() => {
        if (promoting) return;
        promoting = true;
        Promise.all([...this.keeper.partitions.keys()].map((p) => promoteDelayed(this.redis, partitionKeys(this.settings.prefix, this.topic, p),
          { statusTtlSeconds: this.settings.statusTtlSeconds, limit: 500, mode: this.mode })))
          .catch((err: unknown) => this.report(err, 'promote delayed events'))
          .finally(() => { promoting = false; });
      }, this.options.reclaimIntervalMs);
    }
    await this.keeper.tick();
    if (this.stopping) return;
    this.isReady = true;
    for (const w of this.readyWaiters.splice(0)) w.resolve();
    this.emit('ready', { consumer: this.consumer, group: this.group, topic: this.topic });
  }

  /** Work partition `p` (just acquired with `token`): a subscription on its keys. */
  private startPartition(p: number, token: number): void {
    if (this.stopping) return;
    const previous = this.parts.get(p);
    if (previous) {
      // Still stopping its previous tenure here (lost, then taken again at once): start once it
      // has stopped, if the keeper still holds it with this token.
      if (previous.closing && previous.token !== token) {
        void previous.closing.then(() => { if (this.keeper.partitions.get(p) === token) this.startPartition(p, token); });
      }
      return;
    }
    if (this.host) {
      const host: OrderedHost<T> = { ...this.host, report: (err, context) => this.reportFrom(p, err, context) };
      const ordered = new OrderedPartition<T>(host, p, token, partitionKeys(this.settings.prefix, this.topic, p));
      this.parts.set(p, { ordered, token });
      ordered.start();
      return;
    }
    const home = partitionTag(this.topic, p);
    const wrapped: Handler<T> = async (payload, ctx) => {
      await this.slots.acquire(ctx.signal);
      // skipOlderThanMs: judged when the partition read the entry, and again now that the shared
      // slots let it run (it may have waited behind other partitions' handlers).
      if (sub.staleAtGrant(ctx.publishedAt.getTime())) {
        this.slots.release();
        throw STALE_AT_GRANT;
      }
      // The handler's signal follows its delivery's, and fires too when the group is found retired
      // on another partition (a controller per run: no listener stays on a long-lived signal).
      const own = new AbortController();
      const follow = () => own.abort(ctx.signal.reason);
      if (ctx.signal.aborted) follow(); else ctx.signal.addEventListener('abort', follow, { once: true });
      if (this.retired) own.abort(this.retired);
      this.handlerAborts.add(own);
      const c = this.publicContext(ctx, p, token, own.signal);
      this.executing.add(c.id);
      try {
        return await this.handler(payload, c);
      } finally {
        this.executing.delete(c.id);
        this.handlerAborts.delete(own);
        ctx.signal.removeEventListener('abort', follow);
        this.slots.release();
      }
    };
    const sub = new Subscription<T>({ ...this.topicDef, name: home }, this.group, wrapped, this.options, {
      connection: this.settings.connection,
      redisOptions: this.settings.redisOptions,
      prefix: this.settings.prefix,
      statusTtlSeconds: this.settings.statusTtlSeconds,
      ...(this.startAt ? { startAt: this.startAt[p]! } : {}),
      ...(this.settings.retentionFor ? { retention: this.settings.retentionFor(home) } : {}),
    });
    // Listened for from its start: a partition's subscription may close by itself (its group retired).
    const subClosed = new Promise<{ left: number; deleted: boolean }>((resolve) => sub.once('closed', (e) => resolve(e)));
    this.parts.set(p, { sub, subClosed, token });
    this.forward(sub, p);
  }

  /**
   * The handler's context with public ids: `p<i>:…`, the partitioned topic's name, the partition
   * and token, and `signal` (the delivery's, which also fires when the group is found retired).
   */
  private publicContext(ctx: HandlerContext, p: number, token: number, signal: AbortSignal): HandlerContext & PartitionContext {
    return Object.create(ctx, {
      signal: { value: signal, enumerable: true },
      id: { value: formatPartitionedId(p, ctx.id), enumerable: true },
      topic: { value: this.topic, enumerable: true },
      partition: { value: p, enumerable: true },
      fencingToken: { value: token, enumerable: true },
    }) as HandlerContext & PartitionContext;
  }

  /** Re-emit a partition's events with public ids. */
  private forward(sub: Subscription<T>, p: number): void {
    forwardSubscriptionEvents(sub, this, `partition ${p}`, (x) => formatPartitionedId(p, x), (err) => {
      // Every partition finds the group retired (retireGroup retires it on each): one error, naming
      // the topic. A partition that had not noticed yet meets the destroyed group while it closes: nothing new.
      if (err instanceof GroupRetiredError) { this.retire(err.retiredAt); return; }
      if (this.retired && isNoGroup(err)) return;
      this.done.errors++;
      this.lastError = lastErrorOf(err);
      emitOrLog(this, this.options.logger, err, `${err.name} in subscription ${this.group}@${this.topic} (partition ${p}): ${err.message}`);
    });
  }

  /** Stop working partition `p`: its handlers get `graceMs`, its counts are kept. */
  private stopPartition(p: number, graceMs: number): Promise<void> {
    const part = this.parts.get(p);
    if (!part) return Promise.resolve();
    part.closing ??= (async () => {
      const { sub, ordered } = part;
      if (ordered) {
        this.left += await ordered.drain(graceMs);
        const c = ordered.counters;
        this.done.processed += c.processed; this.done.failed += c.failed; this.done.deadLettered += c.deadLettered; this.done.lost += c.lost; this.done.skipped += c.skipped;
        this.parts.delete(p);
        return;
      }
      await sub!.close(graceMs);
      const { left, deleted } = await part.subClosed!;
      this.left += left;
      this.deleted &&= deleted;
      const x = sub!.stats;
      this.done.processed += x.processed; this.done.failed += x.failed; this.done.deadLettered += x.deadLettered;
      this.done.reclaimed += x.reclaimed; this.done.lost += x.lost; this.done.skipped += x.skipped; this.done.errors += x.errors;
      this.parts.delete(p);
    })();
    return part.closing;
  }

  /**
   * Stop taking partitions, drain and give up each one (its handlers get `graceMs`; what still
   * runs is left pending for the next owner to reclaim), leave the group's member set, close
   * the connections. Safe to call more than once.
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
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.promoteTimer) clearInterval(this.promoteTimer);
    for (const w of this.readyWaiters.splice(0)) w.reject(this.retired ?? new ClosedError(`subscription ${this.group}@${this.topic}`));
    const closeAll = () => Promise.all([...this.parts.keys()].map((p) => this.stopPartition(p, graceMs)));
    // Drain first (with this grace), then the keeper releases the leases and leaves.
    await closeAll();
    try { await this.keeper.close(); } catch (err) { this.report(err, 'close: release partitions'); }
    await closeAll();
    this.idleWait?.close();
    try { await this.redis.quit(); } catch { /* already gone */ }
    this.redis.disconnect();
    this.emit('closed', { consumer: this.consumer, left: this.left, deleted: this.deleted });
  }
}

/** @internal {@link Streamfan.subscribe} of a partitioned topic, typed as the client returns it. */
export function subscribePartitioned<T>(topic: Topic<T>, group: string, handler: Handler<T>, options: ResolvedSubscribeOptions, partition: ResolvedPartitionOptions, settings: PartitionedSettings): Subscription<T> {
  // The client's subscriptions are typed Subscription; this class has its public surface
  // (events, ready, close, stats, running, report), not its internals (keys, worker).
  return new PartitionedSubscription<T>(topic, group, handler, options, partition, settings) as unknown as Subscription<T>;
}
