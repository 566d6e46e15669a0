import type Redis from 'ioredis';
import { Streamfan, topicKeys } from '@streamfan/core/internal';
import { startDashboard, type RunningDashboard } from '../src';
import { startFixture, type Fixture } from './fixture';

/**
 * Every page's server work is bounded: each Redis command the dashboard sends is O(1), paged
 * (COUNT ≤ a page) or over one small record, checked by watching them with MONITOR, and the
 * number of commands per page does not grow with the data. The topic is then grown to
 * ENTRIES entries with PENDING pending and DEAD dead letters (100,000 / 25,000 / 10,000 by
 * default; STREAMFAN_DASHBOARD_SCALE=1000000 for the issue's 1,000,000 / 100,000 / 10,000) and
 * each page's Redis time is measured (INFO commandstats); the slowest is printed.
 */
const ENTRIES = Number(process.env.STREAMFAN_DASHBOARD_SCALE ?? 100_000);
jest.setTimeout(ENTRIES > 200_000 ? 900_000 : 240_000);
const PENDING = Math.min(100_000, Math.floor(ENTRIES / 4));
const DEAD = 10_000;

let f: Fixture;
let d: RunningDashboard;
let monitor: Redis;
let watcher: Redis | undefined;
let watch: () => Promise<void>;
let own: Streamfan;
let seen: string[][] = [];

beforeAll(async () => {
  f = await startFixture();
  // The dashboard's own client, so MONITOR can tell its commands from everyone else's by address.
  own = new Streamfan({ connection: f.redis.url, prefix: f.prefix, retention: false });
  await own.redis.ping();
  const source = `:${(own.redis as unknown as { stream: { localPort: number } }).stream.localPort}`;
  d = await startDashboard({ client: own, port: 0, allowActions: true });
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

const pages = (): string[] => [
  'api/overview', 'api/topics/orders', 'api/topics/orders/groups/audit', 'api/topics/orders/groups/billing', 'api/topics/orders/groups/retrier',
  'api/topics/orders/groups/audit/pending?limit=200', 'api/topics/orders/groups/billing/dead-letters?limit=200', 'api/topics/orders/groups/retrier/retries?limit=200',
  `api/topics/orders/events/${f.hostileId}`, `api/topics/orders/events/${f.delayedId}`, `api/search?q=${f.ids[1]}`, `api/search?q=${f.delayedId}`, 'api/search?q=order-42',
];

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
function unbounded(args: string[]): string | null {
  const [name = '', ...rest] = args;
  const cmd = name.toLowerCase();
  const upper = rest.map((x) => x.toUpperCase());
  const countOf = () => { const i = upper.indexOf('COUNT'); return i < 0 ? Infinity : Number(rest[i + 1]); };
  switch (cmd) {
    case 'time': case 'zcard': case 'xlen': case 'exists': case 'get': case 'hget': return null;
    case 'hgetall': return /:(status:[^:]+|retired|delayed-id:[^:]+)$/.test(rest[0]!) ? null : `HGETALL of ${rest[0]}`;
    case 'xinfo': return upper.includes('FULL') ? 'XINFO STREAM FULL' : null;
    case 'scan': return countOf() <= 1000 ? null : 'SCAN without COUNT';
    case 'xrange': case 'xrevrange': return rest[1] === rest[2] || countOf() <= 201 ? null : `${cmd} without COUNT`;
    case 'xpending': return rest.length === 2 ? 'XPENDING summary' : Number(rest[rest.indexOf('+') + 1] ?? rest[4]) <= 201 || rest[2] === rest[3] ? null : 'XPENDING over 201';
    case 'zrange': return Number(rest[2]) - Number(rest[1]) < 200 ? null : 'ZRANGE over 200';
    default: return `unexpected command ${cmd}`;
  }
}

function redisUsec(info: string): number {
  let total = 0;
  for (const m of info.matchAll(/usec=(\d+)/g)) total += Number(m[1]);
  return total;
}

test('every command of every page is bounded, and the command count does not grow with the data', async () => {
  const small = new Map<string, number>();
  for (const p of pages()) {
    const cmds = await commandsOf(p);
    expect([p, cmds.map(unbounded).filter(Boolean)]).toEqual([p, []]);
    small.set(p, cmds.length);
  }

  // Grow the topic: ENTRIES entries, PENDING of them pending in audit, DEAD dead letters in billing
  // (MONITOR off meanwhile: it would echo every XADD).
  watcher?.disconnect();
  watcher = undefined;
  const keys = topicKeys(f.prefix, 'orders');
  const r = f.sf.redis;
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
  expect(await r.xlen(keys.stream)).toBeGreaterThanOrEqual(ENTRIES);
  await watch();

  const times: Array<[string, number, number]> = [];
  for (const p of pages()) {
    const before = redisUsec(await r.info('commandstats'));
    const cmds = await commandsOf(p);
    const after = redisUsec(await r.info('commandstats'));
    expect([p, cmds.map(unbounded).filter(Boolean)]).toEqual([p, []]);
    // Pages fill up (25 recent events, 200 pending rows...), so counts may grow up to a page's worth, not with the data.
    expect([p, cmds.length <= small.get(p)! + 250]).toEqual([p, true]);
    times.push([p, (after - before) / 1000, cmds.length]);
  }
  times.sort((a, b) => b[1] - a[1]);
  console.log(`dashboard pages on ${ENTRIES} entries, ${PENDING} pending, ${DEAD} dead letters (Redis time per page, ms; commands):\n${times.map(([p, ms, n]) => `  ${ms.toFixed(2).padStart(8)}  ${String(n).padStart(4)}  ${p}`).join('\n')}`);
});
