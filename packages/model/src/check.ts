import { protocolKey } from '../../core/src/protocol';
import { LATE_GROUP } from './commands';
import type { OwedEvent } from './model';
import type { ModelResult } from './protocol';
import type { System } from './runner';
import { FINAL, allGroups, owedGroups, runsOf, type Run, type Snapshot } from './snapshot';

export { settle } from './snapshot';

/** One broken invariant. `hint` names the issue-10 item it looks like, when it looks like one. */
export interface Violation {
  check: string;
  detail: string;
  hint?: string;
}

/** Counts of what the sequence did, for the report. */
export interface RunStats {
  published: number;
  owed: number;
  uncertain: number;
  runs: number;
  duplicates: number;
  reclaims: number;
  leaseLost: number;
  stale: number;
  dead: number;
  lost: number;
  workers: number;
  settleMs: number;
  /** Violations of checks turned off (MODEL_SKIP_CHECKS), by check: seen but not failed on. */
  skipped: Record<string, number>;
}

const HINTS: Record<string, string> = {
  'live-lease-stolen': 'issue 10 item 3 (lease extension renews one entry per stream) or item 4 (id collisions)',
  'concurrency-exceeded': 'issue 10 item 4 (in-flight keyed by id alone) or the smaller item (a slot freed while the handler runs)',
  'overlap-untold': 'issue 10 item 4 (in-flight keyed by id alone)',
  'one-publish-two-entries': 'issue 10 item 5 (publish resend)',
  'destroy-replay': 'issue 10 item 7 (group destroy replays everything)',
  'destroy-overlap': 'issue 10 item 7 (abort in-flight handlers on recovery)',
  'delayed-id-status': 'issue 10 item 10 (delayed ids cannot be followed)',
  'replay-stale-status': 'issue 10 smaller item (status keeps deadLetterId/finishedAt after a replay)',
  'stray-status': 'issue 10 item 9d (markLost writes the redelivery entry id)',
  'spurious-stale': 'NEW: a script resent by ioredis after a reconnect (ack, fail, dead-letter) finds its own work done and reports it as refused',
  'waitfor-mismatch': 'issue 10 item 10 (waitFor on a delayed id) or the smaller waitFor items',
  'late-group-missed': 'issue 10 item 13 (startFrom latest races subscribe)',
  'cap-not-lost': 'issue 10 item 9b (entries a hard cap removes never become lost)',
};

const overlaps = (a0: number, a1: number, b0: number, b1: number) => a0 < b1 && b0 < a1;

/**
 * Check every invariant of the end state against the model. Call after {@link settle}.
 */
