import EventEmitter from 'eventemitter3';
import type Redis from 'ioredis';
import { computeBackoff } from '../backoff';
import { connectionDrops, isCluster, openConnection, type ConnectionOption } from '../connection';
import { ClosedError, DeadLetterError, GroupRetiredError, fromRedisError, isNoGroup } from '../errors';
import { topicKeys, type TopicKeys } from '../keys';
import { loadScripts, runScript } from '../scripts/runner';
import { promoteDelayed } from '../delayed';
import type { Topic } from '../topic';
import { AckBatcher } from './ack-batcher';
import { Reclaimer } from './reclaimer';
import { renewLeases } from './lease-keeper';
import { pruneIdleConsumers } from './pruner';
import { DeliveryMap, LazyAbort, type InFlight } from './in-flight';
import { settledByResend } from './resend';
import { groupInfos } from '../status';
import { compareIds } from '../ids';
import { monotonicMs, sleep, withTimeout } from '../timing';
import { describeError, encodeResult, idTime, isMalformed, parseEntry, type ParsedEntry, type RawEntry } from './entry';
import type { DeadLetterReason, Handler, HandlerContext, ResolvedSubscribeOptions, SubscriptionEvents } from './options';
import type { RedisOptions } from 'ioredis';

/**
 * 'S' when completion notices must go by SPUBLISH: on a Cluster (PUBLISH there reaches every
 * node) whose servers have it, found by capability (COMMAND INFO), never by version.
 */
async function detectPublishMode(redis: Redis): Promise<'P' | 'S'> {
  if (!isCluster(redis as unknown)) return 'P';
  const info = (await redis.command('INFO', 'SPUBLISH')) as unknown[];
  return Array.isArray(info) && info[0] != null ? 'S' : 'P';
}

function groupByStream<L extends { stream: string }>(items: L[]): Map<string, L[]> {
  const m = new Map<string, L[]>();
  for (const x of items) m.set(x.stream, [...(m.get(x.stream) ?? []), x]);
  return m;
}

/** Counts of a subscription since it started ({@link Subscription.stats}). */
export interface SubscriptionStats {
  processed: number;
  failed: number;
  deadLettered: number;
  reclaimed: number;
  lost: number;
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
 * One consumer of one group: a worker pool that reads only as many entries as it has
 * free slots, acks in batches, retries with backoff, keeps the leases of long handlers,
 * reclaims what dead consumers left, and recovers from restarts by itself.
 * Create it with {@link Streamfan.subscribe}.
 */
export class Subscription<T = unknown> extends EventEmitter<SubscriptionEvents> {
  readonly topic: string;
  readonly group: string;
  readonly consumer: string;
  readonly options: Readonly<ResolvedSubscribeOptions>;
  /** @internal */ readonly keys: TopicKeys;
  /** @internal */ readonly worker: Redis;
  private readonly blocking: Redis;
  private readonly inFlight = new DeliveryMap<InFlight>();
  private readonly sideTasks = new Set<Promise<unknown>>();
  private readonly acks: AckBatcher;
  private readonly reclaimer: Reclaimer;
  /**
   * Entries delivered to this consumer that found no free slot (a rare race of two reads, or
   * reclaim meeting a read): run before anything else is read, their leases kept meanwhile.
   */
  private held: Array<{ stream: string; raw: RawEntry; deliveries: number; leasedAt: number }> = [];
  private blockingId: number | undefined;
  private stopping = false;
  private closing: Promise<void> | undefined;
  private readLoopDone: Promise<void> | undefined;
  private slotWaiters: Array<() => void> = [];
  private timers: NodeJS.Timeout[] = [];
  private leaseTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDueAt = Infinity;
  private reclaiming = false;
  private lastPruneAt: number | undefined;
  /** Handlers past handlerTimeoutMs, already settled, still running: they keep their slots. */
  private overrun = 0;
  /** The group's last-delivered-id on each stream, as last seen (reclaim ticks, start). */
  private readonly groupPos = new Map<string, string>();
  /** The last entry id read from each stream ('>' reads return ids in order). */
  private readonly lastRead = new Map<string, string>();
  /**
   * The oldest entry pending in the group on the topic stream, as last seen (reclaim ticks): after
   * an XGROUP DESTROY, entries from there on may have been pending with a consumer that will never
   * settle them (dead, stopped, or its read's reply lost), and the group's pending list is gone.
   */
  private pendingFloor: string | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** The id this subscription created its topic group at, if it did. */
  private createdAt: string | undefined;
  private reclaimOwed = false;
  private isReady = false;
  /** How completion notices are sent: 'S' (SPUBLISH) on a Cluster whose servers have it, else 'P'. */
  private publishMode: 'P' | 'S' = 'P';
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  /** Set when the group was found retired: the subscription stops, and ready() rejects with it. */
  private retired: GroupRetiredError | undefined;
  private counters: Omit<SubscriptionStats, 'inFlight'> = { processed: 0, failed: 0, deadLettered: 0, reclaimed: 0, lost: 0, errors: 0 };

  /** @internal use {@link Streamfan.subscribe} */
  constructor(
    private readonly topicDef: Topic<T>,
    group: string,
    private readonly handler: Handler<T>,
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
    void this.start();
  }

  /**
   * Counts since this subscription started. `errors` counts every error reported, listened
   * for or not (unobserved ones go to the `logger`).
   */
  get stats(): Readonly<SubscriptionStats> {
    return { ...this.counters, inFlight: this.inFlight.size + this.overrun };
  }

  /** Ids of the events this consumer is handling now. */
  get running(): string[] {
    return [...this.inFlight.values()].map((f) => f.eventId);
  }

