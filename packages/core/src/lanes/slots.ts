/**
 * The handler slots of one consumer of a prioritized topic, shared by its lanes
 * (docs/priorities.md §5): a freed slot goes to the highest lane with an entry waiting, with a
 * starvation guard for lower lanes; a slot is held for a higher lane whose entries are still on
 * their way (its last read came back full) rather than granted to a lower one.
 */

/**
 * How long (ms) a lane whose last read came back full is expected to have more, without a read of
 * it arriving: the bound on the time freed slots are held for it. A read normally answers within
 * a round trip; a lane that was drained exactly by a full read then blocks in its next read (up to
 * `blockMs`), and lower lanes wait at most this long once.
 */
export const EXPECT_MORE_MS = 250;

/**
 * Times in a row a hold is renewed because the lane's group still had undelivered entries when
 * its time was up (a slow read under load, not a read blocked on an empty stream): at most
 * (1 + this) × {@link EXPECT_MORE_MS} for a lane whose reader does not read.
 */
export const MAX_RENEWALS = 8;

/** What one lane's waiters and grants look like now ({@link LaneSlots.snapshot}). */
export interface LaneSlotStats {
  /** Entries of the lane read and waiting for a slot. */
  waiting: number;
  /** Handlers of the lane running now. */
  running: number;
  /** Slots granted to the lane since the consumer started. */
  granted: number;
}

interface Waiter { go: () => void; stop: () => void; signal: AbortSignal }

/**
 * `size` slots over `lanes` lanes (index 0 highest). A free slot goes to the highest lane with an
 * entry waiting, except that every `period`-th grant made while some lower lane waits goes to a
 * lower lane (the waiting lower lanes in turn), where `period` is round(1 / share); share 0:
 * strict priority. A lane told to {@link expectMore} (its last read came back full) counts as
 * waiting even with nothing queued: free slots are held for it (the guard's share still goes to
 * lower lanes) until its entries arrive, a read of it comes back short, or
 * {@link EXPECT_MORE_MS} pass. FIFO within a lane.
 */
export class LaneSlots {
  private used = 0;
  private readonly queues: Waiter[][];
  private readonly period: number;
  /** Grants made while a lower lane waited, since the last guard grant. */
  private sinceGuard = 0;
  /** Next lower lane the guard serves (rotates over the waiting lower lanes). */
  private turn = 0;
  private readonly running: number[];
  private readonly granted: number[];
  /** Per lane: its entries are expected (see {@link expectMore}), with the timer that ends it. */
  private readonly expecting: Array<NodeJS.Timeout | undefined>;
  private closed = false;

  /** Per lane: holds renewed in a row because {@link stillHasMore} said so (bounded by MAX_RENEWALS). */
  private readonly renewals: number[];

  /**
   * @param expectMs how long a lane is expected without a read of it answering
   * @param stillHasMore asked when that time is up: true (the lane's group still has undelivered
   *   entries, so its read is slow, not blocked on an empty stream) renews the hold, at most
   *   {@link MAX_RENEWALS} times in a row
   */
  constructor(private readonly size: number, lanes: number, share: number, private readonly expectMs: number = EXPECT_MORE_MS,
    private readonly stillHasMore?: (lane: number) => Promise<boolean>) {
    this.renewals = new Array<number>(lanes).fill(0);
    this.queues = Array.from({ length: lanes }, () => []);
    this.running = new Array<number>(lanes).fill(0);
    this.granted = new Array<number>(lanes).fill(0);
    this.expecting = new Array<NodeJS.Timeout | undefined>(lanes).fill(undefined);
    this.period = share > 0 ? Math.max(2, Math.round(1 / share)) : 0;
  }

  /**
   * Lane `lane` probably has more entries on their way (`true`: its last read came back with all
   * it asked for, or it has not read yet) or has none now (`false`: a read came back short). While
   * expected, free slots are held for it instead of going to a lower lane, for at most
   * `expectMs` (then it counts as drained; a late timer first lets pending replies in).
   */
  expectMore(lane: number, more: boolean): void {
    this.renewals[lane] = 0;
    this.expect(lane, more);
  }

