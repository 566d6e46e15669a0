import type Redis from 'ioredis';
import { runScript } from '../scripts/runner';
import { connectionDrops } from '../connection';
import { isNoGroup } from '../errors';
import { settledByResend } from './resend';
import type { TopicKeys } from '../keys';
import { DeliveryMap, type InFlight } from './in-flight';
import { BUCKET_MS, encodeRecord, recordToken } from '../status-records';
import { judgeParked, judgeRuns } from './parked-verdicts';

/** What the ack batcher needs from its subscription (passed in, so it never reaches back). */
export interface AckTarget {
  readonly worker: Redis;
  readonly keys: TopicKeys;
  readonly group: string;
  readonly consumer: string;
  readonly statusTtlSeconds: number;
  readonly trackStatus: boolean;
  /** 'P' (PUBLISH) or 'S' (SPUBLISH, Cluster) for completion notices. */
  publishMode(): 'P' | 'S';
  acked(f: InFlight, result: unknown): void;
  stale(eventIds: string[]): void;
  /** Events recorded lost here (optional: the subscription counts and emits them). */
  lost?(eventIds: string[], reason: string): void;
  report(err: unknown, context: string): void;
}

function groupBy(list: readonly PendingAck[]): Map<string, PendingAck[]> {
  const m = new Map<string, PendingAck[]>();
  for (const a of list) {
    const l = m.get(a.f.stream);
    if (l) l.push(a);
    else m.set(a.f.stream, [a]);
  }
  return m;
}

/** One finished delivery waiting for its ack: `encoded` is its result ('' for none). */
export interface PendingAck { f: InFlight; encoded: string; result: unknown }

/**
 * Collects finished entries and settles them in one ackBatch script call per source stream.
 * While one call is in flight the next batch accumulates, so batches grow with load.
 * Entries are known by (stream, id): a topic entry and a retry copy may share an id.
 */
export class AckBatcher {
  private queue: PendingAck[] = [];
  /** Queued or being settled: how many times per delivery (normally once). */
  private readonly queued = new DeliveryMap<number>();
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private stopped = false;
  /**
   * Finished deliveries whose ack met NOGROUP: the group was destroyed (XGROUP DESTROY) or its
   * stream deleted, and not recreated yet. Their pending records went with the old group, so
   * nothing would ever deliver them again: they are kept (still counted in `queued`, so reclaim,
   * sweeps and orphan checks leave them to this consumer) until the group is back, then taken
   * back into its pending list and acknowledged (see {@link retryParked}).
   */
  private parked: PendingAck[] = [];
  private parkTimer: NodeJS.Timeout | undefined;
  private parkTries = 0;

  constructor(private readonly target: AckTarget) {}

  add(f: InFlight, encoded: string, result: unknown): void {
    this.queue.push({ f, encoded, result });
    this.queued.set(f.stream, f.entryId, (this.queued.get(f.stream, f.entryId) ?? 0) + 1);
    if (!this.scheduled && !this.flushing) {
      this.scheduled = true;
      setImmediate(() => { this.scheduled = false; void this.flush(); });
    }
  }

  /** True while the entry's handler has finished and its ack is not settled yet. */
  has(stream: string, entryId: string): boolean {
    return this.queued.has(stream, entryId);
  }

  /** No new timers; drain() still settles what is queued. */
  stop(): void {
    this.stopped = true;
    if (this.parkTimer) clearTimeout(this.parkTimer);
    this.parkTimer = undefined;
  }

  /** Deliveries whose ack waits for their destroyed group to come back. */
  get parkedCount(): number { return this.parked.length; }