  /**
   * Resolves when the consumer reads; rejects with {@link ClosedError} if it closes first, or with
   * {@link GroupRetiredError} when its group was retired (see {@link Streamfan.retireGroup}).
   */
  ready(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    if (this.stopping) return Promise.reject(this.retired ?? new ClosedError(`subscription ${this.group}@${this.topic}`));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  private watchConnection(c: Redis, name: string): void {
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
   * After a connection came back: entries delivered to this consumer in a reply the drop lost (an
   * XREADGROUP or XAUTOCLAIM answered by Redis, never seen here) are in this consumer's pending
   * list but in no handler's hands; they would wait a whole visibility timeout for a reclaim. Run
   * them now: this consumer's pending entries that it neither runs, holds nor is acking, and that
   * were delivered before the connection came back (idle since before the midpoint of the outage:
   * a reply still on its way, to a read re-sent after the reconnect, is younger than that).
   */
  private async runOrphans(droppedAt: number, readyAt: number): Promise<void> {
    // A reclaim's claimed entries are taken only once its pass ends: wait for it.
    while (this.reclaiming && !this.stopping) await sleep(5);
    if (this.stopping || !this.isReady) return;
    this.reclaiming = true;
    try {
      for (const stream of [this.keys.stream, this.keys.redeliver(this.group)]) {
        const limit = this.inFlight.size + this.held.length + this.options.concurrency + 1000;
        const rows = (await this.worker.xpending(stream, this.group, '-', '+', limit, this.consumer)) as Array<[string, string, number, number]>;
        const now = monotonicMs();
        const minIdle = now - (droppedAt + readyAt) / 2;
        const own = (id: string) => this.inFlight.has(stream, id) || this.acks.has(stream, id) || this.held.some((h) => h.stream === stream && h.raw[0] === id);
        const orphans = rows.filter((r) => !own(r[0]) && Number(r[2]) >= minIdle);
        if (orphans.length === 0) continue;
        const p = this.worker.pipeline();
        for (const r of orphans) p.xrange(stream, r[0], r[0]);
        const found = (await p.exec()) ?? [];
        const deleted: string[] = [];
        orphans.forEach((r, i) => {
          const [err, entries] = found[i] ?? [];
          const raw = !err && Array.isArray(entries) ? (entries as RawEntry[])[0] : undefined;
          if (err) return;
          if (!raw) { deleted.push(r[0]); return; }
          if (!own(r[0])) this.take(stream, raw, Math.max(1, Number(r[3])), now - Number(r[2]));
        });
        if (deleted.length > 0) await this.lostWhilePending(stream, deleted);
      }
    } catch (err) {
      if (!isNoGroup(err)) throw err; // the group vanished: the read loop's recovery takes over
    } finally {
      this.reclaiming = false;
    }
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
    if (this.listenerCount('error') > 0) {
      this.emit('error', e);
      return;
    }
    try {
      this.options.logger.error(`${e.name} (${e.code}) in subscription ${this.group}@${this.topic}: ${e.message}`, e);
    } catch { /* a logger that throws must not break the consumer */ }
  }

  private track<R>(p: Promise<R>): void {
    const t = p.catch((err) => this.report(err, 'background task')).finally(() => this.sideTasks.delete(t));
    this.sideTasks.add(t);
  }

  private async startId(which: 'latest' | 'beginning' | { id: string }): Promise<string> {
    if (which === 'latest') return (await this.settings.startAt) ?? '$';
    if (which === 'beginning') return '0';
    return which.id;
  }

  /**
   * Create both groups (topic stream and this group's redelivery stream) unless they exist, and
   * register this consumer in them (so `groups` shows the pool before its first read).
   * @throws GroupRetiredError when the group was retired
   */
  private async ensureGroups(startFrom: string): Promise<boolean> {
    let created = false;
    for (const [stream, start] of [[this.keys.stream, startFrom], [this.keys.redeliver(this.group), '0']] as const) {
      const [state, id] = await this.createGroup(stream, start, this.consumer);
      if (state === 'created' && stream === this.keys.stream) {
        created = true;
        this.createdAt = start === '$' ? id || '$' : start;
      }
    }
    return created;
  }

  private async start(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await loadScripts(this.worker);
        this.publishMode = await detectPublishMode(this.worker);
        await this.ensureGroups(await this.startId(this.options.startFrom));
        await this.noteGroupPositions();
        break;
      } catch (err) {
        if (err instanceof GroupRetiredError) {
          this.stopRetired(err);
          return;
        }
        this.report(err, 'start');
        await sleep(Math.min(100 * 2 ** attempt, 5000));
      }
    }
    if (this.stopping) return;
    this.isReady = true;
    for (const w of this.readyWaiters.splice(0)) w.resolve();
    this.emit('ready', { consumer: this.consumer, group: this.group, topic: this.topic });
    this.readLoopDone = this.readLoop();
    this.timers.push(setInterval(() => this.track(this.reclaimTick()), this.options.reclaimIntervalMs));
    // Kept apart from the other timers: shutdown keeps renewing leases until its drain ends.
    this.leaseTimer = setInterval(() => this.track(this.keepLeases()), Math.max(10, Math.floor(this.options.visibilityTimeoutMs / 4)));
    if (this.settings.retention) {
      const r = this.settings.retention;
      this.timers.push(setInterval(() => this.track(r.run()), r.intervalMs));
    }
    this.track(this.reclaimTick());
  }

  private free(): number {
    return this.options.concurrency - this.inFlight.size - this.overrun;
  }