export async function checkAll(sys: System, settled: { left: string[]; ms: number; snap: Snapshot }): Promise<{ violations: Violation[]; stats: RunStats }> {
  const { model, settings } = sys;
  const { snap } = settled;
  const v: Violation[] = [];
  const skipped = new Map<string, number>();
  const add = (check: string, detail: string) => {
    if (settings.skipChecks.includes(check)) { skipped.set(check, (skipped.get(check) ?? 0) + 1); return; }
    if (v.filter((x) => x.check === check).length >= 8) return;
    v.push({ check, detail, ...(HINTS[check] ? { hint: HINTS[check] } : {}) });
  };
  for (const l of settled.left) add(l.includes('not final') && [...model.capLostSeqs].length ? 'not-final' : 'not-quiescent', l);

  const runs = runsOf(sys, snap.logs);
  const stalls = snap.logs.events.filter((e) => e.type === 'stall').map((e) => ({ consumer: e.consumer, ...(e.data as { from: number; to: number }) }));
  // A `block` run stalls its process from its start for its plan's ms; its stall record is written
  // only afterwards, so a process killed mid-block has none: count the plan itself.
  for (const r of runs) {
    const plan = model.owed.get(r.seq)?.plans[r.g];
    if (plan?.k === 'block' && r.attempt === 1) stalls.push({ consumer: r.consumer, from: r.start, to: r.start + plan.ms });
  }
  const told = (consumer: string, id: string) => snap.logs.events.some((e) => e.consumer === consumer && ((e.type === 'leaseLost' && (e.data as { id: string }).id === id) || (e.type === 'stale' && (e.data as { ids: string[] }).ids.includes(id))));

  // Publishes: one call, one entry; idempotent repeats return the first id.
  const idsBySeq = new Map<number, Set<string>>();
  for (const r of runs) idsBySeq.set(r.seq, (idsBySeq.get(r.seq) ?? new Set<string>()).add(r.id));
  for (const [seq, ids] of idsBySeq) {
    if (ids.size > 1) add('one-publish-two-entries', `seq ${seq} was handled under ids ${[...ids].join(', ')}`);
    const e = model.owed.get(seq);
    if (e && !e.delayed && !ids.has(e.returnedId)) add('handler-id-mismatch', `seq ${seq}: publish returned ${e.returnedId}, handlers saw ${[...ids].join(', ')}`);
  }
  for (const r of model.idemRepeats) if (r.returned !== r.expected) add('idempotency', `seq ${r.seq} with key k${r.key} returned ${r.returned}, the first call returned ${r.expected}`);
  for (const r of runs) if (model.idemRepeats.some((x) => x.seq === r.seq)) add('idempotency', `seq ${r.seq} (an idempotent repeat) was written and handled`);

  // Every owed event ends in exactly one final state per group, and the status agrees with the handlers.
  let dead = 0;
  let lost = 0;
  for (const e of model.owed.values()) checkEvent(sys, snap, runs, e, add, (s) => { if (s === 'dead') dead++; if (s === 'lost') lost++; });
  for (const g of allGroups(sys)) {
    const seen = new Map<number, number>();
    for (const r of snap.dlq.get(g) ?? []) if (r.seq !== undefined) seen.set(r.seq, (seen.get(r.seq) ?? 0) + 1);
    for (const [seq, n] of seen) if (n > 1) add('dead-twice', `seq ${seq} is ${n} times in ${g}'s dead letters`);
  }

  // Concurrency per consumer and group never above the limit.
  const byProc = new Map<string, Run[]>();
  for (const r of runs) byProc.set(`${r.consumer}|${r.g}`, [...(byProc.get(`${r.consumer}|${r.g}`) ?? []), r]);
  for (const [key, list] of byProc) {
    const points = list.flatMap((r) => [[r.start, 1], [r.end, -1]] as Array<[number, number]>).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let cur = 0;
    let max = 0;
    for (const [, d] of points) { cur += d; max = Math.max(max, cur); }
    if (max > settings.concurrency) add('concurrency-exceeded', `${key}: ${max} handlers ran at once (concurrency ${settings.concurrency})`);
  }

  // Two consumers on one event at once: only after the first was told (leaseLost/stale), and only if it had stalled.
  const byEvent = new Map<string, Run[]>();
  for (const r of runs) byEvent.set(`${r.g}|${r.seq}`, [...(byEvent.get(`${r.g}|${r.seq}`) ?? []), r]);
  for (const [key, list] of byEvent) {
    for (const a of list) {
      for (const b of list) {
        if (a === b || a.consumer === b.consumer || !(a.start <= b.start && b.start < a.end)) continue;
        // handlerTimeoutMs failed the first attempt while its handler still ran: a retry may run beside it.
        // The timeout counts from dispatch: a sibling that blocked the loop just before this handler
        // started (a stall ending at its start) delayed the start, not the clock.
        const stalledBefore = stalls.find((x) => x.consumer === a.consumer && Math.abs(x.to - a.start) < 50);
        if (b.attempt > a.attempt && b.start >= (stalledBefore?.from ?? a.start) + settings.visibilityTimeoutMs * 3) continue;
        // The later run is the stale one: its process read the entry, stalled past the visibility
        // timeout (the entry was reclaimed meanwhile), then started it; its ack is refused (`stale`).
        if (stalls.some((x) => x.consumer === b.consumer && overlaps(x.from, x.to, b.start - settings.visibilityTimeoutMs, b.start + 50)) && told(b.consumer, b.id)) continue;
        // A stall up to a visibility timeout before the run counts too: the delivery aged in the
        // stalled process before its handler started.
        const v = settings.visibilityTimeoutMs;
        const excused = stalls.some((s) => s.consumer === a.consumer && overlaps(s.from, s.to, a.start - v, b.start))
          || model.stops.some((s) => s.consumer === a.consumer && overlaps(s.from, s.to, a.start - v, b.start))
          || model.redisDown.some((w) => overlaps(w.from, w.to, a.start - settings.visibilityTimeoutMs, b.start));
        const destroyed = model.destroys.find((d) => d.g === a.g && a.start <= d.t && d.t <= b.start);
        if (destroyed) {
          // The same promise as without a destroy: a live handler keeps its entry through the
          // recovery; one whose process stalled (or whose Redis went down) past the visibility
          // timeout may lose it, as to any reclaim, and is told (stale / leaseLost).
          // A run cut short by its process's death could not be told (as for overlap-untold).
          const untold = !((sys.fleet.exits.get(a.consumer) ?? Infinity) <= b.start + 1) && a.outcome !== 'cut' && a.end !== Infinity && !told(a.consumer, a.id);
          if (!excused || untold) {
            add('destroy-overlap', `${key}: ${a.consumer} still ran attempt ${a.attempt} when ${a.g} was destroyed at +${rel(sys, destroyed.t)}; the recreated group gave it to ${b.consumer} at +${rel(sys, b.start)}${excused ? `; ${a.consumer} had stalled but was never told` : `, though ${a.consumer} never stalled and Redis stayed up`}`);
          }
          continue;
        }
        const what = `${key}: ${a.consumer} ran attempt ${a.attempt} from +${rel(sys, a.start)} to +${rel(sys, a.end)}; ${b.consumer} started attempt ${b.attempt} at +${rel(sys, b.start)}`;
        if (!excused) add('live-lease-stolen', `${what}, though ${a.consumer} never stalled and Redis stayed up`);
        const diedFirst = (sys.fleet.exits.get(a.consumer) ?? Infinity) <= b.start + 1;
        // A run cut short by its process's death could not be told.
        if (!diedFirst && a.outcome !== 'cut' && a.end !== Infinity && !told(a.consumer, a.id)) add('overlap-untold', `${what}; ${a.consumer} was never told (no leaseLost/stale for ${a.id})`);
      }
    }
  }

  // A `stale` (ack refused: another consumer owns the entry) only when another consumer did take it.
  for (const e of snap.logs.events) {
    if (e.type !== 'stale' || !e.g) continue;
    if (model.destroys.some((d) => d.g === e.g && d.t < e.t)) continue; // acks for the destroyed group's entries are rightly refused
    for (const id of (e.data as { ids: string[] }).ids) {
      const takenBy = runs.filter((r) => r.g === e.g && r.id === id && r.consumer !== e.consumer);
      const st = [...snap.statuses.values()].find((x) => x?.id === id)?.groups[e.g!];
      if (takenBy.length === 0 && (st?.consumer === e.consumer || st?.state === 'dead')) {
        add('spurious-stale', `${e.consumer} reported its ${e.g} ack of ${id} refused (stale) at +${rel(sys, e.t)}, but no other consumer ever ran it and the status says ${st?.state} by ${st?.consumer}`);
      }
    }
  }

  // Group destroy: what a group had finished is not handled again.
  for (const d of model.destroys) {
    const again = [...d.succeededBefore].filter((seq) => runs.some((r) => r.g === d.g && r.seq === seq && r.start > d.t));
    if (again.length) add('destroy-replay', `after XGROUP DESTROY of ${d.g}, ${again.length} of ${d.succeededBefore.size} events it had finished were handled again (seqs ${again.slice(0, 10).join(',')}…)`);
  }

  // Worker processes never crash on their own.
  for (const e of snap.logs.events) if (e.type === 'uncaught' || e.type === 'unhandledRejection') add('worker-crash', `${e.consumer}: ${e.type} ${JSON.stringify(e.data).slice(0, 400)}`);

  await checkBounded(sys, snap, add);

  const okCount = new Map<string, number>();
  for (const r of runs) if (r.outcome === 'ok') okCount.set(`${r.g}|${r.seq}`, (okCount.get(`${r.g}|${r.seq}`) ?? 0) + 1);
  const stats: RunStats = {
    published: model.published, owed: model.owed.size, uncertain: model.uncertain.size, runs: runs.length,
    duplicates: [...okCount.values()].reduce((n, c) => n + c - 1, 0),
    reclaims: snap.logs.events.filter((e) => e.type === 'reclaimed').length,
    leaseLost: snap.logs.events.filter((e) => e.type === 'leaseLost').length,
    stale: snap.logs.events.filter((e) => e.type === 'stale').length,
    dead, lost, workers: sys.fleet.all.length, settleMs: settled.ms,
    skipped: Object.fromEntries(skipped),
  };
  return { violations: v, stats };
}

