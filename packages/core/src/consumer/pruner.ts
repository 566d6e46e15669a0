import type Redis from 'ioredis';
import { isNoGroup } from '../errors';
import { runScript } from '../scripts/runner';
import { parseInfoRows } from '../status';

/**
 * Remove consumers of `group` on `stream` that crashed long ago: no pending entries and idle
 * at least `idleMs` (deleteConsumerIfIdle checks both atomically, so one holding entries is
 * never removed). `self` is skipped. A missing group is left to the read loop to recover.
 * @returns the names removed
 */
export async function pruneIdleConsumers(worker: Redis, stream: string, group: string, self: string, idleMs: number): Promise<string[]> {
  let rows: Array<Record<string, unknown>>;
  try {
    rows = parseInfoRows((await worker.xinfo('CONSUMERS', stream, group)) as unknown[]);
  } catch (err) {
    if (isNoGroup(err)) return [];
    throw err;
  }
  const removed: string[] = [];
  for (const c of rows) {
    if (c.name === self || Number(c.pending) > 0 || Number(c.idle) < idleMs) continue;
    if ((await runScript<number>(worker, 'deleteConsumerIfIdle', [stream], [group, String(c.name), idleMs])) === 1) removed.push(String(c.name));
  }
  return removed;
}