  private waitForSlot(): Promise<void> {
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private slotFreed(): void {
    this.runHeld();
    for (const w of this.slotWaiters.splice(0)) w();
  }

  private async readLoop(): Promise<void> {
    let failures = 0;
    const redeliver = this.keys.redeliver(this.group);
    while (!this.stopping) {
      this.runHeld();
      const free = this.free();
      if (free <= 0) {
        await this.waitForSlot();
        // Let every handler that finished in this tick free its slot, so the next read asks
        // for a batch rather than one entry at a time.
        await new Promise((r) => setImmediate(r));
        continue;
      }
      if (this.reclaimOwed) {
        this.reclaimOwed = false;
        await this.reclaimTick(false);
        if (this.free() <= 0) continue;
      }
      try {
        // Retries first, without blocking: XREADGROUP's COUNT applies per stream, so one read of
        // both streams could deliver up to twice the free slots. (Reading both in one Lua script
        // cost Redis about 3 µs more per entry: each entry crossed into Lua and back.)
        // Leases count from when a read was sent (the entries were delivered at some point after).
        let sentAt = monotonicMs();
        const again = await this.readOnce(redeliver, free);
        failures = 0;
        for (const e of again) this.take(redeliver, e, 1, sentAt);
        this.noteRead(redeliver, again);
        const rest = this.free();
        if (rest <= 0 || this.stopping) continue;
        if (again.length > 0) {
          sentAt = monotonicMs();
          const fresh = await this.readOnce(this.keys.stream, rest);
          for (const e of fresh) this.take(this.keys.stream, e, 1, sentAt);
          this.noteRead(this.keys.stream, fresh);
          continue;
        }
        if (this.blockingId === undefined && !isCluster(this.blocking)) this.blockingId = Number(await this.blocking.client('ID'));
        if (this.stopping) break;
        sentAt = monotonicMs();
        const reply = (await this.blocking.xreadgroup(
          'GROUP', this.group, this.consumer, 'COUNT', rest, 'BLOCK', this.options.blockMs,
          'STREAMS', redeliver, this.keys.stream, '>', '>',
        )) as Array<[string, RawEntry[]]> | null;
        if (!reply) continue;
        // The redelivery stream was empty just before, and a blocked read is served by the first
        // stream that gets data: only a retry written between the two reads can make this more
        // than the free slots. Such an excess is kept and run next (take), never handed back.
        for (const [stream, entries] of reply) {
          for (const e of entries) this.take(stream, e, 1, sentAt);
          this.noteRead(stream, entries);
        }
      } catch (err) {
        if (this.stopping) break;
        failures++;
        if (isNoGroup(err)) {
          await this.recover('the group or its stream vanished (NOGROUP): FLUSHDB, a deleted stream or XGROUP DESTROY');
        } else {
          this.report(err, 'read');
          await sleep(Math.min(50 * 2 ** failures, 5000));
        }
      }
    }
  }

  /** One non-blocking read of new entries from one stream, on the worker connection. */
  private async readOnce(stream: string, count: number): Promise<RawEntry[]> {
    const reply = (await this.worker.xreadgroup('GROUP', this.group, this.consumer, 'COUNT', count, 'STREAMS', stream, '>')) as Array<[string, RawEntry[]]> | null;
    return reply?.[0]?.[1] ?? [];
  }

  /**
   * Remember where the group is on each stream (XINFO GROUPS' last-delivered-id, O(groups)): a
   * destroyed group resumes from the furthest of this and this consumer's own last read, so a
   * consumer that read little (or nothing) does not resume far behind its group.
   * @returns false when the topic stream no longer has the group
   */
  private async noteGroupPositions(): Promise<boolean> {
    let onTopic = true;
    for (const stream of [this.keys.stream, this.keys.redeliver(this.group)]) {
      const g = (await groupInfos(this.worker, stream)).find((x) => x.name === this.group);
      if (!g && stream === this.keys.stream) onTopic = false;
      const id = g?.['last-delivered-id'];
      if (typeof id === 'string' && /^\d+-\d+$/.test(id)) this.groupPos.set(stream, id);
      if (g && stream === this.keys.stream) {
        // XPENDING's summary: O(consumers), its second value the oldest pending id (nil: none).
        const summary = (await this.worker.xpending(stream, this.group)) as [number, string | null, string | null, unknown];
        this.pendingFloor = typeof summary[1] === 'string' ? summary[1] : undefined;
      }
    }
    return onTopic;
  }

  /** The furthest position known on `stream`: this consumer's last read or the group's last seen. */
  private lastKnown(stream: string): string | undefined {
    const a = this.lastRead.get(stream);
    const b = this.groupPos.get(stream) ?? (stream === this.keys.stream ? this.createdAt : undefined);
    if (a === undefined) return b;
    if (b === undefined) return a;
    return compareIds(a, b) >= 0 ? a : b;
  }

  /** Remember the last entry read from each stream: where a destroyed group resumes. */
  private noteRead(stream: string, entries: RawEntry[]): void {
    const last = entries[entries.length - 1];
    if (last) this.lastRead.set(stream, last[0]);
  }

  /** Run an entry delivered to this consumer now, or, with no free slot, as soon as one frees. */
  private take(stream: string, raw: RawEntry, deliveries: number, leasedAt = monotonicMs()): void {
    if (this.stopping || this.free() <= 0 || this.held.length > 0) {
      this.held.push({ stream, raw, deliveries, leasedAt });
      this.runHeld();
      return;
    }
    this.dispatch(stream, raw, deliveries, leasedAt);
  }

  /** Start held entries while slots are free (they are this consumer's: delivered, pending). */
  private runHeld(): void {
    while (this.held.length > 0 && this.free() > 0 && !this.stopping) {
      const h = this.held.shift()!;
      this.dispatch(h.stream, h.raw, h.deliveries, h.leasedAt);
    }
  }

  /**
   * At shutdown: give held entries back to the group, reclaimable at once (idle = the visibility
   * timeout) and with this delivery not counted (RETRYCOUNT the earlier deliveries).
   */
  private async handBackHeld(): Promise<void> {
    for (const h of this.held.splice(0)) {
      await this.worker.xclaim(h.stream, this.group, this.consumer, 0, h.raw[0], 'IDLE', this.options.visibilityTimeoutMs,
        'RETRYCOUNT', Math.max(0, h.deliveries - 1), 'JUSTID');
    }
  }

  /**
   * After NOGROUP: find out what vanished, recreate it, and say so in `recovered`.
   * - The stream is gone (FLUSHDB, DEL, a failover that lost it): its data is gone too; the
   *   group is recreated at `recoverFrom` ('beginning' handles whatever is published from now).
   * - The stream exists but the group does not (XGROUP DESTROY, or a stream deleted and
   *   recreated by a publish): the group is recreated after the last entry this consumer read,
   *   never from the beginning, so what the group already finished is not replayed (entries
   *   other consumers of the group read after that point may be handled again: at-least-once).
   *   A consumer that read nothing yet uses the position it first created the group at. The
   *   entries its handlers still run are taken back into the group's pending list (owned by this
   *   consumer), so their acks count: nothing running is dropped or handed to a second consumer.
   * Handlers on a vanished stream's entries are aborted (the data is gone). A group retired for
   * good (Streamfan.retireGroup) is not recreated: the subscription stops (see stopRetired).
   */
  private async recover(reason: string): Promise<void> {
    try {
      const parts: string[] = [];
      let startedAt = '';
      for (const stream of [this.keys.stream, this.keys.redeliver(this.group)]) {
        const isTopic = stream === this.keys.stream;
        const what = isTopic ? 'the topic stream' : 'the redelivery stream';
        const exists = (await this.worker.exists(stream)) === 1;
        if (!exists) {
          const start = isTopic ? (this.options.recoverFrom === 'latest' ? '$' : '0') : '0';
          await this.createGroup(stream, start);
          this.reclaimer.reset(stream);
          this.abandonStream(stream, `${what} was gone: this delivery's entry no longer exists`);
          parts.push(`${what} was gone (FLUSHDB, DEL or a lost failover): recreated at ${isTopic ? this.options.recoverFrom : 'the beginning'}`);
          if (isTopic) startedAt = this.options.recoverFrom;
          continue;
        }
        // The stream is there: the group was destroyed (or the stream recreated). Recreate it after
        // the last entry this consumer read (another consumer may have been first), then take back
        // the entries this consumer is still handling, so their acks count: nothing finished is
        // replayed, nothing running is dropped or run twice.
        const had = (await groupInfos(this.worker, stream)).some((g) => g.name === this.group);
        const start = this.lastKnown(stream) ?? (isTopic ? '$' : '0');
        const created = !had && (await this.createGroup(stream, start))[0] === 'created';
        if (created && isTopic && start !== '$') this.scheduleSweep(this.pendingFloor ?? this.groupPos.get(stream) ?? '-', start);
        this.reclaimer.reset(stream);
        const kept = await this.adoptRunning(stream);
        if (!had) {
          parts.push(`the group was destroyed on ${what} while the stream exists (XGROUP DESTROY, or the stream was recreated): recreated after the last entry this consumer read (${start}), nothing replayed; ${kept} running deliveries kept`);
          if (isTopic) startedAt = start;
        }
      }
      if (parts.length === 0) return; // another consumer recreated it first
      this.emit('recovered', { reason: `${reason}; ${parts.join('; ')}`, startedAt: startedAt || 'unchanged' });
    } catch (err) {
      if (err instanceof GroupRetiredError) {
        this.stopRetired(err);
        return;
      }
      this.report(err, 'recover');
      await sleep(500);
    }
  }

  /**
   * Take the deliveries this consumer still runs or holds on `stream` back into the recreated
   * group's pending list (adoptEntries). One another consumer owns by now is left to it: its
   * handler here is aborted and its late ack will be refused.
   * @returns how many were taken back
   */
  private async adoptRunning(stream: string): Promise<number> {
    const mine: Array<{ id: string; deliveries: number; f?: InFlight }> = [];
    for (const f of this.inFlight.values()) if (f.stream === stream && !f.leaseLost) mine.push({ id: f.entryId, deliveries: Math.max(1, f.attempt - f.base), f });
    for (const h of this.held) if (h.stream === stream) mine.push({ id: h.raw[0], deliveries: Math.max(1, h.deliveries) });
    let kept = 0;
    for (let i = 0; i < mine.length; i += 1000) {
      const chunk = mine.slice(i, i + 1000);
      const adopted = new Set(await runScript<string[]>(this.worker, 'adoptEntries', [stream],
        [this.group, this.consumer, ...chunk.flatMap((m) => [m.id, m.deliveries])]));
      kept += adopted.size;
      for (const m of chunk) {
        if (adopted.has(m.id) || !m.f) continue;
        m.f.leaseLost = true;
        m.f.abort.abort(new Error('the consumer group was recreated and another consumer has this entry now'));
      }
      const lostHeld = new Set(chunk.filter((m) => !m.f && !adopted.has(m.id)).map((m) => m.id));
      if (lostHeld.size > 0) this.held = this.held.filter((h) => h.stream !== stream || !lostHeld.has(h.raw[0]));
    }
    return kept;
  }

  /**
   * After this consumer recreated a destroyed group: entries up to where it resumed that were
   * pending when the group was destroyed, with a consumer that will never settle them (dead,
   * stopped, or whose read reply was lost), are in no pending list now and would never be
   * delivered again. Once live consumers had time to take back what they run (their lease keepers
   * re-claim it within a visibility timeout), go through the stream from the group's oldest
   * pending entry as last seen up to where it resumed, and take the entries whose status in this
   * group is not settled (succeeded, dead, lost, or failed with its retry scheduled) and that
   * nobody holds. Needs the status (trackStatus); at most 10,000 entries, none older than the
   * status TTL (an expired status would look unsettled).
   */
  private scheduleSweep(from: string, to: string): void {
    if (!this.options.trackStatus || this.stopping) return;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      this.track(this.sweepAfterDestroy(from, to));
    }, Math.round(this.options.visibilityTimeoutMs * 1.5));
  }

