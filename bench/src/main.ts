/**
 * `pnpm bench` (quick, about a minute) or `pnpm bench --full`: streamfan against a
 * hand-written XREADGROUP loop (the floor) and BullMQ, in one run on one private
 * redis-server. Prints tables and writes JSON and Markdown to bench/results/.
 *
 * Options: --full | --quick | --smoke, --only fanout,publish,latency,scaling,reclaim,memory,rss,sustain,ackcost,
 * --out <dir>, --max-procs <n>, --events <n>, --rounds <n>, --latency-rounds <n>, --quiet, --json (the results as one JSON
 * document on stdout instead of Markdown), --systems streamfan,floor,bullmq,
 * --server <name> | --servers a,b,c (servers of the compatibility matrix, e.g. redis-7.2.6, built by
 * compat/build-servers.sh; each runs in turn and one table across servers is printed. With
 * --server(s), the defaults become --only fanout,latency,memory --systems streamfan,floor
 * --rounds 5 --events 50000, latency at 500 events/s only (10 s), plus ackcost at 100, 1,000
 * and 10,000 events/s).
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
import { currentCommit, resolveServer, type BenchServer } from './servers';
import { renderServers, summarize } from './summary';
import type { BenchResults } from './results';
import { fanoutScenario } from './scenarios/fanout';
import { latencyScenario } from './scenarios/latency';
import { memoryScenario, rssScenario } from './scenarios/memory';
import { publishScenario } from './scenarios/publish';
import { reclaimScenario } from './scenarios/reclaim';
import { scalingScenario } from './scenarios/scaling';
import { sustainScenario } from './scenarios/sustain';
import { ackCostScenario } from './scenarios/ackcost';
import { shardsScenario } from './scenarios/scaling-shards';
import { telemetryScenario } from './scenarios/telemetry';
import { priorityScenario } from './scenarios/priority';

const SCENARIOS = ['fanout', 'publish', 'latency', 'scaling', 'reclaim', 'memory', 'rss', 'sustain', 'ackcost', 'telemetry', 'shards', 'priority'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Args { config: BenchConfig; only: Set<Scenario>; out: string; quiet: boolean; json: boolean; servers: BenchServer[] | undefined }

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: pnpm bench [--quick | --full | --smoke] [--only ${SCENARIOS.join(',')}] [--server name | --servers a,b] [--systems streamfan,floor,bullmq] [--out dir] [--max-procs n] [--events n] [--rounds n] [--latency-rounds n] [--quiet] [--json]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  let config: BenchConfig = { ...CONFIGS.quick };
  let only: Set<Scenario> | undefined;
  let out = resolve(__dirname, '..', 'results');
  let quiet = false;
  let json = false;
  let servers: BenchServer[] | undefined;
  let systems: BenchConfig['systems'] | undefined;
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
    else if (a === '--json') json = true;
    else if (a === '--server' || a === '--servers') {
      const names = (argv[++i] ?? '').split(',').filter(Boolean);
      if (names.length === 0) usage(`${a} needs a server name, e.g. redis-7.2.6`);
      try { servers = names.map(resolveServer); } catch (err) { usage((err as Error).message); }
    } else if (a === '--systems') {
      const names = (argv[++i] ?? '').split(',').filter(Boolean);
      for (const n of names) if (!['streamfan', 'floor', 'bullmq'].includes(n)) usage(`unknown system "${n}" (streamfan, floor, bullmq)`);
      systems = names as BenchConfig['systems'];
    }
    else if (a === '--out') out = resolve(argv[++i] ?? usage('--out needs a directory'));
    else if (a === '--max-procs') overrides.maxProcesses = number(a, argv[++i]);
    else if (a === '--events') overrides.events = number(a, argv[++i]);
    else if (a === '--rounds') overrides.rounds = number(a, argv[++i]);
    else if (a === '--latency-rounds') overrides.latencyRounds = number(a, argv[++i]);
    else if (a === '--only') {
      const names = (argv[++i] ?? '').split(',').filter(Boolean);
      for (const n of names) if (!(SCENARIOS as readonly string[]).includes(n)) usage(`unknown scenario "${n}"`);
      only = new Set(names as Scenario[]);
    } else usage(`unknown argument "${a}"`);
  }
  if (servers) {
    // Across servers: what issue 11 and 17 compare, median of 5 rounds, p99 at 500/s.
    only ??= new Set<Scenario>(['fanout', 'latency', 'memory', 'ackcost']);
    systems ??= ['streamfan', 'floor'];
    if (config.mode !== 'smoke') {
      overrides.rounds ??= 5;
      overrides.events ??= 50_000;
      config.latencyRates = [500];
      config.latencySeconds = Math.max(config.latencySeconds, 10);
      config.latencyWarmupSeconds = Math.max(config.latencyWarmupSeconds, 2);
      overrides.latencyRounds ??= 5;
      config.ackCostRates = [100, 1000, 10_000];
    }
  }
  if (systems) overrides.systems = systems;
  return { config: { ...config, ...overrides }, only: only ?? new Set<Scenario>(SCENARIOS), out, quiet, json, servers };
}

/** Run the chosen scenarios on one server; write its JSON and Markdown. */
async function runOn(args: Args, server: BenchServer | undefined, commit: string, progress: Progress, stop: { interrupted: boolean; cleanup?: () => Promise<void> }): Promise<BenchResults> {
  const started = Date.now();
  progress.begin(`streamfan bench, ${args.config.mode} mode: starting a private redis-server${server ? ` (${server.name})` : ''}`);
  const redisServer = await startRedis({ args: ['--save', '', '--appendonly', 'no'], ...(server ? { bin: server.bin } : {}) });
  const redis = redisServer.client({ maxRetriesPerRequest: null });
  const pool = new Pool(args.config.maxProcesses);
  const ctx: BenchContext = { config: args.config, server: redisServer, redis, pool, progress };
  const cleanup = async (): Promise<void> => {
    await pool.close().catch(() => undefined);
    await redisServer.stop().catch(() => undefined);
  };
  stop.cleanup = cleanup;
  try {
    const results: BenchResults = {
      date: new Date().toISOString(),
      mode: args.config.mode,
      machine: await describeMachine(redis, server?.name ?? 'redis-server on PATH', commit),
      config: args.config,
      durationSeconds: 0,
      fanout: [],
      publish: [],
      latency: [],
      scaling: { groups: [], concurrency: [], payload: [] },
      reclaim: [],
    };
    const on = (s: Scenario) => args.only.has(s) && !stop.interrupted;
    if (on('fanout')) results.fanout = await fanoutScenario(ctx);
    if (on('publish')) results.publish = await publishScenario(ctx);
    if (on('latency')) results.latency = await latencyScenario(ctx);
    if (on('scaling')) results.scaling = await scalingScenario(ctx);
    if (on('reclaim')) results.reclaim = await reclaimScenario(ctx);
    if (on('memory')) results.memory = await memoryScenario(ctx);
    if (on('rss')) results.rss = await rssScenario(ctx);
    if (on('sustain')) results.sustain = await sustainScenario(ctx);
    if (on('ackcost')) results.ackCost = await ackCostScenario(ctx);
    if (on('shards')) Object.assign(results, { shards: await shardsScenario(ctx) }); // issue 12: 1 shard vs 3 (table on stderr)
    if (on('telemetry')) results.telemetry = await telemetryScenario(ctx);
    if (on('priority')) Object.assign(results, { priority: await priorityScenario(ctx) }); // issue 16: lanes under a backlog (table on stderr)
    results.durationSeconds = (Date.now() - started) / 1000;
    results.machine.loadEnd = Math.round(loadavg()[0]! * 100) / 100;
    const markdown = renderMarkdown(results);
    mkdirSync(args.out, { recursive: true });
    const stamp = results.date.replace(/[:.]/g, '-');
    const base = join(args.out, `${stamp}-${results.mode}${server ? `-${server.name.replace(/[^\w.-]/g, '_')}` : ''}`);
    writeFileSync(`${base}.json`, `${JSON.stringify({ ...results, targets: targets(results) }, null, 2)}\n`);
    writeFileSync(`${base}.md`, markdown);
    progress.clear();
    process.stderr.write(`results: ${base}.json and ${base}.md\n`);
    return results;
  } finally {
    await cleanup();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const progress = new Progress(args.quiet);
  const stop: { interrupted: boolean; cleanup?: () => Promise<void> } = { interrupted: false };
  process.once('SIGINT', () => {
    stop.interrupted = true;
    progress.clear();
    process.stderr.write('interrupted: stopping consumers and redis-server\n');
    void (stop.cleanup?.() ?? Promise.resolve()).finally(() => process.exit(130));
  });
  const all: BenchResults[] = [];
  // The code every server runs is what this process and its consumer processes loaded at the start.
  const commit = currentCommit();
  for (const server of args.servers ?? [undefined]) {
    if (stop.interrupted) break;
    all.push(await runOn(args, server, commit, progress, stop));
  }
  progress.clear();
  if (args.json) {
    const doc = args.servers
      ? { servers: all.map(summarize), runs: all.map((r) => ({ ...r, targets: targets(r) })) }
      : { ...all[0]!, targets: targets(all[0]!) };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  if (args.servers) {
    for (const r of all) process.stdout.write(`\n${renderMarkdown(r)}\n`);
    const table = renderServers(all.map(summarize));
    process.stdout.write(`\n${table}\n`);
    mkdirSync(args.out, { recursive: true });
    const file = join(args.out, `${all[0]!.date.replace(/[:.]/g, '-')}-servers.md`);
    writeFileSync(file, table);
    process.stderr.write(`table across servers: ${file}\n`);
  } else {
    process.stdout.write(`\n${renderMarkdown(all[0]!)}\n`);
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`\nbench failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
