import Redis from 'ioredis';
import type { ConsumeJob } from '../protocol';
import type { Tracker } from './tracker';

type Entry = [id: string, fields: string[]];

/** Key names of the floor: a plain stream, and one status hash per event. */
export function floorKeys(prefix: string, topic: string): { stream: string; status: (id: string) => string } {
  const base = `${prefix}:{${topic}}`;
  return { stream: `${base}:stream`, status: (id) => `${base}:status:${id}` };
}

function payloadOf(fields: string[]): unknown {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'payload') return JSON.parse(fields[i + 1]!);
  return undefined;
}

/**
 * The floor: what a careful user writes by hand on plain ioredis. Per group one loop of
 * XREADGROUP COUNT n, a no-op handler per entry, then one pipeline of XACK plus, per entry,
 * HSET of a status field and EXPIRE. With `reclaim` it takes entries over with XAUTOCLAIM.
 */
export async function runFloor(job: ConsumeJob, tracker: Tracker): Promise<() => Promise<void>> {
  const keys = floorKeys(job.prefix, job.topic);
  let stopping = false;
  const conns: Redis[] = [];
  const loops = job.groups.map(async (group) => {
    const r = new Redis({ host: job.host, port: job.port, maxRetriesPerRequest: null });
    r.on('error', () => undefined);
    conns.push(r);
    if (!job.reclaim) {
      await r.xgroup('CREATE', keys.stream, group, '$', 'MKSTREAM').catch((err: Error) => {
        if (!/BUSYGROUP/.test(err.message)) throw err;
      });
    }
    const consumer = `floor-${process.pid}`;
    const settle = async (entries: Entry[]): Promise<void> => {
      for (const [id, fields] of entries) {
        const payload = payloadOf(fields);
        if (job.latency) tracker.handlerStarted(group, payload, id);
      }
      const p = r.pipeline();
      p.xack(keys.stream, group, ...entries.map((e) => e[0]));
      for (const [id] of entries) {
        p.hset(keys.status(id), `${group}:state`, 'succeeded');
        p.expire(keys.status(id), job.statusTtlSeconds);
      }
      await p.exec();
      tracker.settled(group, entries.length);
    };
    return { r, consumer, group, settle };
  });
  const ready = await Promise.all(loops);
  const running = ready.map(async ({ r, consumer, group, settle }) => {
    let cursor = '0-0';
    while (!stopping) {
      try {
        if (job.reclaim) {
          const [next, entries] = (await r.xautoclaim(keys.stream, group, consumer, job.reclaim.visibilityTimeoutMs, cursor, 'COUNT', job.concurrency)) as [string, Entry[]];
          cursor = next;
          const live = entries.filter((e) => e[1] !== null);
          if (live.length > 0) await settle(live);
          else await new Promise((res) => setTimeout(res, 50));
          continue;
        }
        const reply = (await r.xreadgroup('GROUP', group, consumer, 'COUNT', job.concurrency, 'BLOCK', job.blockMs, 'STREAMS', keys.stream, '>')) as Array<[string, Entry[]]> | null;
        if (!reply) continue;
        for (const [, entries] of reply) if (entries.length > 0) await settle(entries);
      } catch (err) {
        if (!stopping) tracker.error(group, (err as Error).message);
      }
    }
  });
  return async () => {
    stopping = true;
    for (const r of conns) r.disconnect();
    await Promise.allSettled(running);
  };
}
