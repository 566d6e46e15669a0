/**
 * The handler slots of one consumer of a prioritized topic, shared by its lanes
 * (docs/priorities.md §5): a freed slot goes to the highest lane with an entry waiting, with a
 * starvation guard for lower lanes.
 */

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
 * `size` slots over `lanes` lanes (index 0 highest). A slot freed while entries wait goes to the
 * highest lane with one, except that every `period`-th grant made while some lower lane waits
 * goes to a lower lane (the waiting lower lanes in turn), where `period` is round(1 / share);
 * share 0: strict priority. A slot free when an entry arrives is granted at once (nobody waits
 * then). FIFO within a lane.
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

  constructor(private readonly size: number, lanes: number, share: number) {
    this.queues = Array.from({ length: lanes }, () => []);
    this.running = new Array<number>(lanes).fill(0);
    this.granted = new Array<number>(lanes).fill(0);
    this.period = share > 0 ? Math.max(2, Math.round(1 / share)) : 0;
  }

  /** Wait for a slot for an entry of lane `lane`; rejects when `signal` aborts first. */
  acquire(lane: number, signal: AbortSignal): Promise<void> {
    if (this.used < this.size && this.queues.every((q) => q.length === 0)) {
      this.grant(lane);
      return Promise.resolve();
    }
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

  /** The lane the next slot goes to, or undefined when nothing waits. */
  private pick(): number | undefined {
    const top = this.queues.findIndex((q) => q.length > 0);
    if (top < 0) return undefined;
    if (this.period === 0) return top;
    const lower: number[] = [];
    for (let i = top + 1; i < this.queues.length; i++) if (this.queues[i]!.length > 0) lower.push(i);
    if (lower.length === 0) return top;
    this.sinceGuard++;
    if (this.sinceGuard < this.period) return top;
    this.sinceGuard = 0;
    const lane = lower[this.turn % lower.length]!;
    this.turn++;
    return lane;
  }
}

function reason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted while waiting for a handler slot');
}
