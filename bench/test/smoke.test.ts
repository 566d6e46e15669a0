import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Proves the benchmark still runs end to end (its own redis-server, consumer processes,
 * every scenario, JSON and Markdown written) with tiny sizes. It asserts what was
 * delivered and written, never how fast.
 */
const benchDir = join(__dirname, '..');

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const tsxCli = require.resolve('tsx/cli', { paths: [benchDir] });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsxCli, join(benchDir, 'src', 'main.ts'), ...args], { cwd: benchDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('bench smoke run', () => {
  let out: string;
  beforeAll(() => { out = mkdtempSync(join(tmpdir(), 'streamfan-bench-')); });
  afterAll(() => { rmSync(out, { recursive: true, force: true }); });

  test('every scenario runs with tiny sizes and writes JSON and Markdown', async () => {
    const r = await runBench(['--smoke', '--out', out]);
    if (r.code !== 0) throw new Error(`bench exited ${r.code}:\n${r.stderr.slice(-3000)}`);
    const files = readdirSync(out);
    const json = files.find((f) => f.endsWith('-smoke.json'));
    const md = files.find((f) => f.endsWith('-smoke.md'));
    expect(json).toBeDefined();
    expect(md).toBeDefined();

    const results = JSON.parse(readFileSync(join(out, json!), 'utf8'));
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.redis).toMatch(/^\d+\.\d+/);
    expect(results.fanout.map((f: { system: string }) => f.system)).toEqual(['streamfan', 'floor', 'bullmq']);
    for (const f of results.fanout) {
      expect(f.complete).toBe(true);
      expect(f.delivered).toBe(f.events * f.groups);
      expect(f.errors).toEqual([]);
    }
    expect(results.publish).toHaveLength(4);
    expect(results.latency.length).toBe(3 * results.config.latencyRates.length);
    for (const l of results.latency) {
      expect(l.complete).toBe(true);
      expect(l.summary.count).toBe(Math.round(l.rate * l.seconds) * l.groups);
    }
    for (const list of [results.scaling.groups, results.scaling.concurrency, results.scaling.payload]) {
      for (const f of list) expect(f.delivered).toBe(f.events * f.groups);
    }
    for (const x of results.reclaim) {
      expect(x.complete).toBe(true);
    }
    expect(results.memory.streamEntry.usage).toBeGreaterThan(0);
    // Protocol 2: every event succeeded without a result, so no per-event status hash is left;
    // the successes are records in per-group, per-second buckets.
    expect(results.memory.statusHash.keys).toBe(0);
    // Issue 17: one per-event run per group count, every event's status kept, every kind measured.
    expect(results.memory.perEvent.map((p: { groups: number }) => p.groups)).toEqual(results.config.memoryGroups);
    for (const p of results.memory.perEvent) {
      expect(p.complete).toBe(true);
      expect(p.statusKeys).toBe(0);
      expect(p.bucketKeys).toBeGreaterThanOrEqual(p.groups);
      expect(p.bucketUsagePerEvent).toBeGreaterThan(0);
    }
    for (const kind of ['retrySet', 'redelivery', 'deadLetter', 'idempotency', 'delayed']) {
      expect(results.memory.breakdown[kind].count).toBe(results.memory.breakdown.events);
      expect(results.memory.breakdown[kind].usage).toBeGreaterThan(0);
    }
    expect(results.rss.complete).toBe(true);
    // The ack path alone: every variant acknowledged every entry (the scenario throws otherwise).
    expect(results.ackCost.map((a: { variant: string }) => a.variant)).toHaveLength(7);
    for (const a of results.ackCost) expect(a.cpuPerDelivery).toBeGreaterThan(0);
    // Sustained load: the groups caught up, retention ran, and once they were done it emptied the stream.
    expect(results.sustain.complete).toBe(true);
    expect(results.sustain.retentionRuns).toBeGreaterThan(0);
    expect(results.sustain.maxLength).toBeGreaterThan(0);
    expect(results.sustain.finalLength).toBeLessThanOrEqual(100);
    expect(results.targets.map((t: { name: string }) => t.name)).toEqual([
      'streamfan fan-out deliveries/s ÷ floor', 'streamfan fan-out deliveries/s ÷ floor (issue 11)', 'streamfan fan-out deliveries/s ÷ BullMQ',
      'publishMany events/s ÷ floor pipelined XADD', 'p99 latency at 500/s: streamfan ÷ floor', 'Redis bytes per event, 3 groups, all succeeded (issue 17)',
    ]);

    const markdown = readFileSync(join(out, md!), 'utf8');
    for (const heading of ['## Targets', '## Fan-out throughput', '## Publish rate', '## Latency', '## Scaling', '## Reclaim', '## Redis memory', '## Consumer RSS', '## Sustained load and retention', '## Ack path: Redis CPU per delivery']) {
      expect(markdown).toContain(heading);
    }
    expect(r.stdout).toContain('## Targets');
    expect(r.stderr).toContain('fan-out streamfan');
  }, 300_000);

  test('--servers runs each server in turn and prints one table across them; --json prints the same as JSON', async () => {
    const r = await runBench(['--smoke', '--servers', 'redis-server-on-path-twice', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown server "redis-server-on-path-twice": known servers are/);
    const bin = process.env.STREAMFAN_REDIS_SERVER || execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
    const j = await runBench(['--smoke', '--servers', `${bin},${bin}`, '--only', 'fanout', '--json', '--quiet', '--out', out]);
    if (j.code !== 0) throw new Error(`bench exited ${j.code}:\n${j.stderr.slice(-3000)}`);
    const doc = JSON.parse(j.stdout);
    expect(doc.servers).toHaveLength(2);
    for (const s of doc.servers) {
      expect(s.server).toBe(bin);
      expect(s.streamfanPerSec).toBeGreaterThan(0);
      expect(s.floorPerSec).toBeGreaterThan(0);
      expect(s.streamfanRedisCpuPerDelivery).toBeGreaterThan(0);
      expect(s.commit).toMatch(/^[0-9a-f]+/);
    }
    // The fan-out records which Redis commands each delivery cost (INFO commandstats).
    const sfRun = doc.runs[0].fanout.find((f: { system: string }) => f.system === 'streamfan');
    expect(sfRun.commands.map((c: { command: string }) => c.command)).toContain('xack');
    expect(doc.runs[0].fanout.map((f: { system: string }) => f.system)).toEqual(['streamfan', 'floor']);
  }, 300_000);
});
