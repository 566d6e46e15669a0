import type Redis from 'ioredis';
import { uniquePrefix, waitFor } from '@streamfan/testing';
import { PartitionKeeper } from '../src/partitions/keeper';
import { readLeases } from '../src/partitions/leases';
import { partitionKeys } from '../src/partitions/partitionKeys';
import { isHeld } from '../src/partitions/quotas';
import { useRedis } from './helpers';

const env = useRedis();
const P = 12;
const LEASE_MS = 600;

/**
 * Samples the lease table every 20 ms with server time and records, per partition, how long
 * it stayed unowned, and that a partition's token never goes back. Numbers are logged for
 * docs/partitions.md; assertions only bound them loosely (the machine is shared).
 */
class Sampler {
  private timer: NodeJS.Timeout | undefined;
  private unownedSince = new Map<number, number>();
  private lastToken = new Map<number, number>();
  gaps: number[] = [];
  tokenWentBack = false;
  constructor(private readonly redis: Redis, private readonly prefix: string) {}
  start(): void {
    const keys = Array.from({ length: P }, (_, i) => partitionKeys(this.prefix, 'orders', i));
    this.timer = setInterval(() => {
      void (async () => {
        const [sec, usec] = await this.redis.time();
        const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
        for (const l of await readLeases(this.redis, keys, 'g')) {
          if ((this.lastToken.get(l.partition) ?? 0) > l.token) this.tokenWentBack = true;
          this.lastToken.set(l.partition, l.token);
          const since = this.unownedSince.get(l.partition);
          if (!isHeld(l, now)) { if (since === undefined) this.unownedSince.set(l.partition, now); }
          else if (since !== undefined) { this.gaps.push(now - since); this.unownedSince.delete(l.partition); }
        }
      })().catch(() => undefined);
    }, 20);
  }
  /** The longest unowned stretch recorded since the last call. */
  takeMaxGap(): number {
    const max = Math.max(0, ...this.gaps);
    this.gaps = [];
    return max;
  }
  stop(): void { clearInterval(this.timer); }
}

test('consumers join, leave and crash: shares become fair by themselves, and partitions stay unowned only briefly', async () => {
  const redis = env.server().client();
  const prefix = uniquePrefix();
  const sampler = new Sampler(redis, prefix);
  const keepers: PartitionKeeper[] = [];
  const make = (name: string) => {
    const k = new PartitionKeeper({ redis, prefix, topic: 'orders', group: 'g', partitions: P, consumer: name, leaseMs: LEASE_MS });
    k.on('error', (err) => { throw err; });
    keepers.push(k);
    k.start();
    return k;
  };
  const owners = () => keepers.map((k) => k.partitions.size);
  const report: string[] = [];
  try {
    const k1 = make('k1');
    await waitFor(() => k1.partitions.size === P, { message: 'k1 owns every partition' });
    sampler.start();

    let t = performance.now();
    const k2 = make('k2');
    const k3 = make('k3');
    await waitFor(() => k1.partitions.size === 4 && k2.partitions.size === 4 && k3.partitions.size === 4, { message: 'three consumers hold 4 each', timeoutMs: 20 * LEASE_MS });
    report.push(`2 join: fair after ${Math.round(performance.now() - t)} ms, longest unowned ${sampler.takeMaxGap()} ms`);

    t = performance.now();
    await k3.close();
    await waitFor(() => k1.partitions.size === 6 && k2.partitions.size === 6, { message: 'k3 left: 6 each', timeoutMs: 20 * LEASE_MS });
    const graceful = sampler.takeMaxGap();
    report.push(`graceful leave: fair after ${Math.round(performance.now() - t)} ms, longest unowned ${graceful} ms`);

    t = performance.now();
    k2.halt(); // crashes: no release
    await waitFor(() => k1.partitions.size === P, { message: 'k1 takes over the crashed consumer\'s partitions', timeoutMs: 20 * LEASE_MS });
    const crash = sampler.takeMaxGap();
    const notWorked = Math.round(performance.now() - t);
    report.push(`crash: its partitions owned again after ${notWorked} ms (not worked meanwhile), of which unowned in Redis at most ${crash} ms`);

    // Every partition is owned at the end, exactly once, by k1; tokens never went back.
    const leases = await readLeases(redis, Array.from({ length: P }, (_, i) => partitionKeys(prefix, 'orders', i)), 'g');
    expect(new Set(leases.map((l) => l.owner))).toEqual(new Set([k1.owner]));
    expect(sampler.tokenWentBack).toBe(false);
    // Loose bounds: a crash leaves partitions unworked for about one lease plus a tick, of which
    // unowned in Redis about one tick (the lease holds them until it expires); a graceful leave
    // about one tick.
    expect(notWorked).toBeLessThanOrEqual(8 * LEASE_MS);
    expect(crash).toBeLessThanOrEqual(4 * LEASE_MS);
    expect(graceful).toBeLessThanOrEqual(4 * LEASE_MS);
    console.log(`rebalance with ${P} partitions, leaseMs ${LEASE_MS}:\n  ${report.join('\n  ')}`);
  } finally {
    sampler.stop();
    await Promise.all(keepers.map((k) => k.close()));
    redis.disconnect();
    expect(owners().every((n) => n === 0)).toBe(true);
  }
}, 60_000);
