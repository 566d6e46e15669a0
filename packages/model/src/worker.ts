/**
 * A worker process of the model test: one consumer per group, handlers that behave as the
 * event's plan says (see {@link Plan}), every invocation recorded with a synchronous append
 * (start, then ok / fail / dead) so the record survives any kill. Lifecycle events and stalls
 * of this process's event loop (SIGSTOP, a blocking handler, an overloaded machine) are
 * recorded too: they are what excuses a lease taken from a live handler.
 *
 * Run: `node <bundle> '<ModelWorkerConfig JSON>'`. SIGTERM closes gracefully and exits 0.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { Streamfan, defineTopic, type HandlerContext } from '@streamfan/core';
import { now, type ModelLogRecord, type ModelPayload, type ModelResult, type ModelWorkerConfig, type Plan } from './protocol';

const config = JSON.parse(process.argv[2] ?? '') as ModelWorkerConfig;
const fd = openSync(config.log, 'a');
const record = (r: ModelLogRecord): void => { writeSync(fd, `${JSON.stringify(r)}\n`); };
function event(type: string, group: string | undefined, data?: unknown): void {
  const r: ModelLogRecord = { k: 'e', type, consumer: config.consumer, t: now(), ...(group ? { g: group } : {}), ...(data === undefined ? {} : { data }) };
  record(r);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

// Stall detector: a tick late by more than STALL_MS means nothing in this process ran meanwhile.
const TICK_MS = 100;
const STALL_MS = 300;
let lastTick = now();
setInterval(() => {
  const t = now();
  if (t - lastTick > TICK_MS + STALL_MS) record({ k: 'e', type: 'stall', consumer: config.consumer, t, data: { from: lastTick, to: t } });
  lastTick = t;
}, TICK_MS).unref();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function healed(group: string, seq: number): boolean {
  try { return readFileSync(config.healFile, 'utf8').split('\n').includes(`${group}:${seq}`); } catch { return false; }
}

async function handle(group: string, payload: ModelPayload, ctx: HandlerContext): Promise<ModelResult> {
  const seq = typeof payload?.seq === 'number' ? payload.seq : -1;
  const base = { k: 'd' as const, g: group, seq, id: ctx.id, attempt: ctx.attempt, consumer: ctx.consumer };
  record({ ...base, o: 'start', t: now() });
  const plan: Plan = payload?.p?.[group] ?? { k: 'ok' };
  const fail = (): never => {
    record({ ...base, o: 'fail', t: now() });
    throw new Error(`model: seq ${seq} fails in ${group} on attempt ${ctx.attempt} (${plan.k})`);
  };
  switch (plan.k) {
    case 'poison': fail(); break;
    case 'fail': if (ctx.attempt <= plan.n) fail(); break;
    case 'heal': if (!healed(group, seq)) fail(); break;
    case 'dead':
      record({ ...base, o: 'dead', t: now() });
      ctx.deadLetter(`model: seq ${seq} is dead in ${group}`);
      break;
    case 'slow': await sleep(plan.ms); break;
    case 'hang': if (ctx.attempt === 1) await sleep(plan.ms); break;
    case 'stuck': if (ctx.attempt === 1) await sleep(plan.ms); break;
    case 'block': if (ctx.attempt === 1) { const end = Date.now() + plan.ms; while (Date.now() < end) { /* stall the process */ } } break;
    default: break;
  }
  record({ ...base, o: 'ok', t: now() });
  return { seq, c: ctx.consumer, a: ctx.attempt };
}

const topic = defineTopic<ModelPayload>(config.topic);
const sf = new Streamfan({ connection: config.url, prefix: config.prefix, retention: config.retentionIntervalMs ? { intervalMs: config.retentionIntervalMs, minAgeMs: config.retentionMinAgeMs } : false });
sf.on('error', (e) => event('error', undefined, { message: e.message }));
sf.on('warning', (w) => event('warning', undefined, w));
sf.on('capLoss', (r) => event('capLoss', undefined, { lostToCap: r.lostToCap }));

for (const group of [...config.groups, ...(config.lateGroups ?? [])]) {
  const late = config.lateGroups?.includes(group) ?? false;
  if (late) event('subscribing', group);
  const sub = sf.subscribe<ModelPayload, ModelResult>(topic, group, (p, ctx) => handle(group, p, ctx), {
    consumer: config.consumer,
    startFrom: late ? 'latest' : 'beginning',
    concurrency: config.concurrency,
    visibilityTimeoutMs: config.visibilityTimeoutMs,
    reclaimIntervalMs: config.reclaimIntervalMs,
    maxAttempts: config.maxAttempts,
    backoff: { type: 'fixed', delayMs: config.backoffMs },
    blockMs: config.blockMs,
    shutdownGraceMs: config.shutdownGraceMs,
    handlerTimeoutMs: config.handlerTimeoutMs,
  });
  for (const type of ['ready', 'recovered', 'reclaimed', 'lost', 'leaseLost', 'stale', 'deadLettered', 'disconnected', 'reconnected', 'closed'] as const) {
    sub.on(type, (info: unknown) => event(type, group, info));
  }
  sub.on('error', (e) => event('error', group, { message: e.message }));
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
process.on('uncaughtException', (err) => { event('uncaught', undefined, { message: err.stack ?? String(err) }); process.exit(1); });
process.on('unhandledRejection', (err) => { event('unhandledRejection', undefined, { message: (err as Error)?.stack ?? String(err) }); });
