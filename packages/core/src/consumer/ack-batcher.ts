import type Redis from 'ioredis';
import { runScript } from '../scripts/runner';
import { connectionDrops } from '../connection';
import { settledByResend } from './resend';
import type { TopicKeys } from '../keys';
import { DeliveryMap, type InFlight } from './in-flight';

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
  report(err: unknown, context: string): void;
}

interface PendingAck { f: InFlight; encoded: string; result: unknown }

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
  stop(): void { this.stopped = true; }

  async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      if (this.flushing) await this.flushing;
      else await this.flush();
    }
  }

  private flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return this.flushing ?? Promise.resolve();
    const batch = this.queue.splice(0, 1000);
    this.flushing = this.settle(batch).finally(() => {
      for (const a of batch) {
        const n = this.queued.get(a.f.stream, a.f.entryId) ?? 1;
        if (n <= 1) this.queued.delete(a.f.stream, a.f.entryId);
        else this.queued.set(a.f.stream, a.f.entryId, n - 1);
      }
      this.flushing = undefined;
      if (this.queue.length > 0 && !this.stopped) void this.flush();
    });
    return this.flushing;
  }

  private async settle(batch: PendingAck[]): Promise<void> {
    const t = this.target;
    const byStream = new Map<string, PendingAck[]>();
    for (const a of batch) {
      const list = byStream.get(a.f.stream) ?? [];
      list.push(a);
      byStream.set(a.f.stream, list);
    }
    for (const [stream, list] of byStream) {
      const args: (string | number)[] = [t.group, t.consumer, t.statusTtlSeconds, t.keys.done, t.trackStatus ? '1' : '0', t.publishMode()];
      const keys = [stream, t.keys.waiters];
      for (const a of list) {
        args.push(a.f.entryId, a.f.eventId, a.f.base, a.encoded);
        keys.push(t.keys.status(a.f.eventId));
      }
      try {
        const drops = connectionDrops(t.worker);
        const reply = await runScript<[number, number, ...string[]]>(t.worker, 'ackBatch', keys, args);
        const failedWrites = reply[1];
        let refused = new Set(reply.slice(2) as string[]);
        // The connection dropped while this call was unanswered: ioredis re-sent it, and its second
        // run refuses what the first acknowledged. Only entries another consumer holds are stale.
        if (refused.size > 0 && connectionDrops(t.worker) !== drops) {
          const own = await settledByResend(t.worker, stream, t.group, t.consumer,
            list.filter((a) => refused.has(a.f.entryId)).map((a) => ({ entryId: a.f.entryId, statusKey: t.keys.status(a.f.eventId) })), t.trackStatus);
          refused = new Set([...refused].filter((id) => !own.has(id)));
        }
        if (failedWrites > 0) {
          t.report(new Error(`${failedWrites} of ${list.length} acknowledged events have no status written: their status keys hold another type (written by something other than streamfan)`), 'ack');
        }
        const stale: string[] = [];
        for (const a of list) {
          if (refused.has(a.f.entryId)) stale.push(a.f.eventId);
          else t.acked(a.f, a.result);
        }
        if (stale.length > 0) t.stale(stale);
      } catch (err) {
        // Not acked: the entries stay pending and will be reclaimed and handled again
        // (a duplicate, never a loss). Say so.
        t.report(err, `ack of ${list.length} entries (they stay pending and will be redelivered)`);
      }
    }
  }
}
