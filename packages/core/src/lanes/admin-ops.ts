/**
 * Hand inspection, repair and retention of prioritized topics (docs/priorities.md §6): each
 * operation runs the topic's own per-stream operation in the lane(s) concerned (a lane is, for
 * key names, a topic whose home is `T+L`), takes and gives lane ids (`<lane>:…`, plain in the
 * default lane) and lists lanes highest first.
 */
import type Redis from 'ioredis';
import { ackEntriesAt, type AckedEntry, type AckOptions } from '../admin/ack';
import { assertEntryIds, claimEntriesAt, type ClaimedEntry } from '../admin/claim';
import { NotPendingError } from '../admin/errors';
import { pendingPage, type PendingPage, type PendingPageQuery, type PendingRow } from '../admin/pending-page';
import { showEventAt, type EventDetails } from '../admin/show';
import type { AdminTarget } from '../admin/target';
import type { TailedEvent, TailOptions } from '../admin/tail';
import { fieldMap } from '../consumer/entry';
import { FIELD, type Headers } from '../publisher';
import { compareIds } from '../ids';
import { countDeadLetters, listDeadLetters, purgeDeadLetters, replayDeadLetters, type DeadLetter, type DeadLetterSelection } from '../dead-letters';
import { listDelayed, type DelayedEvent } from '../delayed';
import { InvalidOptionError, fromRedisError } from '../errors';
import { listConsumers, listPending, type ConsumerInfo, type PendingEntry, type PendingQuery } from '../inspect';
import { laneHome, topicKeys } from '../keys';
import { validateConsumerName, validateGroupName } from '../names';
import { pruneConsumers, trimTopic, type TrimOptions, type TrimReport } from '../retention';
import type { Topic } from '../topic';
import { lanesOf } from './admin';
import { formatLaneId, parseLaneId } from './ids';

const home = (topic: Topic<unknown>, lane: string) => laneHome(topic.name, lane, topic.defaultPriority!);
const pub = (topic: Topic<unknown>, lane: string, id: string) => formatLaneId(lane, id, topic.defaultPriority!);

/** Split lane ids by lane (highest first), checking each is an entry id. */
function byLane(topic: Topic<unknown>, ids: readonly string[]): Map<string, string[]> {
  if (!Array.isArray(ids) || ids.length === 0) throw new InvalidOptionError(`give at least one entry id, e.g. high:1700000000000-0 (see \`streamfan pending ${topic.name} <group>\`)`);
  const out = new Map<string, string[]>();
  for (const id of ids) {
    const { lane, localId } = parseLaneId(id, topic);
    assertEntryIds([localId]);
    out.set(lane, [...(out.get(lane) ?? []), localId]);
  }
  return new Map(topic.priorities!.filter((l) => out.has(l)).map((l) => [l, out.get(l)!]));
}

/** A listing's rows with lane ids and the lane in `priority`. */
function withLane<R extends { id: string; eventId?: string }>(topic: Topic<unknown>, lane: string, rows: R[]): Array<R & { priority: string }> {
  return rows.map((r) => ({ ...r, id: pub(topic, lane, r.id), ...(r.eventId !== undefined ? { eventId: pub(topic, lane, r.eventId) } : {}), priority: lane }));
}

