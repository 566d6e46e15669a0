import { sleep, waitFor } from '@streamfan/testing';
import { defineTopic, partitionForKey, type Streamfan } from './partition-helpers';
import type { Subscription } from '../src';
import { useRedis } from './helpers';
import { useCluster } from './cluster-helpers';

/**
 * A graceful leave (docs/partitions.md §5.3, "Rebalancing"): two consumers share 12 partitions;
 * one closes; the other must end up owning all 12. Asserted: the takeover happens (and the
 * survivor then handles an event in every partition). Measured and printed, never asserted:
 * how long after `close()` resolved the survivor owned all 12 (the leaver's close is timed too).
 * leaseMs 3000: a keeper tick every 1000 ms. Each round closes at another point of the survivor's
 * tick (⅛, ⅜, ⅝, ⅞ of it after shares became fair), so waiting for the survivor's next tick shows
 * as about ⅞, ⅝, ⅜, ⅛ of a tick.
 */
const P = 12;
const LEASE_MS = 3000;
const ROUNDS = 4;

const env = useRedis();
const clustered = useCluster({ prefix: 'leave' });

type Owned = Subscription<unknown> & { owned: ReadonlyMap<number, number> };

async function measureLeaves(sf: Streamfan, name: string, ordering: 'key' | 'none'): Promise<string> {
  const topic = defineTopic<{ n: number }>(name, { partitions: P });
  const handled = new Set<number>();
  const open = (consumer: string) => {
    const s = sf.subscribe(topic, 'g', (p: { n: number }) => { handled.add(p.n); }, {
      consumer, ordering, leaseMs: LEASE_MS, blockMs: 500, startFrom: 'beginning',
    }) as Owned;
    s.on('error', () => undefined);
    return s;
  };
  const survivor = open('stay');
  const opened: Owned[] = [survivor];
  const closeMs: number[] = [];
  const takeoverMs: number[] = [];
  try {
    await survivor.ready();
    await waitFor(() => survivor.owned.size === P, { timeoutMs: 30_000, message: 'the first consumer holds every partition' });
    for (let round = 0; round < ROUNDS; round++) {
      const leaver = open(`leave-${round}`);
      opened.push(leaver);
      await leaver.ready();
      // Fair shares first: 6 each, so the leaver has 6 partitions to give back.
      await waitFor(() => survivor.owned.size === P / 2 && leaver.owned.size === P / 2, { timeoutMs: 30_000, message: `round ${round}: shares become 6 / 6` });
      // The survivor ticks every LEASE_MS / 3 and has just ticked (it gave up its surplus): close
      // at a different point of its tick each round, (round + ½) / ROUNDS of a tick after now.
      await sleep(((round + 0.5) / ROUNDS) * (LEASE_MS / 3));
      const t0 = performance.now();
      await leaver.close();
      const closed = performance.now();
      await waitFor(() => survivor.owned.size === P, { timeoutMs: 10 * LEASE_MS, intervalMs: 2, message: `round ${round}: the survivor takes the leaver's partitions` });
      takeoverMs.push(Math.round(performance.now() - closed));
      closeMs.push(Math.round(closed - t0));
    }
    expect(survivor.owned.size).toBe(P);
    // The survivor works every partition now: one event per partition is handled.
    const keys: string[] = [];
    for (let i = 0, per = new Map<number, number>(); keys.length < 2 * P; i++) {
      const p = partitionForKey(`k${i}`, P);
      if ((per.get(p) ?? 0) < 2) { per.set(p, (per.get(p) ?? 0) + 1); keys.push(`k${i}`); }
    }
    const ids = await sf.publishMany(topic, keys.map((_, n) => ({ n })), { keys });
    expect(new Set(ids.map((id) => id.split(':')[0])).size).toBe(P);
    for (const id of ids) expect((await sf.waitFor(topic, id, { timeoutMs: 15_000 })).groups.g?.state).toBe('succeeded');
    expect(handled.size).toBe(keys.length);
  } finally {
    await Promise.all(opened.map((s) => s.close()));
  }
  const sorted = [...takeoverMs].sort((a, b) => a - b);
  return `${name} (${ordering === 'key' ? 'ordered' : 'unordered'}, ${P} partitions, leaseMs ${LEASE_MS}): survivor owned all ${P} `
    + `${takeoverMs.join(' / ')} ms after close() resolved (median ${sorted[Math.floor(sorted.length / 2)]}); close() took ${closeMs.join(' / ')} ms`;
}

describe('graceful leave: the remaining consumer takes every partition', () => {
  test('one server, unordered group', async () => {
    console.log(await measureLeaves(env.client(), 'leave-unordered', 'none'));
  }, 120_000);

  test('one server, ordered group', async () => {
    console.log(await measureLeaves(env.client(), 'leave-ordered', 'key'));
  }, 120_000);

  test('3-master cluster, ordered group', async () => {
    console.log(await measureLeaves(clustered.sf, 'leave-cluster', 'key'));
  }, 120_000);
});
