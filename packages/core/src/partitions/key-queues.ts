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
  /** Its key waits for a dead letter (afterDeadLetter 'hold'): move it to the parked stream. */
  | 'park';

/** Per-key queues of one partition. */
export class KeyQueues {
  /** key → ids in stream order; the first is the head (running or waiting for its retry). */
  private readonly queues = new Map<string, KeyedEntry[]>();
  private readonly blocked = new Set<string>();
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
    if (this.blocked.has(entry.key)) return 'park';
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
   * afterDeadLetter 'hold': the head of `key` was dead-lettered. The key is blocked; its
   * held entries are returned, in order, to be parked; later ones are parked as they come.
   */
  block(key: string, deadHead: KeyedEntry): KeyedEntry[] {
    const q = this.queues.get(key);
    if (!q || q[0]!.id !== deadHead.id) throw new Error(`entry ${deadHead.id} is not the head of key ${JSON.stringify(key)}`);
    this.queues.delete(key);
    this.heldCount -= q.length - 1;
    this.blocked.add(key);
    return q.slice(1);
  }

  /** The dead letter that blocked `key` was replayed or purged: its entries run again. */
  unblock(key: string): void {
    this.blocked.delete(key);
  }

  /** Forget everything (the partition was released or lost): Redis keeps the truth. */
  clear(): void {
    this.queues.clear();
    this.blocked.clear();
    this.heldCount = 0;
  }
}
