import type { BenchResults } from './results';
import { fixed, int, ratio, table } from './table';

/** One server's headline figures: what issue 11 and 17 ask for, across the matrix. */
export interface ServerSummary {
  server: string;
  redis: string;
  commit: string;
  loadStart: number;
  loadEnd: number;
  rounds: number;
  events: number;
  streamfanPerSec: number;
  floorPerSec: number;
  /** streamfan ÷ floor deliveries/s (medians). */
  ratio: number;
  streamfanRounds: number[];
  floorRounds: number[];
  streamfanP99At500: number;
  floorP99At500: number;
  streamfanRedisCpuPerDelivery: number;
  floorRedisCpuPerDelivery: number;
  /** Redis bytes per published event with 3 groups, all succeeded (when the memory scenario ran). */
  bytesPerEvent3Groups: number;
}

export function summarize(r: BenchResults): ServerSummary {
  const fan = (s: string) => r.fanout.find((f) => f.system === s);
  const p99 = (s: string) => r.latency.find((l) => l.system === s && l.rate === 500)?.summary.p99 ?? Number.NaN;
  const sf = fan('streamfan');
  const fl = fan('floor');
  return {
    server: r.machine.server,
    redis: r.machine.redis,
    commit: r.machine.commit,
    loadStart: r.machine.loadStart,
    loadEnd: r.machine.loadEnd,
    rounds: r.config.rounds,
    events: r.config.events,
    streamfanPerSec: sf?.deliveriesPerSec ?? Number.NaN,
    floorPerSec: fl?.deliveriesPerSec ?? Number.NaN,
    ratio: (sf?.deliveriesPerSec ?? Number.NaN) / (fl?.deliveriesPerSec ?? Number.NaN),
    streamfanRounds: sf?.rounds ?? [],
    floorRounds: fl?.rounds ?? [],
    streamfanP99At500: p99('streamfan'),
    floorP99At500: p99('floor'),
    streamfanRedisCpuPerDelivery: sf?.redisCpuPerDelivery ?? Number.NaN,
    floorRedisCpuPerDelivery: fl?.redisCpuPerDelivery ?? Number.NaN,
    bytesPerEvent3Groups: r.memory?.perEvent.find((p) => p.groups === 3)?.totalPerEvent ?? Number.NaN,
  };
}

/** The one table across servers. */
export function renderServers(rows: ServerSummary[]): string {
  const first = rows[0];
  const head = first
    ? `## Across servers\n\n${int(first.events)} events × 3 groups, status on, median of ${first.rounds} round(s) per system (rounds alternate streamfan, floor); p99 of publish → handler start at 500 events/s; Redis CPU per delivery from INFO CPU (used_cpu_sys + used_cpu_user) of the bench's own redis-server ÷ deliveries (publishing included). One server after another on a shared 2-core machine: **noisy**, read the load averages.`
    : '## Across servers';
  return `${head}\n\n${table(
    ['server', 'streamfan deliveries/s', 'floor deliveries/s', 'streamfan ÷ floor', 'p99 ms at 500/s streamfan', 'p99 floor', 'Redis CPU µs/delivery streamfan', 'Redis CPU floor', 'bytes/event, 3 groups', 'load avg start → end'],
    rows.map((s) => [`${s.server} (${s.redis})`, int(s.streamfanPerSec), int(s.floorPerSec), ratio(s.ratio), fixed(s.streamfanP99At500), fixed(s.floorP99At500), fixed(s.streamfanRedisCpuPerDelivery, 1), fixed(s.floorRedisCpuPerDelivery, 1), int(s.bytesPerEvent3Groups), `${s.loadStart} → ${s.loadEnd}`]),
    [false, true, true, true, true, true, true, true, true, false],
  )}\n\nRounds (deliveries/s):\n\n${rows.map((s) => `- ${s.server}: streamfan ${s.streamfanRounds.map(int).join(', ') || '-'}; floor ${s.floorRounds.map(int).join(', ') || '-'}`).join('\n')}\n`;
}
