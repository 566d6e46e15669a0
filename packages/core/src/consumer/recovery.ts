import { GroupRetiredError } from '../errors';
import { runScript } from '../scripts/runner';
import { groupInfos, settledInGroup } from '../status';
import { compareIds } from '../ids';
import { monotonicMs, sleep } from '../timing';
import { doneRecovering, knownPosition, missingGroups, nextId, noteKnownGroup, noteRecovering } from '../retention/known-groups';
import type { InFlight } from './in-flight';
import type { RawEntry } from './entry';
import { SubscriptionReader } from './reader';

/** Lifetime of the recreated key when statuses never expire (statusTtlSeconds 0): 7 days. */
const RECREATED_TTL_S = 7 * 86_400;

/**
 * The group's life on Redis: creating it (refused when retired), recovering after NOGROUP
 * (XGROUP DESTROY, a deleted stream, FLUSHDB), taking back a destroyed group's orphans, and
 * stopping when the group was retired for good. See {@link SubscriptionState} for the layers.
 * @internal
 */
export abstract class SubscriptionRecovery<T = unknown> extends SubscriptionReader<T> {
  /**
   * Create both groups (topic stream and this group's redelivery stream) unless they exist, and
   * register this consumer in them (so `groups` shows the pool before its first read).
   * @throws GroupRetiredError when the group was retired
   */
  protected async ensureGroups(startFrom: string): Promise<boolean> {
    // A group destroyed (XGROUP DESTROY of its topic stream's half) while its consumers ran, and
    // not recreated yet by their recovery (they stalled, or lost Redis): recreated as they would,
    // where it was, not at startFrom. A new consumer of the group (a restart, one more worker)
    // created it at startFrom and, from 'beginning', replayed everything the group had finished
    // (model seed 10: destroy-replay, seqs 1, 3, 4, 5 in both groups, from a worker spawned 11 s
    // after b's destroy).
    const floor = await this.destroyedWhileRunning();
    if (floor !== undefined) {
      this.pendingFloor ??= floor;
      if (!this.groupPos.has(this.keys.stream)) this.groupPos.set(this.keys.stream, previousId(floor));
      await this.recover('the group was missing when this consumer started: destroyed (XGROUP DESTROY) while its consumers ran, within the last 10 minutes, and not recreated yet');
    }
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

  /**
   * When this consumer's group is missing from the topic stream while it still exists on its
   * redelivery stream (so it is no new group: XGROUP DESTROY took the topic stream's half; a
   * retirement or a deleted stream takes both) and its consumers recorded where it was within
   * the window of known-groups.ts: the lowest entry it may still need. Only with trackStatus (the
   * recovery checks the status of what may come again before running it).
   */
  private async destroyedWhileRunning(): Promise<string | undefined> {
    if (!this.options.trackStatus) return undefined;
    const stream = this.keys.stream;
    if ((await this.worker.exists(stream)) !== 1) return undefined;
    if (!(await groupInfos(this.worker, this.keys.redeliver(this.group))).some((g) => g.name === this.group)) return undefined;
    return (await missingGroups(this.worker, stream)).find((g) => g.group === this.group)?.floor;
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
   *
   * One recovery at a time: the read loop and the reclaim tick often meet the same NOGROUP at
   * once, and a second recovery running beside the first found the deliveries the first had just
   * taken back pending for this very consumer, took that for another consumer's, and aborted
   * their handlers (their leases then lapsed and another consumer ran them again: model seed 3
   * with `+destroy`). A caller that comes while one runs waits for it.
   */
  protected override recover(reason: string): Promise<void> {
    if (!this.recovering) this.recovering = this.recoverOnce(reason).finally(() => { this.recovering = undefined; });
    return this.recovering;
  }

  /** The recovery in progress, if any (see {@link recover}). */
  private recovering: Promise<void> | undefined;

  private async recoverOnce(reason: string): Promise<void> {
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
          if (isTopic) this.settledUpTo = undefined; // a new stream: nothing in it was handled before
          parts.push(`${what} was gone (FLUSHDB, DEL or a lost failover): recreated at ${isTopic ? this.options.recoverFrom : 'the beginning'}`);
          if (isTopic) startedAt = this.options.recoverFrom;
          continue;
        }
        // The stream is there: the group was destroyed (or the stream recreated). Recreate it after
        // the last entry this consumer read (another consumer may have been first), then take back
        // the entries this consumer is still handling, so their acks count: nothing finished is
        // replayed, nothing running is dropped or run twice.
        const had = (await groupInfos(this.worker, stream)).some((g) => g.name === this.group);
        // Whoever recreates the group, it starts where its position was last seen, which may be
        // behind what other consumers finished: entries up to the stream's end now are checked
        // against their status when they come again (see settledUpTo, runUnlessSettled).
        // Every consumer of the group learns it from the recreated key (noteGroupPositions). The
        // bound is the server's clock now: every entry published before has an id up to it (TIME,
        // not XREVRANGE or XINFO STREAM, which the consumer's ACL role does not grant).
        if (isTopic) {
          const [sec, usec] = await this.worker.time();
          const last = `${Number(sec) * 1000 + Math.floor(Number(usec) / 1000)}-${Number.MAX_SAFE_INTEGER}`;
          this.noteSettledUpTo(last);
          const ttl = this.settings.statusTtlSeconds > 0 ? this.settings.statusTtlSeconds : RECREATED_TTL_S;
          await this.worker.set(this.keys.recreated(this.group), this.settledUpTo ?? last, 'EX', ttl);
          this.recreatedSeen = this.settledUpTo ?? last; // its own: adoptRunning below takes back what it runs
        }
        // The furthest position known: this consumer's, or one another consumer of the group
        // recorded since (known-groups.ts): entries up to it were delivered before the destroy;
        // those still running elsewhere are taken back by their consumers, those left with dead
        // ones by the sweep below. Resuming earlier delivered them again as new, to a second
        // consumer while the first still ran them (model seed 3: destroy-overlap a|11..13).
        let start = this.lastKnown(stream) ?? (isTopic ? '$' : '0');
        if (isTopic && !had && this.options.trackStatus) {
          const known = await knownPosition(this.worker, stream, this.group);
          if (known !== undefined && (start === '$' || compareIds(known, start) > 0)) start = known;
        }
        const created = !had && (await this.createGroup(stream, start))[0] === 'created';
        if (created && isTopic && start !== '$') {
          const from = this.sweepFloor(this.pendingFloor ?? this.groupPos.get(stream) ?? '-');
          // Until the sweep ran, retention counts the group as missing from there (a hard cap
          // records what nobody holds lost; see known-groups.ts, noteRecovering).
          if (from !== '-') await noteRecovering(this.worker, stream, this.group, from);
          this.scheduleSweep(from, start);
        }
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
   * Where the group is, as in {@link SubscriptionReader.noteGroupPositions}; and whether a consumer
   * recreated it after XGROUP DESTROY (the recreated key), so this consumer, too, checks the
   * status of the entries that may come again before running them (see settledUpTo). Runs at start
   * and on every reclaim tick: a consumer that never met the NOGROUP (started after the
   * recreation, or stalled through it) learns it there.
   */
  protected override async noteGroupPositions(): Promise<boolean> {
    const onTopic = await super.noteGroupPositions();
    if (this.options.trackStatus) {
      await this.checkRecreated();
      // Where the group is, for retention while it may be missing after an XGROUP DESTROY
      // (known-groups.ts): its oldest pending entry, or the one after its last-delivered id.
      const last = this.groupPos.get(this.keys.stream);
      const floor = this.pendingFloor ?? (last !== undefined ? nextId(last) : undefined);
      if (onTopic && floor !== undefined) await noteKnownGroup(this.worker, this.keys.stream, this.group, floor, last ?? '');
    }
    return onTopic;
  }

  /**
   * Before the lease renewal of long handlers: when the group was recreated since this consumer
   * last looked (another consumer's recovery, while this one stalled through the NOGROUP and
   * never met it), take its running deliveries back first. The renewal would otherwise find them
   * pending for no one and, once this consumer had become a member of the new group (any read
   * does that), call their leases lost, though no one else has them (model seed 10 with
   * `+destroy`: a `hang` handler's event stayed unknown in the recreated group). One GET per
   * renewal, only while handlers run long enough to need one.
   */
  protected override async keepLeases(): Promise<void> {
    if (this.options.trackStatus && !this.stopping) {
      const now = monotonicMs();
      const half = this.options.visibilityTimeoutMs / 2;
      let due = this.held.some((h) => now - h.leasedAt >= half);
      if (!due) for (const f of this.inFlight.values()) if (!f.leaseLost && now - f.leasedAt >= half) { due = true; break; }
      if (due) await this.checkRecreated().catch((err) => this.report(err, 'checking whether the group was recreated'));
    }
    return super.keepLeases();
  }

  /** The recreated key's value as this consumer last read it ('' when absent), see {@link checkRecreated}. */
  private recreatedSeen: string | undefined;

  /**
   * Read the recreated key: a value this consumer has not seen means the group was recreated
   * after an XGROUP DESTROY since it last looked (the first read, at start, only notes it): raise
   * settledUpTo, and take back the deliveries this consumer runs or holds (adoptRunning).
   */
  protected async checkRecreated(): Promise<void> {
    const value = await this.worker.get(this.keys.recreated(this.group));
    const upTo = value !== null && /^\d+-\d+$/.test(value) ? value : '';
    if (upTo === this.recreatedSeen) return;
    const first = this.recreatedSeen === undefined;
    this.recreatedSeen = upTo;
    if (upTo === '') return;
    this.noteSettledUpTo(upTo);
    if (!first && (this.inFlight.size > 0 || this.held.length > 0)) await this.adoptRunning(this.keys.stream);
  }

  /** Raise settledUpTo to `id` (never lower it). */
  private noteSettledUpTo(id: string): void {
    if (this.settledUpTo === undefined || compareIds(id, this.settledUpTo) > 0) this.settledUpTo = id;
  }

  /**
   * Take the deliveries this consumer still runs or holds on `stream` back into the recreated
   * group's pending list (adoptEntries). One another consumer owns by now is left to it: its
   * handler here is aborted and its late ack will be refused.
   * @returns how many were taken back
   */
  protected async adoptRunning(stream: string): Promise<number> {
    const mine: Array<{ id: string; deliveries: number; f?: InFlight }> = [];
    for (const f of this.inFlight.values()) if (f.stream === stream && !f.leaseLost) mine.push({ id: f.entryId, deliveries: Math.max(1, f.attempt - f.base), f });
    for (const h of this.held) if (h.stream === stream) mine.push({ id: h.raw[0], deliveries: Math.max(1, h.deliveries) });
    // One whose status says the group is done with it was finished by another consumer (that took
    // it over while this one stalled): not taken back; its handler here is told (stale), a held
    // one is dropped.
    if (stream === this.keys.stream && this.options.trackStatus && mine.length > 0) {
      const settled = await settledInGroup(this.worker, this.keys, this.group, mine.map((m) => m.id));
      if (settled.size > 0) {
        for (const m of mine) {
          if (!settled.has(m.id) || !m.f) continue;
          m.f.leaseLost = true;
          m.f.abort.abort(new Error('the group was recreated and this entry had been finished by another consumer'));
        }
        this.held = this.held.filter((h) => h.stream !== stream || !settled.has(h.raw[0]));
        mine.splice(0, mine.length, ...mine.filter((m) => !settled.has(m.id)));
      }
    }
    let kept = 0;
    for (let i = 0; i < mine.length; i += 1000) {
      const chunk = mine.slice(i, i + 1000);
      const adopted = new Set(await runScript<string[]>(this.worker, 'adoptEntries', [stream],
        [this.group, this.consumer, ...chunk.flatMap((m) => [m.id, m.deliveries])]));
      // Not taken back because this consumer holds it already (taken back a moment ago, or
      // re-claimed by its lease keeper): it is kept, not another consumer's.
      for (const id of await this.heldBySelf(stream, chunk.map((m) => m.id).filter((id) => !adopted.has(id)))) adopted.add(id);
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

  /** Of `ids`, those pending in the group for this consumer (one XPENDING id id 1 each, pipelined). */
  protected async heldBySelf(stream: string, ids: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (ids.length === 0) return out;
    const p = this.worker.pipeline();
    for (const id of ids) p.xpending(stream, this.group, id, id, 1);
    const replies = (await p.exec()) ?? [];
    ids.forEach((id, i) => {
      const [err, rows] = replies[i] ?? [];
      const owner = !err && Array.isArray(rows) ? (rows as Array<[string, string]>)[0]?.[1] : undefined;
      if (owner === this.consumer) out.add(id);
    });
    return out;
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
  protected scheduleSweep(from: string, to: string): void {
    if (!this.options.trackStatus || this.stopping) return;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      this.track(this.sweepAfterDestroy(from, to));
    }, Math.round(this.options.visibilityTimeoutMs * 1.5));
  }

  /** Where a sweep from `from` starts: not before the status TTL (an expired status would look unsettled). */
  private sweepFloor(from: string): string {
    const ttl = this.settings.statusTtlSeconds;
    if (ttl > 0) {
      const floor = `${Date.now() - ttl * 1000}-0`;
      if (from === '-' || compareIds(floor, from) > 0) return floor;
    }
    return from;
  }

  protected async sweepAfterDestroy(from: string, to: string): Promise<void> {
    try {
      await this.sweepRange(from, to);
    } finally {
      if (from !== '-') await doneRecovering(this.worker, this.keys.stream, this.group, from);
    }
  }

  private async sweepRange(from: string, to: string): Promise<void> {
    const stream = this.keys.stream;
    let start = this.sweepFloor(from);
    let taken = 0;
    for (let scanned = 0; scanned < 10_000 && !this.stopping;) {
      const page = (await this.worker.xrange(stream, start, to, 'COUNT', 500)) as RawEntry[];
      if (page.length === 0) break;
      scanned += page.length;
      const p = this.worker.pipeline();
      for (const [id] of page) p.xpending(stream, this.group, id, id, 1);
      // Settled: in the status hash, or a plain success in its success bucket (protocol 2).
      const [replies, settled] = await Promise.all([p.exec().then((r) => r ?? []), settledInGroup(this.worker, this.keys, this.group, page.map(([id]) => id))]);
      const own = (id: string) => this.inFlight.has(stream, id) || this.acks.has(stream, id) || this.held.some((h) => h.stream === stream && h.raw[0] === id);
      const orphans = page.filter(([id], i) => {
        const [e2, pending] = replies[i] ?? [];
        return !e2 && !settled.has(id) && Array.isArray(pending) && pending.length === 0 && !own(id);
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
  protected async createGroup(stream: string, start: string, consumer = ''): Promise<['created' | 'exists', string]> {
    const [state, id] = await runScript<[string, string]>(this.worker, 'createGroup', [stream, this.keys.retired], [this.group, start, consumer]);
    if (state === 'retired') throw new GroupRetiredError(this.topic, this.group, new Date(Number(id)));
    return [state === 'created' ? 'created' : 'exists', String(id ?? '')];
  }

  /**
   * The group was retired for good: stop instead of recreating it. Running handlers are aborted
   * (their outcomes are not recorded: the group is gone), the error is reported, and the
   * subscription closes; ready() rejects with the error.
   */
  protected override stopRetired(err: GroupRetiredError): void {
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
  protected abandonStream(stream: string, why: string): void {
    for (const f of this.inFlight.values()) {
      if (f.stream !== stream || f.leaseLost) continue;
      f.leaseLost = true;
      f.abort.abort(new Error(why));
    }
    this.held = this.held.filter((h) => h.stream !== stream);
  }
}

/** The id right before `id` (`ms-seq` - 1): a group created there delivers `id` first. */
function previousId(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  if (BigInt(seq) > 0n) return `${ms}-${(BigInt(seq) - 1n).toString()}`;
  return BigInt(ms) > 0n ? `${(BigInt(ms) - 1n).toString()}-18446744073709551615` : '0-0';
}