  private async sweepAfterDestroy(from: string, to: string): Promise<void> {
    const stream = this.keys.stream;
    const ttl = this.settings.statusTtlSeconds;
    let start = from;
    if (ttl > 0) {
      const floor = `${Date.now() - ttl * 1000}-0`;
      if (start === '-' || compareIds(floor, start) > 0) start = floor;
    }
    const fState = `${this.group}:state`;
    const settled = new Set(['succeeded', 'dead', 'lost', 'failed']);
    let taken = 0;
    for (let scanned = 0; scanned < 10_000 && !this.stopping;) {
      const page = (await this.worker.xrange(stream, start, to, 'COUNT', 500)) as RawEntry[];
      if (page.length === 0) break;
      scanned += page.length;
      const p = this.worker.pipeline();
      for (const [id] of page) {
        p.hget(this.keys.status(id), fState);
        p.xpending(stream, this.group, id, id, 1);
      }
      const replies = (await p.exec()) ?? [];
      const own = (id: string) => this.inFlight.has(stream, id) || this.acks.has(stream, id) || this.held.some((h) => h.stream === stream && h.raw[0] === id);
      const orphans = page.filter(([id], i) => {
        const [e1, state] = replies[2 * i] ?? [];
        const [e2, pending] = replies[2 * i + 1] ?? [];
        return !e1 && !e2 && !settled.has(String(state)) && Array.isArray(pending) && pending.length === 0 && !own(id);
      });
      if (orphans.length > 0) {
        const adopted = new Set(await runScript<string[]>(this.worker, 'adoptEntries', [stream],
          [this.group, this.consumer, ...orphans.flatMap(([id]) => [id, 1])]));
        for (const raw of orphans) {
          if (!adopted.has(raw[0])) continue;
          taken++;
          this.take(stream, raw, 1);
        }
      }
      if (page.length < 500) break;
      start = `(${page[page.length - 1]![0]}`;
    }
    if (taken > 0) this.emit('recovered', { reason: `${taken} entries pending when the group was destroyed, with no consumer left to settle them, taken back`, startedAt: 'unchanged' });
  }

