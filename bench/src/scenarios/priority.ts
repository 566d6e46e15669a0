/**
 * `pnpm bench --only priority` (issue 16): priority lanes under a backlog, in this process (one
 * Streamfan client publishes, one subscription consumes; the handler holds its slot `WORK_MS`,
 * a stand-in for real work, so a backlog builds and drains at a known pace).
 *
 * 1. Wait. One group runs (concurrency `CONCURRENCY`) on a topic with lanes `high` and `low`.
 *    A backlog of `low` events is published (10,000; `publishMany` batches of 1,000), then 100
 *    `high` events. Per lane: publish → handler start ("wait"), p50 / p99 / max, and how many low
 *    events were still waiting when the last high one started (the high lane overtook them). The
 *    same run on a plain topic (one lane, same events, same order) is the baseline: there the
 *    100 "high" events wait behind the whole backlog.
 * 2. Starvation guard. Both lanes full before the group starts (`SHARE_EVENTS` each, low first):
 *    while the high lane still has work, the low lane's share of the deliveries that started,
 *    with the default `lowerLaneShare` and with others. Never asserted; measured.
 */
import { now, sleep } from '../clock';
import { flush, type BenchContext } from '../context';
import { fraction } from '../progress';
import { summarize, type LatencySummary } from '../stats';
import { fixed, int, table } from '../table';
import { Streamfan, defineTopic, type SubscribeOptions } from '../lib';

/** Slots of the one consumer. */
const CONCURRENCY = 10;
/** How long each handler holds its slot (a timer: the process stays free to read and ack). */
const WORK_MS = 2;
const LANES = ['high', 'low'] as const;
type Lane = (typeof LANES)[number];
interface Ev { lane: Lane; n: number; t: number }

/** Run 1: one variant (lanes, or the one-lane baseline). */
export interface PriorityWaitRun {
  variant: 'lanes' | 'one lane';
  concurrency: number;
  workMs: number;
  low: number;
  high: number;
  /** publish → handler start of the high events, ms. */
  highWait: LatencySummary;
  /** publish → handler start of the low events, ms. */
  lowWait: LatencySummary;
  /** Low events not yet started when the last high event started. */
  lowLeftAtLastHigh: number;
  /** Low events not yet started when the high events were published (the backlog they faced). */
  lowBacklogAtHighPublish: number;
  seconds: number;
  complete: boolean;
  errors: number;
}

/** Run 2: the low lane's share while the high lane is saturated. */
export interface PriorityShareRun {
  /** The subscribe option; `null`: the default. */
  lowerLaneShare: number | null;
  concurrency: number;
  /** Events waiting in each lane before the group started. */
  perLane: number;
  /** Deliveries that started up to (and with) the last high one: the window in which the high lane had work. */
  window: number;
  lowInWindow: number;
  /** lowInWindow ÷ window. */
  lowShare: number;
  /** Position (1-based) of the first low delivery. */
  firstLowAt: number | null;
  complete: boolean;
  errors: number;
}

export interface PriorityResult {
  wait: PriorityWaitRun[];
  share: PriorityShareRun[];
}

/** Sizes: the issue's 10,000 / 100, smaller in smoke mode. */
function sizes(ctx: BenchContext): { low: number; high: number; shareEvents: number; shares: Array<number | null> } {
  return ctx.config.mode === 'smoke'
    ? { low: 1000, high: 20, shareEvents: 300, shares: [null] }
    : { low: 10_000, high: 100, shareEvents: ctx.config.mode === 'full' ? 5000 : 2000, shares: [null, 0.25, 0.5] };
}

function client(ctx: BenchContext): Streamfan {
  const sf = new Streamfan({ connection: ctx.server.url, prefix: 'bench-priority', retention: false });
  sf.on('error', () => undefined);
  return sf;
}

async function until(done: () => boolean, what: () => string, ctx: BenchContext, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) {
      process.stderr.write(`\n[bench] priority: gave up waiting: ${what()}\n`);
      return false;
    }
    ctx.progress.update(what());
    await sleep(20);
  }
  return true;
}

