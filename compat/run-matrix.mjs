#!/usr/bin/env node
/**
 * `pnpm test:compat`: runs the core, CLI and example test suites (jest, one worker) against every
 * server of the compatibility matrix in turn, and prints a matrix of server × suite with passed
 * and failed counts, which it also writes to compat/RESULTS.md with every failing test named.
 *
 * Each server is handed to the tests through STREAMFAN_REDIS_SERVER / STREAMFAN_REDIS_CLI (read
 * by @streamfan/testing) and by putting its bin directory first on PATH (for code that starts
 * `redis-server` itself, like the demo). Servers not yet built are built first
 * (compat/build-servers.sh, cached outside the repository).
 *
 *   pnpm test:compat
 *   pnpm test:compat --servers redis-6.2.16,redis-7.0 --suites core
 *   pnpm test:compat --no-write        # do not touch compat/RESULTS.md
 *   pnpm test:compat --workers 2       # jest workers per suite (default 1: a shared machine)
 *
 * Exit code 1 when any test failed on any server.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cache = process.env.STREAMFAN_REDIS_CACHE || join(homedir(), '.cache', 'streamfan', 'redis');
const buildScript = join(root, 'compat', 'build-servers.sh');

/** Suites: the paths jest runs for each. Browser, fault and model suites have their own commands. */
const SUITES = {
  core: ['packages/core/test'],
  cli: ['packages/cli/test'],
  examples: ['examples'],
};

function parseArgs(argv) {
  const opts = { servers: undefined, suites: Object.keys(SUITES), write: true, workers: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--servers') opts.servers = argv[++i].split(',');
    else if (a === '--suites') opts.suites = argv[++i].split(',');
    else if (a === '--no-write') opts.write = false;
    else if (a === '--workers') opts.workers = Number(argv[++i]);
    else if (a === '--help' || a === '-h') { console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]); process.exit(0); }
    else { console.error(`run-matrix: unknown argument ${a}`); process.exit(2); }
  }
  if (!Number.isInteger(opts.workers) || opts.workers < 1) { console.error('run-matrix: --workers takes a whole number >= 1'); process.exit(2); }
  for (const s of opts.suites) if (!SUITES[s]) { console.error(`run-matrix: unknown suite ${s} (have ${Object.keys(SUITES).join(', ')})`); process.exit(2); }
  return opts;
}

