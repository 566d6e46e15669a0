import { sleep, uniquePrefix, waitFor } from '@streamfan/testing';
import Redis, { type Cluster } from 'ioredis';
import { defineTopic, partitionForKey, partitionKeys, topicMetaKeys, type Streamfan } from './partition-helpers';
import { PartitionKeeper, type KeeperNotices } from '../src/partitions/keeper';
import { readLeases } from '../src/partitions/leases';
import { listenRebalance } from '../src/partitions/rebalance-notice';
import type { Subscription } from '../src';
import { useRedis } from './helpers';
import { useCluster } from './cluster-helpers';

/**
 * A graceful leave (docs/partitions.md §5.3, "Rebalancing"): two consumers share 12 partitions;
 * one closes; the other must end up owning all 12. The leaver's rebalance notice (sent after it
 * released its leases and left the member set) wakes the other at once; without it, the other
 * took them at its next tick. Asserted: the takeover happens (and the
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
  const joinMs: number[] = [];
  try {
    await survivor.ready();
    await waitFor(() => survivor.owned.size === P, { timeoutMs: 30_000, message: 'the first consumer holds every partition' });
    for (let round = 0; round < ROUNDS; round++) {
      const joined = performance.now();
      const leaver = open(`leave-${round}`);
      opened.push(leaver);
      await leaver.ready();
      // Fair shares first: 6 each, so the leaver has 6 partitions to give back.
      await waitFor(() => survivor.owned.size === P / 2 && leaver.owned.size === P / 2, { timeoutMs: 30_000, intervalMs: 5, message: `round ${round}: shares become 6 / 6` });
      joinMs.push(Math.round(performance.now() - joined));
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
    + `${takeoverMs.join(' / ')} ms after close() resolved (median ${sorted[Math.floor(sorted.length / 2)]}); close() took ${closeMs.join(' / ')} ms; `
    + `a joiner had its 6 ${joinMs.join(' / ')} ms after subscribe()`;
}

describe('graceful leave: the remaining consumer takes every partition', () => {
  test('one server, unordered group', async () => {
    console.log(await measureLeaves(env.client(), 'leave-unordered', 'none'));
  }, 120_000);

  test('one server, ordered group', async () => {
    console.log(await measureLeaves(env.client(), 'leave-ordered', 'key'));
  }, 120_000);

  test('3-master cluster, ordered group', async () => {
    const { sf } = clustered;
    // The notice channel is in the topic's tag: the member set's slot, so SPUBLISH reaches its shard.
    const meta = topicMetaKeys(sf.prefix, 'leave-cluster');
    const channel = new PartitionKeeper({ redis: sf.redis, prefix: sf.prefix, topic: 'leave-cluster', group: 'g', partitions: P, consumer: 'x' }).channel;
    const slot = (k: string) => (sf.redis as unknown as Cluster).call('CLUSTER', 'KEYSLOT', k);
    expect(await slot(channel)).toBe(await slot(meta.consumers('g')));
    console.log(await measureLeaves(sf, 'leave-cluster', 'key'));
  }, 120_000);
});

describe('rebalance notices only wake', () => {
  test('a listener whose subscriber cannot connect stops at once (a close is not held up), and the connection stops trying', async () => {
    const sub = new Redis({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: null, retryStrategy: () => 50 });
    let attempts = 0;
    sub.on('error', () => { attempts++; });
    const listener = listenRebalance({}, () => sub, 'nowhere', 'P', () => undefined);
    let settled = false;
    void listener.subscribed.then(() => { settled = true; }, () => { settled = true; });
    await waitFor(() => attempts >= 2, { message: 'the subscriber retries meanwhile' });
    expect(settled).toBe(false); // the subscribe waits for a connection
    listener.stop(); // returns at once
    const after = attempts;
    await sleep(300);
    expect(attempts).toBe(after);
  });

  test('the notice comes after the leaver released its leases and left; a keeper that hears no notice still takes over at its tick', async () => {
    const server = env.server();
    const redis = server.client();
    const prefix = uniquePrefix();
    const keys = Array.from({ length: P }, (_, i) => partitionKeys(prefix, 'orders', i));
    const hub = {};
    const real: KeeperNotices['listen'] = (channel, mode, on) => listenRebalance(hub, () => server.client(), channel, mode, on);
    const make = (consumer: string, listen: KeeperNotices['listen'], errors: unknown[]) => {
      const k = new PartitionKeeper({ redis, prefix, topic: 'orders', group: 'g', partitions: P, consumer, leaseMs: 600, notices: { mode: () => 'P', listen } });
      k.on('error', (e) => errors.push(e));
      return k;
    };
    const deafErrors: unknown[] = [];
    const leaverErrors: unknown[] = [];
    // Deaf: its subscribe is refused (as under an ACL without `subscribe`), so it hears nothing.
    const deaf = make('deaf', () => ({ subscribed: Promise.reject(new Error("NOPERM this user has no permissions to run the 'subscribe' command")), stop: () => undefined }), deafErrors);
    const leaver = make('leaver', real, leaverErrors);
    const watcher = server.client();
    const heard: Array<{ from: string; leaverLeases: number; member: string | null }> = [];
    const seen: Array<Promise<void>> = [];
    watcher.on('message', (_ch: string, from: string) => {
      seen.push((async () => {
        const [leases, [sec], member] = await Promise.all([
          readLeases(redis, keys, 'g'), redis.time(), redis.zscore(topicMetaKeys(prefix, 'orders').consumers('g'), leaver.owner),
        ]);
        const now = Number(sec) * 1000;
        heard.push({ from, leaverLeases: leases.filter((l) => l.owner === leaver.owner && l.until >= now).length, member });
      })());
    });
    await watcher.subscribe(leaver.channel);
    try {
      deaf.start();
      await waitFor(() => deaf.partitions.size === P, { message: 'deaf holds every partition' });
      leaver.start();
      await waitFor(() => deaf.partitions.size === P / 2 && leaver.partitions.size === P / 2, { timeoutMs: 20_000, message: 'shares become 6 / 6' });
      await leaver.close();
      await waitFor(() => deaf.partitions.size === P, { timeoutMs: 20_000, message: "deaf takes the leaver's partitions at its tick" });
      await waitFor(() => heard.some((h) => h.from === leaver.owner && h.member === null), { message: 'the leave notice is sent' });
      await Promise.all(seen);
      // The leaver's last notice came once its leases were released and it had left the member set.
      expect(heard.filter((h) => h.from === leaver.owner).at(-1)).toEqual({ from: leaver.owner, leaverLeases: 0, member: null });
      expect(deafErrors.map((e) => String((e as Error).message))).toEqual([expect.stringContaining('NOPERM')]);
      expect(leaverErrors).toEqual([]);
      const leases = await readLeases(redis, keys, 'g');
      expect(new Set(leases.map((l) => l.owner))).toEqual(new Set([deaf.owner]));
    } finally {
      watcher.disconnect(); // before deaf's close, which sends a notice too
      await Promise.allSettled(seen);
      await deaf.close();
      await leaver.close();
      redis.disconnect();
    }
  }, 60_000);
});
