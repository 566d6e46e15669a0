import type { BenchResults, FanoutResult } from './results';
import { renderTelemetry } from './scenarios/telemetry';
import { renderSustain } from './scenarios/sustain';
import { fixed, int, ratio, table } from './table';

/** One target of the issue, measured in this run. */
export interface Target { name: string; value: number; goal: string; met: boolean }

/** The targets, computed from one run's results. */
export function targets(r: BenchResults): Target[] {
  const fan = (s: string) => r.fanout.find((f) => f.system === s)?.deliveriesPerSec ?? Number.NaN;
  const pub = (prefix: string) => r.publish.find((p) => p.method.startsWith(prefix))?.perSec ?? Number.NaN;
  const p99 = (s: string, rate: number) => r.latency.find((l) => l.system === s && l.rate === rate)?.summary.p99 ?? Number.NaN;
  const out: Target[] = [];
  const push = (name: string, value: number, goal: string, ok: (v: number) => boolean): void => {
    out.push({ name, value, goal, met: Number.isFinite(value) && ok(value) });
  };
  const ran = (s: string) => r.fanout.some((f) => f.system === s);
  if (ran('streamfan') && ran('floor')) {
    push('streamfan fan-out deliveries/s ÷ floor', fan('streamfan') / fan('floor'), '≥ 1.0×', (v) => v >= 1.0);
    push('streamfan fan-out deliveries/s ÷ floor (issue 11)', fan('streamfan') / fan('floor'), '≥ 1.3×', (v) => v >= 1.3);
  }
  if (ran('streamfan') && ran('bullmq')) push('streamfan fan-out deliveries/s ÷ BullMQ', fan('streamfan') / fan('bullmq'), '≥ 5×', (v) => v >= 5);
  if (r.publish.length) push('publishMany events/s ÷ floor pipelined XADD', pub('streamfan publishMany') / pub('floor'), '≥ 0.8×', (v) => v >= 0.8);
  if (r.latency.some((l) => l.rate === 500 && l.system === 'streamfan') && r.latency.some((l) => l.rate === 500 && l.system === 'floor')) {
    push('p99 latency at 500/s: streamfan ÷ floor', p99('streamfan', 500) / p99('floor', 500), '≤ 1.5×', (v) => v <= 1.5);
  }
  const three = r.memory?.perEvent.find((p) => p.groups === 3);
  if (three) push('Redis bytes per event, 3 groups, all succeeded (issue 17)', three.totalPerEvent, '≤ 200 B', (v) => v <= 200);
  return out;
}

const systemName: Record<string, string> = { streamfan: 'streamfan', floor: 'floor (hand-written ioredis)', bullmq: 'BullMQ' };

function consumerSetting(f: FanoutResult): string {
  if (f.system === 'floor') return `XREADGROUP COUNT ${f.concurrency}`;
  return `concurrency ${f.concurrency}`;
}

function incomplete(f: { complete: boolean }): string {
  return f.complete ? '' : ' (incomplete)';
}

function scaleRows(list: FanoutResult[], key: (f: FanoutResult) => string): string[][] {
  return list.map((f) => [key(f), String(f.processes), int(f.events), int(f.deliveriesPerSec) + incomplete(f), int(f.publishPerSec), fixed(f.seconds), fixed(f.redisCpuPerDelivery, 1), fixed(f.consumerCpuPerDelivery, 1)]);
}