  async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      if (this.flushing) await this.flushing;
      else await this.flush();
    }
    // Closing: one more try for acks that wait for their group (it may be back by now).
    if (this.stopped && this.parked.length > 0) {
      await this.retryParked();
      while (this.flushing || this.queue.length > 0) {
        if (this.flushing) await this.flushing;
        else await this.flush();
      }
      if (this.parked.length > 0) {
        this.target.report(new Error(`${this.parked.length} finished deliveries could not be acknowledged: their consumer group is gone (XGROUP DESTROY or a deleted stream) and was not recreated before this consumer closed; the consumer that recreates it takes them back and runs them again`), 'close: ack');
        for (const a of this.parked.splice(0)) this.forget(a);
      }
    }
  }

  private forget(a: PendingAck): void {
    const n = this.queued.get(a.f.stream, a.f.entryId) ?? 1;
    if (n <= 1) this.queued.delete(a.f.stream, a.f.entryId);
    else this.queued.set(a.f.stream, a.f.entryId, n - 1);
  }

  private flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return this.flushing ?? Promise.resolve();
    const batch = this.queue.splice(0, 1000);
    this.flushing = this.settle(batch).finally(() => {
      for (const a of batch) if (!this.parked.includes(a)) this.forget(a);
      this.flushing = undefined;
      if (this.queue.length > 0 && !this.stopped) void this.flush();
    });
    return this.flushing;
  }

  /** Keep `list` until its group is back (see {@link parked}); try again soon. */
  private park(list: PendingAck[]): void {
    this.parked.push(...list);
    this.scheduleParked();
  }

  private scheduleParked(): void {
    if (this.parkTimer || this.stopped || this.parked.length === 0) return;
    // 50 ms, doubling to 1 s: the consumer's own read loop recreates the group within a read.
    const delay = Math.min(1000, 50 * 2 ** Math.min(this.parkTries++, 5));
    this.parkTimer = setTimeout(() => {
      this.parkTimer = undefined;
      void this.retryParked().catch((err) => this.target.report(err, 'ack after the group was recreated')).finally(() => this.scheduleParked());
    }, delay);
  }

  /**
   * Acks that met NOGROUP, once the group exists again. The recreated group has no record of what
   * happened to an entry before the destroy, so its status is read first (judgeParked): when
   * another consumer finished it (it reclaimed the entry while this one stalled), or a later
   * attempt of another consumer failed and its retry is scheduled, this run is refused (`stale`),
   * as the old group's pending list would have refused it; the other's outcome stands. Otherwise each
   * entry still in the stream that no consumer holds is taken back into the group's pending list for this consumer (adoptEntries,
   * with its delivery count) and acknowledged as usual; one this consumer holds already (its
   * recovery took it back) likewise. One another consumer holds now is refused (`stale`: that
   * consumer settles it). One deleted from the stream meanwhile (a trim while the group did not
   * exist held nothing back) is recorded `lost` in the group: its payload is gone and no
   * pending list holds it. While the group is still missing (adoptEntries meets NOGROUP), they
   * wait; when it was retired for good, they are dropped.
   */
  async retryParked(): Promise<void> {
    const t = this.target;
    const list = this.parked.splice(0);
    if (list.length === 0) return;
    const requeue: PendingAck[] = [];
    const stale: PendingAck[] = [];
    const gone: PendingAck[] = [];
    try {
      for (const [stream, entries] of groupBy(list)) {
        for (let i = 0; i < entries.length; i += 500) {
          let chunk = entries.slice(i, i + 500);
          // First what the status says (see judgeParked): the recreated group does not know that
          // another consumer reclaimed the entry while this one stalled and finished it; taking it
          // back then counted this stalled run as the success, never told (model seed 10:
          // overlap-untold), or recorded it lost over that success.
          if (t.trackStatus) {
            const verdicts = await judgeParked(t.worker, t.keys, t.group, t.consumer, chunk.map((a) => ({ eventId: a.f.eventId, attempt: a.f.attempt })));
            const other = new Set(chunk.filter((_, k) => verdicts[k] !== undefined));
            stale.push(...other);
            chunk = chunk.filter((a) => !other.has(a));
            if (chunk.length === 0) continue;
          }
          const adopted = new Set(await runScript<string[]>(t.worker, 'adoptEntries', [stream],
            [t.group, t.consumer, ...chunk.flatMap((a) => [a.f.entryId, Math.max(1, a.f.attempt - a.f.base)])]));
          const rest = chunk.filter((a) => !adopted.has(a.f.entryId));
          if (rest.length > 0) {
            const p = t.worker.pipeline();
            for (const a of rest) {
              p.xpending(stream, t.group, a.f.entryId, a.f.entryId, 1);
              p.xrange(stream, a.f.entryId, a.f.entryId);
            }
            const replies = (await p.exec()) ?? [];
            rest.forEach((a, k) => {
              const [e1, rows] = replies[2 * k] ?? [new Error('no reply')];
              const [e2, found] = replies[2 * k + 1] ?? [new Error('no reply')];
              if (e1 || e2) throw e1 ?? e2;
              const owner = (rows as Array<[string, string]>)[0]?.[1];
              if (owner === t.consumer) adopted.add(a.f.entryId);
              else if (owner !== undefined) stale.push(a);
              else if ((found as unknown[]).length === 0) gone.push(a);
              else adopted.add(a.f.entryId); // neither held nor gone: adoptEntries raced a claim; the ack decides
            });
          }
          for (const a of chunk) if (adopted.has(a.f.entryId)) requeue.push(a);
        }
      }
    } catch (err) {
      // Taken back so far: acknowledged below; the rest waits again (or is dropped when retired).
      const done = new Set([...requeue, ...stale, ...gone]);
      const waiting = list.filter((a) => !done.has(a));
      if (isNoGroup(err) && (await t.worker.hexists(t.keys.retired, t.group).catch(() => 0)) === 1) {
        for (const a of waiting) this.forget(a);
      } else {
        this.parked.push(...waiting);
        if (!isNoGroup(err)) t.report(err, 'ack after the group was recreated');
      }
    }
    // Back off (50 ms doubling to 1 s) only while the group is still missing.
    if (this.parked.length === 0) this.parkTries = 0;
    for (const a of stale) this.forget(a);
    if (stale.length > 0) t.stale(stale.map((a) => a.f.eventId));
    if (gone.length > 0) {
      try {
        await this.recordLost(gone);
      } finally {
        for (const a of gone) this.forget(a);
      }
    }
    if (requeue.length > 0) {
      // Back in the queue, still counted in `queued` from their first add.
      this.queue.push(...requeue);
      if (!this.flushing) void this.flush();
    }
  }

  /** Entries deleted from the stream while their ack waited for the group: `lost` there (markLost). */
  private async recordLost(gone: PendingAck[]): Promise<void> {
    const t = this.target;
    const reason = 'entry deleted from the stream while its consumer group did not exist (XGROUP DESTROY, not recreated yet); its handler had finished but the group never acknowledged it';
    for (const [stream, entries] of groupBy(gone)) {
      const [n] = await runScript<[number, string[]]>(t.worker, 'markLost', [stream, t.keys.waiters, ...entries.map((a) => t.keys.status(a.f.eventId))],
        [t.group, t.consumer, t.statusTtlSeconds, t.keys.done, reason, t.publishMode(), ...entries.flatMap((a) => [a.f.entryId, a.f.eventId])]);
      if (Number(n) > 0) t.lost?.(entries.map((a) => a.f.eventId), reason);
    }
  }

  private async settle(batch: PendingAck[]): Promise<void> {
    const byStream = new Map<string, PendingAck[]>();
    for (const a of batch) {
      const list = byStream.get(a.f.stream) ?? [];
      list.push(a);
      byStream.set(a.f.stream, list);
    }
    for (const [stream, list] of byStream) await this.settleStream(stream, list);
  }

  /**
   * One ackBatch call (protocol 2) for the entries of one stream: plain successes as prebuilt
   * success records (one APPEND per bucket touched), successes with a result in their status
   * hashes. When the script finds a plain entry that is no longer this consumer's, or whose
   * deliveries changed since it was read, it writes nothing and says which: those go through the
   * per-entry path (its refusal, resend and lost checks) or get their record rebuilt, and the
   * call is made again.
   */
  private async settleStream(stream: string, list: PendingAck[]): Promise<void> {
    const t = this.target;
    const sameIds = stream === t.keys.stream;
    const plain: PendingAck[] = [];
    const hashed: PendingAck[] = [];
    for (const a of list) (a.encoded === '' ? plain : hashed).push(a);
    const deliveries = new Map<string, number>();
    try {
      const drops = connectionDrops(t.worker);
      let reply: [number, number, ...string[]] | undefined;
      for (let round = 0; round < 4; round++) {
        const { keys, args } = buildAck(t, stream, sameIds, plain, hashed, deliveries);
        const r = await runScript<[number, number, ...Array<string | number>]>(t.worker, 'ackBatch', keys, args);
        if (r[0] !== -1) { reply = r as [number, number, ...string[]]; break; }
        // Nothing written: move what is not ours any more to the per-entry path, fix deliveries.
        const n = Number(r[1]);
        const gone = new Set(r.slice(2, 2 + n).map(String));
        for (let i = 2 + n; i + 1 < r.length; i += 2) deliveries.set(String(r[i]), Number(r[i + 1]));
        if (gone.size > 0) {
          for (let i = plain.length - 1; i >= 0; i--) {
            if (gone.has(plain[i]!.f.entryId)) hashed.push(...plain.splice(i, 1));
          }
        }
      }
      if (!reply) throw new Error('the ack script found the batch changed 4 times in a row');
      const failedWrites = reply[1];
      let refused = new Set(reply.slice(2) as string[]);
      const orphans: PendingAck[] = [];
      if (refused.size > 0 && t.trackStatus) {
        // Refused: pending for another consumer (it reclaimed the entry: stale), or for no one.
        // Then the status tells: another consumer finished it (stale); this run's own success
        // is recorded (a call ioredis re-sent after a dropped connection, whose first run
        // settled it); or nothing: the group was recreated while this ran (XGROUP DESTROY, then
        // another consumer's recovery) and this consumer joined the new group (a read) before
        // this ack, so the script could not tell (model seed 10: b|6 stayed unknown). Those are
        // taken back and acknowledged as parked acks are (retryParked).
        const mine = list.filter((a) => refused.has(a.f.entryId));
        const p = t.worker.pipeline();
        for (const a of mine) p.xpending(stream, t.group, a.f.entryId, a.f.entryId, 1);
        const [replies, verdicts] = await Promise.all([p.exec().then((r) => r ?? []),
          judgeRuns(t.worker, t.keys, t.group, t.consumer, mine.map((a) => ({ eventId: a.f.eventId, attempt: a.f.attempt })))]);
        mine.forEach((a, k) => {
          const [err, rows] = replies[k] ?? [new Error('no reply')];
          if (err || !Array.isArray(rows) || rows.length > 0) return; // held by another (or unknown): stale
          if (verdicts[k] === 'own') refused.delete(a.f.entryId);
          else if (verdicts[k] === undefined) { refused.delete(a.f.entryId); orphans.push(a); }
        });
      } else if (refused.size > 0 && connectionDrops(t.worker) !== drops) {
        // The connection dropped while this call was unanswered: ioredis re-sent it, and its second
        // run refuses what the first acknowledged. Only entries another consumer holds are stale.
        const own = await settledByResend(t.worker, stream, t.group, t.consumer,
          list.filter((a) => refused.has(a.f.entryId)).map((a) => ({ entryId: a.f.entryId, statusKey: t.keys.status(a.f.eventId) })), t.trackStatus);
        refused = new Set([...refused].filter((id) => !own.has(id)));
      }
      if (failedWrites > 0) {
        t.report(new Error(`${failedWrites} status writes of ${list.length} acknowledged events failed: their status keys (or success buckets) hold another type (written by something other than streamfan)`), 'ack');
      }
      const stale: string[] = [];
      for (const a of list) {
        if (refused.has(a.f.entryId)) stale.push(a.f.eventId);
        else if (!orphans.includes(a)) t.acked(a.f, a.result);
      }
      if (stale.length > 0) t.stale(stale);
      if (orphans.length > 0) this.park(orphans);
    } catch (err) {
      // The group is gone (destroyed, or its stream deleted): no pending list holds these any
      // more. Kept until it is back (see parked).
      if (isNoGroup(err)) {
        this.park(list);
        return;
      }
      // Not acked: the entries stay pending and will be reclaimed and handled again
      // (a duplicate, never a loss). Say so.
      t.report(err, `ack of ${list.length} entries (they stay pending and will be redelivered)`);
    }
  }
}

