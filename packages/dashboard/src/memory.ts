import type { MemoryReport, Streamfan } from '@streamfan/core/internal';

/** What `/api/memory` answers: the report of `streamfan memory` and when it was read. */
export interface MemoryPage extends MemoryReport {
  /** When the report was read (server clock, ms since the epoch). */
  readAt: number;
  /** Its age when served, in ms (a report is reused for `memoryEveryMs`). */
  ageMs: number;
  /** How long a report is reused, in ms. */
  everyMs: number;
}

/** Most reports kept (one per topic asked, and one for every topic). */
const KEEP = 100;

/**
 * `sf.memory()` reports (`streamfan memory`: bounded SCAN pages, MEMORY USAGE of a sample of the
 * per-event keys), each reused for `everyMs` and shared by concurrent requests: however many pages
 * ask, Redis does the work of one report per topic per `everyMs`.
 */
export class MemoryReports {
  private readonly done = new Map<string, { at: number; report: MemoryReport }>();
  private readonly running = new Map<string, Promise<{ at: number; report: MemoryReport }>>();

  constructor(private readonly sf: Streamfan, readonly everyMs: number, private readonly now: () => number = Date.now) {}

  /** The report of `topic` (undefined: every topic under the prefix), at most `everyMs` old. */
  async get(topic: string | undefined): Promise<MemoryPage> {
    const key = topic ?? '';
    let r = this.done.get(key);
    if (!r || this.now() - r.at >= this.everyMs) {
      let p = this.running.get(key);
      if (!p) {
        p = this.sf.memory(topic).then((report) => ({ at: this.now(), report }));
        this.running.set(key, p);
        void p.finally(() => this.running.delete(key)).catch(() => {});
      }
      r = await p;
      this.done.delete(key);
      this.done.set(key, r);
      while (this.done.size > KEEP) this.done.delete(this.done.keys().next().value!);
    }
    return { ...r.report, readAt: r.at, ageMs: Math.max(0, this.now() - r.at), everyMs: this.everyMs };
  }
}
