import { readLogs } from '../../faults/src/checker';
import { sleep } from '@streamfan/testing';
import type { EventStatus } from '@streamfan/core';
import { GROUPS, LATE_GROUP } from './commands';
import type { OwedEvent } from './model';
import { now, type ModelLogRecord, type ModelPayload, type RunRecord, type WorkerEventRecord } from './protocol';
import type { System } from './runner';

/**
 * What the checker reads after a sequence: every worker log record, each group's dead letters,
 * each owed event's id and status, the groups' pending/lag/retry counts; and waiting (bounded)
 * until nothing moves any more.
 */

/** Every group of the run: the fixed ones, and the late one once it joined. */
export function allGroups(sys: System): string[] {
  return sys.model.joined ? [...GROUPS, LATE_GROUP] : [...GROUPS];
}

/** When the late group was first asked for (the first `subscribing` record), if it was. */
export function joinedAt(logs: Logs): number | undefined {
  // Only a subscriber that got as far as `ready` counts: one killed before it created the group
  // fixed no position, and the group starts where the next subscriber asked.
  const readyIn = new Set(logs.events.filter((e) => e.type === 'ready' && e.g === LATE_GROUP).map((e) => e.consumer));
  const ts = logs.events.filter((e) => e.type === 'subscribing' && e.g === LATE_GROUP && readyIn.has(e.consumer)).map((e) => e.t);
  return ts.length ? Math.min(...ts) : undefined;
}

/** When the late group first existed: the first `ready` of a subscriber of it, if any. */
export function lateReadyAt(logs: Logs): number | undefined {
  const ts = logs.events.filter((e) => e.type === 'ready' && e.g === LATE_GROUP).map((e) => e.t);
  return ts.length ? Math.min(...ts) : undefined;
}

/**
 * Groups an event is owed to: every fixed group; the late group if the publish started after its
 * subscribe() call, unless a hard cap ran after the publish and before the late group existed (the
 * cap removes entries over it whatever the groups need, and a group that does not exist yet cannot
 * be told: the documented limit of a hard cap).
 */
export function owedGroups(sys: System, logs: Logs, e: OwedEvent): string[] {
  const j = joinedAt(logs);
  if (j === undefined || e.t0 <= j) return [...GROUPS];
  const ready = lateReadyAt(logs);
  if (ready !== undefined && sys.model.capsAt.some((t) => t > e.t0 && t < ready)) return [...GROUPS];
  return [...GROUPS, LATE_GROUP];
}

export interface Logs {
  runs: RunRecord[];
  events: WorkerEventRecord[];
}

export function readAll(sys: System): Logs {
  const recs = readLogs(sys.runDir) as unknown as ModelLogRecord[];
  return { runs: recs.filter((r): r is RunRecord => r.k === 'd'), events: recs.filter((r): r is WorkerEventRecord => r.k === 'e') };
}

/** The stream id of each owed event: what publish returned, or (delayed) what its handlers or dead letters saw. */
function eventIds(sys: System, logs: Logs, dlqIds: Map<number, string>): Map<number, string | undefined> {
  const fromRuns = new Map<number, string>();
  for (const r of logs.runs) if (!fromRuns.has(r.seq)) fromRuns.set(r.seq, r.id);
  const out = new Map<number, string | undefined>();
  for (const e of sys.model.owed.values()) out.set(e.seq, e.delayed ? fromRuns.get(e.seq) ?? dlqIds.get(e.seq) ?? sys.model.capLostIdBySeq.get(e.seq) : e.returnedId);
  return out;
}

export interface DeadRow { dlId: string; id: string; seq: number | undefined }

async function readDlq(sys: System, g: string): Promise<DeadRow[]> {
  const rows = await sys.admin.xrange(sys.keys.deadLetters(g), '-', '+');
  return rows.map(([dlId, flat]) => {
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i]!, flat[i + 1]!);
    let seq: number | undefined;
    try { seq = (JSON.parse(f.get('payload') ?? 'null') as ModelPayload | null)?.seq; } catch { seq = undefined; }
    return { dlId, id: f.get('id') ?? '', seq };
  });
}

export interface Snapshot {
  logs: Logs;
  dlq: Map<string, DeadRow[]>;
  ids: Map<number, string | undefined>;
  statuses: Map<number, EventStatus | undefined>;
  groupState: Map<string, { pending: number; lag: number | null; retrying: number } | undefined>;
  delayedLeft: number;
}

