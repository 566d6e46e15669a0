import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { luaSources } from '../../core/src/scripts/lua.generated';
import { defineTopic, partitionKeys, Streamfan, topicKeys } from '@streamfan/core/internal';
import { startDashboard, type RunningDashboard } from '../src';
import { MAX_SCAN_PAGES, StreamDirectory } from '../src/queries';
import { startFixture, type Fixture } from './fixture';

/**
 * Every page's server work is bounded. Pass 1 watches every Redis command each page sends
 * (MONITOR, the dashboard's own connection): each is O(1), paged (COUNT ≤ a page) or over one
 * small record. The data then grows: topic `orders` to ENTRIES entries with PENDING pending
 * (group audit) and DEAD dead letters (group billing), a 3-partition topic to ENTRIES/10 entries
 * per partition with PENDING/10 pending each, and KEYS extra keys in the keyspace (status-like
 * hashes, as a real deployment keeps one per event). Pass 2 checks the commands again (the count
 * may grow by a page's worth, not with the data), including deep pages (before/after cursors in
 * the middle of the stream, the PEL and the dead letters). Pass 3, without MONITOR, times each
 * page: the server time of the HTTP request (median of 3) and its Redis time (INFO
 * commandstats); the slowest page is printed.
 *
 * Defaults: 100,000 entries, 25,000 pending, 10,000 dead letters, no extra keys. The issue's
 * figures: STREAMFAN_DASHBOARD_SCALE=1000000 (100,000 pending), and STREAMFAN_DASHBOARD_KEYS
 * for the keyspace (e.g. 1000000).
 */
const ENTRIES = Number(process.env.STREAMFAN_DASHBOARD_SCALE ?? 100_000);
const KEYS = Number(process.env.STREAMFAN_DASHBOARD_KEYS ?? 0);
jest.setTimeout(ENTRIES > 200_000 || KEYS > 200_000 ? 1_500_000 : 300_000);
const PENDING = Math.min(100_000, Math.floor(ENTRIES / 4));
const DEAD = 10_000;
const P = 3;

let f: Fixture;
let d: RunningDashboard;
let monitor: Redis;
let watcher: Redis | undefined;
let watch: () => Promise<void>;
let own: Streamfan;
let seen: string[][] = [];
let partedId = '';

beforeAll(async () => {
  f = await startFixture();
  // A partitioned topic with a group that holds every entry.
  const parted = defineTopic<{ k: string }>('parted', { partitions: P });
  const ids = await f.sf.publishMany(parted, ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => ({ k })), { keys: ['a', 'b', 'c', 'd', 'e', 'f'] });
  partedId = ids[0]!;
  for (let i = 0; i < P; i++) {
    const k = partitionKeys(f.prefix, 'parted', i);
    await f.sf.redis.xgroup('CREATE', k.stream, 'held', '0', 'MKSTREAM');
    await f.sf.redis.xreadgroup('GROUP', 'held', 'stuck', 'COUNT', 100, 'STREAMS', k.stream, '>');
  }
  // The dashboard's own client, so MONITOR can tell its commands from everyone else's by address.
  own = new Streamfan({ connection: f.redis.url, prefix: f.prefix, retention: false });
  await own.redis.ping();
  const source = `:${(own.redis as unknown as { stream: { localPort: number } }).stream.localPort}`;
  // The topic listing is refreshed in the background; here only once (all topics exist now), so
  // each page's commands and Redis time are its own. The listing pass is measured on its own.
  d = await startDashboard({ client: own, port: 0, allowActions: true, discoverEveryMs: 3_600_000 });
  monitor = f.redis.client();
  watch = async () => {
    const m = await monitor.monitor();
    watcher = m;
    m.on('monitor', (_time: string, args: string[], from: string) => { if (from.endsWith(source)) seen.push(args); });
  };
  await watch();
});
afterAll(async () => {
  watcher?.disconnect();
  monitor?.disconnect();
  await d?.close();
  await own?.close();
  await f?.stop();
});

/** Cursors in the middle of the data (set once it has grown; the fixture's own before). */
const mid = { event: '', pending: '', dead: '', partPending: '' };
const enc = encodeURIComponent;