  /**
   * XGROUP CREATE ... MKSTREAM unless the group exists (another consumer was first) or was
   * retired, in one script (createGroup) so a retirement is never undone behind its back.
   * @returns 'created' with the new group's last-delivered id, or 'exists'
   * @throws GroupRetiredError when the group was retired
   */
  private async createGroup(stream: string, start: string, consumer = ''): Promise<['created' | 'exists', string]> {
    const [state, id] = await runScript<[string, string]>(this.worker, 'createGroup', [stream, this.keys.retired], [this.group, start, consumer]);
    if (state === 'retired') throw new GroupRetiredError(this.topic, this.group, new Date(Number(id)));
    return [state === 'created' ? 'created' : 'exists', String(id ?? '')];
  }

  /**
   * The group was retired for good: stop instead of recreating it. Running handlers are aborted
   * (their outcomes are not recorded: the group is gone), the error is reported, and the
   * subscription closes; ready() rejects with the error.
   */
  private stopRetired(err: GroupRetiredError): void {
    if (this.retired) return;
    this.retired = err;
    for (const f of this.inFlight.values()) {
      f.abandoned = true;
      f.leaseLost = true;
      f.abort.abort(err);
    }
    this.held = [];
    this.report(err, 'recover');
    void this.close();
  }

  /** Abort every delivery of one stream (its group was recreated): they settle as stale. */
  private abandonStream(stream: string, why: string): void {
    for (const f of this.inFlight.values()) {
      if (f.stream !== stream || f.leaseLost) continue;
      f.leaseLost = true;
      f.abort.abort(new Error(why));
    }
    this.held = this.held.filter((h) => h.stream !== stream);
  }

  /** Start handling one entry (no await: the handler runs in its slot). */
  private dispatch(stream: string, raw: RawEntry, deliveries: number, leasedAt = monotonicMs()): void {
    const fromRedelivery = stream !== this.keys.stream;
    const parsed = parseEntry(raw, this.topicDef.codec, fromRedelivery);
    const attempt = parsed.base + deliveries;
    if (isMalformed(parsed)) {
      this.track(this.deadLetter(stream, parsed.entryId, parsed.eventId, attempt, parsed.reason, 'malformed'));
      return;
    }
    if (attempt > this.options.maxAttempts) {
      const err = `attempt ${attempt - 1} of ${this.options.maxAttempts} never finished: its worker crashed or hung past the visibility timeout (${this.options.visibilityTimeoutMs}ms)`;
      this.track(this.deadLetter(stream, parsed.entryId, parsed.eventId, attempt - 1, err, 'hung'));
      return;
    }
    const now = monotonicMs();
    const f: InFlight = {
      entryId: parsed.entryId, eventId: parsed.eventId, stream, base: parsed.base, attempt,
      startedAt: now, leasedAt: Math.min(now, leasedAt), abort: new LazyAbort(), leaseLost: false,
    };
    this.inFlight.set(f.stream, f.entryId, f);
    if (fromRedelivery && this.options.trackStatus) {
      // A retry or a replay shows `processing` while it runs (a first delivery shows it from the
      // pending list). Sent before the handler starts, on the connection its ack will use, so
      // it lands first.
      this.track(runScript(this.worker, 'startAttempt', [stream, this.keys.status(f.eventId)],
        [this.group, this.consumer, f.entryId, f.base, this.settings.statusTtlSeconds]));
    }
    void this.run(f, parsed);
  }

