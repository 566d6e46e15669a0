import type Redis from 'ioredis';

/** A settle call's entry that the script refused, and where its event's status is. */
export interface Refused {
  readonly entryId: string;
  readonly statusKey: string;
}

/** Outcomes that end an attempt: when another consumer's name is on one, it settled the entry. */
const SETTLED = new Set(['succeeded', 'dead', 'failed']);

/**
 * ioredis re-sends a command whose reply a dropped connection lost, though Redis may have run it
 * already. A settle script's second run then finds the entry no longer pending for this consumer
 * and refuses it, as it would an entry another consumer reclaimed. When the connection dropped
 * while the call was unanswered (see connectionDrops), the caller asks this which refusals were
 * its own first run's work: entries pending for no one (XPENDING id id 1) whose status does not
 * say another consumer settled them (succeeded / failed / dead by another name: that consumer
 * reclaimed the entry while this one stalled, and this call is stale). Without status tracking,
 * pending for no one is taken as this call's own work.
 * @returns the entry ids this call's first run settled (not stale)
 */
export async function settledByResend(worker: Redis, stream: string, group: string, consumer: string, refused: Refused[], trackStatus: boolean): Promise<Set<string>> {
  const own = new Set<string>();
  for (let i = 0; i < refused.length; i += 500) {
    const chunk = refused.slice(i, i + 500);
    const p = worker.pipeline();
    for (const r of chunk) {
      p.xpending(stream, group, r.entryId, r.entryId, 1);
      if (trackStatus) p.hmget(r.statusKey, `${group}:state`, `${group}:consumer`);
    }
    const replies = (await p.exec()) ?? [];
    const step = trackStatus ? 2 : 1;
    chunk.forEach((r, k) => {
      const [err, rows] = replies[k * step] ?? [];
      // An error (the group gone meanwhile) proves nothing: it stays refused.
      if (err || !Array.isArray(rows) || rows.length > 0) return;
      if (trackStatus) {
        const [e2, st] = replies[k * step + 1] ?? [];
        const [state, by] = (Array.isArray(st) ? st : []) as Array<string | null>;
        if (e2 || (state && SETTLED.has(state) && by !== consumer)) return;
      }
      own.add(r.entryId);
    });
  }
  return own;
}
