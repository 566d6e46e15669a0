import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Streamfan, defineTopic } from '@streamfan/core';
import { partitionKeys } from '@streamfan/core/internal';
import { sleep, startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { checkOrder, handlings, OrderedFleet } from '../src/ordered-fleet';
import type { KeyedPayload } from '../src/ordered-protocol';
import { between } from './harness';

let server: RedisServer;
beforeAll(async () => { server = await startRedis(); });
afterAll(async () => { await server?.stop(); });

/**
 * Fault 14 (issue 12, docs/partitions.md §10): an ordered group (`ordering: 'key'`) on a topic
 * of 4 partitions, 50 keys, 2,000 events published while 3–4 worker processes run; handlers
 * sleep 0–20 ms and throw in 10 % of attempts; every 2 s one process is SIGKILLed and a new one
 * started. Then, from the handlers' own logs (one clock: this machine's): per key, successful
 * handlings follow publish order, no two handlings of one key overlap in time (a killed one
 * ends when its process was killed), and every event ends succeeded or dead in its status.
 * F14_ORDERING=none runs the same with an unordered group: the check then fails (out of order,
 * overlaps), which shows it can.
 */
test('14. ordered group, SIGKILL and restart of consumer processes: per key in order, never overlapping, every event succeeded or dead', async () => {
  const P = 4;
  const KEYS = 50;
  const EVENTS = 2000;
  const LEASE = 2000;
  const prefix = uniquePrefix('f14');
  const topic = defineTopic<KeyedPayload>('orders', { partitions: P });
  const runDir = mkdtempSync(join(tmpdir(), 'streamfan-f14-'));
  const sf = new Streamfan({ connection: server.url, prefix, retention: false });
  sf.on('error', () => undefined);
  const fleet = new OrderedFleet(runDir, {
    url: server.url, prefix, topic: topic.name, partitions: P, group: 'billing', ordering: (process.env.F14_ORDERING ?? 'key') as 'key',
    leaseMs: LEASE, concurrency: 8, maxLatencyMs: 20, failRate: 0.1, maxAttempts: 4, backoffMs: 20, blockMs: 200,
  });
  try {
    const first = [fleet.spawn(), fleet.spawn(), fleet.spawn()];
    await Promise.all(first.map((w) => w.ready()));

    // Publisher: batches of 20 random keys every 150 ms (about 15 s), seq per key in publish order.
    const seqOf = new Map<string, number>();
    const ids: Array<{ id: string; key: string; seq: number }> = [];
    let publishing = true;
    const publisher = (async () => {
      while (ids.length < EVENTS) {
        const batch = Array.from({ length: 20 }, () => {
          const key = `order-${between(0, KEYS - 1)}`;
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
        await alive[between(0, alive.length - 1)]!.kill();
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
      `fault 14: ${ids.length} events, ${KEYS} keys, ${P} partitions, ${fleet.all.length} worker processes, ${kills} SIGKILLs`,
      `  handlings ${report.handlings} (failed attempts ${report.failedAttempts}, cut short by a kill ${report.killedHandlings}), consumers that handled ${report.consumers}`,
      `  succeeded ${ids.length - dead}, dead ${dead} (dead letters ${deadLetters}), successful repeats after a kill ${report.duplicates}, stale settles ${stale}`,
      `  out of order ${report.outOfOrder.length}, overlaps ${report.overlaps.length}, never handled ${report.neverHandled.length}, pending ${pending}, waiting for retry ${backoff}`,
    ].join('\n'));
    expect({ outOfOrder: report.outOfOrder.slice(0, 5), overlaps: report.overlaps.slice(0, 5), neverHandled: report.neverHandled.slice(0, 5), pending, backoff })
      .toEqual({ outOfOrder: [], overlaps: [], neverHandled: [], pending: 0, backoff: 0 });
    expect(deadLetters).toBe(dead);
    expect(report.failedAttempts).toBeGreaterThan(0);
    expect(report.killedHandlings).toBeGreaterThan(0); // the kills landed mid-handler
  } finally {
    await fleet.killAll();
    await sf.close();
    if (!process.env.FAULTS_KEEP) rmSync(runDir, { recursive: true, force: true });
    else console.log(`logs in ${runDir}`);
  }
}, 240_000);
