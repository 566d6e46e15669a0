import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { buildSync } from 'esbuild';
import type { EventRecord, WorkerConfig } from './protocol';

/** Repository root (this file is packages/faults/src/fleet.ts). */
export const REPO_ROOT = resolve(__dirname, '../../..');
const WORKER_SCRIPT = join(REPO_ROOT, 'packages/faults/src/worker.ts');
const TSCONFIG = join(REPO_ROOT, 'tsconfig.tests.json');

const bundles = new Map<string, string>();
/**
 * `script` bundled once per test process with esbuild (the same sources tsx would run), in a
 * temporary folder removed at exit: a worker then starts in a fraction of the time, which
 * matters when a test spawns dozens of them. Returns the bundle's path.
 */
export function bundled(script: string): string {
  let out = bundles.get(script);
  if (!out) {
    const dir = mkdtempSync(join(tmpdir(), 'streamfan-worker-'));
    out = join(dir, `${basename(script, '.ts')}.cjs`);
    buildSync({ entryPoints: [script], outfile: out, bundle: true, platform: 'node', target: 'node20', format: 'cjs', tsconfig: TSCONFIG, logLevel: 'error' });
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    bundles.set(script, out);
  }
  return out;
}

/** Call `onValue` with each line `stream` writes that parses as JSON (other lines are skipped). */
export function onJsonLines(stream: Readable | null, onValue: (value: unknown) => void): void {
  let buf = '';
  stream?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let value: unknown;
      try { value = JSON.parse(line); } catch { continue; }
      onValue(value);
    }
  });
}

/** The worker script's command line: its bundle, or with FAULTS_WORKER_TSX=1 the sources through tsx. */
function workerCommand(): string[] {
  return process.env.FAULTS_WORKER_TSX ? ['--import', 'tsx', WORKER_SCRIPT] : [bundled(WORKER_SCRIPT)];
}

/** One worker process (one incarnation: a respawn is a new WorkerProcess with a new consumer name). */
export class WorkerProcess {
  readonly events: EventRecord[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly listeners = new Set<() => void>();
  private stderr = '';

  constructor(readonly name: string, readonly config: WorkerConfig, private readonly child: ChildProcess) {
    onJsonLines(child.stdout, (e) => {
      this.events.push(e as EventRecord);
      for (const l of this.listeners) l();
    });
    child.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
    this.exited = new Promise((res) => child.once('exit', (code, signal) => {
      for (const l of this.listeners) l();
      res({ code, signal });
    }));
  }

  get pid(): number | undefined { return this.child.pid; }
  get consumer(): string { return this.config.consumer; }
  get alive(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }
  /** Last lines the process wrote to stderr (for failure messages). */
  get errorOutput(): string { return this.stderr; }

  /** Events of one type seen so far (optionally of one group). */
  seen(type: string, group?: string): EventRecord[] {
    return this.events.filter((e) => e.type === type && (group === undefined || e.g === group));
  }

  /** Resolve with the first event (past or future) that matches; reject on exit or timeout. */
  waitEvent(type: string, options: { group?: string; timeoutMs?: number; match?: (e: EventRecord) => boolean; after?: number } = {}): Promise<EventRecord> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const from = options.after ?? 0;
    return new Promise((res, rej) => {
      const check = (): boolean => {
        const e = this.events.slice(from).find((x) => x.type === type && (options.group === undefined || x.g === options.group) && (!options.match || options.match(x)));
        if (e) { done(); res(e); return true; }
        if (!this.alive) { done(); rej(new Error(`worker ${this.consumer} exited before "${type}" (stderr: ${this.stderr.slice(-1000)})`)); return true; }
        return false;
      };
      const timer = setTimeout(() => { done(); rej(new Error(`worker ${this.consumer}: no "${type}" event within ${timeoutMs}ms (stderr: ${this.stderr.slice(-1000)})`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); this.listeners.delete(listener); };
      const listener = () => { check(); };
      this.listeners.add(listener);
      check();
    });
  }

  /** Resolve once every group of this worker is reading. */
  async ready(timeoutMs = 30_000): Promise<void> {
    for (const g of this.config.groups) await this.waitEvent('ready', { group: g, timeoutMs });
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) this.child.kill(sig);
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (graceful close) and wait for the exit; SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.alive) return this.exited;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const t = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
}

/**
 * Starts and tracks the worker processes of one fault test. Every incarnation gets its own
 * consumer name and log file in `runDir`, so the checker sees every delivery ever made.
 */
export class Fleet {
  readonly all: WorkerProcess[] = [];
  private counter = 0;

  constructor(readonly runDir: string, private readonly base: Omit<WorkerConfig, 'consumer' | 'log'>) {}

  /** Start a worker process; `name` is the role (its consumer name gets a suffix per incarnation). */
  spawn(name: string, overrides: Partial<WorkerConfig> = {}): WorkerProcess {
    this.counter++;
    const consumer = `${name}-${this.counter}`;
    const config: WorkerConfig = { ...this.base, ...overrides, consumer, log: join(this.runDir, `${consumer}.log`) };
    const child = spawn(process.execPath, [...workerCommand(), JSON.stringify(config)], {
      cwd: REPO_ROOT,
      env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const w = new WorkerProcess(name, config, child);
    this.all.push(w);
    return w;
  }

  /** Worker processes still running. */
  get alive(): WorkerProcess[] {
    return this.all.filter((w) => w.alive);
  }

  /** Every event every incarnation reported. */
  events(type: string): EventRecord[] {
    return this.all.flatMap((w) => w.seen(type));
  }

  /** Graceful stop of every running worker (SIGKILL after a timeout). */
  async stopAll(timeoutMs = 20_000): Promise<void> {
    await Promise.all(this.alive.map((w) => w.stop(timeoutMs)));
  }

  /** SIGKILL every running worker (cleanup after a failed test). */
  async killAll(): Promise<void> {
    await Promise.all(this.alive.map((w) => w.kill()));
  }
}
