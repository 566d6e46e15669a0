// What each dashboard page reads. Every read is bounded: SCAN with COUNT (and a page cap),
// XRANGE/XREVRANGE/XPENDING with COUNT, ZRANGE by index with a limit, and O(1) or
// O(groups + consumers) commands (XINFO STREAM without FULL, XINFO GROUPS/CONSUMERS, XLEN,
// ZCARD, HGETALL of one event's status). Nothing reads a stream, a PEL or the keyspace whole.
import type Redis from 'ioredis';
import { FIELD, LAG_COUNT_CAP as CORE_LAG_COUNT_CAP, countLag, readLanes, readSuccessMatrix, streamEnds, type CountedLag, type StreamEnds, NotFoundError, InvalidIdError, classifyStreamKey, pendingPage, topicKeys, topicMetaKeys, validateGroupName, validateTopicName, type PendingPage, type TopicKeys } from '@streamfan/core/internal';
import { lanedTopicPage } from './lanes';
import { traceOf } from './trace';
import { batch, scanNodes, compareIds, decode, decodeHeaders, fields, idMs, nextId, preview, rowObject, run, serverNow } from './redis-reads';

/** A stream the dashboard shows: an unpartitioned topic, one partition of a partitioned topic, or one priority lane of a prioritized topic. */
export interface StreamRef {
  /** The name keys are built from: the topic, `<topic>#<partition>`, or `<topic>+<lane>` (a lane other than the default). */
  home: string;
  topic: string;
  partition?: number;
  /**
   * A priority lane. In the directory's listing only lanes other than the default one (the
   * default lane's stream is the topic's own); a lane's page (`<topic>+<lane>`, resolved by
   * `resolveLane`) has it for the default lane too, with `home` the topic's.
   */
  lane?: string;
  /** The home a page links with when it differs from `home`: `<topic>+<default lane>` for the default lane's own page. */
  view?: string;
}

/**
 * Parse and validate a `home` given in a URL: `topic`, `topic#<partition>` or `topic+<lane>`
 * (a lane home is checked against the topic's lanes by `resolveLane`).
 */
export function parseHome(prefix: string, home: string): StreamRef {
  const c = classifyStreamKey(prefix, topicKeys(prefix, home).stream);
  if (c === undefined) throw new NotFoundError(`"${home}" is not a topic name nor a partition of one (topic#<partition>) nor a priority lane (topic+<lane>)`);
  validateTopicName(c.topic);
  const lane = (c as { lane?: string }).lane;
  if (lane !== undefined) return { home, topic: c.topic, lane };
  return c.partition === undefined ? { home, topic: c.topic } : { home, topic: c.topic, partition: c.partition };
}

/** What a topic's meta hash says (one HMGET): its partition count, or its priority lanes (highest first) and default lane. */
export async function topicMeta(redis: Redis, prefix: string, topic: string): Promise<{ partitions?: number; lanes?: { lanes: string[]; defaultLane: string } }> {
  const [n, lanes, defaultLane] = await redis.hmget(topicMetaKeys(prefix, topic).meta, 'partitions', 'lanes', 'defaultLane');
  if (n !== null && Number(n) > 0) return { partitions: Number(n) };
  if (lanes && defaultLane) return { lanes: { lanes: lanes.split(','), defaultLane } };
  return {};
}

/** One group of one stream (or, on the overview, summed over a partitioned topic's partitions). */
export interface GroupRow {
  group: string;
  consumers: number;
  pending: number;
  /**
   * Entries not yet delivered (topic and redelivery stream). From XINFO GROUPS where the server
   * says it; else (Redis 6.2, or 7.x after deletions in the unread range) counted, up to
   * {@link LAG_COUNT_CAP} per stream: then `lagCounted`, and `lagAtLeast` past the cap.
   */
  lag: number | null;
  /** The lag was counted by the dashboard (the server does not report it). */
  lagCounted?: boolean;
  /** More entries were unread than counted: `lag` is "at least". */
  lagAtLeast?: boolean;
  /** With a counted lag: age of the oldest undelivered entry (server time minus its id's time), ms. */
  lagAgeMs?: number;
  lastDeliveredId: string;
  oldestPendingId: string | null;
  /** Age (server time minus the entry id's time) of the oldest pending entry, ms. */
  oldestPendingAgeMs: number | null;
  /** Idle time of that entry's last delivery, ms. */
  oldestPendingIdleMs: number | null;
  retrying: number;
  deadLetters: number;
  /** Deliveries settled so far (entries read minus pending, both streams); null where the server does not count reads. */
  settledTotal: number | null;
  /** Dead letters ever added (entries-added of the dead-letter stream, or its length). */
  deadTotal: number;
  retired?: boolean;
}

/** One stream's figures. */
export interface StreamRow {
  home: string;
  topic: string;
  partition?: number;
  /** A priority lane other than the default (see {@link StreamRef.lane}). */
  lane?: string;
  length: number;
  firstId: string | null;
  lastId: string | null;
  /** Entries ever added (Redis 7+), else the length. */
  addedTotal: number;
  delayed: number;
  groups: GroupRow[];
}

/** Most SCAN calls (COUNT 1000) one topic listing makes; past it, the next listing resumes the cursor. */
export const MAX_SCAN_PAGES = 200;
/** Most streams the overview shows (topics × partitions). */
export const MAX_STREAMS = 500;

/**
 * The streams under a prefix, found with SCAN MATCH <prefix>:{*stream TYPE stream (topics, partitions and priority lanes) COUNT 1000.
 * A listing is kept a few seconds; one listing makes at most {@link MAX_SCAN_PAGES} SCAN calls
 * and resumes where it stopped next time, so a keyspace of millions of status keys costs a
 * bounded amount per request.
 */
export class StreamDirectory {
  private known = new Map<string, StreamRef>();
  private found = new Map<string, StreamRef>();
  /** Per node ('host:port'): its SCAN cursor, or 'done' once this pass went round it. */
  private readonly cursors = new Map<string, string>();
  private at = 0;
  private running: Promise<void> | undefined;
  /** SCAN calls made so far (for tests of boundedness). */
  scans = 0;
  /** Listing passes made so far (each at most {@link MAX_SCAN_PAGES} SCAN calls). */
  passes = 0;
  /** Whether a pass has gone round the whole keyspace yet (until then the listing may miss topics). */
  complete = false;

