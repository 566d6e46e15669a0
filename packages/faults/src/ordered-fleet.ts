/**
 * Worker processes of the ordered-partition faults (14–17) and the ordering check: spawn
 * {@link OrderedWorkerConfig} workers (an esbuild bundle of ordered-worker.ts), SIGKILL and
 * SIGTERM them, read their logs, and check per key that successful handlings follow publish
 * order and that no two handlings of one key overlap in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Streamfan, defineTopic, type Topic } from '@streamfan/core';
import { uniquePrefix } from '@streamfan/testing';
import { bundled, onJsonLines, REPO_ROOT } from './fleet';
import type { KeyedPayload, OrderedRecord, OrderedWorkerConfig } from './ordered-protocol';

const SCRIPT = join(REPO_ROOT, 'packages/faults/src/ordered-worker.ts');

/** One ordered worker process (one incarnation, one consumer name). */
export class OrderedWorker {
  /** Wall-clock ms when this process was seen gone (set by kill/stop/exit). */
  endedAt: number | undefined;
  readonly exited: Promise<void>;
  private readonly lines: Array<{ type: string; t: number; data?: unknown }> = [];
  private stderr = '';

  constructor(readonly config: OrderedWorkerConfig, private readonly child: ChildProcess) {
    onJsonLines(child.stdout, (l) => this.lines.push(l as { type: string; t: number }));
    child.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
    this.exited = new Promise((res) => child.once('exit', () => { this.endedAt ??= Date.now(); res(); }));
  }

  get consumer(): string { return this.config.consumer; }
  get alive(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }
  /** Lifecycle events of one type this worker reported. */
  seen(type: string): Array<{ type: string; t: number; data?: unknown }> { return this.lines.filter((l) => l.type === type); }

  /** Whether a handler of this process has started and not ended now (its log is written synchronously). */
  busy(): boolean {
    const open = new Set<string>();
    let text: string;
    try { text = readFileSync(this.config.log, 'utf8'); } catch { return false; }
    for (const line of text.split('\n')) {
      let r: OrderedRecord;
      try { r = JSON.parse(line) as OrderedRecord; } catch { continue; } // empty, or a line being written
      if (r.k === 's') open.add(`${r.id}|${r.attempt}`);
      else if (r.k === 'e') open.delete(`${r.id}|${r.attempt}`);
    }
    return open.size > 0;
  }

  /** Wait (polling every 2 ms, at most `timeoutMs`) until a handler of this process runs; false if none did. */
  async untilBusy(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (this.alive && Date.now() < end) {
      if (this.busy()) return true;
      await new Promise((r) => setTimeout(r, 2));
    }
    return false;
  }