/** Every page and API read the page makes, by a stable label. */
const pages = (): Array<[string, string]> => {
  const pl = /^p(\d+):(.+)$/.exec(partedId)!;
  return [
    ['overview', 'api/overview'],
    ['topic', 'api/topics/orders'],
    ['topic, older page (middle of the stream)', `api/topics/orders?before=${mid.event || f.ids[3]}`],
    ['group audit (pending)', 'api/topics/orders/groups/audit'],
    ['group billing (dead letters)', 'api/topics/orders/groups/billing'],
    ['group retrier (retries)', 'api/topics/orders/groups/retrier'],
    ['pending, first 200', 'api/topics/orders/groups/audit/pending?limit=200'],
    ['pending, 200 from the middle', `api/topics/orders/groups/audit/pending?limit=200&after=${mid.pending || f.ids[1]}`],
    ['dead letters, first 200', 'api/topics/orders/groups/billing/dead-letters?limit=200'],
    ['dead letters, 200 from the middle', `api/topics/orders/groups/billing/dead-letters?limit=200&after=${mid.dead || '0-1'}`],
    ['retries, 200', 'api/topics/orders/groups/retrier/retries?limit=200'],
    ['retries, from offset 3', 'api/topics/orders/groups/retrier/retries?limit=200&offset=3'],
    ['event (hostile payload, dead letter)', `api/topics/orders/events/${f.hostileId}`],
    ['event (delayed id)', `api/topics/orders/events/${f.delayedId}`],
    ['search: event id', `api/search?q=${f.ids[1]}`],
    ['search: delayed id', `api/search?q=${f.delayedId}`],
    ['search: idempotency key', 'api/search?q=order-42'],
    ['search: p<i>: id', `api/search?q=${enc(partedId)}`],
    ['search: nothing', 'api/search?q=no-such-thing'],
    ['partitioned topic', 'api/topics/parted'],
    ['partitioned group (merged pages)', 'api/topics/parted/groups/held'],
    ['partition topic page', `api/topics/${enc(`parted#${pl[1]}`)}`],
    ['partition group page', `api/topics/${enc(`parted#${pl[1]}`)}/groups/held`],
    ['partition pending, from the middle', `api/topics/${enc(`parted#${pl[1]}`)}/groups/held/pending?limit=200&after=${mid.partPending || pl[2]}`],
    ['event by p<i>: id', `api/topics/parted/events/${enc(partedId)}`],
    ['meta', 'api/meta'],
  ];
};

/** The commands one page sent (MONITOR is asynchronous: wait for a marker after it). */
async function commandsOf(path: string): Promise<string[][]> {
  seen = [];
  const res = await fetch(new URL(path, d.url));
  expect([path, res.status]).toEqual([path, 200]);
  await res.text();
  const marker = `marker-${Math.random()}`;
  await own.redis.echo(marker);
  for (let i = 0; i < 100 && !seen.some((a) => a[1] === marker); i++) await new Promise((r) => setTimeout(r, 20));
  return seen.filter((a) => !(a[0]?.toLowerCase() === 'echo' && a[1] === marker));
}

/** Why a command is not bounded, or null. */
/** Core's countEntries script (countLag): counts at most its COUNT argument (≤ 1,000) entries of one stream, returns counts only. */
const COUNT_ENTRIES_SHA = createHash('sha1').update(luaSources.countEntries.source).digest('hex');

function unbounded(args: string[]): string | null {
  const [name = '', ...rest] = args;
  const cmd = name.toLowerCase();
  const upper = rest.map((x) => x.toUpperCase());
  const countOf = () => { const i = upper.indexOf('COUNT'); return i < 0 ? Infinity : Number(rest[i + 1]); };
  switch (cmd) {
    case 'time': case 'zcard': case 'xlen': case 'exists': case 'get': case 'hget': return null;
    // HMGET of a topic's meta hash: a few named fields (partitions, lanes, defaultLane), O(fields given).
    case 'hmget': return rest.length <= 4 ? null : `HMGET of ${rest.length - 1} fields`;
    case 'hgetall': return /:(status:[^:]+|retired|delayed-id:[^:]+)$/.test(rest[0]!) ? null : `HGETALL of ${rest[0]}`;
    case 'xinfo': return upper.includes('FULL') ? 'XINFO STREAM FULL' : null;
    case 'scan': return countOf() <= 1000 ? null : 'SCAN without COUNT';
    case 'xrange': case 'xrevrange': return rest[1] === rest[2] || countOf() <= 201 ? null : `${cmd} without COUNT`;
    case 'xpending': return rest.length === 2 ? 'XPENDING summary' : Number(rest[rest.indexOf('+') + 1] ?? rest[4]) <= 201 || rest[2] === rest[3] ? null : 'XPENDING over 201';
    case 'zrange': return Number(rest[2]) - Number(rest[1]) < 200 ? null : 'ZRANGE over 200';
    case 'evalsha': case 'eval': return (cmd === 'eval' ? rest[0] === luaSources.countEntries.source : rest[0] === COUNT_ENTRIES_SHA) && Number(rest[rest.length - 1]) <= 1000 ? null : `script ${cmd} other than countEntries ≤ 1000`;
    default: return `unexpected command ${cmd}`;
  }
}

function redisUsec(info: string): number {
  let total = 0;
  for (const m of info.matchAll(/usec=(\d+)/g)) total += Number(m[1]);
  return total;
}

async function grow(): Promise<void> {
  const r = f.sf.redis;
  const keys = topicKeys(f.prefix, 'orders');
  for (let done = 0; done < ENTRIES; done += 10_000) {
    const p = r.pipeline();
    for (let i = 0; i < 10_000; i++) p.xadd(keys.stream, '*', 'payload', `{"n":${done + i},"pad":"${'x'.repeat(40)}"}`, 'headers', '{}');
    await p.exec();
  }
  for (let done = 0; done < PENDING; done += 10_000) await r.xreadgroup('GROUP', 'audit', 'crashed-worker', 'COUNT', 10_000, 'STREAMS', keys.stream, '>');
  for (let done = 0; done < DEAD; done += 5_000) {
    const p = r.pipeline();
    for (let i = 0; i < 5_000; i++) p.xadd(keys.deadLetters('billing'), '*', 'id', '1-1', 'payload', '{}', 'headers', '{}', 'error', 'boom', 'attempts', '2', 'reason', 'attempts', 'consumer', 'c', 'deadAt', '1');
    await p.exec();
  }
  for (let i = 0; i < P; i++) {
    const k = partitionKeys(f.prefix, 'parted', i);
    for (let done = 0; done < ENTRIES / 10; done += 10_000) {
      const p = r.pipeline();
      for (let j = 0; j < Math.min(10_000, ENTRIES / 10 - done); j++) p.xadd(k.stream, '*', 'payload', `{"k":"${j}"}`, 'headers', '{}', 'key', String(j));
      await p.exec();
    }
    await r.xreadgroup('GROUP', 'held', 'stuck', 'COUNT', PENDING / 10, 'STREAMS', k.stream, '>');
  }
  for (let done = 0; done < KEYS; done += 10_000) {
    const p = r.pipeline();
    for (let i = 0; i < Math.min(10_000, KEYS - done); i++) p.hset(`${f.prefix}:{orders}:status:1-${done + i}`, 'email:state', 'succeeded', 'email:attempts', '1');
    await p.exec();
  }
  // Cursors in the middle (by time) of the stream, the PEL, the dead letters and a partition's PEL.
  const middle = async (key: string, from: string, to: string): Promise<string> => {
    const ms = Math.floor((Number(from.split('-')[0]) + Number(to.split('-')[0])) / 2);
    return (await r.xrange(key, String(ms), '+', 'COUNT', 1))[0]![0];
  };
  const ends = async (key: string) => [(await r.xrange(key, '-', '+', 'COUNT', 1))[0]![0], (await r.xrevrange(key, '+', '-', 'COUNT', 1))[0]![0]] as const;
  const [first, last] = await ends(keys.stream);
  mid.event = await middle(keys.stream, first, last);
  const pend = await r.xpending(keys.stream, 'audit') as [number, string, string];
  mid.pending = await middle(keys.stream, pend[1], pend[2]);
  const [d0, d1] = await ends(keys.deadLetters('billing'));
  mid.dead = await middle(keys.deadLetters('billing'), d0, d1);
  const pk = partitionKeys(f.prefix, 'parted', Number(/^p(\d+):/.exec(partedId)![1]));
  const pp = await r.xpending(pk.stream, 'held') as [number, string, string];
  mid.partPending = await middle(pk.stream, pp[1], pp[2]);
}

test('every command of every page is bounded, the command count does not grow with the data, and the slowest page is timed', async () => {
  const small = new Map<string, number>();
  for (const [label, path] of pages()) {
    const cmds = await commandsOf(path);
    expect([label, cmds.map(unbounded).filter(Boolean)]).toEqual([label, []]);
    small.set(label, cmds.length);
  }

  // Grow the data (MONITOR off meanwhile: it would echo every XADD).
  watcher?.disconnect();
  watcher = undefined;
  const t0 = performance.now();
  await grow();
  const r = f.sf.redis;
  const keys = topicKeys(f.prefix, 'orders');
  expect(await r.xlen(keys.stream)).toBeGreaterThanOrEqual(ENTRIES);
  const grownIn = performance.now() - t0;
  await watch();

  const counts = new Map<string, number>();
  for (const [label, path] of pages()) {
    const cmds = await commandsOf(path);
    expect([label, cmds.map(unbounded).filter(Boolean)]).toEqual([label, []]);
    // Pages fill up (25 recent events, 200 pending rows...), so counts may grow up to a page's worth, not with the data.
    expect([label, cmds.length <= small.get(label)! + 250]).toEqual([label, true]);
    counts.set(label, cmds.length);
  }

  // The deep pages are full pages from the middle, not empty ones.
  const body = async (label: string) => (await fetch(new URL(pages().find(([l]) => l === label)![1], d.url))).json() as Promise<{ entries?: unknown[]; recent?: unknown[] }>;
  expect((await body('pending, 200 from the middle')).entries).toHaveLength(200);
  expect((await body('dead letters, 200 from the middle')).entries).toHaveLength(200);
  expect((await body('partition pending, from the middle')).entries).toHaveLength(200);
  expect((await body('topic, older page (middle of the stream)')).recent).toHaveLength(25);

  // Timing, without MONITOR (it slows Redis down).
  (watcher as Redis | undefined)?.disconnect();
  watcher = undefined;
  const times: Array<{ label: string; httpMs: number; redisMs: number; commands: number }> = [];
  for (const [label, path] of pages()) {
    const before = redisUsec(await r.info('commandstats'));
    const t = performance.now();
    await (await fetch(new URL(path, d.url))).text();
    const first = performance.now() - t;
    const after = redisUsec(await r.info('commandstats'));
    const runs = [first];
    for (let i = 0; i < 2; i++) {
      const s = performance.now();
      await (await fetch(new URL(path, d.url))).text();
      runs.push(performance.now() - s);
    }
    runs.sort((a, b) => a - b);
    times.push({ label, httpMs: runs[1]!, redisMs: (after - before) / 1000, commands: counts.get(label)! });
  }
  // The topic listing from cold (in the background, at most every discoverEveryMs): passes of
  // at most MAX_SCAN_PAGES SCAN calls each, one after the other, until the keyspace is gone round.
  const dir = new StreamDirectory(own.redis, f.prefix, 3_600_000, false);
  const passes: Array<{ ms: number; redisMs: number }> = [];
  let listed: Array<{ topic: string }> = [];
  while (!dir.complete && passes.length < 1000) {
    const beforeList = redisUsec(await r.info('commandstats'));
    const tList = performance.now();
    listed = await dir.fresh();
    passes.push({ ms: performance.now() - tList, redisMs: (redisUsec(await r.info('commandstats')) - beforeList) / 1000 });
  }
  expect(dir.maxPassScans).toBeLessThanOrEqual(MAX_SCAN_PAGES);
  expect(listed.map((x) => x.topic)).toEqual(expect.arrayContaining(['orders', 'parted']));
  const worstPass = [...passes].sort((a, b) => b.redisMs - a.redisMs)[0]!;
  const listMs = passes.reduce((n, x) => n + x.ms, 0);
  const listRedisMs = passes.reduce((n, x) => n + x.redisMs, 0);
  times.sort((a, b) => b.httpMs - a.httpMs);
  const slowest = times[0]!;
  const slowestRedis = [...times].sort((a, b) => b.redisMs - a.redisMs)[0]!;
  console.log([
    `dashboard pages on ${ENTRIES.toLocaleString('en-US')} entries, ${PENDING.toLocaleString('en-US')} pending, ${DEAD.toLocaleString('en-US')} dead letters, ${P} partitions of ${(ENTRIES / 10).toLocaleString('en-US')} entries (${(PENDING / 10).toLocaleString('en-US')} pending each), ${KEYS.toLocaleString('en-US')} extra keys (grown in ${(grownIn / 1000).toFixed(0)} s); Redis ${(/redis_version:(\S+)/.exec(await r.info('server')) ?? [])[1]}`,
    '  server ms  redis ms  cmds  page',
    ...times.map((x) => `  ${x.httpMs.toFixed(2).padStart(9)}  ${x.redisMs.toFixed(2).padStart(8)}  ${String(x.commands).padStart(4)}  ${x.label}`),
    `topic listing from cold (background, not on a page's path): ${passes.length} pass(es) of at most ${MAX_SCAN_PAGES} SCAN calls (COUNT 1000), ${dir.scans} calls, ${listMs.toFixed(0)} ms, ${listRedisMs.toFixed(1)} ms of Redis time in all; the costliest pass ${worstPass.redisMs.toFixed(1)} ms of Redis time`,
    `slowest page: ${slowest.label}, ${slowest.httpMs.toFixed(1)} ms server time (${slowest.redisMs.toFixed(2)} ms of Redis time, ${slowest.commands} commands); most Redis time: ${slowestRedis.label}, ${slowestRedis.redisMs.toFixed(2)} ms`,
  ].join('\n'));
});
