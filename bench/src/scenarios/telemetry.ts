import { fork } from 'node:child_process';
import { join } from 'node:path';
import { flush, type BenchContext } from '../context';
import type { TelemetryChildResult, TelemetryVariant } from './telemetry-child';

/**
 * What OpenTelemetry costs a consumer (issue 13): the same fan-out drain (events × groups
 * deliveries, one consumer process) with nothing registered, with a tracer provider sampling
 * every span (and one sampling 1 trace in 100), with the metrics API wired to an SDK, and with both. Each run is a fresh process;
 * the variants alternate round by round so load on the machine hits them alike; the median of
 * the rounds is reported with its ratio to `off`. Two handlers: an empty one (the worst case:
 * the telemetry's cost against streamfan's own per-delivery work alone), and one that makes two
 * JSON round trips of a 2.3 KB document (about 100 µs of CPU here: closer to a handler that does
 * something).
 */
export interface TelemetryCostRow {
  variant: TelemetryVariant;
  /** JSON round trips of a 2.3 KB document each handler made (0: empty handler). */
  work: number;
  events: number;
  /** Median deliveries/s over the rounds. */
  perSec: number;
  /** perSec ÷ the same handler's `off` perSec. */
  ratio: number;
  /** Median CPU µs per delivery of the consumer process. */
  cpuPerDelivery: number;
  /** cpuPerDelivery − `off`'s: what the telemetry adds per delivery, µs. */
  cpuAdded: number;
  /** Every round's deliveries/s, in order. */
  runs: number[];
}

export interface TelemetryCostResult {
  groups: number;
  rounds: number;
  rows: TelemetryCostRow[];
}

const SETS: Array<{ work: number; variants: TelemetryVariant[]; share: number }> = [
  { work: 0, variants: ['off', 'tracing', 'sampled', 'metrics', 'both'], share: 1 },
  { work: 2, variants: ['off', 'both'], share: 0.25 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function runChild(ctx: BenchContext, variant: TelemetryVariant, events: number, work: number, round: number): Promise<TelemetryChildResult> {
  const c = ctx.config;
  const args = [ctx.server.url, `bench-tel-${round}-${variant}-${work}`, String(events), String(c.groups), String(c.streamfanConcurrency), String(c.payloadBytes), variant, String(work)];
  const child = fork(join(__dirname, 'telemetry-child.ts'), args, { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let result: TelemetryChildResult | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('message', (m: { type?: string; result?: TelemetryChildResult }) => { if (m.type === 'telemetry-result') result = m.result; });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (result) resolve(result);
      else reject(new Error(`telemetry bench child (${variant}) exited with code ${code} and no result`));
    });
  });
}

export async function telemetryScenario(ctx: BenchContext): Promise<TelemetryCostResult> {
  const c = ctx.config;
  const events = c.mode === 'smoke' ? 1000 : c.mode === 'full' ? 50_000 : c.events;
  const rounds = c.mode === 'smoke' ? 1 : c.mode === 'full' ? 5 : 3;
  ctx.progress.begin('telemetry cost');
  const runs = new Map<string, TelemetryChildResult[]>();
  for (let round = 0; round < rounds; round++) {
    for (const set of SETS) {
      // Rotate the order each round, so no variant always runs first (or right after another).
      const order = set.variants.map((_, i) => set.variants[(i + round) % set.variants.length]!);
      for (const v of order) {
        ctx.progress.update(`round ${round + 1}/${rounds}, handler work ${set.work}, ${v}`, true);
        await flush(ctx);
        const r = await runChild(ctx, v, Math.max(100, Math.round(events * set.share)), set.work, round);
        const key = `${set.work}/${v}`;
        runs.set(key, [...(runs.get(key) ?? []), r]);
      }
    }
  }
  await flush(ctx);
  const rows: TelemetryCostRow[] = [];
  for (const set of SETS) {
    const off = runs.get(`${set.work}/off`)!;
    const offRate = median(off.map((r) => r.perSec));
    const offCpu = median(off.map((r) => r.cpuPerDelivery));
    for (const v of set.variants) {
      const list = runs.get(`${set.work}/${v}`)!;
      const perSec = median(list.map((r) => r.perSec));
      const cpu = median(list.map((r) => r.cpuPerDelivery));
      rows.push({ variant: v, work: set.work, events: list[0]!.deliveries / c.groups, perSec, ratio: perSec / offRate, cpuPerDelivery: cpu, cpuAdded: cpu - offCpu, runs: list.map((r) => Math.round(r.perSec)) });
    }
  }
  return { groups: c.groups, rounds, rows };
}

const LABEL: Record<TelemetryVariant, string> = {
  off: 'nothing registered',
  tracing: 'tracer registered, sampling every span',
  sampled: 'tracer registered, sampling 1 trace in 100',
  metrics: 'metrics API wired to an SDK',
  both: 'tracing and metrics',
};

/** The report's section. */
export function renderTelemetry(r: TelemetryCostResult): string {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const rows = r.rows.map((v) => `| ${v.work === 0 ? 'empty' : `${v.work} × JSON round trip`} | ${LABEL[v.variant]} | ${n(v.perSec)} | ${v.ratio.toFixed(2)}× | ${v.cpuPerDelivery.toFixed(1)} | ${v.variant === 'off' ? '' : `${v.cpuAdded >= 0 ? '+' : ''}${v.cpuAdded.toFixed(1)}`} | ${v.runs.map(n).join(', ')} |`);
  return [
    '## Telemetry cost',
    '',
    `One consumer process drains a backlog of ${n(r.rows[0]!.events)} events × ${r.groups} groups (concurrency as in the fan-out; ${n(r.rows[r.rows.length - 1]!.events)} events with the handler that works: ${r.rows[r.rows.length - 1]!.work} JSON round trips of a 2.3 KB document, about 50 µs of CPU each on this machine), each run in a fresh process, ${r.rounds} round(s) alternating the variants; medians. Tracing: an SDK tracer provider (AlwaysOnSampler, a batch processor whose exporter drops the spans, the AsyncLocalStorage context manager): a consumer span per delivery, a send span per publishMany call. Metrics: an SDK meter provider read every second.`,
    '',
    '| handler | telemetry | deliveries/s | ÷ nothing registered | consumer CPU µs/delivery | added µs/delivery | every round (deliveries/s) |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
    ...rows,
  ].join('\n');
}
