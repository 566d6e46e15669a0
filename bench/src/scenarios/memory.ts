import { now, sleep } from '../clock';
import { flush, usedMemory, type BenchContext } from '../context';
import { Streamfan } from '../lib';
import { makePayloads } from '../payload';
import { fraction } from '../progress';
import type { MemoryResult, RssResult } from '../results';
import { fanoutRun, groupNames } from './fanout';

const MiB = 1024 * 1024;

async function memoryUsage(ctx: BenchContext, key: string): Promise<number> {
  return Number((await ctx.redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
}

/** Every key matching `pattern`. */
async function scanKeys(ctx: BenchContext, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await ctx.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/**
 * Redis memory per stream entry, per pending entry and per status hash: INFO used_memory
 * deltas over N entries, and MEMORY USAGE (SAMPLES 0: exact) of the keys.
 */
export async function memoryScenario(ctx: BenchContext): Promise<MemoryResult> {
  const c = ctx.config;
  const n = c.memoryEntries;
  ctx.progress.begin(`memory: ${n.toLocaleString('en-US')} entries of ${c.payloadBytes} B`);
  await flush(ctx);
  const prefix = 'bench-memory';
  const sf = new Streamfan({ connection: { host: ctx.server.host, port: ctx.server.port }, prefix, retention: false });
  const stream = `${prefix}:{memory}:stream`;
  await ctx.redis.xgroup('CREATE', stream, 'svc0', '0', 'MKSTREAM');
  const used0 = await usedMemory(ctx.redis);
  const usage0 = await memoryUsage(ctx, stream);
  for (let i = 0; i < n; i += 1000) {
    await sf.publishMany('memory', makePayloads(i, Math.min(1000, n - i), c.payloadBytes));
    ctx.progress.update(`published ${fraction(Math.min(n, i + 1000), n)}`);
  }
  await sf.close();
  const used1 = await usedMemory(ctx.redis);
  const usage1 = await memoryUsage(ctx, stream);
  for (let read = 0; read < n;) {
    const reply = (await ctx.redis.xreadgroup('GROUP', 'svc0', 'holder', 'COUNT', 10_000, 'STREAMS', stream, '>')) as Array<[string, unknown[]]> | null;
    const got = reply?.[0]?.[1].length ?? 0;
    if (got === 0) break;
    read += got;
    ctx.progress.update(`pending ${fraction(read, n)}`);
  }
  const used2 = await usedMemory(ctx.redis);
  const usage2 = await memoryUsage(ctx, stream);

  // Status hashes as the engine writes them: a fan-out of N events to the usual groups.
  ctx.progress.update(`status hashes: fan-out of ${n.toLocaleString('en-US')} events to ${c.groups} groups`, true);
  await fanoutRun(ctx, 'streamfan', { events: n, groups: c.groups, concurrency: c.streamfanConcurrency, payloadBytes: c.payloadBytes, label: 'status hashes' });
  const statusKeys = await scanKeys(ctx, 'bench-streamfan:{fanout}:status:*');
  const sample = statusKeys.slice(0, 500);
  let sampled = 0;
  for (const k of sample) sampled += await memoryUsage(ctx, k);
  const used3 = await usedMemory(ctx.redis);
  for (let i = 0; i < statusKeys.length; i += 1000) await ctx.redis.unlink(...statusKeys.slice(i, i + 1000));
  await sleep(200); // UNLINK frees in the background
  const used4 = await usedMemory(ctx.redis);
  return {
    entries: n,
    payloadBytes: c.payloadBytes,
    streamEntry: { info: (used1 - used0) / n, usage: (usage1 - usage0) / n },
    pendingEntry: { info: (used2 - used1) / n, usage: (usage2 - usage1) / n },
    statusHash: { info: statusKeys.length ? (used3 - used4) / statusKeys.length : Number.NaN, usage: sample.length ? sampled / sample.length : Number.NaN, groups: c.groups, keys: statusKeys.length },
  };
}

/** Least-squares slope of y against x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  let sx = 0; let sy = 0; let sxx = 0; let sxy = 0;
  for (const [x, y] of points) { sx += x; sy += y; sxx += x * x; sxy += x * y; }
  const d = n * sxx - sx * sx;
  return d === 0 ? 0 : (n * sxy - sx * sy) / d;
}

/**
 * The consumer process's RSS while one group handles N events (status on, 1-minute status
 * TTL). The publisher keeps at most 20,000 events ahead and trims acknowledged entries
 * every 100,000, so Redis stays small while the consumer runs long.
 */
export async function rssScenario(ctx: BenchContext): Promise<RssResult> {
  const c = ctx.config;
  const n = c.rssEvents;
  ctx.progress.begin(`consumer RSS across ${n.toLocaleString('en-US')} events (1 group, concurrency ${c.streamfanConcurrency})`);
  await flush(ctx);
  const prefix = 'bench-rss';
  const topic = 'rss';
  const run = await ctx.pool.start({
    system: 'streamfan', host: ctx.server.host, port: ctx.server.port, prefix, topic, expected: n,
    concurrency: c.streamfanConcurrency, blockMs: c.blockMs, latency: false, trackStatus: true, statusTtlSeconds: 60,
    rssEvery: Math.max(1, Math.floor(n / 20)),
  }, groupNames(1));
  const sf = new Streamfan({ connection: { host: ctx.server.host, port: ctx.server.port }, prefix, retention: false });
  let lastRss = 0;
  run.onRss((s) => { lastRss = s.rss; });
  const t0 = now();
  let published = 0;
  let trimmedAt = 0;
  while (published < n) {
    if (published - run.delivered() > 20_000) {
      await sleep(5);
      continue;
    }
    const count = Math.min(1000, n - published);
    await sf.publishMany(topic, makePayloads(published, count, c.payloadBytes));
    published += count;
    if (published - trimmedAt >= 100_000) {
      trimmedAt = published;
      await sf.trim(topic);
    }
    ctx.progress.update(`published ${fraction(published, n)}, handled ${fraction(run.delivered(), n)}, consumer RSS ${(lastRss / MiB).toFixed(1)} MiB`);
  }
  const ticker = setInterval(() => ctx.progress.update(`handled ${fraction(run.delivered(), n)}, consumer RSS ${(lastRss / MiB).toFixed(1)} MiB`), 200);
  const res = await run.finish(Math.max(120_000, n));
  clearInterval(ticker);
  await sf.close();
  const samples = res.rss;
  const after = samples.filter((s) => s.delivered >= n / 10);
  const rss = after.map((s) => s.rss / MiB);
  return {
    events: n,
    samples,
    startMiB: (samples[0]?.rss ?? 0) / MiB,
    endMiB: (samples[samples.length - 1]?.rss ?? 0) / MiB,
    minMiB: rss.length ? Math.min(...rss) : Number.NaN,
    maxMiB: rss.length ? Math.max(...rss) : Number.NaN,
    slopeMiBPer100k: slope(after.map((s) => [s.delivered / 100_000, s.rss / MiB])),
    seconds: (now() - t0) / 1000,
    complete: res.complete,
  };
}
