/**
 * One owned partition of an ordered group (`ordering: 'key'`, docs/partitions.md §6): events of
 * one key run one at a time, in stream order, through retries (a failed head waits in place, in
 * the partition's backoff set, holding back its key), dead letters, rebalances and takeovers;
 * different keys and keyless events run in parallel within the consumer's slots.
 *
 * Every step that touches the group's state is a fenced script (the lease token must be
 * current): reads (`readOwned`, never a blocking XREADGROUP: a paused reader's blocked read
 * would still take entries), starts (`startOrdered`), retries (`holdRetry`), settles
 * (`settleOrdered`: ack or dead letter; a plain success is a record in the group's success
 * bucket, protocol 2) and takeover (`adoptPending`). A consumer paused past
 * its lease, whose partition another consumer took, cannot read, ack, retry or write status.
 *
 * Idle (§5.4): when a read finds nothing, the partition waits on a blocking `XREAD` of its
 * stream and redelivery stream from their last ids (one XREAD shared by all the consumer's idle
 * partitions, idle-wait.ts): XREAD takes nothing into a PEL, so it needs no fence, and it
 * returns on the next new entry, or after `blockMs`, and the fenced read runs again.
 */
import type Redis from 'ioredis';
import { computeBackoff } from '../backoff';
import { describeError, encodeResult, idTime, isMalformed, parseEntry, type RawEntry } from '../consumer/entry';
import type { DeadLetterReason, Handler, HandlerContext, ResolvedSubscribeOptions } from '../consumer/options';
import { DeadLetterError } from '../errors';
import type { PartitionKeys } from '../keys';
import { runScript } from '../scripts/runner';
import { BUCKET_MS, encodeRecord, recordToken } from '../status-records';
import { sleep } from '../timing';
import type { ServerClock } from '../consumer/skipper';
import type { Topic } from '../topic';
import { KeyQueues } from './key-queues';
import { formatPartitionedId } from './partitionKeys';

/** What an ordered partition needs from its subscription. */
export interface OrderedHost<T> {
  readonly redis: Redis;
  readonly topic: Topic<T>;
  readonly group: string;
  readonly consumer: string;
  readonly options: Readonly<ResolvedSubscribeOptions>;
  readonly statusTtlSeconds: number;
  readonly handler: Handler<T>;
  /** Most held-back entries per partition before its reads pause. */
  readonly maxHeld: number;
  /** Handler time limit (ordered groups always have one, so a hung handler cannot pin its key's partition forever). */
  readonly handlerTimeoutMs: number;
  publishMode(): 'P' | 'S';
  /** afterDeadLetter 'hold': a dead letter blocks its key until it is replayed, purged or released. */
  readonly hold: boolean;
  /**
   * Wait for an entry newer than `ids` in `streams`, or `blockMs` (the consumer's shared idle
   * wait: one blocking XREAD for all its idle partitions, see idle-wait.ts).
   */
  waitForNew(partition: number, streams: string[], ids: string[]): Promise<void>;
  /** Partition `p` stops waiting. */
  leaveWait(partition: number): void;
  acquireSlot(signal: AbortSignal): Promise<void>;
  releaseSlot(): void;
  emit(event: 'processed', e: { id: string; attempt: number; durationMs: number; result: unknown }): void;
  emit(event: 'failed', e: { id: string; attempt: number; error: string; retryInMs: number }): void;
  emit(event: 'deadLettered', e: { id: string; attempt: number; reason: DeadLetterReason; error: string }): void;
  emit(event: 'stale', e: { ids: string[] }): void;
  emit(event: 'lost', e: { ids: string[]; reason: string }): void;
  emit(event: 'skipped', e: { ids: string[] }): void;
  /** The Redis server's clock (skipOlderThanMs judges an event's age on it). */
  readonly clock: ServerClock;
  report(err: unknown, context: string): void;
  /** Whether the partition's lease was renewed recently enough to start a handler under it. */
  leaseFresh(partition: number): boolean;
  /** The partition's token is no longer current (a fenced reply): stop working it. */
  fenced(partition: number): void;
}

