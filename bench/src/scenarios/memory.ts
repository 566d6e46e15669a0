import { now, sleep } from '../clock';
import { flush, usedMemory, type BenchContext } from '../context';
import { Streamfan } from '../lib';
import { makePayloads } from '../payload';
import { fraction } from '../progress';
import type { MemoryBreakdown, MemoryPerEvent, MemoryResult, RssResult } from '../results';
import { groupNames } from './fanout';

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

/** MEMORY USAGE of each key (SAMPLES 0: exact), pipelined. */
async function usages(ctx: BenchContext, keys: string[]): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const p = ctx.redis.pipeline();
    for (const k of keys.slice(i, i + 500)) p.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
    for (const [err, v] of (await p.exec()) ?? []) out.push(err ? Number.NaN : Number(v ?? 0));
  }
  return out;
}

/** used_memory freed by deleting `keys` (UNLINK, then a pause for the background free), per `per`. */
async function freedBy(ctx: BenchContext, keys: string[], per: number): Promise<number> {
  if (keys.length === 0 || per === 0) return Number.NaN;
  const before = await usedMemory(ctx.redis);
  for (let i = 0; i < keys.length; i += 1000) await ctx.redis.unlink(...keys.slice(i, i + 1000));
  await sleep(300);
  return (before - (await usedMemory(ctx.redis))) / per;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

/** A streamfan client of the private server with the default options (retention off, so the stream keeps what it measures). */
function client(ctx: BenchContext, prefix: string): Streamfan {
  return new Streamfan({ connection: { host: ctx.server.host, port: ctx.server.port }, prefix, retention: false });
}

/** Wait until `count()` reaches `n` (or `timeoutMs`), showing progress. */
async function until(ctx: BenchContext, what: string, count: () => number, n: number, timeoutMs = 180_000): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (count() < n && now() < deadline) {
    ctx.progress.update(`${what} ${fraction(count(), n)}`);
    await sleep(20);
  }
  await sleep(300); // the last batch's writes
  return count() >= n;
}

/**
 * Issue 17's measurement: `n` events published to a topic that `groups` groups consume with the
 * default options (status on, 1-day status TTL), all succeeded. used_memory before publishing and
 * after every group is done, then again after UNLINKing the status hashes: the hashes' share and
 * the rest (the stream entry and the groups' bookkeeping). MEMORY USAGE of one status key too.
 */
async function perEventRun(ctx: BenchContext, groups: number, n: number): Promise<MemoryPerEvent> {
  await flush(ctx);
  const prefix = 'bench-mem';
  const topic = 'mem';
  const sf = client(ctx, prefix);
  let done = 0;
  const subs = groupNames(groups).map((g) => {
    const sub = sf.subscribe(topic, g, () => undefined, { concurrency: 200 });
    sub.on('processed', () => { done++; });
    return sub;
  });
  await Promise.all(subs.map((x) => x.ready()));
  await sleep(200);
  const used0 = await usedMemory(ctx.redis);
  for (let i = 0; i < n; i += 1000) {
    await sf.publishMany(topic, makePayloads(i, Math.min(1000, n - i), ctx.config.payloadBytes));
    ctx.progress.update(`${groups} group(s): published ${fraction(Math.min(n, i + 1000), n)}, handled ${fraction(done, n * groups)}`);
  }
  const complete = await until(ctx, `${groups} group(s): handled`, () => done, n * groups);
  const used1 = await usedMemory(ctx.redis);
  // Protocol 2: plain successes are records in per-group, per-second success buckets
  // (`…:ok:<group>:<second>`); status hashes remain only for results, failures and the like.
  const statusKeys = await scanKeys(ctx, `${prefix}:{${topic}}:status:*`);
  const bucketKeys = await scanKeys(ctx, `${prefix}:{${topic}}:ok:*`);
  const bucketSizes = await usages(ctx, bucketKeys);
  const bucketBytes = bucketSizes.filter(Number.isFinite).reduce((a, b) => a + b, 0);
  const sample = statusKeys.slice(0, 200);
  const sizes = await usages(ctx, sample);
  const first = statusKeys.sort()[0];
  const one = first ? (await usages(ctx, [first]))[0]! : Number.NaN;
  const fields = first ? await ctx.redis.hlen(first) : 0;
  const encoding = first ? String(await ctx.redis.object('ENCODING', first)) : bucketKeys[0] ? `string (${String(await ctx.redis.object('ENCODING', bucketKeys[0]))})` : '';
  const statusPerEvent = await freedBy(ctx, [...statusKeys, ...bucketKeys], n);
  await sf.close();
  return {
    groups, events: n, statusKeys: statusKeys.length, bucketKeys: bucketKeys.length,
    totalPerEvent: (used1 - used0) / n,
    statusPerEvent,
    restPerEvent: (used1 - used0) / n - statusPerEvent,
    statusKeyUsage: one, statusKeyUsageMean: mean(sizes), statusFields: fields, encoding, complete,
    bucketUsagePerEvent: bucketBytes / n, bucketUsageMean: mean(bucketSizes),
  };
}

