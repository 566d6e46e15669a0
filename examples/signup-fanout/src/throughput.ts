const SLOTS = 120;

/** Events handled per second: a ring of one-second buckets. */
export class Throughput {
  private readonly counts = new Array<number>(SLOTS).fill(0);
  private readonly seconds = new Array<number>(SLOTS).fill(-1);

  add(n = 1, now = Date.now()): void {
    const sec = Math.floor(now / 1000);
    const i = sec % SLOTS;
    if (this.seconds[i] !== sec) {
      this.seconds[i] = sec;
      this.counts[i] = 0;
    }
    this.counts[i] = (this.counts[i] ?? 0) + n;
  }

  private at(sec: number): number {
    const i = ((sec % SLOTS) + SLOTS) % SLOTS;
    return this.seconds[i] === sec ? (this.counts[i] ?? 0) : 0;
  }

  /** Mean rate over the last `windowSec` whole seconds. */
  rate(windowSec = 5, now = Date.now()): number {
    const sec = Math.floor(now / 1000);
    let sum = 0;
    for (let s = sec - windowSec; s < sec; s++) sum += this.at(s);
    return sum / windowSec;
  }

  /** Counts of the last `n` whole seconds, oldest first. */
  series(n = 60, now = Date.now()): number[] {
    const sec = Math.floor(now / 1000);
    const out: number[] = [];
    for (let s = sec - n; s < sec; s++) out.push(this.at(s));
    return out;
  }
}