/** The whole run as Markdown (also printed on the terminal). */
export function renderMarkdown(r: BenchResults): string {
  const m = r.machine;
  const c = r.config;
  const floorFan = r.fanout.find((f) => f.system === 'floor')?.deliveriesPerSec ?? Number.NaN;
  const floorPub = r.publish.find((p) => p.method.startsWith('floor'))?.perSec ?? Number.NaN;
  const parts: string[] = [];
  parts.push(`# streamfan benchmark (${r.mode} mode)`);
  parts.push([
    `- Date: ${r.date}; the run took ${fixed(r.durationSeconds / 60, 1)} min.`,
    `- Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.os}; load average ${m.loadStart} at the start, ${m.loadEnd} at the end.`,
    `- Node ${m.node}, Redis ${m.redis} (one private redis-server, no persistence), BullMQ ${m.bullmq}, ioredis ${m.ioredis}.`,
    `- Consumers run in their own processes (one per group, at most ${c.maxProcesses}); the publisher runs in the parent process.`,
  ].join('\n'));

  parts.push('## Targets');
  parts.push(table(['target', 'measured', 'goal', 'met'], targets(r).map((t) => [t.name, t.goal.endsWith('B') ? `${int(t.value)} B` : ratio(t.value), t.goal, t.met ? 'yes' : 'NO']), [false, true, false, false]));

  if (r.fanout.length) {
    const f0 = r.fanout[0]!;
    parts.push(`## Fan-out throughput\n\n${int(f0.events)} events × ${f0.groups} groups, ${f0.payloadBytes} B payloads, no-op handler, status tracking on, one consumer process per group. Events are published in batches of 1000 while the consumers run; deliveries/s = events × groups ÷ (last ack − first publish). streamfan and the floor: median of ${c.rounds} round(s); BullMQ: one round.`);
    parts.push(table(
      ['system', 'consumer setting', 'publish events/s', 'deliveries/s', 'vs floor', 'seconds', 'Redis CPU µs/delivery', 'consumer CPU µs/delivery', 'rounds (deliveries/s)'],
      r.fanout.map((f) => [systemName[f.system] ?? f.system, consumerSetting(f), int(f.publishPerSec), int(f.deliveriesPerSec) + incomplete(f), ratio(f.deliveriesPerSec / floorFan), fixed(f.seconds), fixed(f.redisCpuPerDelivery, 1), fixed(f.consumerCpuPerDelivery, 1), f.rounds.map(int).join(', ')]),
      [false, false, true, true, true, true, true, true, false],
    ));
    const withCommands = r.fanout.filter((f) => f.commands?.length);
    if (withCommands.length) {
      parts.push(`### Redis commands per delivery\n\nINFO commandstats deltas over the round closest to the median, ÷ deliveries (publishing included). A script's own commands are counted under their names too, and their time is inside the script's \`evalsha\` time: do not add the rows up.`);
      parts.push(renderCommands(withCommands));
    }
  }

  if (r.publish.length) {
    parts.push(`## Publish rate\n\n${int(r.publish[0]!.events)} events of ${c.payloadBytes} B, nobody consuming, median of ${r.publish[0]!.rounds.length} rounds.`);
    parts.push(table(['method', 'events/s', 'vs floor'], r.publish.map((p) => [p.method, int(p.perSec), ratio(p.perSec / floorPub)]), [false, true, true]));
  }

  if (r.latency.length) {
    parts.push(`## Latency\n\nPublish → handler start in another process, ms. Events published one call at a time at a fixed rate to ${c.groups} groups for ${c.latencySeconds} s each (after a warm-up that is not counted); BullMQ adds each event to every service's queue.`);
    const many = r.latency.some((l) => (l.rounds?.length ?? 1) > 1);
    if (many) parts.push('Several rounds, the systems alternating round by round: p50, p99, p99.9 and max are the medians of the rounds\' (every round\'s p50 / p99 in the last column).');
    parts.push(table(['rate/s', 'system', 'p50', 'p99', 'p99.9', 'max', 'samples', 'consumer CPU µs/delivery', 'Redis CPU µs/delivery', ...(many ? ['rounds (p50 / p99)'] : [])],
      r.latency.map((l) => [int(l.rate), systemName[l.system] ?? l.system, fixed(l.summary.p50), fixed(l.summary.p99), fixed(l.summary.p999), fixed(l.summary.max), int(l.summary.count) + incomplete(l),
        l.consumerCpuPerDelivery === undefined ? 'n/a' : fixed(l.consumerCpuPerDelivery),
        l.redisCpuPerDelivery === undefined ? 'n/a' : fixed(l.redisCpuPerDelivery),
        ...(many ? [(l.rounds ?? [l.summary]).map((x) => `${fixed(x.p50)} / ${fixed(x.p99)}`).join(', ')] : [])]),
      [true, false, true, true, true, true, true, true, true, ...(many ? [false] : [])]));
  }

  const s = r.scaling;
  if (s.groups.length || s.concurrency.length || s.payload.length) {
    parts.push(`## Scaling\n\nstreamfan fan-out runs of ${int(c.scaleEvents)} events (the floor too, for payload sizes); one process per group up to ${c.maxProcesses} processes, groups shared round robin beyond that.`);
    const headers = ['', 'processes', 'events', 'deliveries/s', 'publish events/s', 'seconds', 'Redis CPU µs/delivery', 'consumer CPU µs/delivery'];
    const right = [false, true, true, true, true, true, true, true];
    if (s.groups.length) parts.push(`### Groups (concurrency ${c.streamfanConcurrency}, ${c.payloadBytes} B)\n\n${table(['groups', ...headers.slice(1)], scaleRows(s.groups, (f) => String(f.groups)), right)}`);
    if (s.concurrency.length) parts.push(`### Concurrency (${c.groups} groups, ${c.payloadBytes} B)\n\n${table(['concurrency', ...headers.slice(1)], scaleRows(s.concurrency, (f) => String(f.concurrency)), right)}`);
    if (s.payload.length) parts.push(`### Payload size (${c.groups} groups; streamfan concurrency ${c.streamfanConcurrency}, the floor COUNT ${c.floorCount})\n\n${table(['payload bytes', 'system', ...headers.slice(1)], scaleRows(s.payload, (f) => int(f.payloadBytes)).map((row, i) => [row[0]!, s.payload[i]!.system, ...row.slice(1)]), [false, false, ...right.slice(1)])}`);
  }

  if (r.reclaim.length) {
    parts.push(`## Reclaim\n\nA consumer read ${int(r.reclaim[0]!.entries)} entries and died; a new consumer (its own process, visibility timeout 1 s) takes them over with XAUTOCLAIM and handles them. Entries per second from its start to its last ack.`);
    parts.push(table(['consumer', 'entries', 'entries/s', 'seconds'], r.reclaim.map((x) => [x.label, int(x.entries), int(x.perSec) + incomplete(x), fixed(x.seconds)]), [false, true, true, true]));
  }

  if (r.memory) parts.push(renderMemory(r.memory));

  if (r.rss) {
    const x = r.rss;
    const flat = Math.abs(x.slopeMiBPer100k) < 1 ? 'flat' : x.slopeMiBPer100k > 0 ? 'growing' : 'shrinking';
    parts.push(`## Consumer RSS\n\nOne streamfan consumer process (1 group, concurrency ${c.streamfanConcurrency}, status on) handling ${int(x.events)} events in ${fixed(x.seconds, 0)} s${incomplete(x)}. After the first tenth, RSS stayed between ${fixed(x.minMiB, 1)} and ${fixed(x.maxMiB, 1)} MiB; trend ${fixed(x.slopeMiBPer100k, 2)} MiB per 100,000 events (${flat}). The process runs streamfan from TypeScript source through tsx, whose compiler accounts for part of the baseline.`);
    parts.push(table(['events handled', 'RSS MiB', 'heap used MiB'], x.samples.map((p) => [int(p.delivered), fixed(p.rss / 2 ** 20, 1), fixed(p.heapUsed / 2 ** 20, 1)]), [true, true, true]));
  }

  if (r.sustain) parts.push(renderSustain(r.sustain));
  if (r.ackCost?.length) parts.push(renderAckCost(r.ackCost));
  if (r.telemetry) parts.push(renderTelemetry(r.telemetry));

  parts.push(`## How to read it\n\n- The floor is the same work hand-written on plain ioredis: pipelined XADD; per group one loop of XREADGROUP COUNT ${c.floorCount}, then one pipeline of XACK plus, per entry, HSET of one status field and EXPIRE. It checks no owner before acking and writes one status field; streamfan checks ownership in its ack script and writes state, attempts, result, consumer and times.\n- BullMQ runs the way its users fan out: one queue per service, addBulk to each, one Worker per queue with concurrency ${c.bullmqConcurrency}, completed jobs removed.\n- Every system shares one machine with its Redis and its publisher, so the figures are ratios in one run more than absolute capacities.`);
  return `${parts.join('\n\n')}\n`;
}

