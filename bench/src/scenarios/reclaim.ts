import { sleep } from '../clock';
import { flush, type BenchContext } from '../context';
import { floorKeys } from '../child/floor';
import { makePayloads } from '../payload';
import { fraction } from '../progress';
import type { System } from '../protocol';
import { createPublisher } from '../publishers';
import type { ReclaimResult } from '../results';

const VISIBILITY_MS = 1000;

interface Variant { label: string; system: System; reclaimIntervalMs?: number }

/**
 * A consumer read every entry and died: its N entries sit pending. A new consumer takes
 * them over once they are idle past the visibility timeout (1 s); entries reclaimed and
 * handled per second, from the new consumer's start to its last ack.
 */
async function reclaimRun(ctx: BenchContext, v: Variant): Promise<ReclaimResult> {
  const c = ctx.config;
  const n = c.reclaimEntries;
  await flush(ctx);
  const prefix = `bench-${v.system}`;
  const topic = 'reclaim';
  const group = 'svc0';
  const { stream } = floorKeys(prefix, topic); // the same key layout as streamfan's topic stream
  await ctx.redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  const pub = await createPublisher(ctx, v.system === 'streamfan' ? 'streamfan' : 'floor', prefix, topic, [group]);
  for (let i = 0; i < n; i += 1000) {
    await pub.batch(makePayloads(i, Math.min(1000, n - i), c.payloadBytes));
    ctx.progress.update(`published ${fraction(Math.min(n, i + 1000), n)}`);
  }
  await pub.close();
  for (let read = 0; read < n;) {
    const reply = (await ctx.redis.xreadgroup('GROUP', group, 'dead-consumer', 'COUNT', 10_000, 'STREAMS', stream, '>')) as Array<[string, unknown[]]> | null;
    const got = reply?.[0]?.[1].length ?? 0;
    if (got === 0) break;
    read += got;
  }
  ctx.progress.update(`${n} entries pending on a dead consumer; waiting for the visibility timeout`, true);
  await sleep(VISIBILITY_MS + 200);
  const run = await ctx.pool.start({
    system: v.system, host: ctx.server.host, port: ctx.server.port, prefix, topic, expected: n,
    concurrency: c.streamfanConcurrency, blockMs: c.blockMs, latency: false, trackStatus: true, statusTtlSeconds: 86_400, rssEvery: 0,
    reclaim: { visibilityTimeoutMs: VISIBILITY_MS, ...(v.reclaimIntervalMs ? { reclaimIntervalMs: v.reclaimIntervalMs } : {}) },
  }, [group]);
  const ticker = setInterval(() => ctx.progress.update(`reclaimed and handled ${fraction(run.delivered(), n)}`), 200);
  const res = await run.finish(Math.max(60_000, n * 10));
  clearInterval(ticker);
  const g = res.groups[0]!;
  const seconds = (g.lastAt - g.startedAt) / 1000;
  return { label: v.label, entries: n, perSec: g.delivered / seconds, seconds, complete: res.complete };
}

/** Reclaim throughput: streamfan with its default reclaim interval and a short one, and the floor. */
export async function reclaimScenario(ctx: BenchContext): Promise<ReclaimResult[]> {
  const c = ctx.config;
  const variants: Variant[] = [
    { label: `streamfan, concurrency ${c.streamfanConcurrency}, reclaimIntervalMs default (${VISIBILITY_MS / 2})`, system: 'streamfan' },
    { label: `streamfan, concurrency ${c.streamfanConcurrency}, reclaimIntervalMs 50`, system: 'streamfan', reclaimIntervalMs: 50 },
    { label: `floor: XAUTOCLAIM COUNT ${c.streamfanConcurrency} loop + XACK/HSET/EXPIRE pipeline`, system: 'floor' },
  ];
  const out: ReclaimResult[] = [];
  for (const v of variants) {
    ctx.progress.begin(`reclaim ${c.reclaimEntries.toLocaleString('en-US')} pending entries of a dead consumer: ${v.label}`);
    out.push(await reclaimRun(ctx, v));
  }
  return out;
}