async function waitRun(ctx: BenchContext, variant: PriorityWaitRun['variant']): Promise<PriorityWaitRun> {
  const { low, high } = sizes(ctx);
  await flush(ctx);
  const sf = client(ctx);
  const topic = variant === 'lanes'
    ? defineTopic<Ev>('priority.wait', { priorities: [...LANES] })
    : defineTopic<Ev>('priority.wait');
  const waits: Record<Lane, number[]> = { high: [], low: [] };
  const seen = new Set<string>();
  let lowStarted = 0;
  let lowLeftAtLastHigh = -1;
  const sub = sf.subscribe(topic, 'svc', async (e) => {
    const key = `${e.lane}${e.n}`;
    if (seen.has(key)) return; // a redelivery (never expected here) counts once
    seen.add(key);
    waits[e.lane].push(now() - e.t);
    if (e.lane === 'low') lowStarted++;
    else if (waits.high.length === high) lowLeftAtLastHigh = low - lowStarted;
    await sleep(WORK_MS);
  }, { concurrency: CONCURRENCY, startFrom: 'latest', trackStatus: true });
  sub.on('error', () => undefined);
  await sub.ready();
  const t0 = now();
  const opts = variant === 'lanes' ? { priority: 'low' } : {};
  for (let i = 0; i < low; i += 1000) {
    const t = now();
    await sf.publishMany(topic, Array.from({ length: Math.min(1000, low - i) }, (_, k) => ({ lane: 'low' as const, n: i + k, t })), opts);
  }
  const lowBacklogAtHighPublish = low - lowStarted;
  const t = now();
  await sf.publishMany(topic, Array.from({ length: high }, (_, n) => ({ lane: 'high' as const, n, t })), variant === 'lanes' ? { priority: 'high' } : {});
  const complete = await until(
    () => seen.size === low + high,
    () => `${variant}: started ${fraction(seen.size, low + high)} (high ${waits.high.length} / ${high})`,
    ctx,
    Math.max(120_000, low * 20),
  );
  const seconds = (now() - t0) / 1000;
  const errors = sub.stats.errors;
  await sub.close();
  await sf.close();
  return {
    variant, concurrency: CONCURRENCY, workMs: WORK_MS, low, high,
    highWait: summarize(waits.high), lowWait: summarize(waits.low),
    lowLeftAtLastHigh, lowBacklogAtHighPublish, seconds: Math.round(seconds * 100) / 100, complete, errors,
  };
}

async function shareRun(ctx: BenchContext, lowerLaneShare: number | null): Promise<PriorityShareRun> {
  const { shareEvents } = sizes(ctx);
  await flush(ctx);
  const sf = client(ctx);
  const topic = defineTopic<Ev>('priority.share', { priorities: [...LANES] });
  // Both lanes full before the group exists: from its first read on, the high lane has work.
  for (const lane of ['low', 'high'] as const) {
    for (let i = 0; i < shareEvents; i += 1000) {
      const t = now();
      await sf.publishMany(topic, Array.from({ length: Math.min(1000, shareEvents - i) }, (_, k) => ({ lane, n: i + k, t })), { priority: lane });
    }
  }
  const order: Lane[] = [];
  const seen = new Set<string>();
  let highStarted = 0;
  let window = 0;
  const options = { concurrency: CONCURRENCY, startFrom: 'beginning', ...(lowerLaneShare === null ? {} : { lowerLaneShare }) } as SubscribeOptions;
  const sub = sf.subscribe(topic, 'svc', async (e) => {
    const key = `${e.lane}${e.n}`;
    if (seen.has(key)) return;
    seen.add(key);
    order.push(e.lane);
    if (e.lane === 'high' && ++highStarted === shareEvents) window = order.length;
    await sleep(WORK_MS);
  }, options);
  sub.on('error', () => undefined);
  const complete = await until(
    () => seen.size === 2 * shareEvents,
    () => `lowerLaneShare ${lowerLaneShare ?? 'default'}: started ${fraction(seen.size, 2 * shareEvents)}`,
    ctx,
    Math.max(120_000, shareEvents * 40),
  );
  const errors = sub.stats.errors;
  await sub.close();
  await sf.close();
  const inWindow = order.slice(0, window);
  const lowInWindow = inWindow.filter((l) => l === 'low').length;
  const firstLow = order.indexOf('low');
  return {
    lowerLaneShare, concurrency: CONCURRENCY, perLane: shareEvents, window, lowInWindow,
    lowShare: window > 0 ? Math.round((lowInWindow / window) * 10_000) / 10_000 : Number.NaN,
    firstLowAt: firstLow < 0 ? null : firstLow + 1, complete, errors,
  };
}