/** Every server of the matrix: the system's redis-server (Debian's 7.0) and the built ones. */
function matrixServers() {
  const built = execFileSync(buildScript, ['--list'], { encoding: 'utf8' }).trim().split('\n');
  const system = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
  const servers = [];
  if (system) {
    const version = /v=(\d+\.\d+)/.exec(execFileSync(system, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'system';
    servers.push({ name: `redis-${version}`, server: system, cli: join(dirname(system), 'redis-cli'), system: true });
  }
  for (const name of built) {
    const bin = join(cache, name, 'bin');
    servers.push({ name, server: join(bin, 'redis-server'), cli: join(bin, 'redis-cli'), build: name });
  }
  return servers;
}

function runJest(paths, env, workers) {
  const dir = mkdtempSync(join(tmpdir(), 'streamfan-compat-'));
  const out = join(dir, 'results.json');
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [join(root, 'node_modules', 'jest', 'bin', 'jest.js'), ...paths, `--maxWorkers=${workers}`, '--forceExit', '--json', `--outputFile=${out}`],
      { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    child.on('exit', (code) => {
      const seconds = Math.round((Date.now() - started) / 1000);
      let json;
      try { json = JSON.parse(readFileSync(out, 'utf8')); } catch { json = undefined; }
      rmSync(dir, { recursive: true, force: true });
      if (!json) { resolve({ passed: 0, failed: 0, skipped: 0, seconds, failures: [`jest exited with code ${code} and wrote no results`] }); return; }
      const failures = [];
      for (const file of json.testResults) {
        const rel = relative(root, file.name);
        const failed = file.assertionResults.filter((t) => t.status === 'failed');
        for (const t of failed) failures.push(`${rel} › ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`);
        // A file that failed to run (syntax error, beforeAll threw before any test) has no failed assertions.
        if (failed.length === 0 && file.status === 'failed') failures.push(`${rel}: ${firstLine(file.message)}`);
      }
      resolve({
        passed: json.numPassedTests,
        failed: json.numFailedTests + json.numRuntimeErrorTestSuites,
        skipped: json.numPendingTests + json.numTodoTests,
        seconds,
        failures,
      });
    });
  });
}

function firstLine(msg) {
  // eslint-disable-next-line no-control-regex
  const text = String(msg ?? '').replace(/\u001b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim()).filter(Boolean);
  return (text.find((l) => !/^(expect|Error:?$)/.test(l)) ?? text[0] ?? '').slice(0, 240);
}

function table(results, suites) {
  const head = `| server | ${suites.join(' | ')} | time |`;
  const rule = `| --- | ${suites.map(() => '---').join(' | ')} | --- |`;
  const rows = results.map((r) => {
    const cells = suites.map((s) => {
      const c = r.suites[s];
      if (!c) return 'not run';
      return `${c.failed ? '**' : ''}${c.passed} passed, ${c.failed} failed${c.failed ? '**' : ''}${c.skipped ? `, ${c.skipped} skipped` : ''} (${c.seconds} s)`;
    });
    const total = Object.values(r.suites).reduce((n, c) => n + c.seconds, 0);
    return `| ${r.label} | ${cells.join(' | ')} | ${total} s |`;
  });
  return [head, rule, ...rows].join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let servers = matrixServers();
  if (opts.servers) {
    const unknown = opts.servers.filter((n) => !servers.some((s) => s.name === n));
    if (unknown.length) { console.error(`run-matrix: unknown server(s) ${unknown.join(', ')} (have ${servers.map((s) => s.name).join(', ')})`); process.exit(2); }
    servers = servers.filter((s) => opts.servers.includes(s.name));
  }
  const toBuild = servers.filter((s) => s.build && !existsSync(s.server)).map((s) => s.build);
  if (toBuild.length) execFileSync(buildScript, toBuild, { stdio: 'inherit' });

  const results = [];
  const started = new Date();
  for (const s of servers) {
    const label = `${s.name}${s.system ? ' (system)' : ''}: ${execFileSync(s.server, ['--version'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')}`;
    const env = {
      ...process.env,
      STREAMFAN_REDIS_SERVER: s.server,
      STREAMFAN_REDIS_CLI: s.cli,
      PATH: `${dirname(s.server)}:${process.env.PATH}`,
      CI: process.env.CI ?? '1',
    };
    const row = { name: s.name, label, suites: {} };
    for (const suite of opts.suites) {
      console.error(`\n=== ${s.name} × ${suite} ===`);
      row.suites[suite] = await runJest(SUITES[suite], env, opts.workers);
    }
    results.push(row);
  }

  const matrix = table(results, opts.suites);
  const failures = results.flatMap((r) => Object.entries(r.suites).flatMap(([suite, c]) => c.failures.map((f) => `- ${r.name} × ${suite}: ${f}`)));
  console.log(`\n${matrix}\n`);
  if (failures.length) console.log(`Failures:\n${failures.join('\n')}\n`);

  if (opts.write) {
    const md = [
      '# Compatibility matrix: last run',
      '',
      `Written by \`pnpm test:compat\` (compat/run-matrix.mjs) on ${started.toISOString()}: suites ${opts.suites.join(', ')}, jest with ${opts.workers} worker(s), one server at a time, Node ${process.version}.`,
      'Each cell counts tests; the time is the wall time of that suite on that server (noisy on a shared machine).',
      '',
      matrix,
      '',
      failures.length ? '## Failures\n\n' + failures.join('\n') : 'No failures.',
      '',
    ].join('\n');
    writeFileSync(join(root, 'compat', 'RESULTS.md'), md);
  }
  process.exit(results.some((r) => Object.values(r.suites).some((c) => c.failed > 0)) ? 1 : 0);
}

main().catch((err) => { console.error(err); process.exit(1); });
