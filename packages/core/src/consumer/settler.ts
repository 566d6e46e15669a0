import { computeBackoff } from '../backoff';
import { connectionDrops } from '../connection';
import { DeadLetterError, isNoGroup } from '../errors';
import { runScript } from '../scripts/runner';
import { promoteDelayed } from '../delayed';
import { renewLeases } from './lease-keeper';
import { Delivery, type InFlight } from './in-flight';
import { settledByResend } from './resend';
import { judgeParked } from './parked-verdicts';
import { monotonicMs } from '../timing';
import { compareIds } from '../ids';
import { settledInGroup } from '../status';
import { describeError, encodeResult, idTime, isMalformed, parseEntry, type ParsedEntry, type RawEntry } from './entry';
import type { DeadLetterReason, HandlerContext } from './options';
import { SubscriptionState } from './subscription-state';

function groupByStream<L extends { stream: string }>(items: L[]): Map<string, L[]> {
  const m = new Map<string, L[]>();
  for (const x of items) m.set(x.stream, [...(m.get(x.stream) ?? []), x]);
  return m;
}

/** The delivery a {@link DeliveryContext} belongs to (a symbol: not a field a handler sees or spreads). */
const DELIVERY = Symbol('streamfan.delivery');

/**
 * The {@link HandlerContext} of one delivery: the plain fields are own properties; `publishedAt`,
 * `signal` and `deadLetter` are getters of the prototype that make what they return on first use
 * (most handlers use none of them). They reach the delivery through a symbol, never through `this`'s
 * fields, so a context made from this one with Object.create (a partitioned topic's, whose `id`
 * is the public `p<i>:` id) still reads its own delivery's.
 */
class DeliveryContext implements HandlerContext {
  readonly id: string;
  readonly topic: string;
  readonly group: string;
  readonly consumer: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly headers: Readonly<Record<string, string>>;
  private readonly [DELIVERY]: InFlight;

  constructor(sub: { readonly topic: string; readonly group: string; readonly consumer: string; readonly options: { readonly maxAttempts: number } }, f: InFlight, headers: Readonly<Record<string, string>>) {
    this.id = f.eventId;
    this.topic = sub.topic;
    this.group = sub.group;
    this.consumer = sub.consumer;
    this.attempt = f.attempt;
    this.maxAttempts = sub.options.maxAttempts;
    this.headers = headers;
    this[DELIVERY] = f;
  }

  /** When the event was published (from its id, server time). */
  get publishedAt(): Date {
    const f = this[DELIVERY];
    return (f.publishedAt ??= new Date(idTime(f.eventId)));
  }

  /** Fires when this delivery's lease is lost or shutdown's grace period ends. */
  get signal(): AbortSignal {
    return this[DELIVERY].abort.signal;
  }

  /** Give up on this event without retrying (a function of its own: it may be passed around). */
  get deadLetter(): (reason: string) => never {
    const f = this[DELIVERY];
    return (f.deadLetter ??= (reason: string): never => {
      f.deadReason = reason;
      throw new DeadLetterError(reason);
    });
  }
}

/**
 * Thrown by a handler wrapper that held a delivery waiting for a shared handler slot (priority
 * lanes) when, at the slot's grant, the event has gone stale (`skipOlderThanMs`): the delivery is
 * skipped ({@link SubscriptionSettler.skipAtGrant}), not failed.
 * @internal
 */
export const STALE_AT_GRANT: unique symbol = Symbol('streamfan: stale at the slot grant');

/** handlerTimeoutMs ran out (a timer's callback: arguments, no closure per delivery). */
function handlerTimedOut(sub: { handlerDone(f: InFlight, ok: boolean, value: unknown): void }, f: InFlight, limit: number): void {
  f.timer = undefined;
  if (f.ran) return;
  const err = new Error(`handler timed out after ${limit}ms (handlerTimeoutMs)`);
  f.timedOut = true;
  f.abort.abort(err);
  sub.handlerDone(f, false, err);
}

/**
 * Running a handler and settling its delivery: ack (through the batcher), fail and schedule the
 * retry, dead-letter, record entries deleted while pending as lost; promoting due retries; keeping
 * the leases of long handlers. See {@link SubscriptionState} for the layers.
 * @internal
 */
