/**
 * `pnpm bench` (quick, about a minute) or `pnpm bench --full`: streamfan against a
 * hand-written XREADGROUP loop (the floor) and BullMQ, in one run on one private
 * redis-server. Prints tables and writes JSON and Markdown to bench/results/.
 *
 * Options: --full | --quick | --smoke, --only fanout,publish,latency,scaling,reclaim,memory,rss,sustain,
 * --out <dir>, --max-procs <n>, --events <n>, --rounds <n>, --quiet.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { CONFIGS, type BenchConfig } from './config';
import type { BenchContext } from './context';
import { startRedis } from './lib';
import { describeMachine } from './machine';
import { Pool } from './pool';
import { Progress } from './progress';
import { renderMarkdown, targets } from './report';
import type { BenchResults } from './results';
import { fanoutScenario } from './scenarios/fanout';
import { latencyScenario } from './scenarios/latency';
import { memoryScenario, rssScenario } from './scenarios/memory';
import { publishScenario } from './scenarios/publish';
import { reclaimScenario } from './scenarios/reclaim';
import { scalingScenario } from './scenarios/scaling';
import { sustainScenario } from './scenarios/sustain';

const SCENARIOS = ['fanout', 'publish', 'latency', 'scaling', 'reclaim', 'memory', 'rss', 'sustain'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Args { config: BenchConfig; only: Set<Scenario>; out: string; quiet: boolean }

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: pnpm bench [--quick | --full | --smoke] [--only ${SCENARIOS.join(',')}] [--out dir] [--max-procs n] [--events n] [--rounds n] [--quiet]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  let config: BenchConfig = { ...CONFIGS.quick };
  let only = new Set<Scenario>(SCENARIOS);
  let out = resolve(__dirname, '..', 'results');
  let quiet = false;
  const number = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) usage(`${flag} needs a whole number ≥ 1, got ${String(v)}`);
    return n;
  };
  const overrides: Partial<BenchConfig> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') continue;
    else if (a === '--full') config = { ...CONFIGS.full };
    else if (a === '--quick') config = { ...CONFIGS.quick };
    else if (a === '--smoke') config = { ...CONFIGS.smoke };
    else if (a === '--quiet') quiet = true;
    else if (a === '--out') out = resolve(argv[++i] ?? usage('--out needs a directory'));
    else if (a === '--max-procs') overrides.maxProcesses = number(a, argv[++i]);
    else if (a === '--events') overrides.events = number(a, argv[++i]);
    else if (a === '--rounds') overrides.rounds = number(a, argv[++i]);
    else if (a === '--only') {
      const names = (argv[++i] ?? '').split(',').filter(Boolean);
      for (const n of names) if (!(SCENARIOS as readonly string[]).includes(n)) usage(`unknown scenario "${n}"`);
      only = new Set(names as Scenario[]);
    } else usage(`unknown argument "${a}"`);
  }
  return { config: { ...config, ...overrides }, only, out, quiet };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const progress = new Progress(args.quiet);
  progress.begin(`streamfan bench, ${args.config.mode} mode: starting a private redis-server`);
  const server = await startRedis({ args: ['--save', '', '--appendonly', 'no'] });
  const redis = server.client({ maxRetriesPerRequest: null });
  const pool = new Pool(args.config.maxProcesses);
  const ctx: BenchContext = { config: args.config, server, redis, pool, progress };
  let interrupted = false;
  const cleanup = async (): Promise<void> => {
    await pool.close().catch(() => undefined);
    await server.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => {
    interrupted = true;
    progress.clear();
    process.stderr.write('interrupted: stopping consumers and redis-server\n');
    void cleanup().finally(() => process.exit(130));
  });
  try {
    const results: BenchResults = {
      date: new Date().toISOString(),
      mode: args.config.mode,
      machine: await describeMachine(redis),
      config: args.config,
      durationSeconds: 0,
      fanout: [],
      publish: [],
      latency: [],
      scaling: { groups: [], concurrency: [], payload: [] },
      reclaim: [],
    };
    const on = (s: Scenario) => args.only.has(s) && !interrupted;
    if (on('fanout')) results.fanout = await fanoutScenario(ctx);
    if (on('publish')) results.publish = await publishScenario(ctx);
    if (on('latency')) results.latency = await latencyScenario(ctx);
    if (on('scaling')) results.scaling = await scalingScenario(ctx);
    if (on('reclaim')) results.reclaim = await reclaimScenario(ctx);
    if (on('memory')) results.memory = await memoryScenario(ctx);
    if (on('rss')) results.rss = await rssScenario(ctx);
    if (on('sustain')) results.sustain = await sustainScenario(ctx);
    results.durationSeconds = (Date.now() - started) / 1000;
    results.machine.loadEnd = Math.round(loadavg()[0]! * 100) / 100;
    const markdown = renderMarkdown(results);
    progress.clear();
    process.stdout.write(`\n${markdown}\n`);
    mkdirSync(args.out, { recursive: true });
    const stamp = results.date.replace(/[:.]/g, '-');
    const base = join(args.out, `${stamp}-${results.mode}`);
    writeFileSync(`${base}.json`, `${JSON.stringify({ ...results, targets: targets(results) }, null, 2)}\n`);
    writeFileSync(`${base}.md`, markdown);
    process.stderr.write(`results: ${base}.json and ${base}.md\n`);
  } finally {
    await cleanup();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`\nbench failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