/**
 * Bytes per retry, dead letter, idempotency key and delayed event, each from its own run of `k`
 * events on one group: MEMORY USAGE of the key(s) and the used_memory freed by deleting them.
 */
async function breakdown(ctx: BenchContext, k: number): Promise<MemoryBreakdown> {
  const bytes = ctx.config.payloadBytes;
  const prefix = 'bench-mem';
  const keysOf = (topic: string) => ({
    retry: `${prefix}:{${topic}}:retry:svc0`,
    redeliver: `${prefix}:{${topic}}:redeliver:svc0`,
    dlq: `${prefix}:{${topic}}:dlq:svc0`,
    delayed: `${prefix}:{${topic}}:delayed`,
  });

  // Retries waiting for their backoff: every first attempt fails, the retry is due in an hour.
  await flush(ctx);
  let sf = client(ctx, prefix);
  let failed = 0;
  let sub = sf.subscribe('mem-retry', 'svc0', () => { throw new Error('bench: fail once'); }, { concurrency: 200, backoff: { type: 'fixed', delayMs: 3_600_000 } });
  sub.on('failed', () => { failed++; });
  await sub.ready();
  for (let i = 0; i < k; i += 1000) await sf.publishMany('mem-retry', makePayloads(i, Math.min(1000, k - i), bytes));
  await until(ctx, 'retries scheduled', () => failed, k);
  await sf.close();
  const rk = keysOf('mem-retry');
  const retries = await ctx.redis.zcard(rk.retry);
  const retrySet = { usage: (await usages(ctx, [rk.retry]))[0]! / retries, info: await freedBy(ctx, [rk.retry], retries), count: retries };

  // Retry copies in the redelivery stream: the first attempt fails, the retry is due at once and succeeds.
  await flush(ctx);
  sf = client(ctx, prefix);
  let succeeded = 0;
  sub = sf.subscribe('mem-redeliver', 'svc0', (_p, c) => { if (c.attempt === 1) throw new Error('bench: fail once'); }, { concurrency: 200, backoff: { type: 'fixed', delayMs: 0 } });
  sub.on('processed', () => { succeeded++; });
  await sub.ready();
  for (let i = 0; i < k; i += 1000) await sf.publishMany('mem-redeliver', makePayloads(i, Math.min(1000, k - i), bytes));
  await until(ctx, 'retried and succeeded', () => succeeded, k);
  await sf.close();
  const dk = keysOf('mem-redeliver');
  const copies = await ctx.redis.xlen(dk.redeliver);
  const redelivery = { usage: (await usages(ctx, [dk.redeliver]))[0]! / copies, info: await freedBy(ctx, [dk.redeliver], copies), count: copies };

  // Dead letters: every handler gives up at once.
  await flush(ctx);
  sf = client(ctx, prefix);
  let dead = 0;
  sub = sf.subscribe('mem-dlq', 'svc0', (_p, c) => c.deadLetter('bench: give up'), { concurrency: 200 });
  sub.on('deadLettered', () => { dead++; });
  await sub.ready();
  for (let i = 0; i < k; i += 1000) await sf.publishMany('mem-dlq', makePayloads(i, Math.min(1000, k - i), bytes));
  await until(ctx, 'dead-lettered', () => dead, k);
  await sf.close();
  const lk = keysOf('mem-dlq');
  const letters = await ctx.redis.xlen(lk.dlq);
  const deadLetter = { usage: (await usages(ctx, [lk.dlq]))[0]! / letters, info: await freedBy(ctx, [lk.dlq], letters), count: letters };

  // Idempotency keys: publish with a key each (order-<n>, default 24 h window), nobody consuming.
  await flush(ctx);
  sf = client(ctx, prefix);
  for (let i = 0; i < k; i += 1000) {
    await Promise.all(makePayloads(i, Math.min(1000, k - i), bytes).map((p) => sf.publish('mem-idem', p, { idempotencyKey: `order-${p.i}` })));
    ctx.progress.update(`idempotent publishes ${fraction(Math.min(k, i + 1000), k)}`);
  }
  await sf.close();
  const idemKeys = await scanKeys(ctx, `${prefix}:{mem-idem}:idem:*`);
  const idempotency = { usage: mean(await usages(ctx, idemKeys.slice(0, 200))), info: await freedBy(ctx, idemKeys, idemKeys.length), count: idemKeys.length };

  // Delayed events: published an hour ahead; the schedule (sorted set) and one hash per event.
  await flush(ctx);
  sf = client(ctx, prefix);
  const before = await usedMemory(ctx.redis);
  for (let i = 0; i < k; i += 1000) await sf.publishMany('mem-delayed', makePayloads(i, Math.min(1000, k - i), bytes), { delayMs: 3_600_000 });
  await sf.close();
  const after = await usedMemory(ctx.redis);
  const yk = keysOf('mem-delayed');
  const refs = await scanKeys(ctx, `${prefix}:{mem-delayed}:delayed-id:*`);
  const scheduled = await ctx.redis.zcard(yk.delayed);
  const delayed = {
    usage: (await usages(ctx, [yk.delayed]))[0]! / scheduled + mean(await usages(ctx, refs.slice(0, 200))),
    info: (after - before) / scheduled,
    count: scheduled,
  };
  return { events: k, payloadBytes: bytes, retrySet, redelivery, deadLetter, idempotency, delayed };
}