/** One entry of the partition as the worker tracks it. */
interface Entry {
  /** `s:<id>` (stream) or `r:<id>` (redelivery): the two streams number their ids apart. */
  ref: string;
  id: string;
  stream: string;
  eventId: string;
  base: number;
  key?: string;
}

/** Counts of one partition's work. */
export interface OrderedCounters { processed: number; failed: number; deadLettered: number; lost: number; skipped: number }

/** See the file comment. */
export class OrderedPartition<T> {
  readonly counters: OrderedCounters = { processed: 0, failed: 0, deadLettered: 0, lost: 0, skipped: 0 };
  private readonly queues: KeyQueues;
  private readonly entries = new Map<string, Entry>();
  /** Handlers running now, by entry ref. */
  private readonly running = new Map<string, { entry: Entry; abort: AbortController; done: Promise<void> }>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** Heads waiting for a handler slot: reads pause while many wait. */
  private waitingForSlot = 0;
  private active = true;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** afterDeadLetter 'hold': the next look at the blocked keys in Redis (released? replayed?). */
  private blockTimer: NodeJS.Timeout | undefined;

  constructor(private readonly host: OrderedHost<T>, readonly partition: number, readonly token: number, private readonly keys: PartitionKeys) {
    this.queues = new KeyQueues(host.maxHeld);
  }

  /** Handlers running now. */
  get inFlight(): number { return this.running.size; }

  /** Public ids of the events running now. */
  get runningIds(): string[] { return [...this.running.values()].map((r) => formatPartitionedId(this.partition, r.entry.eventId)); }

  start(): void {
    this.loop = this.work().catch((err: unknown) => this.host.report(err, `partition ${this.partition}`));
  }

  private get lease(): string { return this.keys.lease(this.host.group); }
  private get redeliver(): string { return this.keys.redeliver(this.host.group); }
  private get backoff(): string { return this.keys.backoff(this.host.group); }

  private async work(): Promise<void> {
    await this.adopt();
    let idle = 0;
    while (this.active) {
      const room = Math.min(this.queues.room, this.host.options.concurrency * 2 - this.waitingForSlot);
      if (room <= 0) { await this.pause(50); continue; }
      const reply = await runScript<['fenced'] | ['ok', RawEntry[], RawEntry[], string?, string?]>(this.host.redis, 'readOwned',
        [this.lease, this.redeliver, this.keys.stream], [this.host.group, this.host.consumer, this.token, Math.min(room, 500)]);
      if (reply[0] === 'fenced') { this.lostLease(); return; }
      const [, again, fresh, topAgain, topFresh] = reply;
      for (const raw of again) this.offer(this.entryOf(this.redeliver, raw));
      for (const raw of fresh) this.offer(this.entryOf(this.keys.stream, raw));
      if (again.length + fresh.length > 0) { idle = 0; continue; }
      if (topAgain !== undefined && topFresh !== undefined) {
        idle = 0;
        await this.waitForNew(topAgain, topFresh);
        continue;
      }
      // A server script of an older version (no last ids in its reply): poll, slower the longer nothing comes.
      idle = Math.min(idle + 1, 10);
      await this.pause(Math.min(this.host.options.blockMs, 20 * idle));
    }
  }

  /**
   * Wait until an entry newer than `topAgain` / `topFresh` arrives in the redelivery stream or the
   * stream, or `blockMs` passes (§5.4), in the consumer's shared blocking XREAD (it reads, takes
   * nothing). Stopping the partition ends its wait at once.
   */
  private async waitForNew(topAgain: string, topFresh: string): Promise<void> {
    if (!this.active) return;
    await this.host.waitForNew(this.partition, [this.redeliver, this.keys.stream], [topAgain, topFresh]);
  }

