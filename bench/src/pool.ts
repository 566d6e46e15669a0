import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { ChildMessage, ConsumeJob, GroupResult, ParentMessage, RssSample } from './protocol';

type Of<T extends ChildMessage['type']> = Extract<ChildMessage, { type: T }>;

/** One consumer process, reused across scenarios (tsx start-up costs a second or two). */
export class WorkerProcess {
  private readonly listeners = new Set<(m: ChildMessage) => void>();
  private exited: Error | undefined;

  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: ChildMessage) => {
      for (const l of [...this.listeners]) l(m);
    });
    proc.on('exit', (code, signal) => {
      this.exited = new Error(`bench consumer process ${proc.pid} exited (code ${code}, signal ${signal})`);
      for (const l of [...this.listeners]) l({ type: 'error', message: this.exited.message });
    });
  }

  /** Fork a consumer process; it inherits this process's tsx loader through execArgv. */
  static async start(): Promise<WorkerProcess> {
    // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every consumer process there (to find where time goes).
    const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
    const proc = fork(join(__dirname, 'child', 'main.ts'), [], { execArgv: [...process.execArgv, ...prof], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const w = new WorkerProcess(proc);
    await w.next('hello', 60_000);
    return w;
  }

  send(m: ParentMessage): void {
    if (this.exited) throw this.exited;
    this.proc.send(m);
  }

  on(fn: (m: ChildMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The next message of `type`; an `error` message or exit rejects. */
  next<T extends ChildMessage['type']>(type: T, timeoutMs: number): Promise<Of<T>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error(`bench consumer ${this.proc.pid}: no "${type}" within ${timeoutMs} ms`)); }, timeoutMs);
      const off = this.on((m) => {
        if (m.type === type) { clearTimeout(timer); off(); resolve(m as Of<T>); }
        else if (m.type === 'error' && type !== 'error') { clearTimeout(timer); off(); reject(new Error(m.message)); }
      });
    });
  }

  async exit(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    try { this.send({ type: 'exit' }); } catch { return; }
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}

/** Results of one run of consumer processes. */
export interface RunResult {
  groups: GroupResult[];
  rss: RssSample[];
  /** CPU time of the consumer processes, µs, from ready until each was done. */
  cpuMicros: number;
  /** Every group reached the expected count before the deadline. */
  complete: boolean;
}

/** A run in progress: its processes are ready and consuming. */
export interface ActiveRun {
  /** Deliveries settled so far, over all groups. */
  delivered(): number;
  /**
   * Wait until every group settled the expected count (or `timeoutMs` passes), run `atDone`
   * (e.g. read Redis CPU before shutdown adds to it), then stop and collect.
   */
  finish(timeoutMs: number, atDone?: () => Promise<void>): Promise<RunResult>;
  /** Called with each RSS sample a process reports. */
  onRss(fn: (s: RssSample) => void): void;
}

/** A lazily grown set of consumer processes. */
export class Pool {
  private readonly procs: WorkerProcess[] = [];

  constructor(readonly maxProcesses: number) {}

  private async ensure(n: number): Promise<WorkerProcess[]> {
    const missing = n - this.procs.length;
    if (missing > 0) this.procs.push(...(await Promise.all(Array.from({ length: missing }, () => WorkerProcess.start()))));
    return this.procs.slice(0, n);
  }

  /** How many processes `groups` groups run in (one per group, up to the cap). */
  processesFor(groups: number): number {
    return Math.min(groups, this.maxProcesses);
  }

  /**
   * Start consumers: the groups are spread over processes, one group per process up to the
   * cap, round robin beyond it. Resolves once every process is ready.
   */
  async start(job: Omit<ConsumeJob, 'groups'>, groups: string[]): Promise<ActiveRun> {
    const procs = await this.ensure(this.processesFor(groups.length));
    const share: string[][] = procs.map(() => []);
    groups.forEach((g, i) => share[i % procs.length]!.push(g));
    const delivered = new Map<WorkerProcess, number>();
    const done = new Set<WorkerProcess>();
    const rssFns: Array<(s: RssSample) => void> = [];
    let doneResolve: () => void = () => undefined;
    const allDone = new Promise<void>((resolve) => { doneResolve = resolve; });
    const offs = procs.map((p) => p.on((m) => {
      if (m.type === 'progress') delivered.set(p, m.delivered);
      else if (m.type === 'done') { done.add(p); if (done.size === procs.length) doneResolve(); }
      else if (m.type === 'rss') for (const f of rssFns) f(m.sample);
      else if (m.type === 'error') process.stderr.write(`\n[bench] consumer ${p.proc.pid}: ${m.message}\n`);
    }));
    await Promise.all(procs.map(async (p, i) => {
      const ready = p.next('ready', 60_000);
      p.send({ type: 'run', job: { ...job, groups: share[i]! } });
      await ready;
    }));
    return {
      delivered: () => [...delivered.values()].reduce((a, b) => a + b, 0),
      onRss: (fn) => { rssFns.push(fn); },
      finish: async (timeoutMs, atDone) => {
        let timer: NodeJS.Timeout | undefined;
        const complete = await Promise.race([
          allDone.then(() => true),
          new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); }),
        ]);
        clearTimeout(timer);
        if (atDone) await atDone();
        const stopped = await Promise.all(procs.map(async (p) => {
          const reply = p.next('stopped', 60_000);
          p.send({ type: 'stop' });
          return reply;
        }));
        for (const off of offs) off();
        return { groups: stopped.flatMap((s) => s.groups), rss: stopped.flatMap((s) => s.rss), cpuMicros: stopped.reduce((a, s) => a + s.cpuMicros, 0), complete };
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.exit()));
    this.procs.length = 0;
  }
}
