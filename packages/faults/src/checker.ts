import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { topicKeys, type Streamfan, type Topic } from '@streamfan/core/internal';
import type { DeliveryRecord, EventRecord, FaultPayload, HandlerResult, LogRecord } from './protocol';

/** What the checker needs to know about one fault run. */
export interface CheckInput {
  /** A client of the server under test (reads groups; never consumes). */
  sf: Streamfan;
  /** A raw connection to the same server. */
  redis: Redis;
  topic: Topic<FaultPayload>;
  groups: string[];
  /** seq → event id of every publish that resolved. */
  published: ReadonlyMap<number, string>;
  /** Directory of the workers' log files. */
  logDir: string;
  /** Only these sequence numbers are owed (e.g. after a FLUSHDB only later publishes). @defaultValue all */
  include?: (seq: number) => boolean;
  /** Event ids whose loss was reported (trimmed by a hard cap), per group: not counted as lost. */
  reportedLost?: (group: string, id: string) => boolean;
}

/** The checker's verdict for one group. */
export interface GroupReport {
  group: string;
  /** Publishes that resolved and are owed to this group. */
  events: number;
  /** Handler invocations recorded (every attempt, every process). */
  deliveries: number;
  /** Successful handlings beyond the first of the same event (allowed: at-least-once). */
  duplicates: number;
  /** Sequence numbers handled under more than one event id: a publish written twice (a client resent it after a reconnect). */
  republished: number;
  /** Owed events neither handled successfully nor in dead letters. Must be 0. */
  lost: number;
  lostSeqs: number[];
  /** Loss that the library reported (hard-cap trims): expected, and counted apart. */
  reportedLost: number;
  /** Owed events in this group's dead letters. */
  deadLetters: number;
  /** Dead letters of entries the publisher did not write (malformed entries written by someone else). */
  foreignDeadLetters: number;
  pending: number;
  lag: number | null;
  retrying: number;
  /** Status hashes that disagree with what the handlers saw (must be 0). */
  statusMismatches: number;
  mismatchExamples: string[];
  /** Times one consumer started an event it was still running (must be 0). */
  overlaps: number;
}

/** Every record of every worker log in `dir`. A line cut short by a SIGKILL is skipped. */
export function readLogs(dir: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.log')) continue;
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      try { out.push(JSON.parse(line) as LogRecord); } catch { /* torn last line of a killed worker */ }
    }
  }
  return out;
}

/** Deliveries that started but never reached their side effect nor failed: cut short by a kill. */
export function cutShort(dir: string): number {
  const open = new Set<string>();
  for (const r of readLogs(dir)) {
    if (r.k !== 'd') continue;
    const key = `${r.g}|${r.id}|${r.attempt}|${r.consumer}`;
    if (r.o === 'start') open.add(key);
    else open.delete(key);
  }
  return open.size;
}

/** Lifecycle events (stale, recovered, capLoss...) every worker logged. */
export function loggedEvents(dir: string, type?: string): EventRecord[] {
  return readLogs(dir).filter((r): r is EventRecord => r.k === 'e' && (type === undefined || r.type === type));
}

interface DeadRow { id: string; seq: number | undefined; reason: string }

async function readDeadLetters(redis: Redis, prefix: string, topic: string, group: string): Promise<DeadRow[]> {
  const rows = await redis.xrange(topicKeys(prefix, topic).deadLetters(group), '-', '+');
  return rows.map(([, flat]) => {
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i]!, flat[i + 1]!);
    let seq: number | undefined;
    try {
      const p = JSON.parse(f.get('payload') ?? 'null') as FaultPayload | null;
      if (p && typeof p.seq === 'number') seq = p.seq;
    } catch { seq = undefined; }
    return { id: f.get('id') ?? '', seq, reason: f.get('reason') ?? '' };
  });
}