  /** End this partition's idle wait. */
  private closeBlocking(): void {
    this.host.leaveWait(this.partition);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wake = undefined; resolve(); }, ms);
      this.wake = () => { clearTimeout(t); this.wake = undefined; resolve(); };
    });
  }

  private entryOf(stream: string, raw: RawEntry, known?: { key?: string }): Entry {
    const fields = new Map<string, string>();
    const flat = raw[1] ?? [];
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!, flat[i + 1]!);
    const fromRedelivery = stream !== this.keys.stream;
    const orig = fields.get('orig');
    const base = fromRedelivery ? Number(fields.get('base') ?? 0) : 0;
    const key = known ? known.key : fields.get('key');
    return {
      ref: `${fromRedelivery ? 'r' : 's'}:${raw[0]}`, id: raw[0], stream,
      eventId: fromRedelivery && orig && /^\d+-\d+$/.test(orig) ? orig : raw[0],
      base: Number.isInteger(base) && base >= 0 ? base : 0,
      ...(key !== undefined ? { key } : {}),
    };
  }

  /** An entry read or adopted, in stream order: start it, or hold it behind its key. */
  private offer(e: Entry, due = 0, now = 0): void {
    if (this.entries.has(e.ref)) return;
    this.entries.set(e.ref, e);
    const verdict = this.queues.offer({ id: e.ref, ...(e.key !== undefined ? { key: e.key } : {}) });
    if (verdict === 'park') this.checkBlocked(0); // perhaps the replay of the dead letter that blocks its key
    if (verdict !== 'run') return;
    if (due > now) this.later(e, due - now);
    else void this.begin(e);
  }

  private later(e: Entry, ms: number): void {
    const t = setTimeout(() => { this.retryTimers.delete(t); void this.begin(e); }, ms);
    this.retryTimers.add(t);
  }

  /**
   * Takeover (§6.4): every entry pending in the group on this partition becomes this consumer's
   * (adoptPending, fenced, pages of 500); the queues are rebuilt in stream order, and heads that
   * wait for a retry keep their due time from the backoff set.
   */
  private async adopt(): Promise<void> {
    const rows: Array<{ stream: string; id: string; key?: string }> = [];
    for (const stream of [this.keys.stream, this.redeliver]) {
      let start = '-';
      for (;;) {
        const r = await runScript<['fenced'] | ['ok', string, Array<[string, number, string, number, string]>, string[]]>(this.host.redis, 'adoptPending',
          [this.lease, stream], [this.host.group, this.host.consumer, this.token, start, 500]);
        if (r[0] === 'fenced') { this.lostLease(); return; }
        const [, next, page, deleted] = r;
        for (const [id, hasKey, key] of page) rows.push({ stream, id, ...(Number(hasKey) === 1 ? { key } : {}) });
        if (deleted.length > 0) {
          await this.host.redis.xack(stream, this.host.group, ...deleted);
          this.counters.lost += deleted.length;
          this.host.emit('lost', { ids: deleted.map((id) => formatPartitionedId(this.partition, id)), reason: 'entry deleted from the stream while pending (trimmed or XDEL); its payload is gone' });
        }
        if (next === '') break;
        start = next;
      }
    }
    if (rows.length === 0) return;
    const [[sec, usec], dues] = await Promise.all([
      this.host.redis.time() as unknown as Promise<[string, string]>,
      this.host.redis.zrange(this.backoff, 0, -1, 'WITHSCORES'),
    ]);
    const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    const dueOf = new Map<string, number>();
    for (let i = 0; i + 1 < dues.length; i += 2) dueOf.set(dues[i]!, Number(dues[i + 1]));
    // Redelivery entries (replays) need their fields for the event id; topic entries' ids are their event ids.
    const redelivered = rows.filter((r) => r.stream === this.redeliver);
    const looked = redelivered.length === 0 ? [] : await Promise.all(redelivered.map((r) => this.host.redis.xrange(r.stream, r.id, r.id)));
    const fieldsOf = new Map(redelivered.map((r, i) => [r.id, looked[i]?.[0]?.[1] ?? []]));
    for (const r of rows) {
      const raw: RawEntry = [r.id, r.stream === this.redeliver ? fieldsOf.get(r.id)! : []];
      this.offer(this.entryOf(r.stream, raw, { ...(r.key !== undefined ? { key: r.key } : {}) }), dueOf.get(r.id) ?? 0, now);
    }
  }

  /** Start (or restart) an entry at the head of its key: a slot, then startOrdered, then the handler. */
  private async begin(e: Entry): Promise<void> {
    if (!this.active) return;
    const bound = this.host.options.skipOlderThanMs;
    if (bound !== undefined && this.host.clock.now() - idTime(e.eventId) > bound) {
      await this.skip(e);
      return;
    }
    this.waitingForSlot++;
    try {
      await this.host.acquireSlot(this.stop.signal);
    } catch {
      return; // the partition stopped while this waited
    } finally {
      this.waitingForSlot--;
    }
    let slotHeld = true;
    const free = () => { if (slotHeld) { slotHeld = false; this.host.releaseSlot(); } };
    if (!this.active) { free(); return; }
    // Running from here: a drain that starts while startOrdered is on its way must wait for this
    // entry (it may start and settle), or the lease would be released under a handler that is
    // about to run (the next owner could run the same event at the same time).
    const abort = new AbortController();
    let finished!: () => void;
    const done = new Promise<void>((r) => { finished = r; });
    this.running.set(e.ref, { entry: e, abort, done });
    try {
      const held = this.heldMark(e);
      const r = await runScript<['fenced'] | ['stale'] | ['lost', number] | ['blocked', string] | ['run', number, string[]]>(this.host.redis, 'startOrdered',
        [this.lease, e.stream, this.keys.status(e.eventId), ...(held ? [this.keys.blocked(this.host.group)] : [])],
        [this.host.group, this.host.consumer, this.token, e.id, this.host.statusTtlSeconds, this.host.options.trackStatus ? '1' : '0', ...(held ? [held] : [])]);
      if (r[0] === 'fenced') { this.lostLease(); return; }
      if (r[0] === 'blocked') {
        // afterDeadLetter 'hold': a dead letter (an earlier owner's) blocks its key. It waits,
        // pending to this consumer, with the key's later entries, until a release or a replay.
        this.queues.blockHead(e.key!, { id: e.ref, key: e.key! });
        this.checkBlocked(1000);
        return;
      }
      if (r[0] === 'stale') {
        // Not pending to this consumer: acknowledged by hand, or the group was recreated.
        this.host.emit('stale', { ids: [this.publicId(e)] });
        this.settled(e);
        return;
      }
      if (r[0] === 'lost') {
        await this.settle(e, 'dead', r[1], 'entry deleted from the stream while pending', 'hung');
        return;
      }
      // The start was granted under the lease, but this process may have been paused since
      // (SIGSTOP, a long GC) past the lease: another consumer may run this entry already (fault 17
      // saw a paused consumer wake and run attempt 1 after the new owner had started attempt 2).
      // Start no handler until the keeper's renewal says the lease is still this consumer's (its
      // token unchanged, so nobody took the partition meanwhile); if the renewal fails instead, the
      // partition stops and the entry stays pending for its new owner.
      const waitUntil = performance.now() + this.host.handlerTimeoutMs;
      while (this.active && !this.host.leaseFresh(this.partition) && performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 20));
      if (!this.active) return;
      if (!this.host.leaseFresh(this.partition)) { this.later(e, 1000); return; }
      const attempt = e.base + Number(r[1]);
      const parsed = parseEntry<T>([e.id, r[2]], this.host.topic.codec, e.stream !== this.keys.stream);
      if (isMalformed(parsed)) { await this.settle(e, 'dead', attempt, parsed.reason, 'malformed'); return; }
      if (attempt > this.host.options.maxAttempts) {
        await this.settle(e, 'dead', attempt - 1, `attempt ${attempt - 1} of ${this.host.options.maxAttempts} never finished: its consumer crashed or lost its partition`, 'hung');
        return;
      }
      await this.run(e, attempt, parsed.payload, parsed.headers, free, abort);
    } catch (err) {
      // Redis failed: the entry stays pending; the next owner (or this one, after a takeover) starts it again.
      this.host.report(err, `start ${this.publicId(e)}`);
      if (this.active) this.later(e, 1000);
    } finally {
      // Counted as running until settled: a drain waits for the settle, so the lease is never
      // released while a start or a settle of this owner is still on its way.
      this.running.delete(e.ref);
      finished();
      free();
    }
  }

  /**
   * skipOlderThanMs: the event is stale when its key's turn comes (its first run, or a retry in
   * place): settled `skipped` without a slot or a handler (fenced, as any settle), and the key's
   * next event goes on, so key order holds. Counted as running until settled (a drain waits).
   */
  private async skip(e: Entry): Promise<void> {
    let finished!: () => void;
    const done = new Promise<void>((r) => { finished = r; });
    this.running.set(e.ref, { entry: e, abort: new AbortController(), done });
    try {
      await this.settle(e, 'skipped', e.base, '', '');
    } finally {
      this.running.delete(e.ref);
      finished();
    }
  }

  private async run(e: Entry, attempt: number, payload: T, headers: Record<string, string>, free: () => void, abort: AbortController): Promise<void> {
    let deadReason: string | undefined;
    const host = this.host;
    const ctx = {
      id: this.publicId(e), topic: host.topic.name, group: host.group, consumer: host.consumer, attempt,
      maxAttempts: host.options.maxAttempts, headers, publishedAt: new Date(idTime(e.eventId)), signal: abort.signal,
      partition: this.partition, fencingToken: this.token, key: e.key,
      deadLetter: (reason: string): never => { deadReason = reason; throw new DeadLetterError(reason); },
    } satisfies HandlerContext & Record<string, unknown>;
    await this.runAndSettle(e, attempt, payload, ctx, abort, () => deadReason, free);
  }

  private async runAndSettle(e: Entry, attempt: number, payload: T, ctx: HandlerContext, abort: AbortController, dead: () => string | undefined, free: () => void): Promise<void> {
    const host = this.host;
    const startedAt = performance.now();
    const limit = host.handlerTimeoutMs;
    const timer = limit > 0 ? setTimeout(() => abort.abort(new Error(`handler timed out after ${limit}ms (handlerTimeoutMs)`)), limit) : undefined;
    let outcome: { ok: true; result: unknown } | { ok: false; err: unknown };
    try {
      // The handler runs to its end even past its time limit (its signal fires): its key stays
      // busy until it returns, so a retry never overlaps it in this consumer.
      outcome = { ok: true, result: await host.handler(payload, ctx) };
      if (abort.signal.aborted) outcome = { ok: false, err: abort.signal.reason };
    } catch (err) {
      outcome = { ok: false, err };
    } finally {
      clearTimeout(timer);
      free();
    }
    const deadReason = dead();
    if (!this.active && this.lostToken) return; // fenced: the next owner runs it again
    if (outcome.ok) {
      await this.settle(e, 'succeeded', attempt, encodeResult(outcome.result, host.options.maxResultBytes), '', outcome.result, performance.now() - startedAt);
      return;
    }
    const message = deadReason ?? describeError(outcome.err);
    const give: DeadLetterReason | undefined = deadReason !== undefined || outcome.err instanceof DeadLetterError ? 'handler'
      : attempt >= host.options.maxAttempts ? 'attempts' : undefined;
    if (give) { await this.settle(e, 'dead', attempt, message, give); return; }
    const { delayMs, problem } = computeBackoff(host.options.backoff, attempt, outcome.err);
    if (problem) host.report(problem, `backoff for ${this.publicId(e)}`);
    try {
      const r = await runScript<['fenced'] | ['stale'] | ['held', number]>(host.redis, 'holdRetry',
        [this.lease, e.stream, this.backoff, this.keys.status(e.eventId)],
        [host.group, host.consumer, this.token, e.id, attempt, message, delayMs, host.statusTtlSeconds, host.options.trackStatus ? '1' : '0']);
      if (r[0] === 'fenced') { this.lostLease(); return; }
      if (r[0] === 'stale') { host.emit('stale', { ids: [this.publicId(e)] }); this.settled(e); return; }
      this.counters.failed++;
      host.emit('failed', { id: this.publicId(e), attempt, error: message, retryInMs: delayMs });
      if (this.active) this.later(e, delayMs);
    } catch (err) {
      host.report(err, `hold ${this.publicId(e)} for a retry`);
      if (this.active) this.later(e, Math.max(delayMs, 1000));
    }
  }

  private async settle(e: Entry, outcome: 'succeeded' | 'dead' | 'skipped', attempt: number, text: string, reason: DeadLetterReason | '', result?: unknown, durationMs = 0): Promise<void> {
    const host = this.host;
    let r: ['fenced'] | ['stale'] | ['lost'] | ['succeeded'] | ['skipped'] | ['blocked', string] | ['dead', string];
    try {
      const held = this.heldMark(e);
      // A plain success is a record in the group's success bucket of the event's second
      // (protocol 2, as ackBatch writes them), not fields of the status hash.
      const { second, token } = recordToken(e.eventId);
      const record = !host.options.trackStatus ? ''
        : outcome === 'succeeded' && text === '' ? encodeRecord(token, attempt)
          : outcome === 'skipped' ? `${token};` : ''; // a skip record (the script adds '~' and the attempts)
      r = await runScript(host.redis, 'settleOrdered',
        [this.lease, e.stream, this.backoff, this.keys.status(e.eventId), this.keys.waiters, this.keys.deadLetters(host.group),
          this.keys.ok(host.group, second), ...(held ? [this.keys.blocked(host.group)] : [])],
        [host.group, host.consumer, this.token, e.id, e.eventId, outcome, attempt, text, reason, host.options.deadLetterMaxLen,
          host.statusTtlSeconds, this.keys.done, host.options.trackStatus ? '1' : '0', host.publishMode(), second * BUCKET_MS, record, ...(held ? [held] : [])]);
    } catch (err) {
      // Not settled: the entry stays pending and its key held; try again shortly (a resend of a
      // settle that did run finds the entry acked: 'stale', and the key moves on).
      host.report(err, `settle ${this.publicId(e)}`);
      if (this.active) {
        await sleep(500);
        if (this.active) await this.settle(e, outcome, attempt, text, reason, result, durationMs);
      }
      return;
    }
    if (r[0] === 'fenced') { this.lostLease(); return; }
    if (r[0] === 'blocked') {
      // A skip of an event whose key waits for a dead letter (afterDeadLetter 'hold'): parked, as a start would be.
      this.queues.blockHead(e.key!, { id: e.ref, key: e.key! });
      this.checkBlocked(1000);
      return;
    }
    if (r[0] === 'stale') host.emit('stale', { ids: [this.publicId(e)] });
    else if (r[0] === 'lost') {
      this.counters.lost++;
      host.emit('lost', { ids: [this.publicId(e)], reason: 'entry deleted from the stream while pending (trimmed or XDEL)' });
    } else if (r[0] === 'succeeded') {
      this.counters.processed++;
      host.emit('processed', { id: this.publicId(e), attempt, durationMs, result });
    } else if (r[0] === 'skipped') {
      this.counters.skipped++;
      host.emit('skipped', { ids: [this.publicId(e)] });
    } else {
      this.counters.deadLettered++;
      host.emit('deadLettered', { id: this.publicId(e), attempt, reason: reason as DeadLetterReason, error: text });
      if (host.hold && e.key !== undefined) {
        // afterDeadLetter 'hold': the script blocked the key in Redis; its later entries wait here.
        this.entries.delete(e.ref);
        this.queues.block(e.key, { id: e.ref, key: e.key });
        this.checkBlocked(1000); // look for a purge or a release by hand every second while blocked
        this.wake?.();
        return;
      }
    }
    this.settled(e);
  }

  /** afterDeadLetter 'hold': the key mark the start and settle scripts check blocks with ('' when not held). */
  private heldMark(e: Entry): string {
    if (!this.host.hold || e.key === undefined) return '';
    return `${e.stream === this.keys.stream ? 's' : 'r'}=${e.key}`;
  }

  /**
   * afterDeadLetter 'hold': look at the blocked keys in Redis after `ms`, and again every second
   * while any is blocked here: a key whose block is gone (purged, released) runs its parked
   * entries; a key whose dead letter is being replayed runs the replay first (once read).
   */
  private checkBlocked(ms: number): void {
    if (!this.active || (this.blockTimer && ms > 0)) return;
    if (this.blockTimer) clearTimeout(this.blockTimer);
    this.blockTimer = setTimeout(() => {
      this.blockTimer = undefined;
      void this.lookAtBlocks().finally(() => { if (this.active && this.queues.blockedKeys().length > 0) this.checkBlocked(1000); });
    }, ms);
  }

  private async lookAtBlocks(): Promise<void> {
    const keys = this.queues.blockedKeys();
    for (let i = 0; i < keys.length && this.active; i += 500) {
      const chunk = keys.slice(i, i + 500);
      let holders: Array<string | null>;
      try {
        holders = await this.host.redis.hmget(this.keys.blocked(this.host.group), ...chunk);
      } catch (err) {
        this.host.report(err, `read the blocked keys of partition ${this.partition}`);
        return;
      }
      chunk.forEach((key, n) => {
        const holder = holders[n];
        const head = holder === null || holder === undefined ? this.queues.release(key)
          : holder.startsWith('replay:') ? this.queues.promote(key, `r:${holder.slice('replay:'.length)}`) : undefined;
        if (head && this.active) void this.begin(this.entries.get(head.id)!);
      });
    }
  }

  /** The head of its key is done for good: the key's next entry starts (afterDeadLetter 'continue'). */
  private settled(e: Entry): void {
    this.entries.delete(e.ref);
    const next = this.queues.settled({ id: e.ref, ...(e.key !== undefined ? { key: e.key } : {}) });
    if (next && this.active) void this.begin(this.entries.get(next.id)!);
    this.wake?.();
  }

  private publicId(e: Entry): string {
    return formatPartitionedId(this.partition, e.eventId);
  }

  private lostToken = false;

  /** A fenced reply: another consumer holds the partition now. Stop at once; its new owner adopts everything. */
  private lostLease(): void {
    if (this.lostToken) return;
    this.lostToken = true;
    this.halt(new Error(`partition ${this.partition} was taken over by another consumer (lease lost)`));
    this.host.fenced(this.partition);
  }

  private halt(reason: Error): void {
    this.active = false;
    if (this.blockTimer) clearTimeout(this.blockTimer);
    this.stop.abort(reason);
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    for (const r of this.running.values()) r.abort.abort(reason);
    this.wake?.();
    this.closeBlocking();
  }

  /**
   * The group was retired (retireGroup destroyed it on this partition): stop at once and settle
   * nothing more (there is no group to settle in); running handlers are aborted with `reason`.
   */
  retire(reason: Error): void {
    this.lostToken = true;
    this.halt(reason);
  }

  /** The lease is lost (not renewed in time, or fenced): stop at once, settle nothing more. */
  lose(): void {
    this.lostToken = true;
    this.halt(new Error(`partition ${this.partition}: lease lost`));
  }

  /**
   * Stop reading and retrying, let running handlers finish and settle within `graceMs` (then
   * abort them: their entries stay pending, for the next owner to adopt), and forget the
   * queues. Entries held back, and retries waiting in the backoff set, stay pending in Redis.
   * @returns how many handlers were still running when the grace ended
   */
  async drain(graceMs: number): Promise<number> {
    this.active = false;
    if (this.blockTimer) clearTimeout(this.blockTimer);
    this.stop.abort(new Error('partition given up'));
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.wake?.();
    this.closeBlocking();
    const deadline = performance.now() + graceMs;
    while (this.running.size > 0 && performance.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.running.values()].map((r) => r.done)),
        new Promise((resolve) => { timer = setTimeout(resolve, Math.max(1, deadline - performance.now())); }),
      ]);
      clearTimeout(timer);
    }
    const left = this.running.size;
    for (const r of this.running.values()) r.abort.abort(new Error('shutdown: grace period over; the entry is left for the next owner'));
    await this.loop;
    // Let settles already sent come back before the lease is released.
    await sleep(0);
    this.queues.clear();
    return left;
  }
}
