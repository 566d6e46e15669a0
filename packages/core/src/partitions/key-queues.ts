/**
 * Per-key order inside one owned partition of an ordered group (docs/partitions.md §6.1):
 * events of one key run one at a time, in stream order; different keys and keyless events
 * run in parallel. Entries that wait behind their key are pending in the owner's PEL in
 * Redis; this holds only their ids and keys. Pure: no Redis, tested alone.
 */
import { InvalidOptionError } from '../errors';

/** An entry as the queues see it: its stream id and its key (undefined: keyless). */
export interface KeyedEntry {
  readonly id: string;
  readonly key?: string;
}

/** What to do with an entry just offered. */
export type Verdict =
  /** Start it now (its key is free, or it has no key). */
  | 'run'
  /** Keep it pending: an earlier event of its key is running or waiting for a retry. */
  | 'held'
  /** Its key waits for a dead letter (afterDeadLetter 'hold'): kept pending, not run, until the key is released. */
  | 'park';

/** Per-key queues of one partition. */
export class KeyQueues {
  /** key → ids in stream order; the first is the head (running or waiting for its retry). */
  private readonly queues = new Map<string, KeyedEntry[]>();
  private readonly blocked = new Set<string>();
  /** Blocked keys' entries, in stream order (afterDeadLetter 'hold'). */
  private readonly parked = new Map<string, KeyedEntry[]>();
  private heldCount = 0;

  /** @param maxHeld most held-back entries before reads of this partition pause. */
  constructor(readonly maxHeld: number) {
    if (!Number.isInteger(maxHeld) || maxHeld < 1) throw new InvalidOptionError(`maxHeldPerPartition must be a whole number ≥ 1, got ${String(maxHeld)}`);
  }

  /** Entries waiting behind their key. */
  get held(): number {
    return this.heldCount;
  }

  /** How many more entries this partition may read before its holdback bound. */
  get room(): number {
    return Math.max(0, this.maxHeld - this.heldCount);
  }

  /** Keys with an event running or waiting for a retry. */
  get busyKeys(): number {
    return this.queues.size;
  }

  /** True while `key` has an event running or waiting. */
  isBusy(key: string): boolean {
    return this.queues.has(key);
  }

  /**
   * An entry read or adopted, offered in stream order. A keyless entry always runs; a keyed
   * one runs when its key is free, else waits behind it.
   */
  offer(entry: KeyedEntry): Verdict {
    if (entry.key === undefined) return 'run';
    if (this.blocked.has(entry.key)) {
      const p = this.parked.get(entry.key) ?? [];
      if (p.some((e) => e.id === entry.id)) throw new Error(`entry ${entry.id} offered twice for key ${JSON.stringify(entry.key)}`);
      p.push(entry);
      this.parked.set(entry.key, p);
      return 'park';
    }
    const q = this.queues.get(entry.key);
    if (!q) {
      this.queues.set(entry.key, [entry]);
      return 'run';
    }
    if (q.some((e) => e.id === entry.id)) throw new Error(`entry ${entry.id} offered twice for key ${JSON.stringify(entry.key)}`);
    q.push(entry);
    this.heldCount++;
    return 'held';
  }

  /**
   * The head of its key settled for good (succeeded, dead-lettered, lost): returns the key's
   * next entry, which may start now, if any. A failed head that waits for its retry does
   * not settle: it stays the head. Throws if `entry` is not its key's head (a bug: order).
   */
  settled(entry: KeyedEntry): KeyedEntry | undefined {
    if (entry.key === undefined) return undefined;
    const q = this.queues.get(entry.key);
    if (!q || q[0]!.id !== entry.id) {
      throw new Error(`entry ${entry.id} settled but the head of key ${JSON.stringify(entry.key)} is ${q?.[0]?.id ?? 'nothing'}`);
    }
    q.shift();
    if (q.length === 0) {
      this.queues.delete(entry.key);
      return undefined;
    }
    this.heldCount--;
    return q[0];
  }

  /**
   * afterDeadLetter 'hold': the head of `key` was dead-lettered. The key is blocked: its waiting
   * entries, in order, and later ones as they come, are parked (kept, not run, not counted in
   * the holdback bound) until {@link release} or {@link promote}.
   */
  block(key: string, deadHead: KeyedEntry): void {
    const q = this.queues.get(key);
    if (!q || q[0]!.id !== deadHead.id) throw new Error(`entry ${deadHead.id} is not the head of key ${JSON.stringify(key)}`);
    this.queues.delete(key);
    this.heldCount -= q.length - 1;
    this.blocked.add(key);
    this.parked.set(key, q.slice(1));
  }

  /**
   * afterDeadLetter 'hold': the head of `key` was about to start and its key is blocked in
   * Redis (an earlier owner's dead letter). The head and its followers are parked, in order.
   */
  blockHead(key: string, head: KeyedEntry): void {
    const q = this.queues.get(key);
    if (!q || q[0]!.id !== head.id) throw new Error(`entry ${head.id} is not the head of key ${JSON.stringify(key)}`);
    this.queues.delete(key);
    this.heldCount -= q.length - 1;
    this.blocked.add(key);
    this.parked.set(key, [...(this.parked.get(key) ?? []), ...q]);
  }

  /** Keys blocked now (afterDeadLetter 'hold'). */
  blockedKeys(): string[] {
    return [...this.blocked];
  }

  /** Entries parked behind blocked keys. */
  get parkedCount(): number {
    let n = 0;
    for (const q of this.parked.values()) n += q.length;
    return n;
  }

  /**
   * The block of `key` is gone (its dead letter purged, or released by hand): its parked
   * entries wait behind their key again; returns the new head, which may start now.
   */
  release(key: string): KeyedEntry | undefined {
    if (!this.blocked.delete(key)) return undefined;
    const q = this.parked.get(key) ?? [];
    this.parked.delete(key);
    if (q.length === 0) return undefined;
    this.queues.set(key, q);
    this.heldCount += q.length - 1;
    return q[0];
  }

  /**
   * The dead letter that blocks `key` is being replayed as entry `id` (parked here, read from
   * the redelivery stream): it becomes the key's head, before the entries parked behind the
   * block. Returns it (to start now), or undefined while `id` has not been read yet.
   */
  promote(key: string, id: string): KeyedEntry | undefined {
    const q = this.parked.get(key);
    const i = q?.findIndex((e) => e.id === id) ?? -1;
    if (!q || i < 0) return undefined;
    const [replay] = q.splice(i, 1);
    q.unshift(replay!);
    return this.release(key);
  }

  /** Forget everything (the partition was released or lost): Redis keeps the truth. */
  clear(): void {
    this.queues.clear();
    this.blocked.clear();
    this.parked.clear();
    this.heldCount = 0;
  }
}
