import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

/** What one run of the `streamfan` command printed, and its exit code. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The repository root. */
export const ROOT = join(__dirname, '..', '..', '..');

let bundle: string | undefined;
let bundleDir: string | undefined;

/**
 * Build `packages/cli/src/bin.ts` once into one JS file (with esbuild, as tsx does per run):
 * a process then starts in a fraction of the time, which matters with dozens of runs on a
 * small machine. The same sources `pnpm build` compiles for `pnpm streamfan`.
 */
export function buildCli(): string {
  if (bundle) return bundle;
  bundleDir = mkdtempSync(join(tmpdir(), 'streamfan-cli-'));
  bundle = join(bundleDir, 'streamfan.cjs');
  buildSync({
    entryPoints: [join(ROOT, 'packages/cli/src/bin.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    tsconfig: join(ROOT, 'tsconfig.tests.json'),
    logLevel: 'error',
    sourcemap: 'inline',
  });
  return bundle;
}

/** Remove the built file. */
export function removeCli(): void {
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  bundle = bundleDir = undefined;
}

interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Run `streamfan <args>` as a child process. stdin is a pipe, never a terminal: prompts must
 * be skipped with --yes. REDIS_URL is removed from the environment unless `env` sets it.
 */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return startCli(args, options).result;
}

/** Like {@link runCli}, with the child process at hand (to signal it) and its output so far. */
export function startCli(
  args: readonly string[],
  options: RunOptions = {},
): { child: ChildProcess; output: () => string; result: Promise<CliResult> } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.REDIS_URL;
  delete env.NODE_OPTIONS;
  Object.assign(env, options.env);
  const child = spawn(process.execPath, [buildCli(), ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const result = new Promise<CliResult>((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`streamfan ${args.join(' ')} did not exit within ${timeoutMs}ms; stdout: ${stdout} stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  child.stdin.end(options.input ?? '');
  return { child, output: () => stdout, result };
}

/** Run several at once, at most `width` together. Results in the order given. */
export async function runAll<const R extends ReadonlyArray<readonly [readonly string[], RunOptions?]>>(
  runs: R,
  width = 4,
): Promise<{ -readonly [K in keyof R]: CliResult }> {
  const out: CliResult[] = new Array<CliResult>(runs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, runs.length) }, async () => {
      while (next < runs.length) {
        const i = next++;
        const [args, options] = runs[i]!;
        out[i] = await runCli(args, options);
      }
    }),
  );
  return out as { -readonly [K in keyof R]: CliResult };
}