/** Check every group once. */
export async function check(input: CheckInput): Promise<GroupReport[]> {
  const { sf, redis, topic, groups } = input;
  const keys = topicKeys(sf.prefix, topic.name);
  const include = input.include ?? (() => true);
  const owed = [...input.published].filter(([seq]) => include(seq));
  const deliveries = readLogs(input.logDir).filter((r): r is DeliveryRecord => r.k === 'd');
  const infos = await sf.groups(topic);
  const lastId = ((await redis.xrevrange(keys.stream, '+', '-', 'COUNT', 1))[0]?.[0]) ?? '0-0';

  // Status hashes of every owed event, in one pipeline.
  const p = redis.pipeline();
  for (const [, id] of owed) p.hgetall(keys.status(id));
  const hashes = ((await p.exec()) ?? []).map(([, h]) => (h ?? {}) as Record<string, string>);

  const publishedIds = new Set(input.published.values());
  const reports: GroupReport[] = [];
  for (const group of groups) {
    const mine = deliveries.filter((d) => d.g === group && include(d.seq));
    const okById = new Map<string, DeliveryRecord[]>();
    const okBySeq = new Map<number, number>();
    const idsBySeq = new Map<number, Set<string>>();
    for (const d of mine) {
      if (d.o !== 'ok') continue;
      idsBySeq.set(d.seq, (idsBySeq.get(d.seq) ?? new Set<string>()).add(d.id));
      okById.set(d.id, [...(okById.get(d.id) ?? []), d]);
      okBySeq.set(d.seq, (okBySeq.get(d.seq) ?? 0) + 1);
    }
    const dead = await readDeadLetters(redis, sf.prefix, topic.name, group);
    const deadIds = new Set(dead.map((d) => d.id));
    const info = infos.find((g) => g.group === group);
    let lag = info ? info.lag : null;
    if (info && lag === null && info.lastDeliveredId === lastId) lag = 0;

    const r: GroupReport = {
      group, events: owed.length, deliveries: mine.filter((d) => d.o === 'start').length,
      duplicates: [...okBySeq.values()].reduce((n, c) => n + Math.max(0, c - 1), 0),
      republished: [...idsBySeq.values()].filter((ids) => ids.size > 1).length,
      lost: 0, lostSeqs: [], reportedLost: 0, deadLetters: 0,
      foreignDeadLetters: dead.filter((d) => !publishedIds.has(d.id)).length,
      pending: info?.pending ?? -1, lag, retrying: info?.retrying ?? -1,
      statusMismatches: 0, mismatchExamples: [], overlaps: 0,
    };
    const open = new Set<string>();
    for (const d of mine) {
      const key = `${d.consumer}|${d.id}`;
      if (d.o !== 'start') open.delete(key);
      else if (open.has(key)) r.overlaps++;
      else open.add(key);
    }
    const mismatch = (seq: number, what: string) => {
      r.statusMismatches++;
      if (r.mismatchExamples.length < 5) r.mismatchExamples.push(`seq ${seq}: ${what}`);
    };
    owed.forEach(([seq, id], i) => {
      const hash = hashes[i] ?? {};
      const state = hash[`${group}:state`];
      if (deadIds.has(id)) {
        r.deadLetters++;
        if (state !== 'dead') mismatch(seq, `in dead letters but status says ${state}`);
        return;
      }
      const oks = okById.get(id);
      if (!oks) {
        if (input.reportedLost?.(group, id)) r.reportedLost++;
        else { r.lost++; if (r.lostSeqs.length < 20) r.lostSeqs.push(seq); }
        return;
      }
      // Trimmed by a hard cap while its handler ran: the trim acknowledged the entry and recorded
      // it lost, once, and the handler's later ack leaves that as it is (ackBatch: 'settled
      // either way'). Counted as a reported loss, not a mismatch, when the trim reported it.
      if (state === 'lost' && input.reportedLost?.(group, id)) { r.reportedLost++; return; }
      if (state !== 'succeeded') { mismatch(seq, `handled but status says ${state}`); return; }
      let result: HandlerResult | undefined;
      try { result = JSON.parse(hash[`${group}:result`] ?? 'null') as HandlerResult; } catch { result = undefined; }
      const attempts = Number(hash[`${group}:attempts`]);
      const consumer = hash[`${group}:consumer`];
      // attempts may exceed the attempt the handler saw: a reclaim by another consumer whose
      // own run was then refused still counts as an attempt.
      if (!result || result.c !== consumer || !(attempts >= result.a)) {
        mismatch(seq, `status (consumer ${consumer}, attempts ${attempts}) was not written by the delivery whose result it holds (${JSON.stringify(result)})`);
      } else if (!oks.some((d) => d.consumer === result.c && d.attempt === result.a)) {
        mismatch(seq, `status says consumer ${result.c} succeeded on attempt ${result.a}, but no handler recorded that`);
      }
    });
    reports.push(r);
  }
  return reports;
}