/** Calls and µs per delivery of each command, one column pair per system. */
export function renderCommands(list: FanoutResult[]): string {
  const names = [...new Set(list.flatMap((f) => (f.commands ?? []).filter((c) => c.calls >= 0.001).map((c) => c.command)))];
  const cell = (f: FanoutResult, name: string) => f.commands?.find((c) => c.command === name);
  names.sort((a, b) => Math.max(...list.map((f) => cell(f, b)?.usec ?? 0)) - Math.max(...list.map((f) => cell(f, a)?.usec ?? 0)));
  return table(
    ['command', ...list.flatMap((f) => [`${f.system} calls`, `${f.system} µs`])],
    names.map((n) => [n, ...list.flatMap((f) => { const c = cell(f, n); return c ? [fixed(c.calls, 3), fixed(c.usec, 2)] : ['-', '-']; })]),
    [false, ...list.flatMap(() => [true, true])],
  );
}

/** The memory section: per event (1, 3, 10 groups), then per kind of key. */
export function renderMemory(mem: NonNullable<BenchResults['memory']>): string {
  const parts: string[] = [];
  parts.push(`## Redis memory\n\n### Per published event (issue 17)\n\n${int(mem.perEvent[0]?.events ?? 0)} events of ${mem.payloadBytes} B published to one topic, every group succeeded (no results: plain successes), default options (status on, status TTL 1 day; retention off so the stream keeps its entries). INFO: used_memory after the last ack minus before the first publish, ÷ events; the status share is what UNLINKing the status keys (success buckets, and status hashes if any) freed. MEMORY USAGE (SAMPLES 0): every success bucket ÷ events, and per bucket; a status hash's, when there are any.`);
  parts.push(table(
    ['groups', 'bytes per event (INFO)', 'status (INFO)', 'stream entry + rest (INFO)', 'buckets MEMORY USAGE ÷ events', 'per bucket', 'bucket keys', 'status hashes', 'encoding'],
    mem.perEvent.map((p) => [String(p.groups) + (p.complete ? '' : ' (incomplete)'), int(p.totalPerEvent), int(p.statusPerEvent), int(p.restPerEvent),
      int(p.bucketUsagePerEvent ?? Number.NaN), int(p.bucketUsageMean ?? Number.NaN), int(p.bucketKeys ?? 0), int(p.statusKeys), p.encoding]),
    [true, true, true, true, true, true, true, true, false],
  ));
  const b = mem.breakdown;
  parts.push(`### Per kind of key\n\n${int(mem.entries)} stream entries for the first two rows; ${int(b.events)} events of ${b.payloadBytes} B on one group for the others. INFO: used_memory freed by deleting the key(s) ÷ count (delayed events: the publish's used_memory delta); MEMORY USAGE (SAMPLES 0) ÷ count.`);
  parts.push(table(['what', 'bytes (INFO)', 'bytes (MEMORY USAGE)', 'count'], [
    ['stream entry', int(mem.streamEntry.info), int(mem.streamEntry.usage), int(mem.entries)],
    ['pending entry (delivered, not acked), on top of the entry', int(mem.pendingEntry.info), int(mem.pendingEntry.usage), int(mem.entries)],
    ['retry waiting for its backoff (retry sorted set member)', int(b.retrySet.info), int(b.retrySet.usage), int(b.retrySet.count)],
    ['retry copy in the redelivery stream (kept until trimmed)', int(b.redelivery.info), int(b.redelivery.usage), int(b.redelivery.count)],
    ['dead letter (dead-letter stream entry)', int(b.deadLetter.info), int(b.deadLetter.usage), int(b.deadLetter.count)],
    ['idempotency key (24 h window)', int(b.idempotency.info), int(b.idempotency.usage), int(b.idempotency.count)],
    ['delayed event (schedule member + delayed-id hash)', int(b.delayed.info), int(b.delayed.usage), int(b.delayed.count)],
  ], [false, true, true, true]));
  return parts.join('\n\n');
}

