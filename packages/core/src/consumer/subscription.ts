import type Redis from 'ioredis';
import { isCluster } from '../connection';
import { ClosedError, GroupRetiredError } from '../errors';
import { loadScripts, runScript } from '../scripts/runner';
import type { Topic } from '../topic';
import { monotonicMs, sleep, withTimeout } from '../timing';
import type { Handler, ResolvedSubscribeOptions } from './options';
import { listGroups } from '../inspect';
import { probeSubscription, type HealthOptions, type SubscriptionHealth } from '../health';
import { SubscriptionRecovery } from './recovery';
import type { SubscriptionSettings, SubscriptionStats } from './subscription-state';
import type { RawEntry } from './entry';
import type { InFlight } from './in-flight';
import { idTime } from './entry';
import { eventIdOf, ServerClock, Skipper } from './skipper';

export type { SubscriptionSettings, SubscriptionStats } from './subscription-state';

/**
 * 'S' when completion notices must go by SPUBLISH: on a Cluster (PUBLISH there reaches every
 * node) whose servers have it, found by capability (COMMAND INFO), never by version.
 */
async function detectPublishMode(redis: Redis): Promise<'P' | 'S'> {
  if (!isCluster(redis as unknown)) return 'P';
  const info = (await redis.command('INFO', 'SPUBLISH')) as unknown[];
  return Array.isArray(info) && info[0] != null ? 'S' : 'P';
}

/**
 * One consumer of one group: a worker pool that reads only as many entries as it has
 * free slots, acks in batches, retries with backoff, keeps the leases of long handlers,
 * reclaims what dead consumers left, and recovers from restarts by itself.
 * Create it with {@link Streamfan.subscribe}.
 *
 * Its parts, one file each: the handler run and settle paths (`settler.ts`), the read loop and
 * reclaim (`reader.ts`), group creation and recovery (`recovery.ts`), shared state
 * (`subscription-state.ts`); this file holds its start, public surface and shutdown.
 */
export class Subscription<T = unknown> extends SubscriptionRecovery<T> {
  /** `skipOlderThanMs`: the server's clock, and the batcher of skips (undefined when the option is unset). */
  private readonly clock: ServerClock;
  private readonly skipper: Skipper | undefined;

  /** @internal use {@link Streamfan.subscribe} */
  constructor(topicDef: Topic<T>, group: string, handler: Handler<T>, options: ResolvedSubscribeOptions, settings: SubscriptionSettings) {
    super(topicDef, group, handler, options, settings);
    this.clock = new ServerClock(this.worker);
    if (this.options.skipOlderThanMs !== undefined) {
      this.skipper = new Skipper({
        worker: this.worker, keys: this.keys, group: this.group, consumer: this.consumer,
        statusTtlSeconds: settings.statusTtlSeconds, trackStatus: this.options.trackStatus,
        publishMode: () => this.publishMode,
        skipped: (ids) => { this.counters.skipped += ids.length; this.emit('skipped', { ids }); },
        stale: (ids) => this.emit('stale', { ids }),
        track: (p) => this.track(p),
      });
    }
    void this.start();
  }

  /**
   * `skipOlderThanMs`: a delivery whose event is older than the bound (server clock) is skipped
   * (acknowledged, status `skipped`) with the others of its read, not run; any other is
   * dispatched as usual. Judged when the delivery is dispatched: when read, or when a slot frees
   * for an entry held meanwhile.
   */
  protected override dispatch(stream: string, raw: RawEntry, deliveries: number, leasedAt?: number): void {
    const bound = this.options.skipOlderThanMs;
    if (bound !== undefined && this.skipper) {
      const ev = eventIdOf(raw, stream !== this.keys.stream);
      if (ev && this.clock.now() - idTime(ev.eventId) > bound) {
        this.skipper.add(stream, { entryId: raw[0], eventId: ev.eventId, base: ev.base, deliveries });
        return;
      }
    }
    super.dispatch(stream, raw, deliveries, leasedAt);
  }

  /**
   * Whether a delivery held for a shared handler slot (priority lanes) went stale while it waited:
   * judged again at the grant, on the server's clock, as at dispatch. False without the option.
   * @internal
   */
  staleAtGrant(publishedAtMs: number): boolean {
    const bound = this.options.skipOlderThanMs;
    return bound !== undefined && this.skipper !== undefined && this.clock.now() - publishedAtMs > bound;
  }

  /** Skip a delivery that went stale waiting for a slot (see {@link staleAtGrant}). */
  protected override skipAtGrant(f: InFlight): void {
    if (!this.skipper) { super.skipAtGrant(f); return; }
    this.skipper.add(f.stream, { entryId: f.entryId, eventId: f.eventId, base: f.base, deliveries: Math.max(1, f.attempt - f.base) });
  }

  /**
   * Counts since this subscription started. `errors` counts every error reported, listened
   * for or not (unobserved ones go to the `logger`).
   */
  get stats(): Readonly<SubscriptionStats> {
    return { ...this.counters, inFlight: this.inFlight.size + this.overrun };
  }

  /**
   * For a readiness probe: connected, reading, the last error, and the group's lag and pending
   * read from Redis (within `timeoutMs`, default 1 s). `healthy` is false, with `problems` saying
   * why, while Redis is unreachable, the consumer is not reading, or the lag is above `maxLag`.
   */
  health(options?: HealthOptions): Promise<SubscriptionHealth> {
    return probeSubscription({
      topic: this.topic, group: this.group, consumer: this.consumer, connections: [this.worker, this.blocking],
      started: this.isReady, closing: this.stopping, readFailing: this.readFailing, retired: this.retired !== undefined, lastError: this.lastError,
      groupInfo: async () => (await listGroups(this.worker, this.settings.prefix, this.topic)).find((g) => g.group === this.group && !g.retired),
    }, options);
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

  protected async startId(which: 'latest' | 'beginning' | { id: string }): Promise<string> {
    if (which === 'latest') return (await this.settings.startAt) ?? '$';
    if (which === 'beginning') return '0';
    return which.id;
  }

  protected async start(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await loadScripts(this.worker);
        this.publishMode = await detectPublishMode(this.worker);
        if (this.skipper) await this.clock.sync();
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

  /**
   * Stop reading, let running handlers finish within `graceMs`, ack what finished, and close
   * the connections. A handler still running after the grace period gets its signal aborted
   * and its entry is left pending for another consumer to reclaim. The consumer is removed
   * from the group only if it holds no pending entries. Safe to call more than once.
   */
  override close(graceMs: number = this.options.shutdownGraceMs): Promise<void> {
    if (!this.closing) this.closing = this.shutdown(graceMs);
    return this.closing;
  }

  /** `await using sub = sf.subscribe(...)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  protected async shutdown(graceMs: number): Promise<void> {
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
