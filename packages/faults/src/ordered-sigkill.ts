/**
 * The run of faults 14 (one redis-server) and 16 (a Redis Cluster): an ordered group on a
 * partitioned topic, worker processes SIGKILLed and restarted while keyed events are published,
 * then the checks from the handlers' own logs and from Redis. Called from a jest test (it
 * asserts with jest's `expect`).
 */
import { randomInt } from 'node:crypto';
import { partitionKeys } from '@streamfan/core/internal';
import { sleep } from '@streamfan/testing';
import { checkOrder, handlings, withOrderedFleet, type OrderedRedis } from './ordered-fleet';
import type { OrderedWorkerConfig } from './ordered-protocol';

/** One SIGKILL fault run of an ordered group. */
export interface OrderedSigkillRun {
  /** The fault's number: names its printed figures (`fault 14`), prefix and run folder. */
  fault: number;
  /** Printed after the number, e.g. `(3-master cluster)`. */
  label?: string;
  /** Where the test process and the workers connect: one server's URL or a cluster's startup nodes. */
  redis: OrderedRedis;
  partitions: number;
  keys: number;
  events: number;
  /** The group's ordering. @defaultValue 'key' ('none' shows the check fails without it) */
  ordering?: OrderedWorkerConfig['ordering'];
}

/**
 * Group `billing` (`leaseMs` 2000, handlers 0–20 ms, 10 % of attempts throw, 4 attempts) on a
 * topic of `partitions` partitions; 3 worker processes, then publish `events` events over
 * `keys` random keys (batches of 20 every 150 ms, a seq per key in publish order) while every
 * 2 s one process (never the last; while one of its handlers runs, when one does within 1 s) is
 * SIGKILLed and a new one started (3–4 alive), and two
 * more kills after the last publish. Asserted: every event ends succeeded or dead within
 * 120 s; per key, successes follow publish order and no two handlings overlap (a killed one
 * ends at its kill); nothing pending or waiting for a retry on any partition; as many dead
 * letters as dead events; some attempts failed and some handlings were cut short by a kill.
 */
export async function runOrderedSigkill(o: OrderedSigkillRun): Promise<void> {
  const { partitions: P, keys: KEYS, events: EVENTS } = o;
  await withOrderedFleet(o.fault, o.redis, {
    partitions: P, group: 'billing', ordering: o.ordering ?? 'key',
    leaseMs: 2000, concurrency: 8, maxLatencyMs: 20, failRate: 0.1, maxAttempts: 4, backoffMs: 20, blockMs: 200,
  }, async ({ sf, topic, prefix, fleet }) => {
    const first = [fleet.spawn(), fleet.spawn(), fleet.spawn()];
    await Promise.all(first.map((w) => w.ready()));

    // Publisher: batches of 20 random keys every 150 ms, seq per key in publish order.
    const seqOf = new Map<string, number>();
    const ids: Array<{ id: string; key: string; seq: number }> = [];
    let publishing = true;
    const publisher = (async () => {
      while (ids.length < EVENTS) {
        const batch = Array.from({ length: 20 }, () => {
          const key = `order-${randomInt(KEYS)}`;
          const seq = seqOf.get(key) ?? 0;
          seqOf.set(key, seq + 1);
          return { key, seq };
        });
        const got = await sf.publishMany(topic, batch, { keys: batch.map((b) => b.key) });
        got.forEach((id, i) => ids.push({ id, ...batch[i]! }));
        await sleep(150);
      }
      publishing = false;
    })();

    // Every 2 s: SIGKILL one process (never the last one), start a new one; keep 3–4 alive.
    let kills = 0;
    while (publishing) {
      await sleep(2000);
      const alive = fleet.alive;
      if (alive.length > 1) {
        // Kill mid-handler where it can (handlers run 0–20 ms; at random moments 10 kills all
        // landed between handlers in a CI rehearsal): wait up to 1 s for the victim to be busy.
        const victim = alive[randomInt(alive.length)]!;
        await victim.untilBusy(1000);
        await victim.kill();
        kills++;
      }
      fleet.spawn();
      if (fleet.alive.length < 3) fleet.spawn();
      if (fleet.alive.length > 4) await fleet.alive[0]!.stop();
    }
    await publisher;
    // Two more kills after the last publish, so a takeover also happens with no new events coming.
    for (let i = 0; i < 2; i++) {
      await sleep(1500);
      await fleet.alive[0]!.kill();
      kills++;
      fleet.spawn();
    }

    // Every event ends succeeded or dead.
    const open = new Map(ids.map((x) => [x.id, x]));
    const final = new Map<string, string>();
    const deadline = Date.now() + 120_000;
    while (open.size > 0 && Date.now() < deadline) {
      const batch = [...open.keys()].slice(0, 400);
      const got = await Promise.all(batch.map((id) => sf.status(topic, id)));
      got.forEach((s, i) => {
        const state = s.groups.billing?.state;
        if (state === 'succeeded' || state === 'dead') { final.set(batch[i]!, state); open.delete(batch[i]!); }
      });
      if (open.size > 0) await sleep(500);
    }
    const stuck = [...open.values()].slice(0, 10);
    expect({ notFinal: open.size, examples: stuck }).toEqual({ notFinal: 0, examples: [] });

    // Nothing left pending or waiting for a retry on any partition.
    let pending = 0;
    let backoff = 0;
    for (let i = 0; i < P; i++) {
      const k = partitionKeys(prefix, topic.name, i);
      pending += Number(((await sf.redis.xpending(k.stream, 'billing')) as [number])[0]);
      backoff += await sf.redis.zcard(k.backoff('billing'));
    }
    const dead = [...final.values()].filter((s) => s === 'dead').length;
    const deadLetters = await sf.deadLetters(topic, 'billing').count();

    for (const w of fleet.alive) await w.stop();
    const endedAt = new Map(fleet.all.map((w) => [w.consumer, w.endedAt]));
    const hs = handlings(fleet.records(), (c) => endedAt.get(c));
    const report = checkOrder(hs, seqOf);
    const stale = fleet.all.reduce((n, w) => n + w.seen('stale').length, 0);
    console.log([
      `fault ${o.fault}${o.label ? ` ${o.label}` : ''}: ${ids.length} events, ${KEYS} keys, ${P} partitions, ${fleet.all.length} worker processes, ${kills} SIGKILLs`,
      `  handlings ${report.handlings} (failed attempts ${report.failedAttempts}, cut short by a kill ${report.killedHandlings}), consumers that handled ${report.consumers}`,
      `  succeeded ${ids.length - dead}, dead ${dead} (dead letters ${deadLetters}), successful repeats after a kill ${report.duplicates}, stale settles ${stale}`,
      `  out of order ${report.outOfOrder.length}, overlaps ${report.overlaps.length}, never handled ${report.neverHandled.length}, pending ${pending}, waiting for retry ${backoff}`,
    ].join('\n'));
    expect({ outOfOrder: report.outOfOrder.slice(0, 5), overlaps: report.overlaps.slice(0, 5), neverHandled: report.neverHandled.slice(0, 5), pending, backoff })
      .toEqual({ outOfOrder: [], overlaps: [], neverHandled: [], pending: 0, backoff: 0 });
    expect(deadLetters).toBe(dead);
    expect(report.failedAttempts).toBeGreaterThan(0);
    expect(report.killedHandlings).toBeGreaterThan(0); // the kills landed mid-handler
  });
}