  private async run(f: InFlight, parsed: ParsedEntry<T>): Promise<void> {
    let deadReason: string | undefined;
    let publishedAt: Date | undefined;
    const ctx: HandlerContext = {
      id: f.eventId, topic: this.topic, group: this.group, consumer: this.consumer,
      attempt: f.attempt, maxAttempts: this.options.maxAttempts, headers: parsed.headers,
      // Getters: made on first use only (most handlers use neither).
      get publishedAt() { return (publishedAt ??= new Date(idTime(f.eventId))); },
      get signal() { return f.abort.signal; },
      deadLetter: (reason: string): never => {
        deadReason = reason;
        throw new DeadLetterError(reason);
      },
    };
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const running = Promise.resolve().then(() => this.handler(parsed.payload, ctx));
    // A timed-out handler is settled (failed) at once, but it still runs: it keeps its slot
    // until it returns, so the concurrency limit holds.
    const freeSlot = (): void => {
      if (!timedOut) { this.slotFreed(); return; }
      this.overrun++;
      void running.then(() => undefined, () => undefined).finally(() => { this.overrun--; this.slotFreed(); });
    };
    try {
      const limit = this.options.handlerTimeoutMs;
      const result = limit <= 0 ? await running : await Promise.race([
        running,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new Error(`handler timed out after ${limit}ms (handlerTimeoutMs)`);
            timedOut = true;
            f.abort.abort(err);
            reject(err);
          }, limit);
        }),
      ]);
      clearTimeout(timer);
      this.inFlight.delete(f.stream, f.entryId);
      freeSlot();
      if (f.abandoned || f.lost) return;
      this.acks.add(f, encodeResult(result, this.options.maxResultBytes), result);
    } catch (err) {
      clearTimeout(timer);
      this.inFlight.delete(f.stream, f.entryId);
      freeSlot();
      // Aborted at shutdown: the entry stays pending for another consumer, not failed.
      if (f.abandoned || f.lost) return;
      if (f.leaseLost) {
        this.emit('stale', { ids: [f.eventId] });
        return;
      }
      const message = deadReason ?? describeError(err);
      const give: DeadLetterReason | undefined = deadReason !== undefined || err instanceof DeadLetterError ? 'handler'
        : f.attempt >= this.options.maxAttempts ? 'attempts' : undefined;
      if (give) await this.deadLetter(f.stream, f.entryId, f.eventId, f.attempt, message, give, true).catch((e) => this.report(e, 'dead-letter'));
      else await this.fail(f, message, err).catch((e) => this.report(e, 'schedule retry'));
    }
  }

  private async fail(f: InFlight, message: string, err: unknown): Promise<void> {
    const { delayMs: delay, problem } = computeBackoff(this.options.backoff, f.attempt, err);
    if (problem) this.report(problem, `backoff for ${f.eventId}`);
    const drops = connectionDrops(this.worker);
    const reply = await runScript<[number, number?, number?]>(this.worker, 'failEntry',
      [f.stream, this.keys.retry(this.group), this.keys.redeliver(this.group), this.keys.status(f.eventId), this.keys.waiters],
      [this.group, this.consumer, f.entryId, f.eventId, f.base, message, delay, this.settings.statusTtlSeconds,
        this.options.trackStatus ? '1' : '0', this.keys.done, this.publishMode]);
    if (reply[0] === 2) {
      this.counters.lost++;
      this.emit('lost', { ids: [f.eventId], reason: 'entry deleted from the stream while its handler ran (trimmed or XDEL)' });
      return;
    }
    // Refused after a drop while this call was unanswered: ioredis re-sent it; if no consumer
    // holds the entry, the first run scheduled the retry (see settledByResend). Else stale.
    if (reply[0] === 0 && !(await this.refusedByResend(f.stream, f.entryId, f.eventId, drops))) {
      this.emit('stale', { ids: [f.eventId] });
      return;
    }
    this.counters.failed++;
    this.emit('failed', { id: f.eventId, attempt: f.attempt, error: message, retryInMs: delay });
    this.scheduleRetryCheck(delay);
  }

  /**
   * Check the retry set soon after a retry falls due, not only on the reclaim timer. One timer,
   * for the soonest retry: a sooner one replaces a later one (a 20 ms retry must not wait
   * behind a 1 s one).
   */
  private scheduleRetryCheck(delay: number): void {
    if (this.stopping || delay >= this.options.reclaimIntervalMs) return;
    const due = monotonicMs() + delay;
    if (this.retryTimer && due >= this.retryDueAt) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryDueAt = due;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retryDueAt = Infinity;
      this.track(this.promote());
    }, delay + 2);
  }

  /** @internal */
  async deadLetter(stream: string, entryId: string, eventId: string, attempts: number, error: string, reason: DeadLetterReason, checkOwner = true): Promise<void> {
    const drops = connectionDrops(this.worker);
    const reply = await runScript<[string, string?]>(this.worker, 'deadLetter',
      [stream, this.keys.deadLetters(this.group), this.keys.status(eventId), this.keys.waiters],
      [this.group, this.consumer, entryId, eventId, attempts, error, reason, this.options.deadLetterMaxLen,
        this.settings.statusTtlSeconds, this.keys.done, checkOwner ? '1' : '0', this.options.trackStatus ? '1' : '0', this.publishMode]);
    if (reply[0] === 'lost') {
      this.counters.lost++;
      this.emit('lost', { ids: [eventId], reason: 'entry deleted from the stream while its handler ran (trimmed or XDEL)' });
      return;
    }
    // Refused after a drop while this call was unanswered: ioredis re-sent it; if no consumer
    // holds the entry, the first run dead-lettered it (see settledByResend). Else stale.
    if (reply[0] === 'stale' && !(await this.refusedByResend(stream, entryId, eventId, drops))) {
      this.emit('stale', { ids: [eventId] });
      return;
    }
    this.counters.deadLettered++;
    this.emit('deadLettered', { id: eventId, attempt: attempts, reason, error });
  }

  /**
   * True when a settle call refused as stale ran twice: the worker connection dropped since
   * `drops` was read (ioredis re-sent the call), no consumer holds the entry now and its status
   * names no other consumer as having settled it: the first run settled it (settledByResend).
   */
  private async refusedByResend(stream: string, entryId: string, eventId: string, drops: number): Promise<boolean> {
    if (connectionDrops(this.worker) === drops) return false;
    const own = await settledByResend(this.worker, stream, this.group, this.consumer, [{ entryId, statusKey: this.keys.status(eventId) }], this.options.trackStatus);
    return own.has(entryId);
  }

  /** Move due retries into the redelivery stream and due delayed publishes into the topic. */
  private async promote(): Promise<void> {
    const [retries] = await Promise.all([
      runScript<[number, number]>(this.worker, 'promoteDue', [this.keys.retry(this.group), this.keys.redeliver(this.group)], [500]),
      promoteDelayed(this.worker, this.keys, { statusTtlSeconds: this.settings.statusTtlSeconds, limit: 500, mode: this.publishMode }),
    ]);
    if (retries[1] >= 0) this.scheduleRetryCheck(retries[1]);
  }

  /** Reclaim entries idle past the visibility timeout (dead or stuck consumers), to this consumer. */
  private async reclaimTick(promote = true): Promise<void> {
    if (this.reclaiming || this.stopping) return;
    // Every slot busy: reclaim before the next read instead, or under sustained load entries
    // of a dead consumer would wait behind new work until the backlog drains.
    if (this.free() <= 0) this.reclaimOwed = true;
    this.reclaiming = true;
    let backlog = false;
    try {
      if (promote) await this.promote();
      // A consumer whose slots are all busy neither reads nor reclaims, so it never meets NOGROUP:
      // a retired group is noticed here, within a reclaim interval.
      if (!(await this.noteGroupPositions())) {
        const at = await this.worker.hget(this.keys.retired, this.group);
        if (at !== null) {
          this.stopRetired(new GroupRetiredError(this.topic, this.group, new Date(Number(at))));
          return;
        }
      }
      for (const stream of [this.keys.stream, this.keys.redeliver(this.group)]) {
        if (this.free() <= 0 || this.stopping) break;
        if (await this.reclaimer.reclaimFrom(stream)) backlog = true;
      }
      this.maybePrune();
    } catch (err) {
      if (isNoGroup(err)) await this.recover('the group or its stream vanished (NOGROUP) during reclaim');
      else this.report(err, 'reclaim');
    } finally {
      this.reclaiming = false;
    }
    // A dead consumer left more than the free slots: go on as soon as a slot frees rather
    // than at the next tick, or a backlog drains at only `concurrency` entries per interval.
    if (backlog && !this.stopping) {
      const next = this.free() > 0 ? Promise.resolve() : this.waitForSlot();
      this.track(next.then(() => this.reclaimTick(false)));
    }
  }

  /**
   * Entries XAUTOCLAIM found deleted from the stream while pending. A topic entry's id is its
   * event id. A retry copy's event id was in the copy, which is gone: when this consumer does not
   * know it, the copy is acknowledged and reported (with its copy id), and no status is written
   * under a wrong id.
   */
  private async lostWhilePending(stream: string, ids: string[]): Promise<void> {
    if (stream === this.keys.stream) {
      await this.markLost(stream, ids.map((id) => ({ entryId: id, eventId: id })));
      return;
    }
    for (let i = 0; i < ids.length; i += 1000) await this.worker.xack(stream, this.group, ...ids.slice(i, i + 1000));
    this.counters.lost += ids.length;
    this.emit('lost', { ids, reason: 'retry copies deleted from the redelivery stream while pending (XDEL or XTRIM by hand): their event ids are unknown, their status keeps its last state' });
  }

  /**
   * Remove consumers of this group that crashed long ago (see {@link pruneIdleConsumers}).
   * Runs at most once per minute (or per prune period, if shorter).
   */
  private maybePrune(): void {
    const idleMs = this.options.pruneIdleConsumersMs;
    if (idleMs <= 0) return;
    const now = monotonicMs();
    if (this.lastPruneAt !== undefined && now - this.lastPruneAt < Math.min(60_000, idleMs)) return;
    this.lastPruneAt = now;
    this.track((async () => {
      for (const stream of [this.keys.stream, this.keys.redeliver(this.group)]) {
        for (const consumer of await pruneIdleConsumers(this.worker, stream, this.group, this.consumer, idleMs)) {
          this.emit('pruned', { consumer, stream: stream === this.keys.stream ? 'topic' : 'redelivery' });
        }
      }
    })());
  }

  /**
   * Record entries deleted from a stream while pending as lost, under their event ids (for a
   * retry copy, the event id is the copy's `orig`, known only while the copy is handled here).
   */
  private async markLost(stream: string, entries: Array<{ entryId: string; eventId: string }>): Promise<void> {
    const reason = 'entry deleted from the stream while pending (trimmed or XDEL); its payload is gone';
    for (let i = 0; i < entries.length; i += 1000) {
      const chunk = entries.slice(i, i + 1000);
      const args: string[] = [];
      const statusKeys: string[] = [];
      for (const e of chunk) {
        args.push(e.entryId, e.eventId);
        statusKeys.push(this.keys.status(e.eventId));
      }
      const [, skipped] = await runScript<[number, string[]]>(this.worker, 'markLost', [stream, this.keys.waiters, ...statusKeys],
        [this.group, this.consumer, this.settings.statusTtlSeconds, this.keys.done, reason, this.publishMode, ...args]);
      const stillThere = new Set(skipped); // not deleted after all: left pending, not reported
      const gone = chunk.filter((e) => !stillThere.has(e.entryId));
      if (gone.length === 0) continue;
      this.counters.lost += gone.length;
      this.emit('lost', { ids: gone.map((e) => e.eventId), reason });
    }
  }

  /**
   * Renew the leases of handlers running longer than half the visibility timeout, and of held
   * entries waiting for a slot. A lease lost to another consumer aborts the handler's signal
   * (its ack will be refused); an entry deleted from the stream meanwhile is recorded lost.
   */
  private async keepLeases(): Promise<void> {
    const now = monotonicMs();
    const half = this.options.visibilityTimeoutMs / 2;
    const held = this.held.filter((h) => now - h.leasedAt >= half).map((h) => ({ stream: h.stream, entryId: h.raw[0], h }));
    if (held.length > 0) {
      const v = await renewLeases(this.worker, this.group, this.consumer, held);
      for (const { h } of v.kept) h.leasedAt = now;
      const drop = new Set([...v.lost, ...v.deleted].map((x) => x.h));
      this.held = this.held.filter((h) => !drop.has(h));
      for (const [stream, gone] of groupByStream(v.deleted)) {
        await this.markLost(stream, gone.map(({ h }) => ({ entryId: h.raw[0], eventId: parseEntry(h.raw, this.topicDef.codec, stream !== this.keys.stream).eventId })));
      }
    }
    const running = [...this.inFlight.values()].filter((f) => !f.leaseLost && now - f.leasedAt >= half);
    if (running.length === 0) return;
    const v = await renewLeases(this.worker, this.group, this.consumer, running);
    for (const f of v.kept) f.leasedAt = now;
    const gone = v.lost.filter((f) => this.inFlight.has(f.stream, f.entryId)); // the others finished meanwhile: their acks settle them
    // Not pending for this consumer: another consumer took it over, or a cap trim removed it and
    // recorded it lost (then it is settled: no leaseLost, no stale).
    const states = gone.length === 0 ? [] : await Promise.all(gone.map((f) => this.worker.hget(this.keys.status(f.eventId), `${this.group}:state`)));
    gone.forEach((f, i) => {
      f.leaseLost = true;
      if (states[i] === 'lost') {
        f.lost = true;
        f.abort.abort(new Error('entry trimmed from the stream while its handler ran (recorded lost)'));
        return;
      }
      f.abort.abort(new Error('lease lost: another consumer reclaimed this entry'));
      this.emit('leaseLost', { id: f.eventId });
    });
    // Deleted from the stream while the handler ran (trimmed or XDEL): its payload is gone and
    // XCLAIM dropped its pending entry. Record it lost now; the handler's outcome is moot.
    for (const f of v.deleted) {
      f.leaseLost = true;
      f.lost = true;
      f.abort.abort(new Error('entry deleted from the stream while its handler ran (trimmed or XDEL)'));
    }
    for (const [stream, gone] of groupByStream(v.deleted)) {
      await this.markLost(stream, gone.map((f) => ({ entryId: f.entryId, eventId: f.eventId })));
    }
  }

  private onAcked(f: InFlight, result: unknown): void {
    this.counters.processed++;
    this.emit('processed', { id: f.eventId, attempt: f.attempt, durationMs: monotonicMs() - f.startedAt, result });
  }

  /**
   * Stop reading, let running handlers finish within `graceMs`, ack what finished, and close
   * the connections. A handler still running after the grace period gets its signal aborted
   * and its entry is left pending for another consumer to reclaim. The consumer is removed
   * from the group only if it holds no pending entries. Safe to call more than once.
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
    for (const w of this.readyWaiters.splice(0)) w.reject(this.retired ?? new ClosedError(`subscription ${this.group}@${this.topic}`));
    for (const t of this.timers) clearInterval(t);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.slotFreed();
    const step = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
      try { await fn(); } catch (err) { this.report(err, `close: ${name}`); }
    };
    // Wake the blocked XREADGROUP: CLIENT UNBLOCK makes it return as if it timed out, so no
    // entry is delivered to a reader that is going away.
    await step('unblock', async () => {
      if (this.blockingId !== undefined && this.worker.status === 'ready') await withTimeout(this.worker.client('UNBLOCK', this.blockingId), 1000);
      if (this.readLoopDone) await withTimeout(this.readLoopDone, this.options.blockMs + 1000);
    });
    let left = 0;
    await step('drain', async () => {
      const deadline = monotonicMs() + graceMs;
      while (this.inFlight.size + this.overrun > 0 && monotonicMs() < deadline) await sleep(Math.min(20, Math.max(1, deadline - monotonicMs())));
      for (const f of this.inFlight.values()) {
        f.abandoned = true;
        left++;
        f.abort.abort(new Error('shutdown: grace period over; the entry is left for another consumer'));
      }
      left += this.overrun; // timed out and settled, but still running
    });
    clearInterval(this.leaseTimer);
    await step('hand back held entries', () => this.handBackHeld());
    this.acks.stop();
    await step('ack', () => withTimeout(this.acks.drain(), 5000));
    await step('background', () => withTimeout(Promise.allSettled([...this.sideTasks]), 5000));
    let deleted = false;
    await step('leave group', async () => {
      if (this.worker.status !== 'ready') return;
      const r = await withTimeout(Promise.all([
        runScript<number>(this.worker, 'deleteConsumerIfIdle', [this.keys.stream], [this.group, this.consumer, 0]),
        runScript<number>(this.worker, 'deleteConsumerIfIdle', [this.keys.redeliver(this.group)], [this.group, this.consumer, 0]),
      ]), 2000);
      deleted = r !== undefined && r[0] !== 0 && r[1] !== 0;
    });
    await step('disconnect', async () => {
      this.blocking.disconnect();
      await withTimeout(this.worker.quit().catch(() => undefined), 1000);
      this.worker.disconnect();
    });
    this.emit('closed', { consumer: this.consumer, left, deleted });
  }
}