function rel(sys: System, t: number): string {
  return t === Infinity ? '∞' : `${((t - sys.startedAt) / 1000).toFixed(2)}s`;
}

function checkEvent(sys: System, snap: Snapshot, runs: Run[], e: OwedEvent, add: (c: string, d: string) => void, count: (s: string) => void): void {
  const { model } = sys;
  const id = snap.ids.get(e.seq);
  const status = snap.statuses.get(e.seq);
  const capLost = model.capLostSeqs.has(e.seq) || (id !== undefined && model.capLostIds.has(id));
  if (!id) {
    if (!capLost && model.capLostUnlisted === 0) add('never-delivered', `seq ${e.seq} (${e.via}, ${e.returnedId}) reached no handler and no dead letters`);
    return;
  }
  for (const g of owedGroups(sys, snap.logs, e)) {
    const gs = status?.groups[g];
    const state = gs?.state;
    const mine = runs.filter((r) => r.g === g && r.seq === e.seq);
    const inDlq = (snap.dlq.get(g) ?? []).some((r) => r.seq === e.seq);
    const plan = e.plans[g] ?? { k: 'ok' };
    const tag = `seq ${e.seq} (${id}, plan ${JSON.stringify(plan)}) in ${g}`;
    if (state) count(state);
    if (g === LATE_GROUP && !(state && FINAL.has(state))) add('late-group-missed', `${tag}: published after ${LATE_GROUP}'s subscribe() (startFrom latest) was called, status ${state ?? 'missing'}, ${mine.length} handler runs`);
    if (capLost && state !== 'lost' && state !== 'succeeded' && state !== 'dead') add('cap-not-lost', `${tag}: a hard cap removed it, but its status is ${state ?? 'missing'}`);
    if (state === 'succeeded') {
      if (inDlq) add('succeeded-and-dead', `${tag}: status succeeded but it is in dead letters`);
      if (plan.k === 'poison' || plan.k === 'dead' || (plan.k === 'heal' && !model.healed.has(`${g}:${e.seq}`))) add('success-of-failing-plan', `${tag}: status succeeded`);
      const result = gs?.result as ModelResult | undefined;
      if (!result || result.c !== gs?.consumer || !(gs.attempts >= result.a)) add('status-mismatch', `${tag}: status ${JSON.stringify(gs)} was not written by the delivery whose result it holds`);
      else if (!mine.some((r) => r.outcome === 'ok' && r.consumer === result.c && r.attempt === result.a)) add('status-mismatch', `${tag}: status says ${result.c} succeeded on attempt ${result.a}, no handler recorded that`);
      if (gs?.deadLetterId) add('replay-stale-status', `${tag}: succeeded, but its status still names dead letter ${gs.deadLetterId}`);
    } else if (state === 'dead') {
      if (!inDlq) add('dead-not-in-dlq', `${tag}: status dead, not in dead letters`);
      const replay = model.replays.find((r) => r.g === g && r.healed.includes(e.seq));
      if (replay) add('healed-replay-dead', `${tag}: healed and replayed at +${rel(sys, replay.t)}, still dead`);
    } else if (state === 'lost') {
      if (!capLost && !model.destroys.some((d) => d.g === g)) add('lost-unexplained', `${tag}: status lost, but no cap or deletion removed it`);
    } else if (state !== undefined && inDlq) {
      add('dlq-status-mismatch', `${tag}: in dead letters, status ${state}`);
    }
  }
}

