/**
 * One run of the telemetry-cost scenario, in a process of its own (forked by telemetry.ts with
 * the tsx loader), so each variant starts with nothing registered and the same JIT state.
 *
 * argv: url prefix events groups concurrency payloadBytes variant work
 * variant: off (nothing registered) | tracing (an SDK tracer provider sampling everything, spans
 * batched to an exporter that drops them, the AsyncLocalStorage context manager) | metrics (an
 * SDK meter provider read every second by an exporter that drops the data) | both | sampled (as
 * tracing, sampling 1 trace in 100).
 *
 * It publishes `events` (publishMany, 1,000 a call, inside the variant: traced publishes), then
 * subscribes `groups` groups from the beginning and measures the drain: deliveries/s from the
 * first subscribe() to the last `processed`, and this process's CPU µs per delivery. The result
 * goes to the parent over IPC. With work > 0 each handler makes that many JSON round trips of a
 * 2.3 KB document (work of its own, about 50 µs of CPU each here), against which the telemetry's
 * cost is measured too.
 */
import { Streamfan, defineTopic } from '../lib';
import { setupTelemetry, type TelemetryVariant } from './telemetry-setup';

export type { TelemetryVariant } from './telemetry-setup';

export interface TelemetryChildResult {
  variant: TelemetryVariant;
  work: number;
  deliveries: number;
  seconds: number;
  perSec: number;
  /** CPU time of this (the consumer's) process per delivery, µs. */
  cpuPerDelivery: number;
  /** Spans the SDK ended (tracing variants). */
  spans: number;
}

const [url, prefix, eventsArg, groupsArg, concurrencyArg, payloadArg, variantArg, workArg] = process.argv.slice(2);
/** JSON round trips of a 2.3 KB document each handler makes (0: an empty handler, the worst case for relative overhead). */
const work = Number(workArg ?? 0);
const events = Number(eventsArg);
const groups = Number(groupsArg);
const variant = variantArg as TelemetryVariant;
const telemetry = setupTelemetry(variant);

/** A handler's own work, a fixed amount of CPU whatever the load: `n` JSON round trips of a 2.3 KB order. */
const ORDER = { items: Array.from({ length: 40 }, (_, i) => ({ id: `item-${i}`, qty: i, price: i * 1.5, tags: ['a', 'b', 'c'] })) };
let sink = 0;
function busy(n: number): void {
  for (let i = 0; i < n; i++) sink += (JSON.parse(JSON.stringify(ORDER)) as typeof ORDER).items.length;
}

async function run(): Promise<TelemetryChildResult> {
  const sf = new Streamfan({ connection: url!, prefix: prefix!, retention: false });
  const topic = defineTopic<{ n: number; pad: string }>('telemetry.cost');
  const pad = 'x'.repeat(Number(payloadArg));
  for (let i = 0; i < events; i += 1000) {
    await sf.publishMany(topic, Array.from({ length: Math.min(1000, events - i) }, (_, j) => ({ n: i + j, pad })));
  }
  const total = events * groups;
  let processed = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => { finish = r; });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let g = 0; g < groups; g++) {
    const sub = sf.subscribe(topic, `g${g}`, () => { if (work > 0) busy(work); }, { startFrom: 'beginning', concurrency: Number(concurrencyArg), blockMs: 1000 });
    sub.on('processed', () => { if (++processed === total) finish(); });
  }
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await sf.close();
  if (sink < 0) process.stderr.write('');
  await telemetry.shutdown();
  return { variant, work, deliveries: total, seconds, perSec: total / seconds, cpuPerDelivery: (cpu.user + cpu.system) / total, spans: telemetry.spans() };
}

run().then((r) => {
  process.send!({ type: 'telemetry-result', result: r }, () => process.exit(0));
}, (err: unknown) => {
  process.stderr.write(`telemetry bench child failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
