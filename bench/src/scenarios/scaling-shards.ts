/**
 * `pnpm bench --only shards` (issue 12): one partitioned topic (12 partitions) on 1 shard (the
 * bench's redis-server) and on a local Redis Cluster of 3 masters started here, with keyed
 * publishes, consumed by one group of 2 consumers: unordered, then ordered (`ordering: 'key'`),
 * each in its own run. Reports deliveries/s and, per shard, Redis CPU (INFO CPU user + sys) per
 * delivery that shard served (its partitions' events). On a 2-core machine the client process (publishers and
 * consumers in this process) bounds wall-clock throughput; Redis CPU per delivery per shard is
 * the figure that says how the work spreads.
 */
import Redis, { Cluster } from 'ioredis';
import { startCluster } from '../../../packages/testing/src';
import { partitionKeys } from '../../../packages/core/src/keys';
import type { BenchContext } from '../context';
import { redisCpuMicros } from '../context';
import { Streamfan, defineTopic, type Subscription } from '../lib';

/** One shard's share of a run. */
export interface ShardRow {
  node: string;
  partitions: number;
  deliveries: number;
  cpuMs: number;
  cpuMicrosPerDelivery: number;
}

/** One run: the topic on `shards` shards, one group. */
export interface ShardsRun {
  shards: number;
  ordering: 'none' | 'key';
  partitions: number;
  events: number;
  deliveries: number;
  seconds: number;
  deliveriesPerSecond: number;
  /** Deliveries the consumers counted as processed (Redis is the truth: see the wait loop). */
  counted: number;
  /** Errors the subscriptions reported. */
  errors: number;
  /** Redis CPU of all shards per delivery. */
  cpuMicrosPerDelivery: number;
  perShard: ShardRow[];
}

const P = 12;
const KEYS = 1000;

async function runOn(ctx: BenchContext, ordering: 'none' | 'key', shards: number, connection: string | { cluster: Array<{ host: string; port: number }> }, nodes: Array<{ name: string; redis: Redis }>, nodeOfPartition: (i: number) => Promise<string>, events: number): Promise<ShardsRun> {
  const prefix = `shards${shards}-${Date.now()}`;
  const sf = new Streamfan({ connection, prefix, retention: false });
  sf.on('error', () => undefined);
  const topic = defineTopic<{ key: string; n: number }>('orders', { partitions: P });
  const subs: Array<Subscription<{ key: string; n: number }>> = [];
  const common = { startFrom: 'beginning' as const, leaseMs: 5000, blockMs: 500, concurrency: 64, trackStatus: true };
  for (const name of ['c1', 'c2']) subs.push(sf.subscribe(topic, 'g', () => undefined, { ...common, consumer: name, ordering }));
  for (const s of subs) s.on('error', () => undefined);
  await Promise.all(subs.map((s) => s.ready()));
  const partitionNode = await Promise.all(Array.from({ length: P }, (_, i) => nodeOfPartition(i)));
  const perPartition = new Array<number>(P).fill(0);
  const cpu0 = await Promise.all(nodes.map((n) => redisCpuMicros(n.redis)));
  const t0 = performance.now();
  const batch = 200;
  let published = 0;
  let seq = 0;
  while (published < events) {
    const n = Math.min(batch, events - published);
    const payloads = Array.from({ length: n }, () => ({ key: `order-${(seq * 7919) % KEYS}`, n: seq++ }));
    const ids = await sf.publishMany(topic, payloads, { keys: payloads.map((p) => p.key) });
    for (const id of ids) perPartition[Number(/^p(\d+):/.exec(id)![1])]!++;
    published += n;
    ctx.progress.begin(`shards: ${shards} shard(s), published ${published.toLocaleString('en-US')} of ${events.toLocaleString('en-US')}`);
  }
  const target = events;
  const handled = () => subs.reduce((a, s) => a + s.stats.processed, 0);
  // Done when the consumers counted every delivery, or when Redis says so (nothing pending, no
  // lag on any partition): a settle whose reply was lost and whose resend found it done counts
  // as stale, not processed, so the consumers' count may stay a few short.
  const drained = async () => {
    const [g] = await sf.groups(topic);
    return g !== undefined && g.pending === 0 && g.lag === 0;
  };
  const deadline = Date.now() + 600_000;
  let polls = 0;
  while (handled() < target && !(++polls % 20 === 0 && await drained())) {
    if (Date.now() > deadline) throw new Error(`shards: only ${handled()} of ${target} deliveries after 10 minutes`);
    await new Promise((r) => setTimeout(r, 50));
    ctx.progress.begin(`shards: ${shards} shard(s), ${handled().toLocaleString('en-US')} of ${target.toLocaleString('en-US')} deliveries`);
  }
  const counted = handled();
  const seconds = (performance.now() - t0) / 1000;
  const errors = subs.reduce((a, x) => a + x.stats.errors, 0);
  const cpu1 = await Promise.all(nodes.map((n) => redisCpuMicros(n.redis)));
  await Promise.all(subs.map((s) => s.close()));
  await sf.close();
  const perShard: ShardRow[] = nodes.map((n, k) => {
    const parts = partitionNode.map((node, i) => ({ node, i })).filter((x) => x.node === n.name);
    const deliveries = parts.reduce((a, x) => a + perPartition[x.i]!, 0);
    const cpu = cpu1[k]! - cpu0[k]!;
    return { node: n.name, partitions: parts.length, deliveries, cpuMs: Math.round(cpu / 1000), cpuMicrosPerDelivery: deliveries > 0 ? Math.round((cpu / deliveries) * 10) / 10 : 0 };
  });
  const cpuAll = cpu1.reduce((a, c, k) => a + c - cpu0[k]!, 0);
  return {
    shards, ordering, partitions: P, events, deliveries: target, counted, errors, seconds: Math.round(seconds * 100) / 100,
    deliveriesPerSecond: Math.round(target / seconds), cpuMicrosPerDelivery: Math.round((cpuAll / target) * 10) / 10, perShard,
  };
}

