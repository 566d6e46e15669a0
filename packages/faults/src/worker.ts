/**
 * A worker process of the fault suite: subscribes one consumer to each configured group and
 * records every delivery (sequence number, attempt, consumer) in its own log file before
 * and after the handler's side effect, so the checker can tell what really ran even when
 * this process is killed at any point. Lifecycle events go to the log and to stdout.
 *
 * Run: `node --import tsx packages/faults/src/worker.ts '<WorkerConfig as JSON>'`
 * (the fleet runs an esbuild bundle of this file, which starts faster)
 * (the config may also come from the FAULT_WORKER environment variable).
 * SIGTERM closes the client gracefully (within `shutdownGraceMs`) and exits 0.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { Streamfan, defineTopic, type HandlerContext } from '@streamfan/core';
import type { FaultPayload, HandlerResult, LogRecord, WorkerConfig } from './protocol';

const raw = process.argv[2] ?? process.env.FAULT_WORKER;
if (!raw) {
  process.stderr.write('usage: worker.ts \'<WorkerConfig JSON>\' (or set FAULT_WORKER)\n');
  process.exit(2);
}
const config = JSON.parse(raw) as WorkerConfig;
const fd = openSync(config.log, 'a');

/** Append one record; a synchronous write, so it is in the file before anything else runs. */
function record(r: LogRecord): void {
  writeSync(fd, `${JSON.stringify(r)}\n`);
}

function event(type: string, group: string | undefined, data?: unknown): void {
  const r: LogRecord = { k: 'e', type, consumer: config.consumer, t: Date.now(), ...(group ? { g: group } : {}), ...(data === undefined ? {} : { data }) };
  record(r);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function blockEventLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* busy: nothing else in this process runs */ }
}

let successes = 0;

async function handle(group: string, p: FaultPayload, ctx: HandlerContext): Promise<HandlerResult> {
  const seq = typeof p?.seq === 'number' ? p.seq : -1;
  const base = { k: 'd' as const, g: group, seq, id: ctx.id, attempt: ctx.attempt, consumer: ctx.consumer };
  record({ ...base, o: 'start', t: Date.now() });
  if (p.poison === 'throw' || (p.failAttempts !== undefined && ctx.attempt <= p.failAttempts)) {
    record({ ...base, o: 'fail', t: Date.now() });
    throw new Error(`fault: event ${seq} fails on attempt ${ctx.attempt}`);
  }
  if (p.poison === 'dead') {
    record({ ...base, o: 'fail', t: Date.now() });
    ctx.deadLetter(`fault: event ${seq} is poison`);
  }
  if (p.blockMs !== undefined && ctx.attempt <= (p.blockAttempts ?? 1)) blockEventLoop(p.blockMs);
  if (p.hangMs !== undefined && ctx.attempt <= (p.hangAttempts ?? 1)) await sleep(p.hangMs);
  const work = (config.workMs ?? 0) + Math.random() * (config.workJitterMs ?? 0);
  if (work > 0) await sleep(work);
  // The side effect: once this line is written the event counts as handled.
  record({ ...base, o: 'ok', t: Date.now() });
  successes++;
  if (config.crashAfterSideEffectEvery && successes % config.crashAfterSideEffectEvery === 0) {
    event('crashing', group, { seq, id: ctx.id });
    process.kill(process.pid, 'SIGKILL');
  }
  return { seq, c: ctx.consumer, a: ctx.attempt };
}

const topic = defineTopic<FaultPayload>(config.topic);
const sf = new Streamfan({
  connection: config.url,
  prefix: config.prefix,
  retention: config.retention ? { intervalMs: config.retention.intervalMs, maxLen: config.retention.maxLen, approximate: true } : false,
});
sf.on('error', (e) => event('error', undefined, { message: e.message }));
sf.on('warning', (w) => event('warning', undefined, w));
sf.on('capLoss', (r) => event('capLoss', undefined, r));
sf.on('trimmed', (r) => event('trimmed', undefined, { removed: r.removed, lostToCap: r.lostToCap }));

for (const group of config.groups) {
  const sub = sf.subscribe<FaultPayload, HandlerResult>(topic, group, (p, ctx) => handle(group, p, ctx), {
    consumer: config.consumer,
    startFrom: 'beginning',
    concurrency: config.concurrency ?? 8,
    visibilityTimeoutMs: config.visibilityTimeoutMs ?? 2000,
    ...(config.reclaimIntervalMs ? { reclaimIntervalMs: config.reclaimIntervalMs } : {}),
    maxAttempts: config.maxAttempts ?? 10,
    backoff: { type: 'fixed', delayMs: config.backoffMs ?? 50 },
    blockMs: config.blockMs ?? 1000,
    shutdownGraceMs: config.shutdownGraceMs ?? 5000,
    handlerTimeoutMs: config.handlerTimeoutMs ?? 0,
  });
  sub.on('ready', (i) => event('ready', group, i));
  sub.on('recovered', (i) => event('recovered', group, i));
  sub.on('reclaimed', (i) => event('reclaimed', group, i));
  sub.on('lost', (i) => event('lost', group, i));
  sub.on('leaseLost', (i) => event('leaseLost', group, i));
  sub.on('stale', (i) => event('stale', group, i));
  sub.on('deadLettered', (i) => event('deadLettered', group, i));
  sub.on('disconnected', (i) => event('disconnected', group, i));
  sub.on('reconnected', (i) => event('reconnected', group, i));
  sub.on('error', (e) => event('error', group, { message: e.message }));
  sub.on('closed', (i) => event('closed', group, i));
}

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  event('stopping', undefined);
  void sf.close().finally(() => {
    event('exit', undefined);
    closeSync(fd);
    process.exit(0);
  });
});
process.on('uncaughtException', (err) => {
  event('uncaught', undefined, { message: err.stack ?? String(err) });
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  event('unhandledRejection', undefined, { message: (err as Error)?.stack ?? String(err) });
});