  private expect(lane: number, more: boolean): void {
    const t = this.expecting[lane];
    if (t !== undefined) clearTimeout(t);
    this.expecting[lane] = undefined;
    if (more && !this.closed) {
      const timer = setTimeout(() => setImmediate(() => { void this.lapse(lane, timer); }), this.expectMs);
      timer.unref?.();
      this.expecting[lane] = timer;
      return;
    }
    this.dispatch();
  }

  /** The hold of `lane` is up (its timer): renewed when the lane still has undelivered entries, else ended. */
  private async lapse(lane: number, timer: NodeJS.Timeout): Promise<void> {
    if (this.expecting[lane] !== timer) return;
    if (this.stillHasMore && this.renewals[lane]! < MAX_RENEWALS) {
      let more = false;
      try { more = await this.stillHasMore(lane); } catch { /* unknown: end the hold */ }
      if (this.expecting[lane] !== timer) return; // a read answered meanwhile
      if (more && !this.closed) {
        this.renewals[lane]!++;
        this.expect(lane, true);
        return;
      }
    }
    this.expecting[lane] = undefined;
    this.dispatch();
  }

  /** Whether lane `lane`'s entries are expected (see {@link expectMore}). */
  expects(lane: number): boolean {
    return this.expecting[lane] !== undefined;
  }

  /** Stop holding slots for expected lanes (the consumer stops reading). */
  close(): void {
    this.closed = true;
    for (let i = 0; i < this.expecting.length; i++) {
      const t = this.expecting[i];
      if (t !== undefined) clearTimeout(t);
      this.expecting[i] = undefined;
    }
    this.dispatch();
  }

  /** Wait for a slot for an entry of lane `lane`; rejects when `signal` aborts first. */
  acquire(lane: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(reason(signal));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        signal,
        go: () => { signal.removeEventListener('abort', w.stop); resolve(); },
        stop: () => {
          const q = this.queues[lane]!;
          const i = q.indexOf(w);
          if (i >= 0) q.splice(i, 1);
          reject(reason(signal));
        },
      };
      signal.addEventListener('abort', w.stop, { once: true });
      this.queues[lane]!.push(w);
      this.dispatch();
    });
  }

  /** A handler of lane `lane` returned: its slot goes to the next waiter by priority. */
  release(lane: number): void {
    this.used--;
    this.running[lane]!--;
    this.dispatch();
  }

  /** Per lane (highest first): waiting, running, granted. */
  snapshot(): LaneSlotStats[] {
    return this.queues.map((q, i) => ({ waiting: q.length, running: this.running[i]!, granted: this.granted[i]! }));
  }

  private grant(lane: number): void {
    this.used++;
    this.running[lane]!++;
    this.granted[lane]!++;
  }

  private dispatch(): void {
    while (this.used < this.size) {
      const lane = this.pick();
      if (lane === undefined) return;
      const w = this.queues[lane]!.shift()!;
      this.grant(lane);
      w.go();
    }
  }

  /**
   * The lane the next slot goes to, or undefined when it stays free: nothing waits, or the
   * highest lane with work is expected (nothing queued yet) and the guard owes lower lanes nothing.
   */
  private pick(): number | undefined {
    let top = -1;
    for (let i = 0; i < this.queues.length; i++) {
      if (this.queues[i]!.length > 0 || this.expecting[i] !== undefined) { top = i; break; }
    }
    if (top < 0) return undefined;
    const lower: number[] = [];
    for (let i = top + 1; i < this.queues.length; i++) if (this.queues[i]!.length > 0) lower.push(i);
    const queued = this.queues[top]!.length > 0;
    if (lower.length > 0 && this.period > 0 && this.sinceGuard >= this.period - 1) {
      // The guard's grant: a lower lane, in turn.
      this.sinceGuard = 0;
      const lane = lower[this.turn % lower.length]!;
      this.turn++;
      return lane;
    }
    if (!queued) return undefined; // held for the expected lane's entries
    if (lower.length > 0 && this.period > 0) this.sinceGuard++;
    return top;
  }
}

function reason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted while waiting for a handler slot');
}