/** The same partitioned topic on 1 shard, then on a 3-master cluster; see the file comment. */
export async function shardsScenario(ctx: BenchContext): Promise<ShardsRun[]> {
  const events = Math.min(ctx.config.events, ctx.config.mode === 'smoke' ? 2000 : 30_000);
  const runs: ShardsRun[] = [];
  const single = ctx.server.url;
  for (const ordering of ['none', 'key'] as const) {
    await ctx.redis.flushall();
    runs.push(await runOn(ctx, ordering, 1, single, [{ name: `127.0.0.1:${ctx.server.port}`, redis: ctx.redis }], async () => `127.0.0.1:${ctx.server.port}`, events));
  }
  ctx.progress.begin('shards: starting a Redis Cluster of 3 masters');
  const cluster = await startCluster(3);
  const admins = cluster.nodes.map((n) => ({ name: `127.0.0.1:${n.port}`, redis: new Redis(n.port, '127.0.0.1') }));
  const probe = new Cluster(cluster.startupNodes);
  try {
    const ranges = (await probe.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    const nodeOf = async (i: number) => {
      const slot = Number(await probe.call('CLUSTER', 'KEYSLOT', partitionKeys('x', 'orders', i).stream));
      const r = ranges.find(([lo, hi]) => slot >= lo && slot <= hi)!;
      return `127.0.0.1:${r[2][1]}`;
    };
    for (const ordering of ['none', 'key'] as const) runs.push(await runOn(ctx, ordering, 3, { cluster: cluster.startupNodes }, admins, nodeOf, events));
  } finally {
    probe.disconnect();
    for (const a of admins) a.redis.disconnect();
    await cluster.stop();
  }
  ctx.progress.clear();
  process.stderr.write(`\n${renderShards(runs)}\n`);
  return runs;
}

/** The scenario's table, Markdown. */
export function renderShards(runs: ShardsRun[]): string {
  const lines = [
    `### Scaling over shards: one topic of ${P} partitions, keyed publishes (${runs[0]?.events.toLocaleString('en-US')} events), one group of 2 consumers`,
    '',
    '| group | shards | deliveries/s | Redis CPU µs/delivery (all shards) | per shard: node, partitions, deliveries, CPU ms, µs/delivery | counted by consumers, errors |',
    '|---|---:|---:|---:|---|---|',
    ...runs.map((r) => `| ${r.ordering === 'key' ? 'ordered' : 'unordered'} | ${r.shards} | ${r.deliveriesPerSecond.toLocaleString('en-US')} | ${r.cpuMicrosPerDelivery} | ${r.perShard.map((s) => `${s.node}: ${s.partitions} p, ${s.deliveries.toLocaleString('en-US')} d, ${s.cpuMs} ms, ${s.cpuMicrosPerDelivery} µs`).join('; ')} | ${r.counted.toLocaleString('en-US')}, ${r.errors} |`),
  ];
  return lines.join('\n');
}