/** One page of a group's pending entries over every lane (highest lane first, then entry id). Pass `next` as `after`. */
export async function lanedPendingPage(target: AdminTarget, topic: Topic<unknown>, group: string, q: PendingPageQuery = {}): Promise<PendingPage> {
  const limit = Math.min(Math.max(1, Math.floor(q.limit ?? 100)), 10_000);
  let from: { lane: string; local: string } | undefined;
  if (q.after !== undefined) {
    try {
      const { lane, localId } = parseLaneId(q.after, topic);
      assertEntryIds([localId]);
      from = { lane, local: localId };
    } catch {
      throw new InvalidOptionError(`after must be an entry id of topic "${topic.name}" like high:1700000000000-0 (the next of the previous page), got ${JSON.stringify(q.after)}`);
    }
  }
  const lanes = lanesOf(topic);
  const start = from ? lanes.findIndex((l) => l.lane === from!.lane) : 0;
  const entries: PendingRow[] = [];
  for (let i = start; i < lanes.length && entries.length < limit; i++) {
    const l = lanes[i]!;
    const page = await pendingPage(target, l.home, group, { ...q, limit: limit - entries.length, ...(i === start && from ? { after: from.local } : { after: undefined }) });
    entries.push(...withLane(topic, l.lane, page.entries));
    if (page.next !== null) return { entries, next: entries[entries.length - 1]!.id };
  }
  // A full page may end exactly at a lane's end: the next page then starts in the lanes below.
  return { entries, next: entries.length >= limit ? entries[entries.length - 1]!.id : null };
}

/** One page of pending entries ({@link Streamfan.pending}) over every lane, highest first; `after` is a lane id. */
export async function lanedPending(redis: Redis, prefix: string, topic: Topic<unknown>, group: string, q: PendingQuery = {}): Promise<Array<PendingEntry & { priority: string }>> {
  const limit = q.limit ?? 100;
  let from: { lane: string; local: string } | undefined;
  if (q.after !== undefined) {
    const { lane, localId } = parseLaneId(q.after, topic);
    from = { lane, local: localId };
  }
  const lanes = lanesOf(topic);
  const start = from ? lanes.findIndex((l) => l.lane === from!.lane) : 0;
  const out: Array<PendingEntry & { priority: string }> = [];
  for (let i = start; i < lanes.length && out.length < limit; i++) {
    const l = lanes[i]!;
    const rows = await listPending(redis, prefix, l.home, group, { ...q, limit: limit - out.length, after: i === start && from ? from.local : undefined }).catch((err: Error) => {
      if (/NOGROUP|no such key/i.test(err.message)) return [] as PendingEntry[];
      throw err;
    });
    out.push(...withLane(topic, l.lane, rows));
  }
  return out;
}

/** One event (`<lane>:<id>`): payload, headers and status in every group, read in its lane; ids in the answer are lane ids. */
export async function lanedShow(target: AdminTarget, topic: Topic<unknown>, id: string): Promise<EventDetails & { priority: string }> {
  const { lane, localId } = parseLaneId(id, topic);
  const d = await showEventAt(target, home(topic, lane), localId);
  const groups = Object.fromEntries(Object.entries(d.groups).map(([g, s]) => [g, s.deadLetterId ? { ...s, deadLetterId: pub(topic, lane, s.deadLetterId) } : s]));
  return { ...d, id: localId === d.id ? id : pub(topic, lane, d.id), topic: topic.name, ...(d.delayedId ? { delayedId: pub(topic, lane, d.delayedId) } : {}), groups, priority: lane };
}

/** Re-throw a lane's NotPendingError with lane ids. */
function publicNotPending(topic: Topic<unknown>, lane: string, group: string, action: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof NotPendingError) throw new NotPendingError(action, topic.name, group, err.ids.map((x) => pub(topic, lane, x)));
    throw err;
  };
}

/** Hand pending entries (lane ids) to `consumer`, in each id's lane (all or nothing within a lane). */
export async function lanedClaim(target: AdminTarget, topic: Topic<unknown>, group: string, ids: readonly string[], consumer: string): Promise<ClaimedEntry[]> {
  validateGroupName(group);
  validateConsumerName(consumer);
  const out: ClaimedEntry[] = [];
  for (const [lane, local] of byLane(topic, ids)) {
    const got = await claimEntriesAt(target, home(topic, lane), group, local, consumer).catch(publicNotPending(topic, lane, group, 'claimed'));
    out.push(...got.map((c) => ({ ...c, id: pub(topic, lane, c.id) })));
  }
  return out;
}