/**
 * KEYS and ARGV of one ackBatch call (see ackBatch-N.lua). Plain entries are grouped by the
 * second of their event id; each bucket's records are concatenated here, so the script's
 * per-entry work is one table lookup. Each id is parsed once (this runs for every delivery:
 * a profile of the fan-out found comparing ids the consumer's largest own cost).
 */
export function buildAck(t: Pick<AckTarget, 'keys' | 'group' | 'consumer' | 'statusTtlSeconds' | 'trackStatus' | 'publishMode'>, stream: string, sameIds: boolean,
  plain: readonly PendingAck[], hashed: readonly PendingAck[], deliveries: ReadonlyMap<string, number> = new Map()): { keys: string[]; args: (string | number)[] } {
  let minId: string | undefined;
  let maxId: string | undefined;
  let minMs = Infinity;
  let minSeq = 0;
  let maxMs = -Infinity;
  let maxSeq = 0;
  const note = (id: string, ms: number, seq: number) => {
    if (ms < minMs || (ms === minMs && seq < minSeq)) { minMs = ms; minSeq = seq; minId = id; }
    if (ms > maxMs || (ms === maxMs && seq > maxSeq)) { maxMs = ms; maxSeq = seq; maxId = id; }
  };
  const buckets = new Map<number, string[]>();
  const expect: Array<string | number> = [];
  for (const a of plain) {
    const id = a.f.entryId;
    const dash = id.indexOf('-');
    const ms = Number(id.slice(0, dash));
    const seqText = id.slice(dash + 1);
    note(id, ms, Number(seqText));
    const d = deliveries.get(id) ?? a.f.attempt - a.f.base;
    if (d !== 1) expect.push(id, d);
    if (!t.trackStatus) continue;
    let second: number;
    let token: string;
    if (a.f.eventId === id) {
      second = Math.floor(ms / BUCKET_MS);
      const inBucket = (ms - second * BUCKET_MS).toString(36);
      token = seqText === '0' ? inBucket : `${inBucket}-${seqText}`;
    } else {
      ({ second, token } = recordToken(a.f.eventId));
    }
    const records = buckets.get(second);
    const rec = encodeRecord(token, a.f.base + d);
    if (records) records.push(rec);
    else buckets.set(second, [rec]);
  }
  for (const a of hashed) {
    const id = a.f.entryId;
    const dash = id.indexOf('-');
    note(id, Number(id.slice(0, dash)), Number(id.slice(dash + 1)));
    // Used only when the entry is pending for no one in a recreated group (the script's orphaned
    // path): its attempt number is then this delivery's, not base + 1.
    const d = a.f.attempt - a.f.base;
    if (d !== 1) expect.push(id, d);
  }
  const keys = [stream, t.keys.waiters];
  const args: (string | number)[] = [t.group, t.consumer, t.statusTtlSeconds, t.keys.done, t.trackStatus ? '1' : '0', t.publishMode(),
    buckets.size, hashed.length, plain.length, expect.length / 2, minId ?? '-', maxId ?? '+', sameIds ? '1' : '0'];
  for (const [second, records] of buckets) {
    keys.push(t.keys.ok(t.group, second));
    args.push(second * BUCKET_MS, records.join(''));
  }
  for (const a of plain) args.push(a.f.entryId);
  if (!sameIds) for (const a of plain) args.push(a.f.eventId);
  args.push(...expect);
  for (const a of hashed) {
    args.push(a.f.entryId, a.f.eventId, a.f.base, a.encoded);
    keys.push(t.keys.status(a.f.eventId));
  }
  return { keys, args };
}
