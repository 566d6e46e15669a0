/**
 * CPU per delivery of one consumer process, streamfan against the floor, on the same backlog:
 * the figure that sets the fan-out's pace when the machine's cores (not Redis' thread) are the
 * bottleneck, and the one a loaded machine distorts least (wall-clock rates move 2–4× across
 * rounds there; CPU per delivery moves by 10–30 %).
 *
 *   pnpm --filter @streamfan/bench exec tsx src/scenarios/consumer-cpu.ts [options]
 *     --url redis://127.0.0.1:6390   a running server (default: a private one is started)
 *     --events 50000 --groups 3 --rounds 5 --concurrency 200 --payload 100
 *     --systems streamfan,floor       alternated round by round
 *     --variant off|tracing|sampled|metrics|both   streamfan's telemetry (telemetry-setup.ts)
 *     --handler sync|async            streamfan's empty handler returns at once, or is an async function
 *     --prof <dir>                    a V8 CPU profile of every consumer process (drain only)
 *     --commands                      Redis commands per delivery (INFO commandstats) of each run
 *   CONSUMER_CPU_NODE_FLAGS='--trace-gc'  more node flags for the consumer process
 *   CONSUMER_CPU_HEAP_PROF=<path>   a sampling heap profile of the drain (every allocation, kept or not)
 *
 * The parent publishes `events` to the topic (publishMany for streamfan, pipelined XADD for the
 * floor, whose groups it creates at 0 first), then forks one consumer process that drains the
 * backlog of events × groups deliveries. The child measures process.cpuUsage() from just before
 * its consumers start to the last ack, the parent Redis' CPU (INFO cpu) over the same drain.
 * Printed per round and as medians, with the ratio streamfan ÷ floor.
 */
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import Redis from 'ioredis';
import { commandDelta, commandStats } from '../context';
import { floorKeys, runFloor } from '../child/floor';
import { Tracker } from '../child/tracker';
import type { ConsumeJob } from '../protocol';
import { makePayloads } from '../payload';
import { Streamfan, startRedis } from '../lib';
import { median } from '../stats';
import { setupTelemetry } from './telemetry-setup';

type System = 'streamfan' | 'floor';

interface ChildResult { system: System; deliveries: number; seconds: number; cpuMicros: number; errors: string[] }

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

/** The child: drain the backlog with one system's consumers, report CPU µs. */
async function child(): Promise<void> {
  const [, , , system, url, prefix, eventsArg, groupsArg, concurrencyArg, variant, handlerKind] = process.argv;
  const events = Number(eventsArg);
  const groups = Array.from({ length: Number(groupsArg) }, (_, i) => `svc${i}`);
  const telemetry = variant && variant !== 'off' ? setupTelemetry(variant) : undefined;
  const u = new URL(url!);
  const job: ConsumeJob = {
    system: system as System, host: u.hostname, port: Number(u.port), prefix: prefix!, topic: 'drain', groups, expected: events,
    concurrency: Number(concurrencyArg), blockMs: 1000, latency: false, trackStatus: true, statusTtlSeconds: 86_400, rssEvery: 0,
  };
  let finish!: () => void;
  const done = new Promise<void>((r) => { finish = r; });
  let cpuAtDone: NodeJS.CpuUsage | undefined;
  let tAtDone = 0;
  const tracker = new Tracker(groups, () => {
    if (!cpuAtDone && tracker.reached(events)) { cpuAtDone = process.cpuUsage(cpu0); tAtDone = performance.now(); finish(); }
  });
  // CONSUMER_CPU_HEAP_PROF=<file>: sample every allocation of the drain (kept or collected), by function.
  const heapProf = process.env.CONSUMER_CPU_HEAP_PROF;
  const session = heapProf ? new (await import('node:inspector')).Session() : undefined;
  const post = (method: string, params?: object): Promise<unknown> => new Promise((resolve, reject) => session!.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  if (session) {
    session.connect();
    await post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let stop: () => Promise<void>;
  if (system === 'floor') {
    stop = await runFloor(job, tracker);
  } else {
    const sf = new Streamfan({ connection: { host: job.host, port: job.port }, prefix: job.prefix, statusTtlSeconds: job.statusTtlSeconds, retention: false });
    for (const group of groups) {
      const sub = sf.subscribe(job.topic, group, handlerKind === 'async' ? async () => undefined : () => undefined, { concurrency: job.concurrency, blockMs: job.blockMs, startFrom: 'beginning' });
      // As the fan-out's child: count a burst of 'processed' once.
      let burst = 0;
      sub.on('processed', () => {
        if (burst++ === 0) queueMicrotask(() => { const n = burst; burst = 0; tracker.settled(group, n); });
      });
      sub.on('error', (err) => tracker.error(group, err.message));
    }
    stop = () => sf.close();
  }
  await done;
  const cpu = cpuAtDone!;
  if (session) {
    const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
    (await import('node:fs')).writeFileSync(`${heapProf}.${system}.heapprofile`, JSON.stringify(profile));
  }
  await stop();
  await telemetry?.shutdown();
  const r: ChildResult = { system: system as System, deliveries: events * groups.length, seconds: (tAtDone - t0) / 1000, cpuMicros: cpu.user + cpu.system, errors: tracker.results().flatMap((g) => g.errors) };
  process.send!({ type: 'drain-result', result: r }, () => process.exit(0));
}

async function redisCpu(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  return (Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1])) * 1e6;
}