/** Acknowledge pending entries (lane ids) by hand, in each id's lane (all or nothing within a lane). */
export async function lanedAck(target: AdminTarget, topic: Topic<unknown>, group: string, ids: readonly string[], options: AckOptions = {}): Promise<AckedEntry[]> {
  validateGroupName(group);
  const out: AckedEntry[] = [];
  for (const [lane, local] of byLane(topic, ids)) {
    const got = await ackEntriesAt(target, home(topic, lane), group, local, options).catch(publicNotPending(topic, lane, group, 'acknowledged'));
    out.push(...got.map((a) => ({ ...a, id: pub(topic, lane, a.id), eventId: pub(topic, lane, a.eventId) })));
  }
  return out;
}

/** The soonest `limit` delayed events over every lane, ids `<lane>:delayed-…`. */
export async function lanedDelayed<T>(redis: Redis, prefix: string, topic: Topic<T>, limit: number): Promise<Array<DelayedEvent<T> & { priority: string }>> {
  const t = topic as Topic<unknown>;
  const per = await Promise.all(lanesOf(t).map(async (l) =>
    (await listDelayed(redis, topicKeys(prefix, l.home), (s) => topic.codec.decode(s), limit)).map((d) => ({ ...d, id: d.id ? pub(t, l.lane, d.id) : d.id, priority: l.lane }))));
  return per.flat().sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime()).slice(0, limit);
}

