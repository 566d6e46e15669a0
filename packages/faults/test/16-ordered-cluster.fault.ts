import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Streamfan, defineTopic } from '@streamfan/core';
import { partitionKeys } from '@streamfan/core/internal';
import { sleep, startCluster, uniquePrefix, type RedisCluster } from '@streamfan/testing';
import { checkOrder, handlings, OrderedFleet } from '../src/ordered-fleet';
import type { KeyedPayload } from '../src/ordered-protocol';
import { between } from './harness';

let cluster: RedisCluster;
beforeAll(async () => { cluster = await startCluster(3); }, 60_000);
afterAll(async () => { await cluster?.stop(); });

/**
 * Fault 16 (issue 12): fault 14 on a local Redis Cluster of 3 masters, with 12 partitions (their
 * streams on every master): an ordered group, 40 keys, 1,200 events, handlers 0–20 ms with 10 %
 * transient failures, 3–4 worker processes connected to the cluster, one SIGKILLed and one
 * started every 2 s. Per key: successes in publish order, no overlap; every event succeeded or
 * dead; nothing pending, no retry waiting.
 */
test('16. ordered group on a 3-master cluster, 12 partitions, SIGKILL and restart of consumer processes: per key in order, never overlapping, every event succeeded or dead', async () => {
  const P = 12;
  const KEYS = 40;
  const EVENTS = 1200;
  const LEASE = 2000;
  const prefix = uniquePrefix('f16');
  const topic = defineTopic<KeyedPayload>('orders', { partitions: P });
  const runDir = mkdtempSync(join(tmpdir(), 'streamfan-f16-'));
  const sf = new Streamfan({ connection: { cluster: cluster.startupNodes }, prefix, retention: false });
  sf.on('error', () => undefined);
  const fleet = new OrderedFleet(runDir, {
    url: '', cluster: cluster.startupNodes, prefix, topic: topic.name, partitions: P, group: 'billing', ordering: 'key',
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
      `fault 16 (3-master cluster): ${ids.length} events, ${KEYS} keys, ${P} partitions, ${fleet.all.length} worker processes, ${kills} SIGKILLs`,
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
