import type Redis from 'ioredis';
import { compareIds } from '../ids';
import type { RawEntry } from './entry';

/** XPENDING pages (1000 entries each) one reclaim pass may scan per stream to find idle entries. */
export const RECLAIM_PAGES_PER_TICK = 100;

/** What the reclaimer needs from its consumer (passed in, so it never reaches back). */
export interface ReclaimTarget {
  readonly worker: Redis;
  readonly group: string;
  readonly consumer: string;
  readonly visibilityTimeoutMs: number;
  /** Free handler slots now. */
  free(): number;
  stopping(): boolean;
  /** Handlers running now (sizes the delivery-count query). */
  inFlightCount(): number;
  /** True when this consumer is handling the entry, has its ack queued, or holds it for a slot. */
  owns(stream: string, entryId: string): boolean;
  /** The lease of an entry this consumer owns was renewed (its event loop had stalled). */
  renewed(stream: string, entryId: string): void;
  /** Run (or hold for a slot) an entry taken over, with its delivery count. */
  take(stream: string, raw: RawEntry, deliveries: number): void;
  /** Entries taken over from another consumer. */
  reclaimed(stream: string, ids: string[]): void;
  /** Entries found deleted from the stream while pending (their payload is gone). */
  deletedWhilePending(stream: string, ids: string[]): Promise<void>;
}

/**
 * Takes over entries idle past the visibility timeout (their consumer died or stalled), up to
 * the free slots. XAUTOCLAIM alone scans only 10 × COUNT pending entries per call, so a long
 * list of live entries ahead would hide dead ones for many ticks (2,000 live entries ahead took
 * 40 ticks at COUNT 5): the reclaimer pages through the pending list with XPENDING (1000 rows a
 * call, bounded work per command) to find the first idle entry and XAUTOCLAIMs from there. At
 * most {@link RECLAIM_PAGES_PER_TICK} pages a pass; the position is kept between passes and
 * wraps around at the end, so every idle entry is found within a pass for pending lists up to
 * 100,000 entries (longer ones take one pass per 100,000).
 */
export class Reclaimer {
  /** Where the scan of each stream's pending list goes on (an XPENDING start). */
  private readonly cursors = new Map<string, string>();

  constructor(private readonly t: ReclaimTarget) {}

  /** Forget the scan positions (the group was recreated). */
  reset(stream?: string): void {
    if (stream === undefined) this.cursors.clear();
    else this.cursors.delete(stream);
  }

  /** @returns true when it claimed entries and more may be idle (go on when a slot frees) */
  async reclaimFrom(stream: string): Promise<boolean> {
    const t = this.t;
    for (let page = 0; page < RECLAIM_PAGES_PER_TICK && t.free() > 0 && !t.stopping(); page++) {
      const start = this.cursors.get(stream) ?? '-';
      const rows = (await t.worker.xpending(stream, t.group, start, '+', 1000)) as Array<[string, string, number, number]>;
      const idle = rows.find((r) => Number(r[2]) >= t.visibilityTimeoutMs);
      if (!idle) {
        if (rows.length < 1000) {
          this.cursors.delete(stream); // the end: start over next pass
          return false;
        }
        this.cursors.set(stream, `(${rows[rows.length - 1]![0]}`);
        continue;
      }
      return this.claimFrom(stream, idle[0]);
    }
    return false;
  }