export abstract class SubscriptionSettler<T = unknown> extends SubscriptionState<T> {
  /** Start handling one entry (no await: the handler runs in its slot). */
  protected dispatch(stream: string, raw: RawEntry, deliveries: number, leasedAt = monotonicMs()): void {
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
    const f: InFlight = new Delivery(parsed.entryId, parsed.eventId, stream, parsed.base, attempt, now, Math.min(now, leasedAt));
    this.inFlight.set(f.stream, f.entryId, f);
    // Delivered more than a visibility timeout ago (held for a slot while the process stalled):
    // another consumer may have reclaimed it, and finished it, meanwhile.
    const staleLease = now - leasedAt > this.options.visibilityTimeoutMs;
    // A delivery of an entry published before this consumer recovered from XGROUP DESTROY (a
    // reclaimed one too: its first consumer in the recreated group may have stalled before it
    // could check and acknowledge it).
    const maybeReplay = !fromRedelivery && this.settledUpTo !== undefined && compareIds(f.entryId, this.settledUpTo) <= 0;
    if (staleLease || maybeReplay) {
      void this.runUnlessSettled(f, parsed, staleLease);
      return;
    }
    this.begin(f, parsed);
  }

  /**
   * Run a delivery: a retry or replay first records `processing`. The handler starts in a
   * microtask (as it always has: every entry of a read is registered before any handler runs);
   * one microtask starts every delivery begun in the same tick.
   */
  private begin(f: InFlight, parsed: ParsedEntry<T>): void {
    if (f.stream !== this.keys.stream && this.options.trackStatus) {
      // A retry or a replay shows `processing` while it runs (a first delivery shows it from the
      // pending list). Sent before the handler starts, on the connection its ack will use, so
      // it lands first.
      this.track(runScript(this.worker, 'startAttempt', [f.stream, this.keys.status(f.eventId)],
        [this.group, this.consumer, f.entryId, f.base, this.settings.statusTtlSeconds]));
    }
    this.starting.push(f, parsed);
    if (this.starting.length === 2) queueMicrotask(this.startBegun);
  }

  /** Deliveries begun and not started yet: (InFlight, ParsedEntry) pairs, in order. */
  private starting: Array<InFlight | ParsedEntry<T>> = [];
  /** The other of two lists swapped at each start (so neither is grown again for every batch). */
  private spareStarting: Array<InFlight | ParsedEntry<T>> = [];

  /** Start every delivery begun since the last microtask (one closure per subscription, made once). */
  private readonly startBegun = (): void => {
    const list = this.starting;
    // Deliveries begun while these start (a handler that returns at once frees its slot, and a
    // held entry begins) go to the other list and a microtask of their own.
    this.starting = this.spareStarting;
    for (let i = 0; i < list.length; i += 2) {
      try {
        this.run(list[i] as InFlight, list[i + 1] as ParsedEntry<T>);
      } catch (err) {
        // Not the handler's error (run catches those): ours. The rest of the list still starts.
        this.report(err, 'starting a handler');
      }
    }
    list.length = 0;
    this.spareStarting = list;
  };

