import { isCluster } from '../connection';
import { GroupRetiredError, isNoGroup } from '../errors';
import { pruneIdleConsumers } from './pruner';
import { groupInfos } from '../status';
import { compareIds } from '../ids';
import { monotonicMs, sleep } from '../timing';
import type { RawEntry } from './entry';
import { SubscriptionSettler } from './settler';

/**
 * How long (ms) after a read of the redelivery stream came back empty the read loop reads only
 * the topic stream: the most a retry (or replay) written meanwhile waits for its first read.
 */
export const REDELIVERY_QUIET_MS = 50;

/**
 * Awaited after a read's entries are taken, before the next read is sent: their handlers start in
 * a microtask queued when they were taken (settler.ts begin), which this await lets run first.
 * Sent first, the next read's socket write (and Redis woken by it, on a machine whose cores are
 * busy) came between an event's arrival and its handler's start; the floor's loop runs its
 * handlers before it writes anything. Handlers that return at once have also freed their slots
 * when the next read counts them.
 */
const HANDLERS_FIRST: Promise<void> = Promise.resolve();

/**
 * Reading: the read loop (never more entries than free slots), entries held for a slot, where the
 * group is on each stream, the reclaim tick, and the entries a dropped connection's lost reply left
 * pending. See {@link SubscriptionState} for the layers.
 * @internal
 */
export abstract class SubscriptionReader<T = unknown> extends SubscriptionSettler<T> {
  /**
   * Until when (monotonic ms) the redelivery stream is taken to have nothing new for this
   * consumer: set for {@link REDELIVERY_QUIET_MS} after a read of it came back empty. Meanwhile a
   * batch costs one read of the topic stream instead of two reads (perf-notes §3 step 4).
   */
  private redeliveryQuietUntil = 0;