async function checkBounded(sys: System, snap: Snapshot, add: (c: string, d: string) => void): Promise<void> {
  const { admin, keys } = sys;
  // Delayed ids lead to the event's status.
  for (const e of sys.model.owed.values()) {
    if (!e.delayed || !snap.ids.get(e.seq)) continue;
    const viaDelayed = await sys.sf.status(sys.topic, e.returnedId).catch((err: Error) => err);
    const direct = snap.statuses.get(e.seq);
    const a = viaDelayed instanceof Error ? viaDelayed.message : JSON.stringify(Object.fromEntries(Object.entries(viaDelayed.groups).map(([g, s]) => [g, s.state])));
    const b = JSON.stringify(Object.fromEntries(Object.entries(direct?.groups ?? {}).map(([g, s]) => [g, s.state])));
    if (a !== b) add('delayed-id-status', `seq ${e.seq}: status(${e.returnedId}) says ${a}, status(${snap.ids.get(e.seq)}) says ${b}`);
  }
  // waitFor on a finished event resolves at once, with the states status() reads, by either id.
  let waited = 0;
  for (const e of sys.model.owed.values()) {
    const direct = snap.statuses.get(e.seq);
    if (!direct || waited >= 60) continue;
    waited++;
    const groups = owedGroups(sys, snap.logs, e);
    if (!groups.every((g) => FINAL.has(direct.groups[g]?.state ?? ''))) continue; // reported as not final already
    const want = JSON.stringify(groups.map((g) => direct.groups[g]?.state));
    const got = await sys.sf.waitFor(sys.topic, e.returnedId, { groups, timeoutMs: 5000 })
      .then((st) => JSON.stringify(groups.map((g) => st.groups[g]?.state)), (err: Error) => `${err.name}: ${err.message}`);
    if (got !== want) add('waitfor-mismatch', `seq ${e.seq}: waitFor(${e.returnedId}, ${groups.join(',')}) gave ${got}, status() reads ${want}`);
  }

  // Everything acknowledged everywhere: an exact safe trim empties the streams.
  await sys.sf.trim(sys.topic, { approximate: false });
  const len = await admin.xlen(keys.stream);
  if (len > 1) add('stream-not-trimmed', `after an exact safe trim of a quiescent topic the stream still holds ${len} entries`);
  for (const g of allGroups(sys)) {
    const r = await admin.xlen(keys.redeliver(g));
    if (r > 1) add('stream-not-trimmed', `after an exact safe trim the redelivery stream of ${g} holds ${r} entries`);
  }
  // Every key the library wrote has a bound: a TTL, or it is one of the trimmed/capped streams.
  // The prefix's protocol record (docs/PROTOCOL.md) lives as long as the data it describes: no TTL by design.
  const known = new Set<string>([keys.stream, keys.delayed, protocolKey(keys.prefix), ...allGroups(sys).flatMap((g) => [keys.redeliver(g), keys.deadLetters(g), keys.retry(g)])]);
  const allIds = new Set<string>([...snap.ids.values()].filter((x): x is string => !!x));
  for (const r of snap.logs.runs) allIds.add(r.id);
  for (const id of sys.model.capLostIds) allIds.add(id);
  for (const rows of snap.dlq.values()) for (const r of rows) allIds.add(r.id);
  let cursor = '0';
  const statusPrefix = keys.status('');
  const stray: string[] = [];
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', `${keys.prefix}:*`, 'COUNT', 500);
    cursor = next;
    for (const k of batch) {
      if (known.has(k)) continue;
      const ttl = await admin.pttl(k);
      if (k.startsWith(statusPrefix)) {
        const id = k.slice(statusPrefix.length);
        if (!allIds.has(id)) stray.push(`status hash ${k} belongs to no event id any handler, publish, cap or dead letter saw (${JSON.stringify(await admin.hgetall(k))})`);
      }
      // -2: the key expired between SCAN and PTTL (a retention lock lives less than a second): bounded.
      if (ttl === -1) add('unbounded-key', `${k} (${await admin.type(k)}) has no TTL and is not a trimmed stream`);
    }
  } while (cursor !== '0');
  // A publish whose call failed may still have written its event (its id unknown): that many are allowed.
  if (stray.length > sys.model.uncertain.size) for (const x of stray) add('stray-status', x);
  const retry = await Promise.all(allGroups(sys).map((g) => admin.zcard(keys.retry(g))));
  if (retry.some((n) => n > 0)) add('retry-left', `retry sets still hold ${retry.join(', ')}`);
}
