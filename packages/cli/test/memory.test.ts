import { Streamfan } from '@streamfan/core';
import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { buildCli, removeCli, runCli } from './run-cli';

/**
 * `streamfan memory [topic]` against a real redis-server: topic "orders" (one group that
 * dead-letters every fifth order, 20 orders: 4 status hashes of the dead ones, and the 16 plain
 * successes in one or two success buckets), topic "audit" (no groups), and topic "big" with
 * 20,000 status hashes, so that a scan with few pages has to extrapolate.
 */
jest.setTimeout(120_000);

let server: RedisServer;
let sf: Streamfan;
const prefix = uniquePrefix();
let base: string[] = [];

beforeAll(async () => {
  buildCli();
  server = await startRedis();
  sf = new Streamfan({ connection: server.url, prefix, retention: false });
  base = ['--url', server.url, '--prefix', prefix];
  const sub = sf.subscribe<{ n: number }>(
    'orders',
    'billing',
    (p, ctx) => {
      if (p.n % 5 === 0) ctx.deadLetter('declined');
    },
    { startFrom: 'beginning' },
  );
  await sub.ready();
  await sf.publishMany(
    'orders',
    Array.from({ length: 20 }, (_, i) => ({ n: i + 1 })),
  );
  await sf.publish('audit', { who: 'ops' });
  await waitFor(async () => (await sf.groups('orders'))[0]?.deadLetters === 4 && sub.stats.processed === 16, {
    message: '16 processed, 4 dead letters',
  });
  await sub.close();
  await sf.redis.xadd(`${prefix}:{big}:stream`, '*', 'payload', '1', 'headers', '');
  await sf.redis.eval(
    "for i = 1, 20000 do redis.call('HSET', KEYS[1] .. i .. '-0', 'g:state', 'succeeded', 'g:attempts', '1') end",
    1,
    `${prefix}:{big}:status:17000000`,
  );
});

afterAll(async () => {
  await sf?.close();
  await server?.stop();
  removeCli();
});

test('memory <topic>: a table by kind, exact counts when the scan covers the keyspace', async () => {
  const r = await runCli([...base, 'memory', 'orders']);
  expect(r.code).toBe(0);
  // The keyspace holds 20,000 other keys: the scan takes over 10 pages, so progress shows on stderr.
  expect(r.stderr).toMatch(/^(memory: SCAN page \d+ of at most 50, \d+% of the keyspace, \d+ keys seen\n)+$/);
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^topic "orders": [\d.]+ (B|kB|MB) of Redis memory; the server uses [\d.]+ (kB|MB), maxmemory none/);
  expect(lines[2]).toMatch(/^TOPIC\s+KIND\s+KEYS\s+±95%\s+ENTRIES\s+BYTES\s+±95%\s+HOW$/);
  const row = (kind: string) => lines.find((l) => l.startsWith('orders') && l.includes(kind)) ?? '';
  expect(row('topic stream')).toMatch(/^orders\s+topic stream\s+1\s+-\s+20\s+[\d.]+ k?B\s+-\s+exact$/);
  expect(row('status')).toMatch(/^orders\s+status\s+[56]\s+-\s+-\s+[\d.]+ k?B\s+-\s+exact$/);
  expect(row('dead letters')).toMatch(/^orders\s+dead letters\s+1\s+-\s+4\s/);
  expect(row('retry sets')).toBe('');
  expect(lines[lines.length - 1]).toMatch(/covered the whole keyspace: key counts are exact/);
});

test('memory --json: the same figures as one document', async () => {
  const r = await runCli([...base, '--json', 'memory', 'orders']);
  expect(r.code).toBe(0);
  const doc = JSON.parse(r.stdout);
  expect(doc.topics).toHaveLength(1);
  const kinds = Object.fromEntries(doc.topics[0].kinds.map((k: { kind: string }) => [k.kind, k]));
  expect(kinds.status).toMatchObject({ sampled: false });
  expect([5, 6]).toContain(kinds.status.keys); // 4 hashes (dead letters) and 1 or 2 success buckets
  expect(kinds.deadLetters).toMatchObject({ keys: 1, entries: 4 });
  expect(kinds.stream).toMatchObject({ keys: 1, entries: 20 });
  expect(doc.scan.complete).toBe(true);
});

test('memory with no topic: every topic; a partial scan extrapolates, says so, and shows progress on stderr', async () => {
  const all = await runCli([...base, '--json', 'memory']);
  expect(all.code).toBe(0);
  expect(JSON.parse(all.stdout).topics.map((t: { topic: string }) => t.topic)).toEqual(['audit', 'big', 'orders']);

  const r = await runCli([...base, 'memory', 'big', '--scan-pages', '12', '--sample', '20']);
  expect(r.code).toBe(0);
  const status = r.stdout.split('\n').find((l) => l.startsWith('big') && l.includes('status')) ?? '';
  expect(status).toMatch(/^big\s+status\s+~[\d,]+\s+[\d,]+\s+-\s+[\d.]+ (kB|MB)\s+[\d.]+ (B|kB|MB)\s+sampled \(20 measured\)$/);
  expect(r.stdout).toMatch(/scan: 12 SCAN page\(s\) covered about [\d.]+% of the keyspace: per-event key counts \(~\) are extrapolated/);
  expect(r.stderr).toMatch(/^memory: SCAN page 10 of at most 12, \d+% of the keyspace, \d+ keys seen$/m);
});

test('a topic with no keys, and bad options', async () => {
  const r = await runCli([...base, 'memory', 'nothing']);
  expect(r).toMatchObject({ code: 0, stdout: `topic "nothing" has no keys under prefix "${prefix}"\n` });
  const bad = await runCli([...base, 'memory', 'orders', '--scan-pages', '0']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--scan-pages.*expected a whole number ≥ 1/);
});