  /** The listing now, waiting for a pass in flight (tests, and a caller that needs it fresh). */
  async fresh(): Promise<StreamRef[]> {
    this.running ??= this.refresh().finally(() => { this.running = undefined; });
    await this.running;
    return this.list();
  }

  /** Most SCAN calls one pass made. */
  maxPassScans = 0;

  /** `continueInBackground`: after a pass that did not go round the keyspace, start the next one at once. */
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly ttlMs = 5000, private readonly continueInBackground = true) {}

  async list(): Promise<StreamRef[]> {
    if (Date.now() - this.at > this.ttlMs) {
      this.running ??= this.refresh().finally(() => { this.running = undefined; });
      // Only the first listing waits for its SCAN pass; later ones answer from the last listing
      // while the next pass runs in the background (stale while revalidating), so a page never
      // waits for the keyspace: with 1,000,000 other keys one pass of 200 SCAN calls takes
      // about 0.25 s of Redis time.
      if (this.at === 0 && this.passes === 0) await this.running;
      else this.running.catch(() => undefined);
    }
    return [...this.known.values()].sort((a, b) => a.topic.localeCompare(b.topic) || (a.partition ?? -1) - (b.partition ?? -1) || (a.lane ?? '').localeCompare(b.lane ?? '')).slice(0, MAX_STREAMS);
  }


  private async refresh(): Promise<void> {
    // `{*stream`, not `{*}:stream`: a lane's stream {T}:lane:L:stream has no `}` before `:stream`
    // (classifyStreamKey sorts out topics, partitions and lanes).
    const pattern = `${this.prefix}:{*stream`;
    // SCAN is per server: on a Redis Cluster every master is scanned (its own cursor), within
    // one budget of MAX_SCAN_PAGES calls per listing.
    const nodes = scanNodes(this.redis);
    const names = nodes.map((n) => `${n.options.host ?? ''}:${n.options.port ?? ''}`);
    for (const name of [...this.cursors.keys()]) if (!names.includes(name)) this.cursors.delete(name);
    let budget = MAX_SCAN_PAGES;
    for (let i = 0; i < nodes.length && budget > 0; i++) {
      const name = names[i]!;
      if (this.cursors.get(name) === 'done') continue;
      let cursor = this.cursors.get(name) ?? '0';
      do {
        const [next, keys] = await nodes[i]!.scan(cursor, 'MATCH', pattern, 'COUNT', 1000, 'TYPE', 'stream');
        this.scans++;
        budget--;
        for (const k of keys) {
          const c = classifyStreamKey(this.prefix, k);
          if (!c) continue;
          // A priority lane's stream ({T}:lane:L:stream) is its own home T+L (docs/priorities.md §2).
          const lane = (c as { lane?: string }).lane;
          const home = lane !== undefined ? `${c.topic}+${lane}` : c.partition === undefined ? c.topic : `${c.topic}#${c.partition}`;
          this.found.set(home, lane !== undefined ? { home, topic: c.topic, lane } : c.partition === undefined ? { home, topic: c.topic } : { home, topic: c.topic, partition: c.partition });
        }
        cursor = next;
      } while (cursor !== '0' && budget > 0);
      this.cursors.set(name, cursor === '0' ? 'done' : cursor);
    }
    this.passes++;
    this.maxPassScans = Math.max(this.maxPassScans, MAX_SCAN_PAGES - budget);
    if (names.every((n) => this.cursors.get(n) === 'done')) {
      // A full pass over every node: what it found is the listing (streams gone since drop out).
      this.known = this.found;
      this.found = new Map();
      this.cursors.clear();
      this.complete = true;
      this.at = Date.now();
    } else {
      // A partial pass adds what it found; streams seen in an earlier full pass stay until the
      // next one ends. The next pass follows at once, in the background (each within the budget),
      // until the keyspace has been gone round.
      for (const [k, v] of this.found) this.known.set(k, v);
      this.at = Date.now() - this.ttlMs - 1;
      if (this.continueInBackground) setTimeout(() => { void this.list().catch(() => undefined); }, 10).unref();
    }
  }
}

