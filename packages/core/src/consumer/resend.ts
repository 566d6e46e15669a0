import type Redis from 'ioredis';

/**
 * ioredis re-sends a command whose reply a dropped connection lost, though Redis may have run it
 * already. A settle script's second run then finds the entry no longer pending for this consumer
 * and refuses it, as it would an entry another consumer reclaimed. When the connection dropped
 * while the call was unanswered (see connectionDrops), the caller asks this: of the refused
 * entries, which does some consumer hold now? Those are stale (another consumer reclaimed them);
 * the others are pending for no one: acknowledged, by this call's first run (or, rarely, by a
 * consumer that reclaimed and finished one meanwhile; either way settled, not refused).
 * @returns the ids some consumer of the group holds now
 */
export async function heldByAnyone(worker: Redis, stream: string, group: string, ids: string[]): Promise<Set<string>> {
  const held = new Set<string>();
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const p = worker.pipeline();
    for (const id of chunk) p.xpending(stream, group, id, id, 1);
    const replies = (await p.exec()) ?? [];
    chunk.forEach((id, k) => {
      const [err, rows] = replies[k] ?? [];
      // An error (the group gone meanwhile) proves nothing: keep it refused.
      if (err || !Array.isArray(rows) || rows.length > 0) held.add(id);
    });
  }
  return held;
}
