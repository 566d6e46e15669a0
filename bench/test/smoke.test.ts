import { spawn } from 'node:child_process';
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
    expect(results.memory.statusHash.keys).toBe(results.config.memoryEntries);
    expect(results.rss.complete).toBe(true);
    // Sustained load: the groups caught up, retention ran, and once they were done it emptied the stream.
    expect(results.sustain.complete).toBe(true);
    expect(results.sustain.retentionRuns).toBeGreaterThan(0);
    expect(results.sustain.maxLength).toBeGreaterThan(0);
    expect(results.sustain.finalLength).toBeLessThanOrEqual(100);
    expect(results.targets).toHaveLength(4);

    const markdown = readFileSync(join(out, md!), 'utf8');
    for (const heading of ['## Targets', '## Fan-out throughput', '## Publish rate', '## Latency', '## Scaling', '## Reclaim', '## Redis memory', '## Consumer RSS', '## Sustained load and retention']) {
      expect(markdown).toContain(heading);
    }
    expect(r.stdout).toContain('## Targets');
    expect(r.stderr).toContain('fan-out streamfan');
  }, 300_000);
});
