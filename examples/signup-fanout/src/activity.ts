/** What kind of thing happened, for the activity feed's icons and colours. */
export type ActivityKind = 'publish' | 'crash' | 'reclaim' | 'takeover' | 'retry' | 'dead' | 'replay' | 'purge' | 'trim' | 'reset' | 'scale' | 'stale' | 'error';

/** One line of the activity feed. Repeats within two seconds are folded into one line with a count. */
export interface ActivityItem {
  id: number;
  at: number;
  kind: ActivityKind;
  group: string | null;
  text: string;
  count: number;
}

/** A short, bounded log of what the demo did and what the library reported. */
export class Activity {
  private items: ActivityItem[] = [];
  private nextId = 1;
  private readonly keys = new Map<number, string>();

  constructor(private readonly max = 80) {}

  /**
   * Add a line. With `foldKey`, a line with the same key added less than two seconds ago is
   * updated instead (its count grows), so a burst of 500 dead letters is one line.
   */
  add(kind: ActivityKind, text: string, group: string | null = null, foldKey?: string): void {
    const now = Date.now();
    const last = this.items[0];
    if (foldKey && last && this.keys.get(last.id) === foldKey && now - last.at < 2000) {
      last.count += 1;
      last.at = now;
      last.text = text;
      return;
    }
    const item: ActivityItem = { id: this.nextId++, at: now, kind, group, text, count: 1 };
    if (foldKey) this.keys.set(item.id, foldKey);
    this.items.unshift(item);
    for (const dropped of this.items.splice(this.max)) this.keys.delete(dropped.id);
  }

  /** Newest first. */
  list(): ActivityItem[] {
    return this.items.map((i) => ({ ...i }));
  }

  clear(): void {
    this.items = [];
    this.keys.clear();
  }
}