/** Both parts; the table goes to stderr (and the figures into the results JSON as `priority`). */
export async function priorityScenario(ctx: BenchContext): Promise<PriorityResult> {
  const { low, high, shareEvents, shares } = sizes(ctx);
  const wait: PriorityWaitRun[] = [];
  for (const variant of ['lanes', 'one lane'] as const) {
    ctx.progress.begin(`priority: ${int(low)} low events, then ${high} high, ${variant === 'lanes' ? 'lanes high, low' : 'one lane (baseline)'}; concurrency ${CONCURRENCY}, handler ${WORK_MS} ms`);
    wait.push(await waitRun(ctx, variant));
  }
  const share: PriorityShareRun[] = [];
  for (const s of shares) {
    ctx.progress.begin(`priority: starvation guard, ${int(shareEvents)} high + ${int(shareEvents)} low waiting, lowerLaneShare ${s ?? 'default'}`);
    share.push(await shareRun(ctx, s));
  }
  ctx.progress.clear();
  const result = { wait, share };
  process.stderr.write(`\n${renderPriority(result)}\n`);
  return result;
}

/** The scenario's tables, Markdown. */
export function renderPriority(r: PriorityResult): string {
  const w = r.wait[0];
  const s = r.share[0];
  return [
    `### Priority lanes: ${w ? `${int(w.low)} low events, then ${w.high} high; one group, concurrency ${w.concurrency}, handler ${w.workMs} ms` : ''}`,
    '',
    table(
      ['topic', 'high p50 / p99 / max wait (ms)', 'low p50 / p99 / max wait (ms)', 'high p99 ÷ low p99', 'low backlog when high published', 'low still waiting at last high start', 'seconds', 'complete, errors'],
      r.wait.map((x) => [
        x.variant,
        `${fixed(x.highWait.p50, 1)} / ${fixed(x.highWait.p99, 1)} / ${fixed(x.highWait.max, 1)}`,
        `${fixed(x.lowWait.p50, 1)} / ${fixed(x.lowWait.p99, 1)} / ${fixed(x.lowWait.max, 1)}`,
        fixed(x.highWait.p99 / x.lowWait.p99, 3),
        int(x.lowBacklogAtHighPublish),
        int(x.lowLeftAtLastHigh),
        fixed(x.seconds, 2),
        `${x.complete ? 'yes' : 'NO'}, ${x.errors}`,
      ]),
      [false, true, true, true, true, true, true, false],
    ),
    '',
    `Starvation guard: ${s ? `${int(s.perLane)} high and ${int(s.perLane)} low events waiting when the group starts (concurrency ${s.concurrency})` : ''}; the low lane's share of the deliveries that started while the high lane had work`,
    '',
    table(
      ['lowerLaneShare', 'deliveries while high had work', 'of them low', 'low share', 'first low delivery at', 'complete, errors'],
      r.share.map((x) => [
        x.lowerLaneShare === null ? 'default' : String(x.lowerLaneShare),
        int(x.window),
        int(x.lowInWindow),
        `${fixed(x.lowShare * 100, 1)} %`,
        x.firstLowAt === null ? '-' : `#${x.firstLowAt}`,
        `${x.complete ? 'yes' : 'NO'}, ${x.errors}`,
      ]),
      [false, true, true, true, true, false],
    ),
  ].join('\n');
}
