import { runScript } from '../scripts/runner';
import type { InFlight, Subscription } from './subscription';

interface PendingAck { f: InFlight; encoded: string; result: unknown }

/**
 * Collects finished entries and settles them in one ackBatch script call per source stream.
 * While one call is in flight the next batch accumulates, so batches grow with load.
 */
export class AckBatcher {
  private queue: PendingAck[] = [];
  private current: PendingAck[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private stopped = false;

  constructor(private readonly sub: Subscription<any>) {}

  add(f: InFlight, encoded: string, result: unknown): void {
    this.queue.push({ f, encoded, result });
    if (!this.scheduled && !this.flushing) {
      this.scheduled = true;
      setImmediate(() => { this.scheduled = false; void this.flush(); });
    }
  }

  /** True while the entry's handler has finished and its ack is not settled yet. */
  has(entryId: string): boolean {
    return this.queue.some((a) => a.f.entryId === entryId) || this.current.some((a) => a.f.entryId === entryId);
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
    this.current = batch;
    this.flushing = this.settle(batch).finally(() => {
      this.current = [];
      this.flushing = undefined;
      if (this.queue.length > 0 && !this.stopped) void this.flush();
    });
    return this.flushing;
  }

  private async settle(batch: PendingAck[]): Promise<void> {
    const sub = this.sub;
    const byStream = new Map<string, PendingAck[]>();
    for (const a of batch) {
      const list = byStream.get(a.f.stream) ?? [];
      list.push(a);
      byStream.set(a.f.stream, list);
    }
    for (const [stream, list] of byStream) {
      const args: (string | number)[] = [sub.group, sub.consumer, sub.settings.statusTtlSeconds, sub.keys.done, sub.options.trackStatus ? '1' : '0'];
      const keys = [stream];
      for (const a of list) {
        args.push(a.f.entryId, a.f.eventId, a.f.base, a.encoded);
        keys.push(sub.keys.status(a.f.eventId));
      }
      try {
        const reply = await runScript<[number, ...string[]]>(sub.worker, 'ackBatch', keys, args);
        const refused = new Set(reply.slice(1) as string[]);
        const stale: string[] = [];
        for (const a of list) {
          if (refused.has(a.f.entryId)) stale.push(a.f.eventId);
          else sub.onAcked(a.f, a.result);
        }
        if (stale.length > 0) sub.emit('stale', { ids: stale });
      } catch (err) {
        // Not acked: the entries stay pending and will be reclaimed and handled again
        // (a duplicate, never a loss). Say so.
        sub.report(err, `ack of ${list.length} entries (they stay pending and will be redelivered)`);
      }
    }
  }
}