export async function snapshot(sys: System): Promise<Snapshot> {
  const logs = readAll(sys);
  const dlq = new Map<string, DeadRow[]>();
  const dlqIds = new Map<number, string>();
  for (const g of allGroups(sys)) {
    const rows = await readDlq(sys, g);
    dlq.set(g, rows);
    for (const r of rows) if (r.seq !== undefined) dlqIds.set(r.seq, r.id);
  }
  const ids = eventIds(sys, logs, dlqIds);
  const statuses = new Map<number, EventStatus | undefined>();
  for (const [seq, id] of ids) statuses.set(seq, id ? await sys.sf.status(sys.topic, id) : undefined);
  const infos = await sys.sf.groups(sys.topic);
  const xs = (await sys.admin.xinfo('STREAM', sys.keys.stream).catch(() => [])) as unknown[];
  const at = xs.indexOf('last-generated-id');
  const lastId = at >= 0 ? String(xs[at + 1]) : '';
  const groupState = new Map<string, { pending: number; lag: number | null; retrying: number } | undefined>();
  for (const g of allGroups(sys)) {
    const i = infos.find((x) => x.group === g);
    groupState.set(g, i ? { pending: i.pending, lag: i.lag === null && i.lastDeliveredId === lastId ? 0 : i.lag, retrying: i.retrying } : undefined);
  }
  return { logs, dlq, ids, statuses, groupState, delayedLeft: await sys.admin.zcard(sys.keys.delayed) };
}

export const FINAL = new Set(['succeeded', 'dead', 'lost']);

/** What still moves: empty when the system is quiescent. */
export function unsettled(sys: System, s: Snapshot): string[] {
  const out: string[] = [];
  if (s.delayedLeft > 0) out.push(`${s.delayedLeft} delayed events not promoted`);
  for (const g of allGroups(sys)) {
    const st = s.groupState.get(g);
    if (!st) { out.push(`group ${g} missing`); continue; }
    if (st.pending !== 0) out.push(`group ${g}: ${st.pending} pending`);
    if (st.lag !== 0) out.push(`group ${g}: lag ${st.lag}`);
    if (st.retrying !== 0) out.push(`group ${g}: ${st.retrying} retrying`);
  }
  let notFinal = 0;
  const examples: string[] = [];
  for (const e of sys.model.owed.values()) {
    for (const g of owedGroups(sys, s.logs, e)) {
      const state = s.statuses.get(e.seq)?.groups[g]?.state;
      if (!state || !FINAL.has(state)) {
        notFinal++;
        if (examples.length < 5) examples.push(`seq ${e.seq} ${g}=${state ?? 'none'}`);
      }
    }
  }
  if (notFinal) out.push(`${notFinal} (event, group) not final: ${examples.join(', ')}`);
  // A handler still running in a live process (e.g. a hang whose lease was lost) has not told its story yet.
  const running = runsOf(sys, s.logs).filter((r) => r.end === Infinity && sys.fleet.alive.some((w) => w.consumer === r.consumer));
  if (running.length) out.push(`${running.length} handlers still running (${running.slice(0, 3).map((r) => `${r.consumer} ${r.g}|${r.seq}`).join(', ')})`);
  return out;
}

/** Wait for quiescence (bounded); returns what was still moving at the end, if anything. */
export async function settle(sys: System): Promise<{ left: string[]; ms: number; snap: Snapshot }> {
  const t0 = now();
  for (;;) {
    const snap = await snapshot(sys);
    const left = unsettled(sys, snap);
    if (left.length > 0 && now() - t0 > sys.settings.quiesceTimeoutMs) return { left, ms: Math.round(now() - t0), snap };
    if (left.length === 0) {
      // Quiet: give lifecycle events that follow the last record (a refused ack's `stale`) time to land, then look again.
      await sleep(500);
      const again = await snapshot(sys);
      const still = unsettled(sys, again);
      if (still.length === 0) return { left: still, ms: Math.round(now() - t0), snap: again };
    }
    await sleep(300);
  }
}

/** A run of one handler invocation: [start, end]; end is Infinity while it still runs. */
export interface Run { g: string; seq: number; id: string; attempt: number; consumer: string; start: number; end: number; outcome: RunRecord['o'] | 'cut' }

export function runsOf(sys: System, logs: Logs): Run[] {
  const open = new Map<string, Run>();
  const out: Run[] = [];
  for (const r of logs.runs) {
    const key = `${r.consumer}|${r.g}|${r.seq}|${r.attempt}`;
    if (r.o === 'start') {
      const run: Run = { g: r.g, seq: r.seq, id: r.id, attempt: r.attempt, consumer: r.consumer, start: r.t, end: Infinity, outcome: 'cut' };
      open.set(key, run);
      out.push(run);
    } else {
      const run = open.get(key);
      if (run) { run.end = r.t; run.outcome = r.o; open.delete(key); }
    }
  }
  for (const run of open.values()) run.end = sys.fleet.exits.get(run.consumer) ?? Infinity;
  return out;
}