  /**
   * A delivery that may be done already, checked before its handler runs (its slot is held
   * meanwhile):
   * - its lease is stale (delivered more than a visibility timeout ago): when another consumer
   *   holds it now, it is dropped (that consumer runs it; nothing of this one's was refused, so no
   *   `stale` either);
   * - a delivery (first or reclaimed) of a topic entry published before this consumer recovered from XGROUP
   *   DESTROY (the recreated group starts where its position was last seen, so it may deliver
   *   again what the group had finished), or a stale one no consumer holds: when its status in
   *   this group says it is done (succeeded, dead, lost, or failed with its retry scheduled), it
   *   is acknowledged (if still this consumer's) and not run.
   * Anything else runs.
   */
  private async runUnlessSettled(f: InFlight, parsed: ParsedEntry<T>, staleLease: boolean): Promise<void> {
    let skip: 'taken' | 'settled' | undefined;
    let mine = !staleLease;
    try {
      if (staleLease) {
        try {
          const rows = (await this.worker.xpending(f.stream, this.group, f.entryId, f.entryId, 1)) as Array<[string, string, number, number]>;
          const owner = rows[0]?.[1];
          if (owner !== undefined && owner !== this.consumer) skip = 'taken';
          mine = owner === this.consumer;
        } catch (err) {
          if (!isNoGroup(err)) throw err; // the group vanished: judge by the status alone
        }
      }
      const checkStatus = f.stream === this.keys.stream && this.options.trackStatus && (!mine || this.settledUpTo !== undefined);
      if (!skip && checkStatus && (await settledInGroup(this.worker, this.keys, this.group, [f.eventId])).has(f.eventId)) skip = 'settled';
    } catch (err) {
      this.report(err, `checking whether ${f.eventId} was handled already (it runs)`);
    }
    if (!skip || f.abandoned) {
      if (f.abandoned) { this.inFlight.delete(f.stream, f.entryId); this.slotFreed(); return; }
      this.begin(f, parsed);
      return;
    }
    try {
      if (skip === 'settled' && mine) await this.worker.xack(f.stream, this.group, f.entryId);
    } catch (err) {
      if (!isNoGroup(err)) this.report(err, `ack of ${f.eventId}, handled already`);
    } finally {
      this.inFlight.delete(f.stream, f.entryId);
      this.slotFreed();
    }
  }

  /**
   * Run the handler. A handler that returns (or throws) at once is settled at once; a promise is
   * settled when it resolves. No closure, promise or timer is made per delivery unless the handler
   * returns a promise (then one `then`) or `handlerTimeoutMs` is set (then one timer): the fan-out
   * benchmark's profile found this function allocating half of the consumer's memory per delivery
   * (an async function, a context object with getters, 2 closures named at run time, a promise
   * chain), and garbage collection a third of its CPU.
   */
  protected run(f: InFlight, parsed: ParsedEntry<T>): void {
    const ctx = new DeliveryContext(this, f, parsed.headers);
    const limit = this.options.handlerTimeoutMs;
    // Started before the handler, as before: its synchronous part counts towards the limit.
    if (limit > 0) f.timer = setTimeout(handlerTimedOut, limit, this, f, limit);
    let result: unknown;
    try {
      result = this.handler(parsed.payload, ctx);
    } catch (err) {
      this.handlerDone(f, false, err);
      return;
    }
    if (typeof result !== 'object' || result === null || typeof (result as PromiseLike<unknown>).then !== 'function') {
      this.handlerDone(f, true, result);
      return;
    }
    // A native promise directly; any other thenable through Promise.resolve, which calls its
    // `then` once, safely (a thenable may call back twice, or throw).
    const p = result instanceof Promise ? result : Promise.resolve(result);
    p.then((v: unknown) => this.handlerDone(f, true, v), (err: unknown) => this.handlerDone(f, false, err));
  }

  /**
   * The handler returned (`ok`, with its value) or threw (with the error), or its time ran out
   * (handlerTimedOut). Settled once: a timed-out handler was settled (failed) when its time ran
   * out, and still ran, holding its slot (`overrun`) until it returns, so the concurrency limit
   * holds; its outcome is ignored.
   */
  /** @internal */
  handlerDone(f: InFlight, ok: boolean, value: unknown): void {
    if (f.ran) {
      if (f.timedOut) { this.overrun--; this.slotFreed(); }
      return;
    }
    f.ran = true;
    if (f.timer !== undefined) clearTimeout(f.timer);
    this.inFlight.delete(f.stream, f.entryId);
    if (f.timedOut) this.overrun++;
    else this.slotFreed();
    // Aborted at shutdown: the entry stays pending for another consumer, not failed.
    if (f.abandoned || f.lost) return;
    if (ok) {
      this.acks.add(f, encodeResult(value, this.options.maxResultBytes), value);
      return;
    }
    if (value === STALE_AT_GRANT) {
      this.skipAtGrant(f);
      return;
    }
    void this.settleFailure(f, value);
  }

  /**
   * A delivery that went stale while it waited for a shared handler slot ({@link STALE_AT_GRANT}):
   * the subscription with `skipOlderThanMs` skips it. Without the option nothing throws the marker;
   * should one arrive, it is settled as a failure.
   */
  protected skipAtGrant(f: InFlight): void {
    void this.settleFailure(f, new Error('stale at the slot grant, without skipOlderThanMs'));
  }