/** Consumers of a group over every lane: pending summed, idle and inactive the least of any lane. */
export async function lanedConsumers(redis: Redis, prefix: string, topic: Topic<unknown>, group: string): Promise<ConsumerInfo[]> {
  const per = await Promise.all(lanesOf(topic).map((l) => listConsumers(redis, prefix, l.home, group).catch((err: Error) => {
    if (/NOGROUP|no such key/i.test(err.message)) return [] as ConsumerInfo[];
    throw err;
  })));
  const out = new Map<string, ConsumerInfo>();
  for (const c of per.flat()) {
    const m = out.get(c.name);
    if (!m) { out.set(c.name, { ...c }); continue; }
    m.pending += c.pending;
    m.idleMs = Math.min(m.idleMs, c.idleMs);
    m.inactiveMs = m.inactiveMs === null ? c.inactiveMs : c.inactiveMs === null ? m.inactiveMs : Math.min(m.inactiveMs, c.inactiveMs);
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Prune idle consumers holding nothing, in every lane; the names removed from at least one. */
export async function lanedPrune(redis: Redis, prefix: string, topic: Topic<unknown>, group: string, idleMs: number): Promise<string[]> {
  const removed = new Set<string>();
  for (const l of lanesOf(topic)) {
    const names = await pruneConsumers(redis, prefix, l.home, group, idleMs).catch((err: Error) => {
      if (/NOGROUP|no such key/i.test(err.message)) return [] as string[];
      throw err;
    });
    for (const n of names) removed.add(n);
  }
  return [...removed].sort();
}

/** A trim of a prioritized topic: summed, with each lane's report. */
export interface LanedTrimReport extends TrimReport {
  lanes: Array<TrimReport & { lane: string }>;
}

/** Trim every lane of a topic (each safely, as {@link trimTopic}); one report summed over them, ids lane ids. */
export async function trimLaned(redis: Redis, prefix: string, topic: Topic<unknown>, options: TrimOptions, statusTtlSeconds: number): Promise<LanedTrimReport> {
  const reports: Array<TrimReport & { lane: string }> = [];
  for (const l of lanesOf(topic)) {
    const r = await trimTopic(redis, prefix, l.home, options, statusTtlSeconds);
    reports.push({ ...r, topic: topic.name, lane: l.lane, lostIds: r.lostIds.map((id) => pub(topic, l.lane, id)) });
  }
  const lostByGroup: Record<string, number> = {};
  for (const r of reports) for (const [g, n] of Object.entries(r.lostByGroup)) lostByGroup[g] = (lostByGroup[g] ?? 0) + n;
  return {
    topic: topic.name,
    dryRun: reports[0]?.dryRun ?? Boolean(options.dryRun),
    safeMinId: '',
    removed: reports.reduce((n, r) => n + r.removed, 0),
    lostToCap: reports.reduce((n, r) => n + r.lostToCap, 0),
    lostIds: reports.flatMap((r) => r.lostIds).slice(0, 1000),
    lostByGroup,
    length: reports.reduce((n, r) => n + r.length, 0),
    groups: Math.max(0, ...reports.map((r) => r.groups)),
    redeliveryRemoved: reports.reduce((n, r) => n + r.redeliveryRemoved, 0),
    lanes: reports,
  };
}

/** The dead letters of a group on a prioritized topic, as {@link Streamfan.deadLetters} returns them. */
export interface LanedDeadLetters<T> {
  /** Highest lane first, then by dead-letter id; `start` is a lane dead-letter id (or `(` and one, to list after it). */
  list(options?: { start?: string; count?: number }): Promise<DeadLetter<T>[]>;
  /** Dead letters of the group over every lane. */
  count(): Promise<number>;
  /** Replay `{ ids }` (lane ids), the first `{ limit }` of {@link LanedDeadLetters.list}, or `{ all: true }`, each into its own lane. */
  replay(selection: DeadLetterSelection): Promise<number>;
  /** Delete `{ ids }` (lane ids), the first `{ limit }` of {@link LanedDeadLetters.list}, or `{ all: true }`. */
  purge(selection: DeadLetterSelection): Promise<number>;
}

/**
 * Dead letters of a group over every lane: `deadLetterId` and `id` are lane ids, `priority` the
 * lane; `list` goes highest lane first, then by dead-letter id (`start`: a lane dead-letter id to
 * list from, or `(` and one to list after); replay (into the lane's redelivery stream: the event
 * stays in its lane) and purge act in each id's lane; `{ limit }` takes the first of that listing.
 */
export function lanedDeadLetters<T>(redis: Redis, prefix: string, topic: Topic<T>, group: string, statusTtlSeconds: number): LanedDeadLetters<T> {
  const t = topic as Topic<unknown>;
  const lanes = lanesOf(t);
  const split = (id: string) => {
    try {
      const { lane, localId } = parseLaneId(String(id), t);
      if (!/^\d+-\d+$/.test(localId)) throw new Error('not an entry id');
      return { lane, local: localId };
    } catch {
      throw new InvalidOptionError(`${JSON.stringify(id)} is not a dead-letter id of topic "${topic.name}": they look like high:1700000000000-0, or plain in the default lane (see list())`);
    }
  };
  const list = async (options: { start?: string; count?: number } = {}): Promise<DeadLetter<T>[]> => {
    let from: { lane: string; local: string; exclusive: boolean } | undefined;
    if (options.start !== undefined && options.start !== '-') {
      const exclusive = options.start.startsWith('(');
      from = { ...split(exclusive ? options.start.slice(1) : options.start), exclusive };
    }
    const count = options.count ?? 100;
    const first = from ? lanes.findIndex((l) => l.lane === from!.lane) : 0;
    const out: DeadLetter<T>[] = [];
    for (let i = first; i < lanes.length && out.length < count; i++) {
      const l = lanes[i]!;
      const start = i === first && from ? (from.exclusive ? `(${from.local}` : from.local) : '-';
      const rows = await listDeadLetters(redis, prefix, { ...topic, name: l.home }, group, { start, count: count - out.length });
      out.push(...rows.map((d) => ({ ...d, deadLetterId: pub(t, l.lane, d.deadLetterId), id: d.id ? pub(t, l.lane, d.id) : d.id, priority: l.lane })));
    }
    return out;
  };
  const act = async (selection: DeadLetterSelection, run: (home: string, s: DeadLetterSelection) => Promise<number>): Promise<number> => {
    const s = selection as { ids?: string[]; limit?: number; all?: true } | undefined;
    if (s?.ids !== undefined && Array.isArray(s.ids)) {
      const per = new Map<string, string[]>();
      for (const id of s.ids) {
        const { lane, local } = split(id);
        per.set(lane, [...(per.get(lane) ?? []), local]);
      }
      let n = 0;
      for (const l of lanes) if (per.has(l.lane)) n += await run(l.home, { ids: per.get(l.lane)! });
      return n;
    }
    if (s?.limit !== undefined && s.all === undefined && typeof s.limit === 'number' && Number.isInteger(s.limit) && s.limit >= 0) {
      if (s.limit === 0) return 0;
      const oldest = await list({ count: s.limit });
      return oldest.length === 0 ? 0 : act({ ids: oldest.map((d) => d.deadLetterId) }, run);
    }
    let n = 0;
    for (const l of lanes) n += await run(l.home, selection); // { all: true }, or a bad selection the per-lane check refuses
    return n;
  };
  return {
    list,
    count: async () => (await Promise.all(lanes.map((l) => countDeadLetters(redis, prefix, l.home, group)))).reduce((a, b) => a + b, 0),
    replay: (selection) => act(selection, (h, s) => replayDeadLetters(redis, prefix, h, group, s, statusTtlSeconds)),
    purge: (selection) => act(selection, (h, s) => purgeDeadLetters(redis, prefix, h, group, s)),
  };
}

/**
 * Yield the events of every lane as they arrive (reads only): one blocking XREAD over the lane
 * streams (they share the topic's hash tag, so this holds on a Cluster too). `from` is `$`, `0` or
 * a stream id applied to every lane (a time position). Each batch is yielded by id, then lane;
 * ids are lane ids, with `priority`.
 */
export async function* lanedTail(blocking: Redis, prefix: string, topic: Topic<unknown>, options: TailOptions = {}): AsyncGenerator<TailedEvent> {
  const lanes = lanesOf(topic);
  const streams = lanes.map((l) => topicKeys(prefix, l.home).stream);
  const start = options.from ?? '$';
  if (start !== '$' && !/^\d+(-\d+)?$/.test(start)) throw new InvalidOptionError(`from must be a stream id like 1700000000000-0, 0 or $ (it applies to every lane), got ${JSON.stringify(start)}`);
  try {
    const from = await Promise.all(streams.map(async (s) => {
      if (start !== '$') return start;
      return (await blocking.xrevrange(s, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    }));
    while (!options.signal?.aborted) {
      const reply = (await blocking.xread('COUNT', options.count ?? 100, 'BLOCK', options.blockMs ?? 1000, 'STREAMS', ...streams, ...from)) as Array<[string, Array<[string, string[]]>]> | null;
      const got: Array<{ i: number; id: string; flat: string[] }> = [];
      for (const [key, entries] of reply ?? []) for (const [id, flat] of entries) got.push({ i: streams.indexOf(key), id, flat });
      got.sort((a, b) => compareIds(a.id, b.id) || a.i - b.i);
      for (const g of got) {
        from[g.i] = g.id;
        const f = fieldMap(g.flat);
        let payload: unknown = f.get(FIELD.payload) ?? null;
        try { if (typeof payload === 'string') payload = JSON.parse(payload) as unknown; } catch { /* keep the raw string */ }
        let headers: Headers = {};
        try { headers = f.get(FIELD.headers) ? (JSON.parse(f.get(FIELD.headers)!) as Headers) : {}; } catch { headers = {}; }
        const lane = lanes[g.i]!.lane;
        yield { id: pub(topic, lane, g.id), publishedAt: new Date(Number(g.id.split('-')[0])), payload, headers, priority: lane };
      }
    }
  } catch (err) {
    if (options.signal?.aborted) return;
    throw fromRedisError(err, `tail topic "${topic.name}"`);
  }
}
