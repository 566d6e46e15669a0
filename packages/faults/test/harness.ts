import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { Streamfan, defineTopic, type Topic } from '@streamfan/core';
import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { diagnose, isClean, settle, type CheckInput, type GroupReport } from '../src/checker';
import { Fleet } from '../src/fleet';
import type { FaultPayload, WorkerConfig } from '../src/protocol';
import { SeqPublisher, type SeqPublisherOptions } from '../src/publisher';
import { printTable } from '../src/report';

/** One fault scenario: a topic, its groups, worker processes, a publisher and the checker. */
export interface Scenario {
  server: RedisServer;
  sf: Streamfan;
  redis: Redis;
  topic: Topic<FaultPayload>;
  groups: string[];
  fleet: Fleet;
  publisher: SeqPublisher;
  runDir: string;
  /** Keep `count` workers of role `name` running until the test ends (see {@link supervise}); returns a stop function. */
  supervise(name: string, count: number, overrides?: Partial<WorkerConfig>): () => void;
  /** Settle, print the table, and return the reports. */
  finish(fault: string, options?: { notes?: (reports: GroupReport[]) => string[]; timeoutMs?: number } & Partial<Pick<CheckInput, 'include' | 'reportedLost'>>): Promise<GroupReport[]>;
}

/** One redis-server per fault file, with `args` (e.g. AOF), and scenarios cleaned up after each test. */
export function useFaultServer(args: string[] = []): { scenario(o?: ScenarioOptions): Scenario; server(): RedisServer } {
  let server: RedisServer | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  beforeAll(async () => { server = await startRedis({ args }); });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });
  afterAll(async () => { await server?.stop(); });
  return {
    server: () => server!,
    scenario(o: ScenarioOptions = {}): Scenario {
      const srv = server!;
      const prefix = uniquePrefix('f');
      const topic = defineTopic<FaultPayload>(o.topic ?? 'orders');
      const groups = o.groups ?? ['billing', 'email'];
      const runDir = mkdtempSync(join(tmpdir(), 'streamfan-faults-'));
      const sf = new Streamfan({ connection: srv.url, prefix, retention: false });
      sf.on('error', () => undefined);
      const redis = srv.client({ maxRetriesPerRequest: null, commandTimeout: 15_000 });
      const supervisors: Array<() => void> = [];
      const fleet = new Fleet(runDir, { url: srv.url, prefix, topic: topic.name, groups, ...o.worker });
      const publisher = new SeqPublisher(sf, topic, o.publisher);
      cleanups.push(async () => {
        for (const stop of supervisors) stop();
        await publisher.stop();
        await fleet.killAll();
        await sf.close();
        redis.disconnect();
        if (!process.env.FAULTS_KEEP) rmSync(runDir, { recursive: true, force: true });
      });
      return {
        server: srv, sf, redis, topic, groups, fleet, publisher, runDir,
        supervise(name, count, overrides = {}) {
          const stop = supervise(fleet, name, count, overrides);
          supervisors.push(stop);
          return stop;
        },
        async finish(fault, f = {}) {
          const reports = await settle({ sf, redis, topic, groups, published: publisher.resolved, logDir: runDir, include: f.include, reportedLost: f.reportedLost }, f.timeoutMs ?? 60_000);
          const notes = [
            `publishes: ${publisher.resolved.size} resolved of ${publisher.attempted} attempted (failed: ${publisher.describeFailures()})`,
            `worker processes started: ${fleet.all.length}`,
            ...(f.notes?.(reports) ?? []),
          ];
          printTable(fault, reports, notes);
          if (!isClean(reports)) {
            const input = { sf, redis, topic, groups, published: publisher.resolved, logDir: runDir };
            process.stdout.write(`not clean; worker logs in ${runDir}\n${await diagnose(input, reports).catch((e: Error) => `diagnose failed: ${e.message}`)}\n`);
          }
          return reports;
        },
      };
    },
  };
}

/** Options of one scenario. */
export interface ScenarioOptions {
  topic?: string;
  groups?: string[];
  /** Defaults for every worker process. */
  worker?: Partial<Omit<WorkerConfig, 'url' | 'prefix' | 'topic' | 'consumer' | 'log'>> & { groups?: string[] };
  publisher?: SeqPublisherOptions;
}

/** Assert the checker's verdict: nothing lost, nothing pending, statuses agree. */
export function expectClean(reports: GroupReport[]): void {
  for (const r of reports) {
    expect({ group: r.group, lost: r.lost, lostSeqs: r.lostSeqs, pending: r.pending, lag: r.lag, retrying: r.retrying, statusMismatches: r.statusMismatches, examples: r.mismatchExamples, overlaps: r.overlaps })
      .toEqual({ group: r.group, lost: 0, lostSeqs: [], pending: 0, lag: 0, retrying: 0, statusMismatches: 0, examples: [], overlaps: 0 });
    expect(r.events).toBeGreaterThan(0);
  }
}

/**
 * Keep `count` worker processes of role `name` running (respawning those that die) until
 * the returned stop function is called.
 */
export function supervise(fleet: Fleet, name: string, count: number, overrides: Partial<WorkerConfig> = {}): () => void {
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const alive = fleet.alive.filter((w) => w.name === name).length;
      for (let i = alive; i < count && !stopped; i++) fleet.spawn(name, overrides);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  void loop();
  return () => { stopped = true; };
}

/** A random integer in [min, max]. */
export function between(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}
