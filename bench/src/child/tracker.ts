import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

  /**
   * `BENCH_LATENCY_DUMP=<dir>`: every measured handler start as `<group> <event index> <publish
   * time> <handler start time> <entry id>` (ms, this machine's clock) in `<dir>/<pid>.txt`, written
   * at the end. The entry id's time is Redis' clock when the XADD ran (ms resolution), so it splits
   * each event's latency into publish → Redis and Redis → handler without BENCH_MONITOR (which
   * loads the bench's parent process, the publisher, with every command Redis runs).
   */
  private readonly dump = process.env.BENCH_LATENCY_DUMP ? [] as string[] : undefined;

  /** A handler started: record publish→start latency when the payload carries its publish time. */
  handlerStarted(group: string, payload: unknown, entryId = ''): void {
    const p = payload as { t?: number; w?: number; i?: number } | null;
    if (p && typeof p.t === 'number' && !p.w) {
      const t = now();
      this.get(group).latencies.push(t - p.t);
      this.dump?.push(`${group} ${p.i} ${p.t} ${t} ${entryId}`);
    }
  }

  /**
   * Write the handler starts BENCH_LATENCY_DUMP asked for (see {@link dump}) to
   * `<dir>/<system>-<ms now>-<pid>.txt` (`scenarios/latency-split.ts` reads them back, run by run).
   */
  writeDump(system: string): void {
    const dir = process.env.BENCH_LATENCY_DUMP;
    if (!dir || !this.dump || this.dump.length === 0) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${system}-${Date.now()}-${process.pid}.txt`), `${this.dump.join('\n')}\n`);
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