/** True when nothing is lost, nothing is pending or lagging, and every status agrees. */
export function isClean(reports: GroupReport[]): boolean {
  return reports.every((r) => r.lost === 0 && r.pending === 0 && r.lag === 0 && r.retrying === 0 && r.statusMismatches === 0 && r.overlaps === 0);
}

/**
 * Check until the run is clean (every owed event handled or dead, pending 0, lag 0) or
 * `timeoutMs` passes; returns the last reports either way, for the test to assert on.
 */
export async function settle(input: CheckInput, timeoutMs = 60_000): Promise<GroupReport[]> {
  const deadline = Date.now() + timeoutMs;
  let lastSaid = Date.now();
  for (;;) {
    const reports = await check(input);
    if (isClean(reports) || Date.now() > deadline) return reports;
    if (process.env.FAULTS_VERBOSE && Date.now() - lastSaid > 5000) {
      lastSaid = Date.now();
      process.stdout.write(`settling: ${reports.map((r) => `${r.group} lost=${r.lost} pending=${r.pending} lag=${r.lag} retrying=${r.retrying} mismatches=${r.statusMismatches} overlaps=${r.overlaps}`).join(' | ')}\n`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * What Redis holds for a run that is not clean: per group its info, redelivery stream and
 * retry set, and for a few lost events their status hash and pending entry. Printed by the
 * harness when a check fails, so a failure in CI can be understood from its log.
 */
export async function diagnose(input: CheckInput, reports: GroupReport[]): Promise<string> {
  const { sf, redis, topic } = input;
  const keys = topicKeys(sf.prefix, topic.name);
  const lines: string[] = [`stream: ${JSON.stringify(await redis.xinfo('STREAM', keys.stream).catch((e: Error) => e.message))}`];
  for (const r of reports) {
    const info = (await sf.groups(topic)).find((g) => g.group === r.group);
    lines.push(`group ${r.group}: ${JSON.stringify(info)}`);
    lines.push(`  redelivery: ${JSON.stringify(await redis.xinfo('GROUPS', keys.redeliver(r.group)).catch((e: Error) => e.message))} len ${await redis.xlen(keys.redeliver(r.group))}`);
    lines.push(`  retry set: ${JSON.stringify(await redis.zrange(keys.retry(r.group), 0, 2, 'WITHSCORES'))} of ${await redis.zcard(keys.retry(r.group))}; server time ${JSON.stringify(await redis.time())}`);
    lines.push(`  consumers: ${JSON.stringify(await sf.consumers(topic, r.group).catch((e: Error) => e.message))}`);
    for (const seq of r.lostSeqs.slice(0, 3)) {
      const id = input.published.get(seq)!;
      const pending = await redis.xpending(keys.stream, r.group, id, id, 1);
      lines.push(`  lost seq ${seq} (${id}): status ${JSON.stringify(await redis.hgetall(keys.status(id)))} pending ${JSON.stringify(pending)}`);
    }
  }
  return lines.join('\n');
}