/** The ack-path cost table: Redis CPU per delivery and status bytes per event of each variant. */
export function renderAckCost(list: NonNullable<BenchResults['ackCost']>): string {
  const first = list[0]!;
  const head = `## Ack path: Redis CPU per delivery\n\n${int(first.entries)} entries × ${first.groups} groups already pending for one consumer, acknowledged in batches of 200 by each variant, nothing else running against this Redis; ids spaced as a steady publisher at the given rate leaves them. Redis CPU: INFO used_cpu_user + used_cpu_sys delta ÷ deliveries; status bytes: used_memory freed by deleting the status keys ÷ events. The prototype is bench-local (docs/perf-notes.md), not a streamfan script.`;
  const rows = list.map((a) => {
    const calls = a.commands.filter((c) => c.command !== 'evalsha' && c.command !== 'eval' && c.calls >= 0.001).map((c) => `${c.command} ${fixed(c.calls, c.calls >= 0.1 ? 2 : 3)}`).join(', ');
    return [int(a.rate), a.variant, fixed(a.cpuPerDelivery, 2), int(a.statusBytesPerEvent), int(a.statusKeys), calls];
  });
  return `${head}\n\n${table(['events/s', 'variant', 'Redis CPU µs/delivery', 'status B/event', 'status keys', 'commands per delivery'], rows, [true, false, true, true, true, false])}`;
}
