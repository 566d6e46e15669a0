import { now } from '../clock';
import type { GroupResult } from '../protocol';

/** Counts what each group of one consumer process settled, and when. */
export class Tracker {
  private readonly groups = new Map<string, GroupResult>();
  total = 0;

  constructor(names: string[], private readonly onSettled: (total: number) => void) {
    const startedAt = now();
    for (const g of names) this.groups.set(g, { group: g, delivered: 0, startedAt, firstAt: 0, lastAt: 0, latencies: [], errors: [] });
  }

  private get(group: string): GroupResult {
    const r = this.groups.get(group);
    if (!r) throw new Error(`bench: no tracker for group ${group}`);
    return r;
  }

  /** `n` deliveries of `group` were acked just now. */
  settled(group: string, n: number): void {
    const r = this.get(group);
    const t = now();
    if (r.delivered === 0) r.firstAt = t;
    r.delivered += n;
    r.lastAt = t;
    this.total += n;
    this.onSettled(this.total);
  }

  /** A handler started: record publish→start latency when the payload carries its publish time. */
  handlerStarted(group: string, payload: unknown): void {
    const p = payload as { t?: number; w?: number } | null;
    if (p && typeof p.t === 'number' && !p.w) this.get(group).latencies.push(now() - p.t);
  }

  error(group: string, message: string): void {
    const r = this.get(group);
    if (r.errors.length < 5) r.errors.push(message);
  }

  /** Every group has settled at least `expected` deliveries. */
  reached(expected: number): boolean {
    for (const r of this.groups.values()) if (r.delivered < expected) return false;
    return true;
  }

  results(): GroupResult[] {
    return [...this.groups.values()];
  }
}