  async ready(timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.seen('ready').length === 0) {
      if (!this.alive) throw new Error(`worker ${this.consumer} exited before ready: ${this.stderr}`);
      if (Date.now() > end) throw new Error(`worker ${this.consumer} not ready after ${timeoutMs} ms: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGKILL; resolves once the process is gone (its end time is when the kill was sent). */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.endedAt = Date.now();
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Send a signal (SIGSTOP, SIGCONT…) if the process still runs. */
  signal(sig: NodeJS.Signals): void {
    if (this.alive) this.child.kill(sig);
  }

  /** SIGTERM (graceful close); SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Spawns ordered workers; each incarnation has its own consumer name and log in `runDir`. */
export class OrderedFleet {
  readonly all: OrderedWorker[] = [];
  private n = 0;
  constructor(readonly runDir: string, private readonly base: Omit<OrderedWorkerConfig, 'consumer' | 'log'>) {}

  spawn(name = 'w'): OrderedWorker {
    this.n++;
    const consumer = `${name}-${this.n}`;
    const config: OrderedWorkerConfig = { ...this.base, consumer, log: join(this.runDir, `${consumer}.log`) };
    const child = spawn(process.execPath, [bundled(SCRIPT), JSON.stringify(config)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const w = new OrderedWorker(config, child);
    this.all.push(w);
    return w;
  }

  get alive(): OrderedWorker[] { return this.all.filter((w) => w.alive); }

  async killAll(): Promise<void> { await Promise.all(this.alive.map((w) => w.kill())); }

  /** Every record of every incarnation's log. */
  records(): OrderedRecord[] {
    const out: OrderedRecord[] = [];
    for (const f of readdirSync(this.runDir)) {
      if (!f.endsWith('.log')) continue;
      for (const line of readFileSync(join(this.runDir, f), 'utf8').split('\n')) {
        if (line) out.push(JSON.parse(line) as OrderedRecord);
      }
    }
    return out;
  }
}

/** Where an ordered fault's client and workers connect: one server's URL or a cluster's startup nodes. */
export type OrderedRedis = { url: string } | { cluster: Array<{ host: string; port: number }> };

/** What {@link withOrderedFleet} hands its body. */
export interface OrderedRun { sf: Streamfan; topic: Topic<KeyedPayload>; prefix: string; fleet: OrderedFleet }

/**
 * Run `body` with a client and a fleet of ordered workers (`worker`: group, ordering, lease,
 * handler behaviour) on a fresh prefix (`f<fault>…`) and topic `orders` of `worker.partitions`
 * partitions, the workers' logs in a new temporary folder. After it, passed or failed, every
 * worker still running is SIGKILLed, the client closed and the folder deleted (kept, and its
 * path printed, with FAULTS_KEEP=1).
 */
export async function withOrderedFleet(fault: number, redis: OrderedRedis, worker: Omit<OrderedWorkerConfig, 'url' | 'cluster' | 'prefix' | 'topic' | 'consumer' | 'log'>, body: (run: OrderedRun) => Promise<void>): Promise<void> {
  const prefix = uniquePrefix(`f${fault}`);
  const topic = defineTopic<KeyedPayload>('orders', { partitions: worker.partitions });
  const runDir = mkdtempSync(join(tmpdir(), `streamfan-f${fault}-`));
  const [connection, target] = 'url' in redis ? [redis.url, { url: redis.url }] : [{ cluster: redis.cluster }, { url: '', cluster: redis.cluster }];
  const sf = new Streamfan({ connection, prefix, retention: false });
  sf.on('error', () => undefined);
  const fleet = new OrderedFleet(runDir, { ...target, ...worker, prefix, topic: topic.name });
  try {
    await body({ sf, topic, prefix, fleet });
  } finally {
    await fleet.killAll();
    await sf.close();
    if (!process.env.FAULTS_KEEP) rmSync(runDir, { recursive: true, force: true });
    else console.log(`fault ${fault}: worker logs in ${runDir}`);
  }
}

/** One handling of an event, from its start line to its end line (or its process's death). */
export interface Handling { key: string; seq: number; id: string; consumer: string; attempt: number; token: number; start: number; end: number; ok: boolean; killed: boolean }

/** What {@link checkOrder} found. */
export interface OrderReport {
  handlings: number;
  failedAttempts: number;
  killedHandlings: number;
  keys: number;
  consumers: number;
  /** Successful handlings of a key whose seq is below that of an earlier success of the key. */
  outOfOrder: string[];
  /** Two handlings of one key overlapping in time. */
  overlaps: string[];
  /** Events (key#seq) never handled at all. */
  neverHandled: string[];
  /** Successful handlings beyond the first of an event (allowed: a kill between side effect and ack). */
  duplicates: number;
}

/**
 * Pair start and end lines into handlings. A start without an end was cut short by its
 * process's death: it ends when the test saw the process gone (never earlier than the truth).
 */
export function handlings(records: OrderedRecord[], endedAt: (consumer: string) => number | undefined): Handling[] {
  const open = new Map<string, Handling>();
  const out: Handling[] = [];
  for (const r of records) {
    if (r.k === 's') {
      const h: Handling = { key: r.key, seq: r.seq, id: r.id, consumer: r.consumer, attempt: r.attempt, token: r.token, start: r.t, end: Number.POSITIVE_INFINITY, ok: false, killed: false };
      open.set(`${r.consumer}|${r.id}|${r.attempt}`, h);
      out.push(h);
    } else if (r.k === 'e') {
      const h = open.get(`${r.consumer}|${r.id}|${r.attempt}`);
      if (h) { h.end = r.t; h.ok = r.ok; open.delete(`${r.consumer}|${r.id}|${r.attempt}`); }
    }
  }
  for (const h of open.values()) {
    h.killed = true;
    h.end = endedAt(h.consumer) ?? Number.POSITIVE_INFINITY;
  }
  return out;
}

/**
 * Per key: successful handlings, in start order, have non-decreasing seq (publish order; a
 * repeat of the same seq is a duplicate after a kill); no handling starts before the previous
 * one of its key ended; every seq in `published` (key → count) was handled at least once.
 */
export function checkOrder(hs: Handling[], published: Map<string, number>): OrderReport {
  const byKey = new Map<string, Handling[]>();
  for (const h of hs) byKey.set(h.key, [...(byKey.get(h.key) ?? []), h]);
  const report: OrderReport = {
    handlings: hs.length, failedAttempts: hs.filter((h) => !h.ok && !h.killed).length, killedHandlings: hs.filter((h) => h.killed).length,
    keys: byKey.size, consumers: new Set(hs.map((h) => h.consumer)).size, outOfOrder: [], overlaps: [], neverHandled: [], duplicates: 0,
  };
  for (const [key, count] of published) {
    const list = (byKey.get(key) ?? []).sort((a, b) => a.start - b.start || a.end - b.end);
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!;
      const b = list[i]!;
      if (b.start < a.end) report.overlaps.push(`${key}: #${b.seq} (attempt ${b.attempt}, ${b.consumer}) started at ${b.start}, before #${a.seq} (attempt ${a.attempt}, ${a.consumer}${a.killed ? ', killed' : ''}) ended at ${a.end}`);
    }
    const ok = list.filter((h) => h.ok);
    for (let i = 1; i < ok.length; i++) {
      if (ok[i]!.seq < ok[i - 1]!.seq) report.outOfOrder.push(`${key}: #${ok[i]!.seq} (${ok[i]!.consumer}) succeeded after #${ok[i - 1]!.seq} (${ok[i - 1]!.consumer})`);
      if (ok[i]!.seq === ok[i - 1]!.seq) report.duplicates++;
    }
    const seen = new Set(list.map((h) => h.seq));
    for (let s = 0; s < count; s++) if (!seen.has(s)) report.neverHandled.push(`${key}#${s}`);
  }
  return report;
}