  /** A handler failed (threw, rejected, timed out or dead-lettered its event): retry or dead letters. */
  private async settleFailure(f: InFlight, err: unknown): Promise<void> {
    if (f.leaseLost) {
      this.emit('stale', { ids: [f.eventId] });
      return;
    }
    const deadReason = f.deadReason;
    const message = deadReason ?? describeError(err);
    const give: DeadLetterReason | undefined = deadReason !== undefined || err instanceof DeadLetterError ? 'handler'
      : f.attempt >= this.options.maxAttempts ? 'attempts' : undefined;
    if (give) await this.deadLetter(f.stream, f.entryId, f.eventId, f.attempt, message, give, true).catch((e) => this.report(e, 'dead-letter'));
    else await this.fail(f, message, err).catch((e) => this.report(e, 'schedule retry'));
  }

  protected async fail(f: InFlight, message: string, err: unknown): Promise<void> {
    const { delayMs: delay, problem } = computeBackoff(this.options.backoff, f.attempt, err);
    if (problem) this.report(problem, `backoff for ${f.eventId}`);
    const drops = connectionDrops(this.worker);
    const call = () => runScript<[number, number?, number?]>(this.worker, 'failEntry',
      [f.stream, this.keys.retry(this.group), this.keys.redeliver(this.group), this.keys.status(f.eventId), this.keys.waiters, this.keys.copies(this.group)],
      [this.group, this.consumer, f.entryId, f.eventId, f.base, message, delay, this.settings.statusTtlSeconds,
        this.options.trackStatus ? '1' : '0', this.keys.done, this.publishMode]);
    let reply: [number, number?, number?];
    try {
      reply = await call();
    } catch (e) {
      // The group is gone (XGROUP DESTROY, not recreated yet) and its pending record with it:
      // reported and dropped, the failure scheduled no retry and nothing delivered the entry
      // again (model seed 10: a|22 'unknown' after "schedule retry: NOGROUP"). As for an ack
      // (see AckBatcher's parked acks): once the group is back, refused when the status says
      // another consumer finished it, else taken back and failed as usual.
      if (!isNoGroup(e) || this.stopping) throw e;
      const again = await this.afterNoGroup(f.stream, f.entryId, f.eventId, f.attempt, Math.max(1, f.attempt - f.base));
      if (again === 'stale') { this.emit('stale', { ids: [f.eventId] }); return; }
      reply = await call();
    }
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
  protected scheduleRetryCheck(delay: number): void {
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
    const call = () => runScript<[string, string?]>(this.worker, 'deadLetter',
      [stream, this.keys.deadLetters(this.group), this.keys.status(eventId), this.keys.waiters],
      [this.group, this.consumer, entryId, eventId, attempts, error, reason, this.options.deadLetterMaxLen,
        this.settings.statusTtlSeconds, this.keys.done, checkOwner ? '1' : '0', this.options.trackStatus ? '1' : '0', this.publishMode]);
    let reply: [string, string?];
    try {
      reply = await call();
    } catch (e) {
      // The group is gone: as for a failure (see fail), once it is back.
      if (!isNoGroup(e) || this.stopping) throw e;
      if ((await this.afterNoGroup(stream, entryId, eventId, attempts, 1)) === 'stale') { this.emit('stale', { ids: [eventId] }); return; }
      reply = await call();
    }
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
   * A settle call (fail, dead letter) of an entry met NOGROUP: recover the group (recreated here, or found recreated by
   * another consumer), then judge the run by the event's status (judgeParked: another consumer
   * finished it before the destroy → 'stale'), else take the entry back into the group's pending
   * list for this consumer (adoptEntries, with its delivery count) so the call can be made again.
   */
  protected async afterNoGroup(stream: string, entryId: string, eventId: string, attempt: number, deliveries: number): Promise<'stale' | 'again'> {
    await this.recover('the group or its stream vanished (NOGROUP) while a handler settled');
    if (this.options.trackStatus) {
      const [verdict] = await judgeParked(this.worker, this.keys, this.group, this.consumer, [{ eventId, attempt }]);
      if (verdict === 'stale') return 'stale';
    }
    await runScript<string[]>(this.worker, 'adoptEntries', [stream], [this.group, this.consumer, entryId, deliveries]);
    return 'again';
  }

  /**
   * True when a settle call refused as stale ran twice: the worker connection dropped since
   * `drops` was read (ioredis re-sent the call), no consumer holds the entry now and its status
   * names no other consumer as having settled it: the first run settled it (settledByResend).
   */
  protected async refusedByResend(stream: string, entryId: string, eventId: string, drops: number): Promise<boolean> {
    if (connectionDrops(this.worker) === drops) return false;
    const own = await settledByResend(this.worker, stream, this.group, this.consumer, [{ entryId, statusKey: this.keys.status(eventId) }], this.options.trackStatus);
    return own.has(entryId);
  }

  /** Move due retries into the redelivery stream and due delayed publishes into the topic. */
  protected async promote(): Promise<void> {
    const [retries] = await Promise.all([
      runScript<[number, number]>(this.worker, 'promoteDue', [this.keys.retry(this.group), this.keys.redeliver(this.group), this.keys.copies(this.group)],
        [500, this.group, this.settings.statusTtlSeconds]),
      promoteDelayed(this.worker, this.keys, { statusTtlSeconds: this.settings.statusTtlSeconds, limit: 500, mode: this.publishMode }),
    ]);
    if (retries[1] >= 0) this.scheduleRetryCheck(retries[1]);
  }

  /**
   * Entries XAUTOCLAIM found deleted from the stream while pending. A topic entry's id is its
   * event id. A retry copy's or replay's event id was in the copy, which is gone: it is looked up
   * in the group's copy → event map (`copies`, written with every copy), and the copy recorded
   * lost under its event. A copy the map does not know (written by a program that does not keep
   * it, or older than the map) is acknowledged and reported with its copy id, and no status is
   * written under a wrong id.
   */
  protected override async lostWhilePending(stream: string, ids: string[]): Promise<void> {
    if (stream === this.keys.stream) {
      await this.markLost(stream, ids.map((id) => ({ entryId: id, eventId: id })));
      return;
    }
    const events = await this.eventsOfCopies(ids);
    const known = ids.filter((id) => events.has(id));
    if (known.length > 0) await this.markLost(stream, known.map((id) => ({ entryId: id, eventId: events.get(id)! })));
    const unknown = ids.filter((id) => !events.has(id));
    if (unknown.length === 0) return;
    for (let i = 0; i < unknown.length; i += 1000) await this.worker.xack(stream, this.group, ...unknown.slice(i, i + 1000));
    this.counters.lost += unknown.length;
    this.emit('lost', { ids: unknown, reason: 'retry copies deleted from the redelivery stream while pending (XDEL or XTRIM by hand), not in the copy map: their event ids are unknown, their status keeps its last state' });
  }

  /** The event id of each copy id the group's copy → event map knows (one ZRANGEBYSCORE per id, pipelined). */
  private async eventsOfCopies(copyIds: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < copyIds.length; i += 1000) {
      const chunk = copyIds.slice(i, i + 1000);
      const p = this.worker.pipeline();
      for (const id of chunk) {
        const ms = id.slice(0, id.indexOf('-'));
        p.zrangebyscore(this.keys.copies(this.group), ms, ms);
      }
      const replies = (await p.exec()) ?? [];
      chunk.forEach((id, k) => {
        const [err, members] = replies[k] ?? [];
        if (err || !Array.isArray(members)) return;
        for (const m of members as string[]) {
          const [copy, event] = m.split(' ');
          if (copy === id && event && /^\d+-\d+$/.test(event)) out.set(id, event);
        }
      });
    }
    return out;
  }

  /**
   * Record entries deleted from a stream while pending as lost, under their event ids (for a
   * retry copy, the event id is the copy's `orig`, known only while the copy is handled here).
   */
  protected async markLost(stream: string, entries: Array<{ entryId: string; eventId: string }>): Promise<void> {
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
  protected async keepLeases(): Promise<void> {
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

  protected override onAcked(f: InFlight, result: unknown): void {
    this.counters.processed++;
    this.emit('processed', { id: f.eventId, attempt: f.attempt, durationMs: monotonicMs() - f.startedAt, result });
  }
}
