import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `pnpm bench --only priority` still runs end to end with tiny sizes (issue 16): both wait runs
 * (lanes, and the one-lane baseline) and the starvation-guard run deliver every event, and the
 * figures are in the JSON and the table. It asserts what was delivered and recorded, never how
 * fast, nor the ordering (packages/core/test/lanes-*.test.ts test that).
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

test('bench --only priority: lanes and baseline wait runs and the starvation-guard run complete, figures recorded', async () => {
  const out = mkdtempSync(join(tmpdir(), 'streamfan-bench-priority-'));
  try {
    const r = await runBench(['--smoke', '--only', 'priority', '--json', '--out', out]);
    if (r.code !== 0) throw new Error(`bench exited ${r.code}:\n${r.stderr.slice(-3000)}`);
    const results = JSON.parse(r.stdout);
    expect(results.fanout).toEqual([]); // only the priority scenario ran
    const { wait, share } = results.priority;
    expect(wait.map((w: { variant: string }) => w.variant)).toEqual(['lanes', 'one lane']);
    for (const w of wait) {
      expect(w).toMatchObject({ complete: true, errors: 0 });
      expect(w.highWait.count).toBe(w.high);
      expect(w.lowWait.count).toBe(w.low);
      expect(w.highWait.p99).toBeGreaterThanOrEqual(0);
      expect(w.lowLeftAtLastHigh).toBeGreaterThanOrEqual(0);
      expect(w.lowLeftAtLastHigh).toBeLessThanOrEqual(w.low);
    }
    expect(share.length).toBeGreaterThanOrEqual(1);
    for (const s of share) {
      expect(s).toMatchObject({ complete: true, errors: 0 });
      // The window ends at the last high delivery: it holds every high event, and some low ones or none.
      expect(s.window).toBe(s.perLane + s.lowInWindow);
      expect(s.lowShare).toBeGreaterThanOrEqual(0);
      expect(s.lowShare).toBeLessThan(1);
    }
    expect(r.stderr).toContain('### Priority lanes');
    expect(r.stderr).toContain('Starvation guard');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 300_000);
