import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { WorkerProcess } from '../../faults/src/fleet';
import type { WorkerConfig } from '../../faults/src/protocol';
import type { ModelWorkerConfig } from './protocol';

const REPO_ROOT = resolve(__dirname, '../../..');
const WORKER_SCRIPT = join(REPO_ROOT, 'packages/model/src/worker.ts');
const TSCONFIG = join(REPO_ROOT, 'tsconfig.tests.json');

let bundle: string | undefined;
/** The model worker bundled once per test process (starts in a fraction of tsx's time). */
function workerBundle(): string {
  if (!bundle) {
    const dir = mkdtempSync(join(tmpdir(), 'streamfan-model-worker-'));
    bundle = join(dir, 'worker.cjs');
    buildSync({ entryPoints: [WORKER_SCRIPT], outfile: bundle, bundle: true, platform: 'node', target: 'node20', format: 'cjs', tsconfig: TSCONFIG, logLevel: 'error' });
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return bundle;
}

/**
 * The worker processes of one sequence. Each incarnation has its own consumer name and log;
 * the process handle is the fault suite's {@link WorkerProcess} (stdout events, waitEvent,
 * signals), and every exit time is kept for the checker.
 */
export class ModelFleet {
  readonly all: WorkerProcess[] = [];
  /** consumer → wall-clock ms of its exit. */
  readonly exits = new Map<string, number>();
  private counter = 0;

  constructor(readonly runDir: string, private readonly base: Omit<ModelWorkerConfig, 'consumer' | 'log'>) {}

  /** Groups every worker spawned from now on also subscribes from 'latest'. */
  lateGroups: string[] = [];
  /** Consumers spawned with the late groups. */
  readonly withLateGroups = new Set<string>();

  spawn(): WorkerProcess {
    this.counter++;
    const consumer = `w${this.counter}`;
    const config: ModelWorkerConfig = { ...this.base, lateGroups: this.lateGroups, consumer, log: join(this.runDir, `${consumer}.log`) };
    if (this.lateGroups.length > 0) this.withLateGroups.add(consumer);
    const child = spawn(process.execPath, [workerBundle(), JSON.stringify(config)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const w = new WorkerProcess(consumer, config as unknown as WorkerConfig, child);
    void w.exited.then(() => this.exits.set(consumer, performance.timeOrigin + performance.now()));
    this.all.push(w);
    return w;
  }

  get alive(): WorkerProcess[] {
    return this.all.filter((w) => w.alive);
  }

  async killAll(): Promise<void> {
    await Promise.all(this.alive.map((w) => { w.signal('SIGCONT'); return w.kill(); }));
  }
}
