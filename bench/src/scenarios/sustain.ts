import { now, sleep } from '../clock';
import { flush, type BenchContext } from '../context';
import { makePayloads } from '../payload';
import { fraction } from '../progress';
import { createPublisher } from '../publishers';
import { fixed, int, table } from '../table';
import { groupNames } from './fanout';

/** Most events the publisher may be ahead of the slowest group: the stream's unavoidable part. */
const WINDOW = 20_000;

/** One sample of the stream while the load runs: its length, and how much of it the slowest group still needs. */
export interface SustainSample { second: number; length: number; behind: number }

/**
 * Entries the slowest group still needs: its lag (not yet delivered) plus its pending entries,
 * from XINFO GROUPS (Redis 7); where Redis cannot tell the lag, the publisher's count instead.
 */
async function slowestBehind(ctx: BenchContext, stream: string, fallback: number): Promise<number> {
  const rows = (await ctx.redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
  let worst = 0;
  for (const row of rows) {
    const g: Record<string, unknown> = {};
    for (let i = 0; i + 1 < row.length; i += 2) g[String(row[i])] = row[i + 1];
    const lag = g.lag === null || g.lag === undefined ? Number.NaN : Number(g.lag);
    worst = Math.max(worst, (Number.isFinite(lag) ? lag : fallback) + Number(g.pending ?? 0));
  }
  return worst;
}

/** A topic under sustained load with the consumers' own timed retention (default options, a short interval). */
export interface SustainResult {
  seconds: number;
  groups: number;
  retentionIntervalMs: number;
  published: number;
  publishPerSec: number;
  /** Longest the stream got. */
  maxLength: number;
  /** Most entries the slowest group still needed (its lag plus its pending entries), when sampled. */
  maxBehind: number;
  /**
   * Most entries every group was done with and still in the stream (length − what the slowest group needs):
   * retention's share of the length. Also per half of the run: equal halves, bounded; a
   * larger second half, growing.
   */
  maxDoneKept: number;
  maxDoneKeptFirstHalf: number;
  maxDoneKeptSecondHalf: number;
  /**
   * The bound retention should hold that share to: one interval of publishing, plus what the
   * slowest group still needed at the previous run (at most the window).
   */
  expectedBound: number;
  /** Length once the groups caught up and one more retention run passed. */
  finalLength: number;
  /** Retention runs seen (each takes the topic's lock with a new token), over all consumer processes. */
  retentionRuns: number;
  samples: SustainSample[];
  complete: boolean;
}

/**
 * Publish as fast as the consumers keep up (batches of 1000, at most {@link WINDOW} events ahead
 * of the groups) for `sustainSeconds`, with retention on in every consumer process (default
 * options: approximate, no cap; interval `sustainRetentionMs`). Samples the stream's length
 * four times a second. Retention that keeps up holds it near one interval of publishing.
 */
export async function sustainScenario(ctx: BenchContext): Promise<SustainResult> {
  const c = ctx.config;
  const seconds = c.sustainSeconds;
  const intervalMs = c.sustainRetentionMs;
  ctx.progress.begin(`sustained load: ${seconds} s at full rate, ${c.groups} groups, retention every ${intervalMs} ms`);
  await flush(ctx);
  const prefix = 'bench-sustain';
  const topic = 'sustain';
  const stream = `${prefix}:{${topic}}:stream`;
  const lock = `${prefix}:{${topic}}:retention-lock`;
  const groups = groupNames(c.groups);
  const run = await ctx.pool.start({
    system: 'streamfan', host: ctx.server.host, port: ctx.server.port, prefix, topic, expected: 0,
    concurrency: c.streamfanConcurrency, blockMs: c.blockMs, latency: false, trackStatus: true, statusTtlSeconds: 30,
    rssEvery: 0, retention: { intervalMs },
  }, groups);
  const pub = await createPublisher(ctx, 'streamfan', prefix, topic, groups);
  const t0 = now();
  let published = 0;
  const samples: SustainSample[] = [];
  const tokens = new Set<string>();
  let sampling = false;
  const sample = async (): Promise<void> => {
    if (sampling) return;
    sampling = true;
    try {
      const [length, token, behind] = await Promise.all([ctx.redis.xlen(stream), ctx.redis.get(lock),
        slowestBehind(ctx, stream, published - Math.floor(run.delivered() / groups.length))]);
      if (token) tokens.add(token);
      samples.push({ second: (now() - t0) / 1000, length, behind });
    } finally {
      sampling = false;
    }
  };
  const sampler = setInterval(() => { void sample(); }, 250);
  const until = t0 + seconds * 1000;
  while (now() < until) {
    const slowest = samples[samples.length - 1]?.behind ?? 0;
    if (published - run.delivered() / groups.length > WINDOW || slowest > WINDOW) {
      await sleep(2);
      continue;
    }
    await pub.batch(makePayloads(published, 1000, c.payloadBytes));
    published += 1000;
    const last = samples[samples.length - 1];
    ctx.progress.update(`${fixed((now() - t0) / 1000, 0)}/${seconds} s: published ${int(published)}, stream length ${int(last?.length ?? 0)}, retention runs ${tokens.size}`);
  }
  const publishSeconds = (now() - t0) / 1000;
  const loadSamples = samples.slice();
  // Let the groups catch up, then one more retention interval: the stream shrinks to about a node.
  const caughtUp = now() + 60_000;
  while (run.delivered() < published * groups.length && now() < caughtUp) {
    ctx.progress.update(`catching up: delivered ${fraction(run.delivered(), published * groups.length)}`);
    await sleep(50);
  }
  const complete = run.delivered() >= published * groups.length;
  await sleep(intervalMs + 500);
  await sample();
  clearInterval(sampler);
  const finalLength = await ctx.redis.xlen(stream);
  await pub.close();
  await run.finish(1);
  const half = publishSeconds / 2;
  const doneKept = (list: SustainSample[]) => list.reduce((m, s) => Math.max(m, s.length - s.behind), 0);
  const publishPerSec = published / publishSeconds;
  // At most ~20 samples in the report: one per stretch of the run.
  const step = Math.max(1, Math.ceil(loadSamples.length / 20));
  return {
    seconds: publishSeconds,
    groups: groups.length,
    retentionIntervalMs: intervalMs,
    published,
    publishPerSec,
    maxLength: loadSamples.reduce((m, s) => Math.max(m, s.length), 0),
    maxBehind: loadSamples.reduce((m, s) => Math.max(m, s.behind), 0),
    maxDoneKept: doneKept(loadSamples),
    maxDoneKeptFirstHalf: doneKept(loadSamples.filter((s) => s.second < half)),
    maxDoneKeptSecondHalf: doneKept(loadSamples.filter((s) => s.second >= half)),
    expectedBound: Math.round(publishPerSec * (intervalMs / 1000) + WINDOW),
    finalLength,
    retentionRuns: tokens.size,
    samples: loadSamples.filter((_, i) => i % step === 0),
    complete,
  };
}

/** The scenario's section of the Markdown report. */
export function renderSustain(x: SustainResult): string {
  // Bounded: the done-but-kept share stays within the bound (with room for a late timer) and
  // does not grow from one half of the run to the next.
  const bounded = x.maxDoneKept <= 1.5 * x.expectedBound && x.maxDoneKeptSecondHalf <= 1.5 * x.maxDoneKeptFirstHalf + 1000;
  const head = `## Sustained load and retention\n\n${fixed(x.seconds, 0)} s of publishing as fast as ${x.groups} groups keep up (batches of 1000, at most ${int(WINDOW)} events ahead), ${int(x.publishPerSec)} events/s, ${int(x.published)} events${x.complete ? '' : ' (the groups did not catch up)'}. Retention runs in every consumer process with the default options (approximate, no cap) every ${int(x.retentionIntervalMs)} ms; the per-topic lock let ${int(x.retentionRuns)} runs through. Stream length: at most **${int(x.maxLength)}** (entries the slowest group still needed: at most ${int(x.maxBehind)}). Entries every group was done with and still kept: at most ${int(x.maxDoneKept)} (first half ${int(x.maxDoneKeptFirstHalf)}, second half ${int(x.maxDoneKeptSecondHalf)}; bound: one interval of publishing plus the window, ${int(x.expectedBound)}): **${bounded ? 'bounded' : 'GROWING'}**. After the groups caught up and one more run: ${int(x.finalLength)} entries.`;
  return `${head}\n\n${table(['second', 'stream length', 'needed by the slowest group', 'done and kept'], x.samples.map((s) => [fixed(s.second, 1), int(s.length), int(s.behind), int(s.length - s.behind)]), [true, true, true, true])}`;
}