async function parent(): Promise<void> {
  const events = Number(arg('events', '50000'));
  const groups = Number(arg('groups', '3'));
  const rounds = Number(arg('rounds', '5'));
  const concurrency = arg('concurrency', '200');
  const payload = Number(arg('payload', '100'));
  const systems = arg('systems', 'streamfan,floor').split(',') as System[];
  const variant = arg('variant', 'off');
  const handlerKind = arg('handler', 'sync');
  const prof = arg('prof', '');
  const verbose = process.argv.includes('--commands');
  let url = arg('url', '');
  const server = url ? undefined : await startRedis();
  if (server) url = server.url;
  const admin = new Redis(url);
  const rows = new Map<System, Array<{ cpu: number; redis: number; perSec: number }>>();
  process.stderr.write(`consumer-cpu: ${events} events × ${groups} groups, ${rounds} rounds, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? systems : [...systems].reverse();
    for (const system of order) {
      await admin.flushall();
      const prefix = `cpu-${system}`;
      const batches = Array.from({ length: Math.ceil(events / 1000) }, (_, i) => makePayloads(i * 1000, Math.min(1000, events - i * 1000), payload));
      if (system === 'floor') {
        const { stream } = floorKeys(prefix, 'drain');
        for (let g = 0; g < groups; g++) await admin.xgroup('CREATE', stream, `svc${g}`, '0', 'MKSTREAM');
        for (const b of batches) {
          const p = admin.pipeline();
          for (const x of b) p.xadd(stream, '*', 'payload', JSON.stringify(x));
          await p.exec();
        }
      } else {
        const sf = new Streamfan({ connection: url, prefix, retention: false });
        for (const b of batches) await sf.publishMany('drain', b);
        await sf.close();
      }
      const execArgv = [...process.execArgv, ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), ...(process.env.CONSUMER_CPU_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
      const cpu0 = await redisCpu(admin);
      const stats0 = await commandStats(admin);
      const r = await new Promise<ChildResult>((resolve, reject) => {
        const c = fork(__filename, ['child', system, url, prefix, String(events), String(groups), concurrency, variant, handlerKind], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        let result: ChildResult | undefined;
        c.on('message', (m: { type?: string; result?: ChildResult }) => { if (m.type === 'drain-result') result = m.result; });
        c.on('exit', (code) => (result ? resolve(result) : reject(new Error(`consumer-cpu child (${system}) exited with code ${code}`))));
      });
      const redis = (await redisCpu(admin)) - cpu0;
      const commands = commandDelta(stats0, await commandStats(admin), r.deliveries).filter((c) => c.command !== 'config' && c.command !== 'flushall');
      const row = { cpu: r.cpuMicros / r.deliveries, redis: redis / r.deliveries, perSec: r.deliveries / r.seconds };
      rows.set(system, [...(rows.get(system) ?? []), row]);
      process.stdout.write(`round ${round + 1} ${system.padEnd(9)} consumer ${row.cpu.toFixed(2).padStart(6)} µs/delivery  redis ${row.redis.toFixed(2).padStart(5)} µs/delivery  ${Math.round(row.perSec).toLocaleString('en-US').padStart(7)}/s${r.errors.length ? `  errors: ${r.errors.join('; ')}` : ''}\n`);
      if (verbose) process.stdout.write(`  calls per delivery: ${commands.map((c) => `${c.command} ${c.calls.toFixed(4)}`).join(', ')}\n`);
    }
  }
  const med = (s: System, k: 'cpu' | 'redis' | 'perSec'): number => median((rows.get(s) ?? []).map((x) => x[k]));
  for (const s of systems) {
    process.stdout.write(`median ${s.padEnd(9)} consumer ${med(s, 'cpu').toFixed(2)} µs (min ${Math.min(...rows.get(s)!.map((x) => x.cpu)).toFixed(2)})  redis ${med(s, 'redis').toFixed(2)} µs  ${Math.round(med(s, 'perSec')).toLocaleString('en-US')}/s\n`);
  }
  if (systems.length === 2) {
    const [a, b] = systems as [System, System];
    const total = (s: System): number => med(s, 'cpu') + med(s, 'redis');
    process.stdout.write(`${a} ÷ ${b}: consumer CPU ${(med(a, 'cpu') / med(b, 'cpu')).toFixed(2)}×, consumer + redis CPU ${(total(a) / total(b)).toFixed(2)}×, deliveries/s ${(med(a, 'perSec') / med(b, 'perSec')).toFixed(2)}×\n`);
  }
  process.stdout.write(`load ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
  admin.disconnect();
  await server?.stop();
}

if (process.argv[2] === 'child') void child().catch((err: unknown) => { process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`); process.exit(1); });
else void parent().catch((err: unknown) => { process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`); process.exit(1); });
