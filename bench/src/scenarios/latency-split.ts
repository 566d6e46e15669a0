/**
 * Reads the handler starts a latency run wrote with `BENCH_LATENCY_DUMP=<dir>` and splits each
 * event's publish → handler time at its XADD: the entry id's ms is Redis' clock when the XADD
 * ran (taken as ms + 0.5), so `publish → Redis` is that minus the payload's time and
 * `Redis → handler` the handler's start minus it. One row per run (the files of one system
 * written within 3 s of each other, one per consumer process), in the order the runs ended.
 *
 *   pnpm --filter @streamfan/bench exec tsx src/scenarios/latency-split.ts <dir> [--per-group]
 *
 * Files are `<system>-<ms>-<pid>.txt` (tracker.ts); older ones (`<pid>-<ms>.txt`) show as `?`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { summarize, type LatencySummary } from '../stats';

interface DumpFile { system: string; at: number; path: string }

function listDumps(dir: string): DumpFile[] {
  const out: DumpFile[] = [];
  for (const name of readdirSync(dir)) {
    const named = /^([a-z]+)-(\d+)-\d+\.txt$/.exec(name);
    const old = /^\d+-(\d+)\.txt$/.exec(name);
    if (named) out.push({ system: named[1]!, at: Number(named[2]), path: join(dir, name) });
    else if (old) out.push({ system: '?', at: Number(old[1]), path: join(dir, name) });
  }
  return out.sort((a, b) => a.at - b.at);
}

/** Files of one run: same system, each written within 3 s of the previous. */
function runsOf(files: DumpFile[]): DumpFile[][] {
  const runs: DumpFile[][] = [];
  for (const f of files) {
    const last = runs[runs.length - 1];
    const prev = last?.[last.length - 1];
    if (last && prev && prev.system === f.system && f.at - prev.at <= 3000) last.push(f);
    else runs.push([f]);
  }
  return runs;
}

interface Split { total: number[]; toRedis: number[]; toHandler: number[] }

function split(lines: string[], into: Split): void {
  for (const line of lines) {
    const [, , t, h, id] = line.split(' ');
    if (!id) continue;
    const at = Number(id.slice(0, id.indexOf('-'))) + 0.5;
    const pub = Number(t);
    const start = Number(h);
    into.total.push(start - pub);
    into.toRedis.push(at - pub);
    into.toHandler.push(start - at);
  }
}

const f2 = (x: number) => x.toFixed(2);
const brief = (s: LatencySummary) => `${f2(s.p50)} / ${f2(s.mean)} / ${f2(s.p99)}`;

function main(): void {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: latency-split.ts <dump dir> [--per-group]');
  const perGroup = process.argv.includes('--per-group');
  const runs = runsOf(listDumps(dir));
  process.stdout.write('| run | system | events | total p50 / p99 ms | publish → Redis p50 / mean / p99 | Redis → handler p50 / mean / p99 |\n| --- | --- | ---: | --- | --- | --- |\n');
  runs.forEach((files, n) => {
    const all: Split = { total: [], toRedis: [], toHandler: [] };
    const groups = new Map<string, Split>();
    for (const f of files) {
      const lines = readFileSync(f.path, 'utf8').split('\n').filter((l) => l.length > 0);
      split(lines, all);
      if (perGroup) {
        for (const l of lines) {
          const g = l.slice(0, l.indexOf(' '));
          const s = groups.get(g) ?? { total: [], toRedis: [], toHandler: [] };
          split([l], s);
          groups.set(g, s);
        }
      }
    }
    const total = summarize(all.total);
    process.stdout.write(`| ${n + 1} | ${files[0]!.system} | ${all.total.length} | ${f2(total.p50)} / ${f2(total.p99)} | ${brief(summarize(all.toRedis))} | ${brief(summarize(all.toHandler))} |\n`);
    for (const [g, s] of groups) {
      process.stdout.write(`|  | ${g} | ${s.total.length} | ${f2(summarize(s.total).p50)} / ${f2(summarize(s.total).p99)} |  | ${brief(summarize(s.toHandler))} |\n`);
    }
  });
}

main();