  /** One XAUTOCLAIM from `start`; returns true when it claimed entries and the scan should go on. */
  private async claimFrom(stream: string, start: string): Promise<boolean> {
    const t = this.t;
    const count = t.free();
    const reply = (await t.worker.xautoclaim(stream, t.group, t.consumer, t.visibilityTimeoutMs, start, 'COUNT', count)) as [string, Array<RawEntry | null>, string[]?];
    const [next, replied, deletedIds = []] = reply;
    if (next === '0-0') this.cursors.delete(stream);
    else this.cursors.set(stream, next);
    const entries = replied.filter((e): e is RawEntry => e !== null);
    let live = entries.filter((e) => e[1] !== null);
    const deleted = [...deletedIds, ...entries.filter((e) => e[1] === null).map((e) => e[0])];
    // Without `xautoclaimDeletedIds` (Redis 6.2) a deleted pending entry comes back as a bare nil,
    // with no id, claimed by this consumer and still pending: find its id among this consumer's
    // pending entries in the range the call scanned.
    if (entries.length < replied.length) deleted.push(...await this.deletedWithoutIds(stream, start, next, count, live.map((e) => e[0])));
    if (deleted.length > 0) await t.deletedWhilePending(stream, deleted);
    if (live.length === 0) return false;
    // One XPENDING for the delivery counts of every claimed entry (XAUTOCLAIM does not give them).
    const counts = await this.deliveryCounts(stream, live.map((e) => e[0]));
    const own = (id: string) => t.owns(stream, id);
    if (live.some((x) => own(x[0]))) {
      // Entries this consumer is still handling, or whose ack is queued, come back to it when
      // its event loop was blocked past the visibility timeout (the lease keeper could not
      // run): never start them twice; undo the delivery XAUTOCLAIM counted (renews the lease).
      for (const e of live.filter((x) => own(x[0]))) {
        await t.worker.xclaim(stream, t.group, t.consumer, 0, e[0], 'RETRYCOUNT', Math.max(0, (counts.get(e[0]) ?? 1) - 1), 'JUSTID');
        t.renewed(stream, e[0]);
      }
      live = live.filter((x) => !own(x[0]));
    }
    // Only entries taken over from another (dead or stuck) consumer count as reclaimed.
    const taken = live.filter((e) => counts.has(e[0])); // the others were acked or claimed by someone else since
    if (taken.length > 0) {
      t.reclaimed(stream, taken.map((e) => e[0]));
      for (const e of taken) t.take(stream, e, counts.get(e[0])!);
    }
    return next !== '0-0' && taken.length > 0;
  }

  /**
   * Ids of the entries a Redis 6.2 XAUTOCLAIM replied with as nils: this consumer's pending entries
   * in the range it scanned (`start` up to `next`, exclusive; to the end when `next` is 0-0),
   * except those that came with payloads and those this consumer is handling, holds or is
   * acking, and only those `XRANGE id id` no longer finds. XAUTOCLAIM scans at most 10 × COUNT
   * pending entries, so one XPENDING of that size sees them all.
   */
  private async deletedWithoutIds(stream: string, start: string, next: string, count: number, alive: string[]): Promise<string[]> {
    const t = this.t;
    const end = next === '0-0' ? '+' : `(${next}`;
    const rows = (await t.worker.xpending(stream, t.group, start, end, 10 * count + t.inFlightCount(), t.consumer)) as Array<[string, string, number, number]>;
    const skip = new Set(alive);
    const candidates = rows.map((r) => r[0]).filter((id) => !skip.has(id) && !t.owns(stream, id));
    if (candidates.length === 0) return [];
    const p = t.worker.pipeline();
    for (const id of candidates) p.xrange(stream, id, id);
    const found = (await p.exec()) ?? [];
    return candidates.filter((_, i) => {
      const [err, rows] = found[i] ?? [];
      return !err && Array.isArray(rows) && rows.length === 0;
    });
  }

  /** Delivery counts of entries this consumer owns (XAUTOCLAIM does not report them). */
  private async deliveryCounts(stream: string, ids: string[]): Promise<Map<string, number>> {
    const t = this.t;
    const sorted = [...ids].sort(compareIds);
    const rows = (await t.worker.xpending(stream, t.group, sorted[0]!, sorted[sorted.length - 1]!, ids.length + t.inFlightCount() + 1016, t.consumer)) as Array<[string, string, number, number]>;
    return new Map(rows.map((r) => [r[0], Number(r[3])]));
  }
}
