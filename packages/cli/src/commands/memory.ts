import type { Command } from 'commander';
import type { KindMemory, MemoryReport } from '@streamfan/core';
import { examples, positiveInt, type ActionFactory } from '../command-kit';
import { formatTable } from '../format/table';

/** 1.5 GB, 12.0 MB, 512 B (powers of 1000, as Redis' INFO *_human fields are not). */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let u = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[u]}`;
}

const KIND_NAMES: Record<KindMemory['kind'], string> = {
  stream: 'topic stream',
  redelivery: 'redelivery streams',
  retry: 'retry sets',
  deadLetters: 'dead letters',
  status: 'status',
  idempotency: 'idempotency keys',
  delayed: 'delayed events',
  other: 'other',
};

function how(k: KindMemory): string {
  if (!k.sampled) return 'exact';
  return `sampled (${k.measured} measured)`;
}

function human(r: MemoryReport): string {
  const rows = r.topics.flatMap((t) =>
    t.kinds.filter((k) => k.keys > 0 || k.keysError > 0 || k.kind === 'stream').map((k) => ({ topic: t.topic, k })),
  );
  const total = r.topics.length === 1 ? `topic "${r.topics[0]!.topic}"` : `${r.topics.length} topic${r.topics.length === 1 ? '' : 's'}`;
  const head = `${total}: ${formatBytes(r.bytes)}${r.bytesError > 0 ? ` (± ${formatBytes(r.bytesError)}, 95%)` : ''} of Redis memory; the server uses ${formatBytes(r.usedMemory)}, maxmemory ${r.maxMemory > 0 ? formatBytes(r.maxMemory) : 'none'}${r.maxMemoryPolicy ? ` (${r.maxMemoryPolicy})` : ''}`;
  const table = formatTable(
    [
      { header: 'TOPIC', value: (x) => x.topic },
      { header: 'KIND', value: (x) => KIND_NAMES[x.k.kind] },
      { header: 'KEYS', value: (x) => `${x.k.sampled ? '~' : ''}${x.k.keys.toLocaleString('en-US')}`, align: 'right' },
      { header: '±95%', value: (x) => (x.k.keysError > 0 ? x.k.keysError.toLocaleString('en-US') : '-'), align: 'right' },
      { header: 'ENTRIES', value: (x) => (x.k.entries === undefined ? '-' : x.k.entries.toLocaleString('en-US')), align: 'right' },
      { header: 'BYTES', value: (x) => formatBytes(x.k.bytes), align: 'right' },
      { header: '±95%', value: (x) => (x.k.bytesError > 0 ? formatBytes(x.k.bytesError) : '-'), align: 'right' },
      { header: 'HOW', value: (x) => how(x.k) },
    ],
    rows,
  );
  const pct = (f: number) => `${(f * 100).toFixed(f < 0.1 ? 1 : 0)}%`;
  const scan = r.scan.complete
    ? `scan: ${r.scan.pages} SCAN page(s) covered the whole keyspace: key counts are exact`
    : `scan: ${r.scan.pages} SCAN page(s) covered about ${pct(r.scan.fraction)} of the keyspace: per-event key counts (~) are extrapolated, with the 95% error shown${r.topicsComplete ? '' : '; topics with few keys may be missing (name the topic, or raise --scan-pages)'}`;
  const lanes = laneTable(r);
  return [head, '', table, ...(lanes ? ['', lanes] : []), '', scan].join('\n');
}

/**
 * Prioritized topics: one row per lane (highest first, the default lane marked `*`) and one for
 * the keys every lane shares (idempotency keys, producer ledgers, the meta hash), with the bytes
 * of each kind present; the rows add up to the topic. Undefined when no topic has lanes.
 */
function laneTable(r: MemoryReport): string | undefined {
  const rows = r.topics.flatMap((t) => [
    ...(t.byLane ?? []).map((l) => ({ topic: t.topic, lane: `${l.lane}${l.lane === t.defaultLane ? '*' : ''}`, m: l })),
    ...(t.laneShared ? [{ topic: t.topic, lane: '(shared)', m: t.laneShared }] : []),
  ]);
  if (rows.length === 0) return undefined;
  return formatTable(
    [
      { header: 'TOPIC', value: (x) => x.topic },
      { header: 'LANE', value: (x) => x.lane },
      { header: 'BYTES', value: (x) => formatBytes(x.m.bytes), align: 'right' },
      { header: '±95%', value: (x) => (x.m.bytesError > 0 ? formatBytes(x.m.bytesError) : '-'), align: 'right' },
      {
        header: 'ENTRIES',
        value: (x) => {
          const stream = x.m.kinds.find((k) => k.kind === 'stream');
          return x.lane === '(shared)' ? '-' : (stream?.entries ?? 0).toLocaleString('en-US');
        },
        align: 'right',
      },
      {
        header: 'BY KIND',
        value: (x) =>
          x.m.kinds
            .filter((k) => k.bytes > 0)
            .map((k) => `${KIND_NAMES[k.kind]} ${k.sampled ? '~' : ''}${formatBytes(k.bytes)}`)
            .join(', ') || '-',
      },
    ],
    rows,
  );
}
/** `streamfan memory [topic]`: Redis memory by topic and kind of key. */
export function registerMemory(program: Command, act: ActionFactory): void {
  program
    .command('memory')
    .argument('[topic]', 'topic name (default: every topic found under the prefix)')
    .option('--scan-pages <n>', 'most SCAN calls (COUNT 1000 each) per server; counts are extrapolated beyond', positiveInt, 50)
    .option('--sample <n>', 'keys of each sampled kind measured with MEMORY USAGE', positiveInt, 100)
    .description(
      'Redis memory by topic and kind: topic stream, redelivery streams, retry sets, dead letters, status (hashes and success buckets), idempotency keys, delayed events (per-event keys sampled, with a 95% error)',
    )
    .addHelpText(
      'after',
      examples('streamfan memory', 'streamfan memory user.signup', 'streamfan memory user.signup --scan-pages 500 --json'),
    )
    .action(
      act(async (ctx, topic: string | undefined, opts: { scanPages: number; sample: number }) => {
        const sf = ctx.sf();
        // Progress on stderr once a scan runs long (more than 10 pages), at most once a second.
        let shown = 0;
        const report = await sf.memory(topic, {
          maxScanPages: opts.scanPages,
          sampleSize: opts.sample,
          onProgress: (p) => {
            const now = Date.now();
            if (p.pages < 10 || now - shown < 1000) return;
            shown = now;
            ctx.io.err(
              `memory: SCAN page ${p.pages} of at most ${p.maxPages}, ${(p.fraction * 100).toFixed(0)}% of the keyspace, ${p.keysSeen} keys seen`,
            );
          },
        });
        if (topic !== undefined && report.topics.every((t) => t.kinds.every((k) => k.keys === 0))) {
          ctx.print(report, () => `topic "${topic}" has no keys under prefix "${ctx.opts.prefix}"`);
          return;
        }
        ctx.print(report, () => (report.topics.length === 0 ? `no topics under prefix "${ctx.opts.prefix}"` : human(report)));
      }),
    );
}
