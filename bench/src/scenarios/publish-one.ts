/**
 * One publish at a time, as the latency scenario's producer makes them: what a single
 * `sf.publish` costs the publishing process (CPU µs per call) and how long it takes to come back
 * (call → reply, ms), against the floor's single XADD, alternating round by round, on a private
 * redis-server. The latency scenario's publish → handler time includes this.
 *
 *   pnpm --filter @streamfan/bench exec tsx src/scenarios/publish-one.ts [calls per round] [rounds] [systems]
 *
 * `systems`: a comma-separated subset of streamfan, sf-by-name (a publish by topic name, as the
 * latency scenario makes them) and floor (e.g. one system alone under `node --cpu-prof`).
 */
import Redis from 'ioredis';
import { Streamfan, defineTopic, startRedis } from '../lib';
import { now } from '../clock';
import { summarize } from '../stats';

const calls = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 3);
const only = process.argv[4]?.split(',');

void (async () => {
  const server = await startRedis({ args: ['--save', '', '--appendonly', 'no'] });
  const sf = new Streamfan({ connection: server.url, prefix: 'p1', retention: false });
  const topic = defineTopic<{ t: number; p: string }>('one');
  const r = new Redis(server.url);
  const p = 'x'.repeat(100);
  const systems: Record<string, (x: { t: number; p: string }) => Promise<unknown>> = {
    streamfan: (x) => sf.publish(topic, x),
    // By name, as the latency scenario's publisher calls it (publishers.ts).
    'sf-by-name': (x) => sf.publish('one', x),
    floor: (x) => r.xadd('p1:{one}:floor', '*', 'payload', JSON.stringify(x)),
  };
  for (const name of Object.keys(systems)) if (only && !only.includes(name)) delete systems[name];
  for (const f of Object.values(systems)) for (let i = 0; i < 2000; i++) await f({ t: now(), p }); // warm-up
  const out: Record<string, { cpu: number[]; p50: number[]; p99: number[] }> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [name, f] of Object.entries(systems)) {
      const rtt: number[] = [];
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < calls; i++) {
        const t = now();
        await f({ t, p });
        rtt.push(now() - t);
      }
      const cpu = process.cpuUsage(cpu0);
      const s = summarize(rtt);
      const o = (out[name] ??= { cpu: [], p50: [], p99: [] });
      o.cpu.push((cpu.user + cpu.system) / calls); o.p50.push(s.p50); o.p99.push(s.p99);
    }
  }
  for (const [name, o] of Object.entries(out)) {
    process.stdout.write(`${name.padEnd(11)} CPU µs/call ${o.cpu.map((x) => x.toFixed(1)).join(', ')}; call → reply p50 ms ${o.p50.map((x) => x.toFixed(3)).join(', ')}; p99 ${o.p99.map((x) => x.toFixed(2)).join(', ')}\n`);
  }
  await sf.close(); r.disconnect(); await server.stop();
})();