  protected async readLoop(): Promise<void> {
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
        // Every slot was busy: this consumer was not reading, so it could not see NOGROUP if the
        // group was destroyed meanwhile. Settle what finished before the next read (bounded: a
        // Redis outage must not stall the loop here). A read makes this consumer a member of a
        // group recreated behind its back (XGROUP DESTROY, then CREATE by someone else), after
        // which the acks of the entries it ran from the old group are refused as another
        // consumer's; settled first, they are recognised as orphaned and count (group-destroy
        // .test 'never saw NOGROUP', which the read that a freed slot starts at once lost 1 run in
        // 3 on a loaded machine). A consumer with free slots is blocked in XREADGROUP, which the
        // DESTROY answers with NOGROUP (recovery then takes its running deliveries back), so it
        // reads at once, with its acks in flight: settling them first cost an event published
        // during the ack's round trip that round trip (two when the next ack had queued behind
        // it), the p50/p99 gap to the floor at 500 events/s (perf-notes §7).
        await this.settleBeforeRead();
        continue;
      }
      if (this.reclaimOwed) {
        this.reclaimOwed = false;
        await this.reclaimTick(false);
        if (this.free() <= 0) continue;
      }
      try {
        let sentAt = monotonicMs();
        if (sentAt < this.redeliveryQuietUntil) {
          // The redelivery stream had nothing new a moment ago: one read of the topic stream,
          // blocking no longer than the quiet time left, so a retry written meanwhile waits at
          // most REDELIVERY_QUIET_MS. Under load this halves the reads per batch.
          if (this.blockingId === undefined && !isCluster(this.blocking)) this.blockingId = Number(await this.blocking.client('ID'));
          if (this.stopping) break;
          const wait = Math.max(1, Math.min(this.options.blockMs, Math.ceil(this.redeliveryQuietUntil - sentAt)));
          sentAt = monotonicMs();
          const reply = (await this.blocking.xreadgroup(
            'GROUP', this.group, this.consumer, 'COUNT', free, 'BLOCK', wait, 'STREAMS', this.keys.stream, '>',
          )) as Array<[string, RawEntry[]]> | null;
          failures = 0;
          this.readFailing = false;
          const fresh = reply?.[0]?.[1] ?? [];
          for (const e of fresh) this.take(this.keys.stream, e, 1, sentAt);
          this.noteRead(this.keys.stream, fresh);
          if (fresh.length > 0) await HANDLERS_FIRST;
          continue;
        }
        // Retries first, without blocking: XREADGROUP's COUNT applies per stream, so one read of
        // both streams could deliver up to twice the free slots. (Reading both in one Lua script
        // cost Redis about 3 µs more per entry: each entry crossed into Lua and back.)
        // Leases count from when a read was sent (the entries were delivered at some point after).
        const again = await this.readOnce(redeliver, free);
        if (again.length === 0) this.redeliveryQuietUntil = sentAt + REDELIVERY_QUIET_MS;
        failures = 0;
        this.readFailing = false;
        for (const e of again) this.take(redeliver, e, 1, sentAt);
        this.noteRead(redeliver, again);
        const rest = this.free();
        if (rest <= 0 || this.stopping) continue;
        if (again.length > 0) {
          sentAt = monotonicMs();
          const fresh = await this.readOnce(this.keys.stream, rest);
          for (const e of fresh) this.take(this.keys.stream, e, 1, sentAt);
          this.noteRead(this.keys.stream, fresh);
          await HANDLERS_FIRST;
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
          if (stream === redeliver && entries.length > 0) this.redeliveryQuietUntil = 0;
        }
        await HANDLERS_FIRST;
      } catch (err) {
        if (this.stopping) break;
        failures++;
        if (isNoGroup(err)) {
          await this.recover('the group or its stream vanished (NOGROUP): FLUSHDB, a deleted stream or XGROUP DESTROY');
        } else {
          this.readFailing = true;
          this.report(err, 'read');
          await sleep(Math.min(50 * 2 ** failures, 5000));
        }
      }
    }
  }

  /** Settle the finished deliveries' acks, waiting at most 1 s (see the read loop). */
  private async settleBeforeRead(): Promise<void> {
    let bound: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.acks.drain(), new Promise((r) => { bound = setTimeout(r, 1000); })]);
    clearTimeout(bound);
  }

  /** One non-blocking read of new entries from one stream, on the worker connection. */
  protected async readOnce(stream: string, count: number): Promise<RawEntry[]> {
    const reply = (await this.worker.xreadgroup('GROUP', this.group, this.consumer, 'COUNT', count, 'STREAMS', stream, '>')) as Array<[string, RawEntry[]]> | null;
    return reply?.[0]?.[1] ?? [];
  }

  /**
   * Remember where the group is on each stream (XINFO GROUPS' last-delivered-id, O(groups)): a
   * destroyed group resumes from the furthest of this and this consumer's own last read, so a
   * consumer that read little (or nothing) does not resume far behind its group.
   * @returns false when the topic stream no longer has the group
   */
  protected async noteGroupPositions(): Promise<boolean> {
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
  protected lastKnown(stream: string): string | undefined {
    const a = this.lastRead.get(stream);
    const b = this.groupPos.get(stream) ?? (stream === this.keys.stream ? this.createdAt : undefined);
    if (a === undefined) return b;
    if (b === undefined) return a;
    return compareIds(a, b) >= 0 ? a : b;
  }

  /** Remember the last entry read from each stream: where a destroyed group resumes. */
  protected noteRead(stream: string, entries: RawEntry[]): void {
    const last = entries[entries.length - 1];
    if (last) this.lastRead.set(stream, last[0]);
  }

  /** Run an entry delivered to this consumer now, or, with no free slot, as soon as one frees. */
  protected override take(stream: string, raw: RawEntry, deliveries: number, leasedAt = monotonicMs()): void {
    if (this.stopping || this.free() <= 0 || this.held.length > 0) {
      this.held.push({ stream, raw, deliveries, leasedAt });
      this.runHeld();
      return;
    }
    this.dispatch(stream, raw, deliveries, leasedAt);
  }

  /** Start held entries while slots are free (they are this consumer's: delivered, pending). */
  protected override runHeld(): void {
    while (this.held.length > 0 && this.free() > 0 && !this.stopping) {
      const h = this.held.shift()!;
      this.dispatch(h.stream, h.raw, h.deliveries, h.leasedAt);
    }
  }

  /**
   * At shutdown: give held entries back to the group, reclaimable at once (idle = the visibility
   * timeout) and with this delivery not counted (RETRYCOUNT the earlier deliveries).
   */
  protected async handBackHeld(): Promise<void> {
    for (const h of this.held.splice(0)) {
      await this.worker.xclaim(h.stream, this.group, this.consumer, 0, h.raw[0], 'IDLE', this.options.visibilityTimeoutMs,
        'RETRYCOUNT', Math.max(0, h.deliveries - 1), 'JUSTID');
    }
  }

  /** Reclaim entries idle past the visibility timeout (dead or stuck consumers), to this consumer. */
  protected async reclaimTick(promote = true): Promise<void> {
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
   * Remove consumers of this group that crashed long ago (see {@link pruneIdleConsumers}).
   * Runs at most once per minute (or per prune period, if shorter).
   */
  protected maybePrune(): void {
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
   * After a connection came back: entries delivered to this consumer in a reply the drop lost (an
   * XREADGROUP or XAUTOCLAIM answered by Redis, never seen here) are in this consumer's pending
   * list but in no handler's hands; they would wait a whole visibility timeout for a reclaim. Run
   * them now: this consumer's pending entries that it neither runs, holds nor is acking, and that
   * were delivered before the connection came back (idle since before the midpoint of the outage:
   * a reply still on its way, to a read re-sent after the reconnect, is younger than that).
   */
  protected override async runOrphans(droppedAt: number, readyAt: number): Promise<void> {
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
}