/** Figures of some streams and their groups, in two pipelined round trips plus one for TIME. */
export async function readStreams(redis: Redis, prefix: string, refs: StreamRef[]): Promise<{ now: number; rows: StreamRow[] }> {
  if (refs.length === 0) return { now: await serverNow(redis), rows: [] };
  // Round trip 1: each stream's info, delayed count, groups and retired list.
  const p1 = batch(redis);
  p1.time();
  for (const r of refs) {
    const k = topicKeys(prefix, r.home);
    p1.xinfo('STREAM', k.stream);
    p1.zcard(k.delayed);
    p1.xinfo('GROUPS', k.stream);
    p1.hgetall(k.retired);
  }
  const a = await run(p1);
  const [sec, usec] = (a[0]!.value as [string, string]) ?? ['0', '0'];
  const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
  const partial = refs.map((r, i) => {
    const info = a[1 + 4 * i]!.err ? {} : rowObject(a[1 + 4 * i]!.value);
    const groups = a[3 + 4 * i]!.err ? [] : (a[3 + 4 * i]!.value as unknown[]).map(rowObject);
    const retired = (a[4 + 4 * i]!.value ?? {}) as Record<string, string>;
    return { r, info, delayed: Number(a[2 + 4 * i]!.value ?? 0), groups, retired };
  });
  // Round trip 2: per group, the oldest pending entry of both streams, the redelivery stream's
  // group, the retry count and the dead-letter stream's info.
  const p2 = batch(redis);
  for (const s of partial) {
    const k = topicKeys(prefix, s.r.home);
    for (const g of s.groups) {
      const name = String(g.name);
      p2.xpending(k.stream, name, 'IDLE', 0, '-', '+', 1);
      p2.xpending(k.redeliver(name), name, 'IDLE', 0, '-', '+', 1);
      p2.xinfo('GROUPS', k.redeliver(name));
      p2.zcard(k.retry(name));
      p2.xinfo('STREAM', k.deadLetters(name));
      p2.xinfo('STREAM', k.redeliver(name));
    }
    for (const name of Object.keys(s.retired)) if (!s.groups.some((g) => String(g.name) === name)) p2.xinfo('STREAM', k.deadLetters(name));
  }
  const b = await run(p2);
  const counts: Array<{ row: GroupRow; topic: number | null; red: number | null; jobs: Array<{ part: 'topic' | 'red'; key: string; after: string; info: Record<string, unknown> }> }> = [];
  let i = 0;
  const rows: StreamRow[] = partial.map((s) => {
    const groups: GroupRow[] = s.groups.map((g) => {
      const name = String(g.name);
      const [pt, pr, rg, rc, dl, rs] = [b[i++]!, b[i++]!, b[i++]!, b[i++]!, b[i++]!, b[i++]!];
      const oldestT = (pt.err ? [] : (pt.value as Array<[string, string, number, number]>))[0];
      const oldestR = (pr.err ? [] : (pr.value as Array<[string, string, number, number]>))[0];
      const oldest = [oldestT, oldestR].filter((x): x is [string, string, number, number] => !!x).sort((x, y) => compareIds(x[0], y[0]))[0];
      const red = rg.err ? undefined : (rg.value as unknown[]).map(rowObject).find((x) => String(x.name) === name);
      const dli = dl.err ? {} : rowObject(dl.value);
      const lagOf = (o: Record<string, unknown> | undefined): number | null => (o === undefined ? 0 : o.lag === undefined || o.lag === null ? null : Number(o.lag));
      // Deliveries settled: entries read minus pending. Where the server does not know entries-read
      // (a group created at an explicit id), a caught-up group has read every entry ever added.
      const readOf = (o: Record<string, unknown> | undefined, stream: Record<string, unknown>): number | null => {
        if (o === undefined) return 0;
        if (o['entries-read'] !== undefined && o['entries-read'] !== null) return Number(o['entries-read']) - Number(o.pending ?? 0);
        if (stream['entries-added'] !== undefined && String(o['last-delivered-id']) === String(stream['last-generated-id'])) return Number(stream['entries-added']) - Number(o.pending ?? 0);
        return null;
      };
      const caughtUp = String(g['last-delivered-id']) === String(s.info['last-generated-id'] ?? '');
      const topicLag = caughtUp ? 0 : lagOf(g);
      const redLag = lagOf(red);
      const redInfo = rs.err ? {} : rowObject(rs.value);
      const readT = readOf(g, s.info);
      const readR = readOf(red, redInfo);
      const row: GroupRow = {
        group: name,
        consumers: Number(g.consumers ?? 0),
        pending: Number(g.pending ?? 0) + Number(red?.pending ?? 0),
        lag: topicLag === null || redLag === null ? null : topicLag + redLag,
        lastDeliveredId: String(g['last-delivered-id'] ?? ''),
        oldestPendingId: oldest ? oldest[0] : null,
        oldestPendingAgeMs: oldest ? Math.max(0, now - idMs(oldest[0])) : null,
        oldestPendingIdleMs: oldest ? Number(oldest[2]) : null,
        retrying: Number(rc.value ?? 0),
        deadLetters: Number(dli.length ?? 0),
        settledTotal: readT === null || readR === null ? null : readT + readR,
        deadTotal: Number(dli['entries-added'] ?? dli.length ?? 0),
        ...(s.retired[name] !== undefined ? { retired: true } : {}),
      };
      // Where the server does not say the lag (Redis 6.2; 7.x after deletions in the unread
      // range), count it: bounded, in round trip 3.
      if (row.lag === null) {
        const k = topicKeys(prefix, s.r.home);
        counts.push({ row, topic: topicLag, red: redLag,
          jobs: [
            ...(topicLag === null ? [{ part: 'topic' as const, key: k.stream, after: String(g['last-delivered-id'] ?? '0-0'), info: s.info }] : []),
            ...(redLag === null ? [{ part: 'red' as const, key: k.redeliver(name), after: String(red?.['last-delivered-id'] ?? '0-0'), info: redInfo }] : []),
          ] });
      }
      return row;
    });
    for (const name of Object.keys(s.retired).sort()) {
      if (s.groups.some((g) => String(g.name) === name)) continue;
      const dli = b[i]!.err ? {} : rowObject(b[i]!.value);
      i++;
      groups.push({ group: name, consumers: 0, pending: 0, lag: 0, lastDeliveredId: '', oldestPendingId: null, oldestPendingAgeMs: null, oldestPendingIdleMs: null, retrying: 0, deadLetters: Number(dli.length ?? 0), settledTotal: null, deadTotal: Number(dli['entries-added'] ?? dli.length ?? 0), retired: true });
    }
    const first = s.info['first-entry'] as [string] | null | undefined;
    const last = s.info['last-entry'] as [string] | null | undefined;
    return {
      home: s.r.home,
      topic: s.r.topic,
      ...(s.r.partition !== undefined ? { partition: s.r.partition } : {}),
      ...(s.r.lane !== undefined ? { lane: s.r.lane } : {}),
      length: Number(s.info.length ?? 0),
      firstId: first?.[0] ?? null,
      lastId: last?.[0] ?? null,
      addedTotal: Number(s.info['entries-added'] ?? s.info.length ?? 0),
      delayed: s.delayed,
      groups,
    };
  });
  if (counts.length > 0) await countLags(redis, now, counts);
  return { now, rows };
}

/**
 * Most entries counted for one stream's lag where the server does not report it (Redis 6.2;
 * 7.x after deletions in the unread range): past it the lag shows as "at least" this many.
 * Core's count (`countLag`): a script that returns counts only, 1,000 entries a call.
 */
export const LAG_COUNT_CAP = CORE_LAG_COUNT_CAP;

/** Counted lags kept per connection, by what they depend on; at most this many. */
const LAG_CACHE_SIZE = 1000;
const lagCache = new WeakMap<Redis, Map<string, Promise<CountedLag>>>();

/**
 * A stream's counted lag, reused while nothing it depends on changed: the group's last
 * delivered id and the stream's last generated id, length and first entry (an append, a
 * delivery, a trim or a deletion changes one of them). A group that is not moving (no
 * consumers, the usual reason for a lag) is then counted once, not on every page and live
 * update: counting costs about 1.5 ms of Redis time per 1,000 entries.
 */