/**
 * Redis memory: per stream entry and per pending entry (INFO used_memory deltas over N entries,
 * MEMORY USAGE of the stream); per published event with 1, 3 and 10 groups, all succeeded,
 * default options (issue 17); and per retry, dead letter, idempotency key and delayed event.
 */
export async function memoryScenario(ctx: BenchContext): Promise<MemoryResult> {
  const c = ctx.config;
  const n = c.memoryEntries;
  ctx.progress.begin(`memory: ${n.toLocaleString('en-US')} entries of ${c.payloadBytes} B`);
  await flush(ctx);
  const prefix = 'bench-memory';
  const sf = client(ctx, prefix);
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

  const perEvent: MemoryPerEvent[] = [];
  for (const groups of c.memoryGroups) {
    ctx.progress.begin(`memory per event: ${c.memoryEvents.toLocaleString('en-US')} events × ${groups} group(s), default options, all succeeded`);
    perEvent.push(await perEventRun(ctx, groups, c.memoryEvents));
  }
  const k = Math.max(50, Math.floor(c.memoryEvents / 4));
  ctx.progress.begin(`memory per retry, dead letter, idempotency key, delayed event (${k.toLocaleString('en-US')} each)`);
  const parts = await breakdown(ctx, k);
  const three = perEvent.find((p) => p.groups === 3) ?? perEvent[perEvent.length - 1];
  return {
    entries: n,
    payloadBytes: c.payloadBytes,
    streamEntry: { info: (used1 - used0) / n, usage: (usage1 - usage0) / n },
    pendingEntry: { info: (used2 - used1) / n, usage: (usage2 - usage1) / n },
    statusHash: { info: three?.statusPerEvent ?? Number.NaN, usage: three?.statusKeyUsageMean ?? Number.NaN, groups: three?.groups ?? 0, keys: three?.statusKeys ?? 0 },
    perEvent,
    breakdown: parts,
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
