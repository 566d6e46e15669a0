import type Redis from 'ioredis';
import { runScript } from '../scripts/runner';

/** One delivery whose lease is to be renewed. */
export interface Lease {
  readonly stream: string;
  readonly entryId: string;
}

/** What became of each lease: renewed, lost to another consumer (or acked), or its entry deleted. */
export interface LeaseVerdicts<L extends Lease> {
  kept: L[];
  /** Not pending for this consumer any more: another consumer took it, or it was acked. */
  lost: L[];
  /** Deleted from the stream (trimmed or XDEL) while pending: its payload is gone. */
  deleted: L[];
}

/**
 * Renew the leases of entries this consumer still handles (extendLease: XCLAIM … JUSTID resets
 * their idle time without counting a delivery), per stream and at most 1000 ids per script call
 * (a script's arguments are unpacked in Lua, which stops near 8000).
 */
export async function renewLeases<L extends Lease>(worker: Redis, group: string, consumer: string, leases: L[]): Promise<LeaseVerdicts<L>> {
  const out: LeaseVerdicts<L> = { kept: [], lost: [], deleted: [] };
  const byStream = new Map<string, L[]>();
  for (const l of leases) {
    const list = byStream.get(l.stream) ?? [];
    list.push(l);
    byStream.set(l.stream, list);
  }
  for (const [stream, all] of byStream) {
    for (let i = 0; i < all.length; i += 1000) {
      const list = all.slice(i, i + 1000);
      const [lost, deleted] = await runScript<[string[], string[]]>(worker, 'extendLease', [stream], [group, consumer, ...list.map((l) => l.entryId)]);
      const lostSet = new Set(lost);
      const deletedSet = new Set(deleted);
      for (const l of list) {
        if (deletedSet.has(l.entryId)) out.deleted.push(l);
        else if (lostSet.has(l.entryId)) out.lost.push(l);
        else out.kept.push(l);
      }
    }
  }
  return out;
}