function cachedLag(redis: Redis, key: string, after: string, ends: StreamEnds): Promise<CountedLag> {
  let cache = lagCache.get(redis);
  if (!cache) { cache = new Map(); lagCache.set(redis, cache); }
  const id = `${key}\u0000${after}\u0000${ends.lastGeneratedId}\u0000${ends.length}\u0000${ends.firstId ?? ''}`;
  const hit = cache.get(id);
  if (hit) { cache.delete(id); cache.set(id, hit); return hit; }
  const counted = countLag(redis, key, after, ends);
  if (cache.size >= LAG_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(id, counted);
  counted.catch(() => cache.delete(id));
  return counted;
}

/**
 * Round trip 3: count the lags the server did not report, with core's `countLag` (at most
 * {@link LAG_COUNT_CAP} entries per stream, counted in Redis, nothing read back), and read the
 * oldest undelivered entry's id (XRANGE COUNT 1) for its age.
 */
async function countLags(redis: Redis, now: number, counts: Array<{ row: GroupRow; topic: number | null; red: number | null; jobs: Array<{ part: 'topic' | 'red'; key: string; after: string; info: Record<string, unknown> }> }>): Promise<void> {
  const p = batch(redis);
  const asked: Array<{ c: (typeof counts)[number]; part: 'topic' | 'red'; lag: Promise<CountedLag> | null }> = [];
  for (const c of counts) {
    for (const j of c.jobs) {
      const ends = streamEnds(j.info);
      if (ends.length === 0 || j.after === ends.lastGeneratedId) { asked.push({ c, part: j.part, lag: null }); continue; }
      // Everything in the stream unread: countLag answers from XLEN; the first entry is the oldest unread.
      const all = ends.firstId !== null && compareIds(j.after, ends.firstId) < 0;
      p.xrange(j.key, all ? '-' : `(${j.after}`, '+', 'COUNT', 1);
      asked.push({ c, part: j.part, lag: cachedLag(redis, j.key, j.after, ends) });
    }
  }
  const [res, lags] = await Promise.all([run(p), Promise.all(asked.map((a) => a.lag ?? { lag: 0, lowerBound: false }))]);
  let k = 0;
  asked.forEach((a, n) => {
    const { lag, lowerBound } = lags[n]!;
    let oldest: string | undefined;
    if (a.lag !== null) {
      const r = res[k++]!;
      oldest = ((r.err ? [] : r.value) as Array<[string, string[]]>)[0]?.[0];
    }
    if (a.part === 'topic') a.c.topic = lag; else a.c.red = lag;
    const row = a.c.row;
    if (lowerBound) row.lagAtLeast = true;
    if (oldest !== undefined) row.lagAgeMs = Math.max(row.lagAgeMs ?? 0, Math.max(0, now - idMs(oldest)));
    row.lagCounted = true;
  });
  for (const c of counts) c.row.lag = (c.topic ?? 0) + (c.red ?? 0);
}

/** Sum a partitioned topic's partitions' groups by group name. */
export function sumGroups(lists: GroupRow[][]): GroupRow[] {
  const by = new Map<string, GroupRow>();
  for (const list of lists) {
    for (const g of list) {
      const t = by.get(g.group);
      if (!t) { by.set(g.group, { ...g }); continue; }
      t.consumers = Math.max(t.consumers, g.consumers); // the same pool holds every partition
      t.pending += g.pending;
      t.lag = t.lag === null || g.lag === null ? null : t.lag + g.lag;
      if (g.lagCounted) t.lagCounted = true;
      if (g.lagAtLeast) t.lagAtLeast = true;
      if (g.lagAgeMs !== undefined) t.lagAgeMs = Math.max(t.lagAgeMs ?? 0, g.lagAgeMs);
      if (g.oldestPendingAgeMs !== null && (t.oldestPendingAgeMs === null || g.oldestPendingAgeMs > t.oldestPendingAgeMs)) {
        t.oldestPendingAgeMs = g.oldestPendingAgeMs;
        t.oldestPendingId = g.oldestPendingId;
        t.oldestPendingIdleMs = g.oldestPendingIdleMs;
      }
      t.retrying += g.retrying;
      t.deadLetters += g.deadLetters;
      t.settledTotal = t.settledTotal === null || g.settledTotal === null ? null : t.settledTotal + g.settledTotal;
      t.deadTotal += g.deadTotal;
      t.lastDeliveredId = '';
    }
  }
  return [...by.values()].sort((a, b) => a.group.localeCompare(b.group));
}

/** One event's state in one group, as the status matrix shows it. */
export interface CellStatus {
  state: string;
  attempts: number;
  error?: string;
  result?: unknown;
  consumer?: string;
  updatedAt?: number;
  nextAttemptAt?: number;
  deadLetterId?: string;
  deliveries?: number;
  idleMs?: number;
}

function parseStatusHash(hash: Record<string, string>): Record<string, CellStatus> {
  const by: Record<string, Record<string, string>> = {};
  for (const [f, v] of Object.entries(hash)) {
    const cut = f.lastIndexOf(':');
    if (cut <= 0) continue;
    (by[f.slice(0, cut)] ??= {})[f.slice(cut + 1)] = v;
  }
  const out: Record<string, CellStatus> = {};
  for (const [g, f] of Object.entries(by)) {
    const s: CellStatus = { state: f.state ?? 'unknown', attempts: Number(f.attempts ?? 0) };
    if (f.error) s.error = f.error;
    if (f.result !== undefined && f.result !== '') s.result = decode(f.result);
    if (f.consumer) s.consumer = f.consumer;
    if (f.updatedAt) s.updatedAt = Number(f.updatedAt);
    if (f.nextAttemptAt && s.state === 'failed') s.nextAttemptAt = Number(f.nextAttemptAt);
    if (f.deadLetterId) s.deadLetterId = f.deadLetterId;
    out[g] = s;
  }
  return out;
}

const FINAL_STATES: ReadonlySet<string> = new Set(['succeeded', 'dead', 'lost', 'skipped']);

/**
 * Each event's status in each group: the status hash (one HGETALL per event) and the groups'
 * success buckets (protocol 2: a plain success is a record there, not in the hash; one GET per
 * group and second of the page), merged as `status()` merges them; filled where neither has a
 * record from the group's position (not yet read: pending) and its PEL (XPENDING of that one id:
 * processing). Work is O(events × groups), bounded by the page size.
 */
export async function statusMatrix(redis: Redis, keys: TopicKeys, groups: Array<{ group: string; lastDeliveredId: string; retired?: boolean }>, ids: string[]): Promise<Record<string, Record<string, CellStatus>>> {
  const out: Record<string, Record<string, CellStatus>> = {};
  if (ids.length === 0) return out;
  const p = batch(redis);
  for (const id of ids) p.hgetall(keys.status(id));
  const [hashes, successes] = await Promise.all([run(p), readSuccessMatrix(redis, keys, ids, groups.filter((g) => !g.retired).map((g) => g.group))]);
  const ask: Array<[string, string]> = [];
  ids.forEach((id, i) => {
    const row = parseStatusHash((hashes[i]!.value ?? {}) as Record<string, string>);
    // A success record wins over what the hash wrote before it (processing, failed: the attempts
    // before the one that succeeded), not over a final state written after it (a replay's).
    for (const [g, r] of successes.get(id) ?? []) {
      const h = row[g];
      if (h && FINAL_STATES.has(h.state) && (r.finishedAt === undefined || (h.updatedAt ?? 0) > r.finishedAt)) continue;
      row[g] = { state: r.skipped ? 'skipped' : 'succeeded', attempts: Math.max(r.attempts, h?.attempts ?? 0), ...(h?.error ? { error: h.error } : {}), ...(r.finishedAt !== undefined ? { updatedAt: r.finishedAt } : {}) };
    }
    for (const g of groups) {
      if (row[g.group] || g.retired) continue;
      if (g.lastDeliveredId && compareIds(id, g.lastDeliveredId) > 0) row[g.group] = { state: 'pending', attempts: 0 };
      else ask.push([id, g.group]);
    }
    out[id] = row;
  });
  if (ask.length > 0) {
    const q = batch(redis);
    for (const [id, g] of ask) q.xpending(keys.stream, g, id, id, 1);
    const res = await run(q);
    ask.forEach(([id, g], i) => {
      const r = (res[i]!.err ? [] : (res[i]!.value as Array<[string, string, number, number]>))[0];
      out[id]![g] = r ? { state: 'processing', attempts: Number(r[3]), consumer: r[1], deliveries: Number(r[3]), idleMs: Number(r[2]) } : { state: 'unknown', attempts: 0 };
    });
  }
  return out;
}

/** One recent event of a topic page. */
export interface RecentEvent {
  id: string;
  publishedAt: number;
  preview: string;
  status: Record<string, CellStatus>;
}

/** A delayed event waiting to enter the stream. */
export interface DelayedRow {
  delayedId: string;
  dueAt: number;
  preview: string;
}

/** The topic page: its figures, groups side by side, recent events × groups, trim floor, delayed events due next. */
export async function topicPage(redis: Redis, prefix: string, ref: StreamRef, o: { limit: number; before?: string }): Promise<unknown> {
  const keys = topicKeys(prefix, ref.home);
  const meta = ref.partition === undefined && ref.lane === undefined ? await topicMeta(redis, prefix, ref.topic) : {};
  // A prioritized topic (its name, not one lane's page): every lane merged.
  if (meta.lanes) return lanedTopicPage(redis, prefix, ref.topic, meta.lanes, o.limit);
  const partitions = meta.partitions ?? null;
  if (partitions) {
    const parts = Array.from({ length: partitions }, (_, i) => ({ home: `${ref.topic}#${i}`, topic: ref.topic, partition: i }));
    const { now, rows } = await readStreams(redis, prefix, parts);
    return { kind: 'partitioned', topic: ref.topic, partitions, now, groups: sumGroups(rows.map((r) => r.groups)), parts: rows };
  }
  const { now, rows } = await readStreams(redis, prefix, [ref]);
  const row = { ...rows[0]!, home: ref.view ?? ref.home };
  if (row.firstId === null && row.length === 0 && row.groups.length === 0 && ref.lane === undefined && !(await redis.exists(keys.stream))) {
    throw new NotFoundError(`topic "${ref.home}" not found under prefix "${prefix}"`);
  }
  const entries = await redis.xrevrange(keys.stream, o.before ? `(${o.before}` : '+', '-', 'COUNT', o.limit);
  const matrix = await statusMatrix(redis, keys, row.groups, entries.map((e) => e[0]));
  const recent: RecentEvent[] = entries.map(([id, flat]) => ({ id, publishedAt: idMs(id), preview: preview(fields(flat).get(FIELD.payload)), status: matrix[id] ?? {} }));
  // The lowest id a live group still needs: its oldest pending entry, else the one after its last delivery.
  const needs = row.groups.filter((g) => !g.retired).map((g) => g.oldestPendingId && compareIds(g.oldestPendingId, nextId(g.lastDeliveredId)) < 0 ? g.oldestPendingId : nextId(g.lastDeliveredId));
  const floor = needs.sort(compareIds)[0] ?? null;
  const due = await redis.zrange(keys.delayed, 0, 9, 'WITHSCORES');
  const delayedIds: Array<[string, number]> = [];
  for (let i = 0; i + 1 < due.length; i += 2) delayedIds.push([due[i]!, Number(due[i + 1])]);
  const dp = batch(redis);
  for (const [m] of delayedIds) dp.hget(keys.delayedRef(m), FIELD.payload);
  const dres = await run(dp);
  const delayed: DelayedRow[] = delayedIds.map(([m, at], i) => ({ delayedId: m.startsWith('{') ? '(legacy entry)' : m, dueAt: at, preview: preview((dres[i]!.value as string | null) ?? '') }));
  return {
    kind: 'stream', ...row, now, recent,
    next: entries.length === o.limit ? entries[entries.length - 1]![0] : null,
    trim: { firstId: row.firstId, floor, lastId: row.lastId, trimmable: floor !== null && row.firstId !== null && compareIds(row.firstId, floor) < 0 },
    delayedNext: delayed,
  };
}

/** A partitioned topic's partition count (its meta record), or null for an unpartitioned one. */
export async function partitionCount(redis: Redis, prefix: string, topic: string): Promise<number | null> {
  const n = await redis.hget(topicMetaKeys(prefix, topic).meta, 'partitions');
  return n === null || !(Number(n) > 0) ? null : Number(n);
}

/** One retry waiting for its backoff. */
export interface RetryRow {
  eventId: string;
  attemptsSoFar: number;
  nextAttemptAt: number;
  preview: string;
}

/** One dead letter, as listed. */
export interface DeadLetterRow {
  deadLetterId: string;
  eventId: string;
  attempts: number;
  reason: string;
  error: string;
  consumer: string;
  deadAt: number;
  payload: unknown;
  headers: Record<string, string>;
  malformed?: string;
}

function deadLetterRow(id: string, flat: string[]): DeadLetterRow {
  const f = fields(flat);
  const d: DeadLetterRow = {
    deadLetterId: id, eventId: f.get('id') ?? '', attempts: Number(f.get('attempts') ?? 0), reason: f.get('reason') ?? 'handler',
    error: f.get('error') ?? '', consumer: f.get('consumer') ?? '', deadAt: Number(f.get('deadAt') ?? idMs(id)),
    payload: decode(f.get(FIELD.payload)), headers: decodeHeaders(f.get(FIELD.headers)),
  };
  if (f.has('raw')) d.malformed = f.get('raw')!;
  return d;
}

/** A page of a group's dead letters (XRANGE from `after`, COUNT limit) and their count (XLEN). */
export async function deadLetterPage(redis: Redis, prefix: string, ref: StreamRef, group: string, o: { limit: number; after?: string }): Promise<{ total: number; entries: DeadLetterRow[]; next: string | null }> {
  const key = topicKeys(prefix, ref.home).deadLetters(group);
  const [rows, total] = await Promise.all([redis.xrange(key, o.after ? `(${o.after}` : '-', '+', 'COUNT', o.limit), redis.xlen(key)]);
  return { total, entries: rows.map(([id, flat]) => deadLetterRow(id, flat)), next: rows.length === o.limit ? rows[rows.length - 1]![0] : null };
}

/** A page of a group's retries waiting for their backoff, soonest first (ZRANGE by index). */
export async function retryPage(redis: Redis, prefix: string, ref: StreamRef, group: string, o: { limit: number; offset: number }): Promise<{ total: number; entries: RetryRow[]; next: number | null }> {
  const key = topicKeys(prefix, ref.home).retry(group);
  const [raw, total] = await Promise.all([redis.zrange(key, o.offset, o.offset + o.limit - 1, 'WITHSCORES'), redis.zcard(key)]);
  const entries: RetryRow[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    let copy: Record<string, string>;
    try { copy = JSON.parse(raw[i]!) as Record<string, string>; } catch { copy = {}; }
    entries.push({ eventId: copy.orig ?? '', attemptsSoFar: Number(copy.base ?? 0), nextAttemptAt: Number(raw[i + 1]), preview: preview(copy.payload) });
  }
  return { total, entries, next: o.offset + entries.length < total ? o.offset + entries.length : null };
}

/** A consumer of a group (both streams it reads). */
export interface ConsumerRow { name: string; pending: number; idleMs: number; inactiveMs: number | null }

/** The group page: its figures, consumers, the first pages of pending entries, retries and dead letters. */
export async function groupPage(redis: Redis, prefix: string, ref: StreamRef, group: string, limit: number): Promise<unknown> {
  validateGroupName(group);
  const keys = topicKeys(prefix, ref.home);
  const { now, rows } = await readStreams(redis, prefix, [ref]);
  const g = rows[0]?.groups.find((x) => x.group === group);
  if (!g) {
    const names = rows[0]?.groups.map((x) => x.group) ?? [];
    throw new NotFoundError(`group "${group}" not found in topic "${ref.view ?? ref.home}"; ${names.length ? `groups: ${names.join(', ')}` : 'the topic has no groups'}`);
  }
  const p = batch(redis);
  p.xinfo('CONSUMERS', keys.stream, group);
  p.xinfo('CONSUMERS', keys.redeliver(group), group);
  const [c1, c2] = await run(p);
  const extra = c2!.err ? [] : (c2!.value as unknown[]).map(rowObject);
  const consumers: ConsumerRow[] = (c1!.err ? [] : (c1!.value as unknown[]).map(rowObject)).map((r) => {
    const x = extra.find((e) => e.name === r.name);
    return { name: String(r.name), pending: Number(r.pending ?? 0) + Number(x?.pending ?? 0), idleMs: Number(r.idle ?? 0), inactiveMs: r.inactive === undefined || Number(r.inactive) < 0 ? null : Number(r.inactive) };
  });
  const [pending, retries, deadLetters] = await Promise.all([
    g.retired ? { entries: [], next: null } : pendingRows(redis, prefix, ref, group, { limit }),
    retryPage(redis, prefix, ref, group, { limit, offset: 0 }),
    deadLetterPage(redis, prefix, ref, group, { limit }),
  ]);
  return { topic: ref.topic, home: ref.view ?? ref.home, ...(ref.partition !== undefined ? { partition: ref.partition } : {}), ...(ref.lane !== undefined ? { lane: ref.lane } : {}), now, group: g, consumers, pending, retries, deadLetters };
}

/** A page of a group's pending entries over both streams (core's pendingPage: XPENDING with COUNT from `after`). */
export async function pendingRows(redis: Redis, prefix: string, ref: StreamRef, group: string, o: { limit: number; after?: string }): Promise<PendingPage> {
  validateGroupName(group);
  return pendingPage({ redis, prefix }, ref.home, group, { limit: o.limit, ...(o.after ? { after: o.after } : {}) });
}

const STREAM_ID = /^\d{1,20}-\d{1,20}$/;
const DELAYED_ID = /^delayed-[0-9a-f-]{36}$/i;

/** The event page: payload, headers, status in every group, its dead letters. */
export async function eventPage(redis: Redis, prefix: string, ref: StreamRef, id: string): Promise<unknown> {
  const keys = topicKeys(prefix, ref.home);
  if (DELAYED_ID.test(id)) {
    const h = await redis.hgetall(keys.delayedRef(id));
    if (h.event) return { ...(await eventPage(redis, prefix, ref, h.event) as object), delayedId: id };
    if (!h.due) throw new NotFoundError(`delayed event ${id} not found in topic "${ref.home}": never published, or promoted and its record expired`);
    const { rows } = await readStreams(redis, prefix, [ref]);
    const status: Record<string, CellStatus> = {};
    for (const g of rows[0]?.groups ?? []) if (!g.retired) status[g.group] = { state: 'scheduled', attempts: 0 };
    const headers = decodeHeaders(h[FIELD.headers]);
    const trace = traceOf(headers);
    return { topic: ref.topic, home: ref.view ?? ref.home, id, delayedId: id, dueAt: Number(h.due), inStream: false, payloadFrom: 'delayed', payload: decode(h[FIELD.payload]), headers, ...(trace ? { trace } : {}), status, deadLetters: [] };
  }
  if (!STREAM_ID.test(id)) throw new InvalidIdError(id);
  const { rows } = await readStreams(redis, prefix, [ref]);
  const groups = rows[0]?.groups ?? [];
  const [range, exists] = await Promise.all([redis.xrange(keys.stream, id, id), redis.exists(keys.status(id))]);
  const entry = range[0];
  if (!entry && exists === 0) {
    throw new NotFoundError(`event ${id} not found in topic "${ref.home}": not in the stream and no status (trimmed and expired, or never published)`);
  }
  const status = (await statusMatrix(redis, keys, groups, [id]))[id] ?? {};
  const dlRefs = Object.entries(status).filter(([, s]) => s.deadLetterId);
  const p = batch(redis);
  for (const [g, s] of dlRefs) p.xrange(keys.deadLetters(g), s.deadLetterId!, s.deadLetterId!);
  const dres = await run(p);
  const deadLetters = dlRefs.flatMap(([g], i) => ((dres[i]!.value ?? []) as Array<[string, string[]]>).map(([dlId, flat]) => ({ group: g, ...deadLetterRow(dlId, flat) })));
  let payload: unknown = null;
  let headers: Record<string, string> = {};
  let payloadFrom: string | null = null;
  let delayedId: string | undefined;
  if (entry) {
    const f = fields(entry[1]);
    payload = decode(f.get(FIELD.payload));
    headers = decodeHeaders(f.get(FIELD.headers));
    payloadFrom = 'stream';
    delayedId = f.get(FIELD.delayed);
  } else if (deadLetters[0]) {
    payload = deadLetters[0].payload;
    headers = deadLetters[0].headers;
    payloadFrom = 'deadLetters';
  }
  const trace = traceOf(headers);
  return { topic: ref.topic, home: ref.view ?? ref.home, id, publishedAt: idMs(id), inStream: !!entry, payloadFrom, payload, headers, ...(trace ? { trace } : {}), ...(delayedId ? { delayedId } : {}), status, deadLetters };
}

/** One search hit. */
export interface SearchHit {
  home: string;
  topic: string;
  partition?: number;
  /** A prioritized topic's lane the event is in (then `home` is the topic and `eventId` a lane id). */
  lane?: string;
  kind: 'event' | 'delayed' | 'idempotency';
  id: string;
  eventId: string;
}

/**
 * Find an event by its id (stream id, `p<i>:` id), a delayed id or an idempotency key in every
 * topic under the prefix: a few O(1) reads per stream (pipelined), bounded by {@link MAX_STREAMS}.
 */
export async function search(redis: Redis, prefix: string, refs: StreamRef[], q: string): Promise<SearchHit[]> {
  const text = q.trim();
  if (text === '') return [];
  const part = /^p(\d{1,4}):(.+)$/.exec(text);
  // A lane id (high:<stream id> or high:delayed-<uuid>): that lane's streams, and topics' own streams (a default lane of that name).
  const laneQ = part ? null : /^([a-z][a-z0-9_-]{0,15}):(\d{1,20}-\d{1,20}|delayed-[0-9a-f-]{36})$/i.exec(text);
  const local = part ? part[2]! : laneQ ? laneQ[2]! : text;
  const scope = part ? refs.filter((r) => r.partition === Number(part[1])) : laneQ ? refs.filter((r) => r.lane === laneQ[1] || (r.lane === undefined && r.partition === undefined)) : refs;
  const p = batch(redis);
  const asks: Array<{ r: StreamRef; kind: SearchHit['kind'] }> = [];
  for (const r of scope) {
    const k = topicKeys(prefix, r.home);
    if (STREAM_ID.test(local)) {
      p.xrange(k.stream, local, local); asks.push({ r, kind: 'event' });
      p.exists(k.status(local)); asks.push({ r, kind: 'event' });
    } else if (DELAYED_ID.test(local)) {
      p.hget(k.delayedRef(local), 'due'); asks.push({ r, kind: 'delayed' });
      p.hget(k.delayedRef(local), 'event'); asks.push({ r, kind: 'delayed' });
    }
    if (!part && text.length <= 512) { p.get(k.idempotency(text)); asks.push({ r, kind: 'idempotency' }); }
  }
  if (asks.length === 0) return [];
  const res = await run(p);
  const hits = new Map<string, SearchHit>();
  const base = (r: StreamRef) => ({ home: r.home, topic: r.topic, ...(r.partition !== undefined ? { partition: r.partition } : {}) });
  res.forEach(({ err, value }, i) => {
    const { r, kind } = asks[i]!;
    if (err) return;
    if (kind === 'event' && ((Array.isArray(value) && value.length > 0) || value === 1)) hits.set(`${r.home} e`, { ...base(r), kind, id: local, eventId: local });
    if (kind === 'delayed' && typeof value === 'string' && value !== '') {
      const prev = hits.get(`${r.home} d`);
      hits.set(`${r.home} d`, { ...base(r), kind, id: local, eventId: prev && prev.eventId !== local ? prev.eventId : /-/.test(value) && STREAM_ID.test(value) ? value : local });
    }
    if (kind === 'idempotency' && typeof value === 'string' && value !== '') hits.set(`${r.home} i`, { ...base(r), kind, id: text, eventId: value });
  });
  return laneHits([...hits.values()], refs, laneQ ? laneQ[1]! : undefined, (topic) => readLanes(redis, prefix, topic));
}

/**
 * Hits in priority lanes as a prioritized topic's: home the topic, `lane`, and event ids as lane
 * ids (so the event opens by its lane id). A hit in a topic's own stream is the default lane's
 * when the topic is prioritized (one HMGET per such topic hit); searched by `<lane>:<id>`, it is
 * kept only when that is the topic's default lane.
 */
async function laneHits(hits: SearchHit[], refs: StreamRef[], asked: string | undefined, lanesOf: (topic: string) => Promise<{ lanes: string[]; defaultLane: string } | undefined>): Promise<SearchHit[]> {
  const laneOfHome = new Map(refs.filter((r) => r.lane !== undefined).map((r) => [r.home, r.lane!]));
  const plainTopics = [...new Set(hits.filter((h) => !laneOfHome.has(h.home) && h.partition === undefined).map((h) => h.topic))];
  const meta = new Map(await Promise.all(plainTopics.map(async (t) => [t, await lanesOf(t).catch(() => undefined)] as const)));
  const out = new Map<string, SearchHit>();
  for (const h of hits) {
    const lane = laneOfHome.get(h.home) ?? (h.partition === undefined ? meta.get(h.topic)?.defaultLane : undefined);
    if (asked !== undefined && lane !== asked) continue; // a plain topic, or another default lane
    if (lane === undefined) { out.set(`${h.home}\n${h.kind}\n${h.eventId}`, h); continue; }
    const isDefault = !laneOfHome.has(h.home);
    const pub = (id: string) => (isDefault || /^[a-z][a-z0-9_-]{0,15}:/i.test(id) ? id : `${lane}:${id}`);
    // An idempotency key is one per topic (its default lane's keys): its value is the public id, with its lane.
    const idemLane = h.kind === 'idempotency' ? /^([a-z][a-z0-9_-]{0,15}):/.exec(h.eventId)?.[1] : undefined;
    const hit = { ...h, home: h.topic, lane: idemLane ?? lane, eventId: h.kind === 'idempotency' ? h.eventId : pub(h.eventId) };
    // Every lane shares the topic's idempotency keys: one hit, not one per lane searched.
    out.set(`${hit.home}\n${hit.kind}\n${hit.eventId}`, hit);
  }
  return [...out.values()];
}

/** Most partitions whose first pages the partitioned group page merges (past it: open a partition). */
export const MAX_MERGED_PARTITIONS = 32;

/** A stream id made public for a partitioned topic: `p<i>:<id>`. */
export function pid(partition: number, id: string): string {
  return `p${partition}:${id}`;
}

/** Split a `p<i>:<stream id>` id of a topic with `partitions` partitions, or null when it is not one. */
export function splitPartitionedId(id: string, partitions: number): { partition: number; local: string } | null {
  const m = /^p(\d{1,4}):(\d{1,20}-\d{1,20})$/.exec(id);
  if (!m || Number(m[1]) >= partitions) return null;
  return { partition: Number(m[1]), local: m[2]! };
}

/**
 * The group page of a partitioned topic (its name, not one partition): the group summed over
 * partitions, one row per partition, consumers over every partition, and the first page of
 * pending entries, retries and dead letters merged over partitions (ids `p<i>:…`). Work is the
 * group page's per partition: bounded by the partition count (the tables only up to
 * {@link MAX_MERGED_PARTITIONS} partitions; past it each partition's own page has them).
 */
export async function partitionedGroupPage(redis: Redis, prefix: string, topic: string, partitions: number, group: string, limit: number): Promise<unknown> {
  validateGroupName(group);
  const refs: StreamRef[] = Array.from({ length: partitions }, (_, i) => ({ home: `${topic}#${i}`, topic, partition: i }));
  const { now, rows } = await readStreams(redis, prefix, refs);
  const per = rows.map((r) => ({ partition: r.partition!, home: r.home, length: r.length, group: r.groups.find((g) => g.group === group) ?? null }));
  if (per.every((p) => p.group === null)) {
    const names = [...new Set(rows.flatMap((r) => r.groups.map((g) => g.group)))].sort();
    throw new NotFoundError(`group "${group}" not found in topic "${topic}" (${partitions} partitions); ${names.length ? `groups: ${names.join(', ')}` : 'the topic has no groups'}`);
  }
  const summed = sumGroups(per.map((p) => (p.group ? [p.group] : [])))[0]!;
  const live = per.filter((p) => p.group !== null);
  // Consumers: XINFO CONSUMERS of both streams of every partition, by name.
  const p = batch(redis);
  for (const x of live) {
    const k = topicKeys(prefix, x.home);
    p.xinfo('CONSUMERS', k.stream, group);
    p.xinfo('CONSUMERS', k.redeliver(group), group);
  }
  const res = await run(p);
  const byName = new Map<string, ConsumerRow & { partitions: number[] }>();
  live.forEach((x, i) => {
    for (const r of [res[2 * i]!, res[2 * i + 1]!]) {
      if (r.err) continue;
      for (const c of (r.value as unknown[]).map(rowObject)) {
        const name = String(c.name);
        const row = byName.get(name) ?? { name, pending: 0, idleMs: Number.MAX_SAFE_INTEGER, inactiveMs: null, partitions: [] };
        row.pending += Number(c.pending ?? 0);
        row.idleMs = Math.min(row.idleMs, Number(c.idle ?? 0));
        if (c.inactive !== undefined && Number(c.inactive) >= 0) row.inactiveMs = row.inactiveMs === null ? Number(c.inactive) : Math.min(row.inactiveMs, Number(c.inactive));
        if (!row.partitions.includes(x.partition)) row.partitions.push(x.partition);
        byName.set(name, row);
      }
    }
  });
  const consumers = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  const merged = live.length <= MAX_MERGED_PARTITIONS;
  const [pendingPages, retryPages, deadPages] = merged
    ? await Promise.all([
      Promise.all(live.map((x) => (x.group!.retired ? Promise.resolve({ entries: [], next: null }) : pendingRows(redis, prefix, { home: x.home, topic, partition: x.partition }, group, { limit })))),
      Promise.all(live.map((x) => retryPage(redis, prefix, { home: x.home, topic, partition: x.partition }, group, { limit, offset: 0 }))),
      Promise.all(live.map((x) => deadLetterPage(redis, prefix, { home: x.home, topic, partition: x.partition }, group, { limit }))),
    ])
    : [[], [], []];
  const pending = live.flatMap((x, i) => (pendingPages[i]?.entries ?? []).map((e) => ({ ...e, id: pid(x.partition, e.id), eventId: pid(x.partition, e.eventId), partition: x.partition, localId: e.id })))
    .sort((a, b) => compareIds(a.localId, b.localId) || a.partition - b.partition).slice(0, limit);
  const retries = live.flatMap((x, i) => (retryPages[i]?.entries ?? []).map((e) => ({ ...e, eventId: e.eventId ? pid(x.partition, e.eventId) : e.eventId, partition: x.partition })))
    .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt).slice(0, limit);
  const dead = live.flatMap((x, i) => (deadPages[i]?.entries ?? []).map((e) => ({ ...e, deadLetterId: pid(x.partition, e.deadLetterId), eventId: e.eventId ? pid(x.partition, e.eventId) : e.eventId, partition: x.partition })))
    .sort((a, b) => a.deadAt - b.deadAt).slice(0, limit);
  return {
    kind: 'partitioned', topic, home: topic, partitions, now, group: summed,
    parts: per.map((x) => ({ partition: x.partition, home: x.home, length: x.length, group: x.group })),
    consumers,
    merged,
    pending: { entries: pending, next: null },
    retries: { total: summed.retrying, entries: retries, next: null },
    deadLetters: { total: summed.deadLetters, entries: dead, next: null },
  };
}
