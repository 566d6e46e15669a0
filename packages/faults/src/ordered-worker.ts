/**
 * A worker process for the ordered-partition faults (14–17): one consumer of one group
 * with `ordering: 'key'` (or unordered) on a partitioned topic. Its handler sleeps a random
 * time, fails a share of its attempts, and appends one line when it starts and one when it
 * ends (synchronous writes, so a SIGKILL leaves at most a start without an end). Times are the
 * wall clock of this machine (`Date.now()`), the one clock every process of the test shares.
 *
 * Run: `node <bundle> '<OrderedWorkerConfig as JSON>'`. SIGTERM closes gracefully and exits 0.
 */
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { Streamfan, defineTopic, type HandlerContext } from '@streamfan/core';
import type { KeyedPayload, OrderedRecord, OrderedWorkerConfig } from './ordered-protocol';

const raw = process.argv[2];
if (!raw) {
  process.stderr.write('usage: ordered-worker.ts \'<OrderedWorkerConfig JSON>\'\n');
  process.exit(2);
}
{
  const config = JSON.parse(raw) as OrderedWorkerConfig;
  const fd = openSync(config.log, 'a');
  const record = (r: OrderedRecord) => writeSync(fd, `${JSON.stringify(r)}\n`);
  const event = (type: string, data?: unknown) => {
    const r: OrderedRecord = { k: 'ev', type, consumer: config.consumer, t: Date.now(), ...(data === undefined ? {} : { data }) };
    record(r);
    process.stdout.write(`${JSON.stringify(r)}\n`);
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const topic = defineTopic<KeyedPayload>(config.topic, { partitions: config.partitions });
  const sf = new Streamfan({ connection: config.cluster ? { cluster: config.cluster } : config.url, prefix: config.prefix, retention: false });
  sf.on('error', (e) => event('error', { message: e.message }));
  const handler = async (p: KeyedPayload, ctx: HandlerContext) => {
    const base = { key: p.key, seq: p.seq, id: ctx.id, attempt: ctx.attempt, consumer: config.consumer };
    record({ k: 's', ...base, token: ctx.fencingToken ?? 0, partition: ctx.partition ?? -1, t: Date.now() });
    await sleep(Math.random() * config.maxLatencyMs);
    if (p.poison && !(config.healFile && existsSync(config.healFile) && readFileSync(config.healFile, 'utf8').split('\n').includes(`${p.key}#${p.seq}`))) {
      record({ k: 'e', ...base, ok: false, t: Date.now() });
      ctx.deadLetter(`poison ${p.key}#${p.seq}`);
    }
    const ok = Math.random() >= config.failRate;
    record({ k: 'e', ...base, ok, t: Date.now() });
    if (!ok) throw new Error(`transient failure of ${p.key}#${p.seq}, attempt ${ctx.attempt}`);
    return { seq: p.seq };
  };
  const sub = sf.subscribe<KeyedPayload>(topic, config.group, handler, {
    consumer: config.consumer,
    startFrom: 'beginning',
    ordering: config.ordering,
    ...(config.ordering === 'key' && config.afterDeadLetter ? { afterDeadLetter: config.afterDeadLetter } : {}),
    leaseMs: config.leaseMs,
    concurrency: config.concurrency,
    maxAttempts: config.maxAttempts,
    backoff: { type: 'fixed', delayMs: config.backoffMs },
    blockMs: config.blockMs ?? 200,
    shutdownGraceMs: 5000,
  });
  sub.on('ready', () => event('ready'));
  for (const type of ['stale', 'lost', 'deadLettered', 'recovered'] as const) {
    sub.on(type, (e: unknown) => event(type, e));
  }
  sub.on('error', (e) => event('error', { message: e.message }));

  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    event('stopping');
    void sf.close().finally(() => {
      event('exit');
      closeSync(fd);
      process.exit(0);
    });
  });
  process.on('uncaughtException', (err) => {
    event('uncaught', { message: err.stack ?? String(err) });
    process.exit(1);
  });
}
