import { GroupRetiredError, Streamfan, defineTopic } from '@streamfan/core';
import { partitionKeys } from '@streamfan/core/internal';
import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { buildCli, removeCli, runAll, runCli, type CliResult } from './run-cli';

/**
 * `streamfan retire` and `unretire` on a partitioned topic (docs/partitions.md §12): the group is
 * retired on every partition (the report lists each), its running consumer (ordered here) stops
 * with one GroupRetiredError, `groups` shows it retired, `unretire` takes it off every partition.
 */
jest.setTimeout(120_000);

let server: RedisServer;
let sf: Streamfan;
const prefix = uniquePrefix();
let base: string[] = [];
const json = <T>(r: CliResult): T => {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};
const orders = defineTopic<{ n: number }>('orders', { partitions: 3 });

beforeAll(async () => {
  buildCli();
  server = await startRedis();
  sf = new Streamfan({ connection: server.url, prefix, retention: false });
  base = ['--url', server.url, '--prefix', prefix];
});

afterAll(async () => {
  await sf?.close();
  await server?.stop();
  removeCli();
});

test('retire --yes retires the group on every partition and stops its ordered consumer; groups shows it retired; retire again is a no-op; unretire takes it off every partition', async () => {
  const email = sf.subscribe(orders, 'email', () => undefined, { consumer: 'email-1', leaseMs: 1000, blockMs: 100 });
  // Started after email is ready: two partitioned consumers of one client starting together can race
  // on the client's rebalance subscriber (a spurious ioredis ready-check error, not retirement's).
  await email.ready();
  const legacy = sf.subscribe(orders, 'legacy', () => undefined, { consumer: 'legacy-1', ordering: 'key', leaseMs: 1000, blockMs: 100 });
  const errors: Error[] = [];
  legacy.on('error', (e) => errors.push(e));
  const legacyClosed = new Promise((r) => legacy.once('closed', r));
  await Promise.all([email.ready(), legacy.ready()]);
  await sf.publishMany(orders, [{ n: 1 }, { n: 2 }, { n: 3 }], { keys: ['a', 'b', 'c'] });

  const noYes = await runCli([...base, 'retire', 'orders', 'legacy']);
  expect(noYes.code).toBe(2);
  expect(noYes.stderr).toMatch(/refusing to retire group "legacy" of topic "orders" for good .*1 running consumer stops.*Pass --yes/);

  const report = json<{ alreadyRetired: boolean; consumers: number; partitions: Array<{ partition: number; alreadyRetired: boolean }> }>(
    await runCli([...base, '--json', 'retire', 'orders', 'legacy', '--yes']),
  );
  expect(report).toMatchObject({ alreadyRetired: false, consumers: 1 });
  expect(report.partitions.map((p) => [p.partition, p.alreadyRetired])).toEqual([
    [0, false],
    [1, false],
    [2, false],
  ]);
  for (let i = 0; i < 3; i++) expect(await sf.redis.hget(partitionKeys(prefix, 'orders', i).retired, 'legacy')).not.toBeNull();
  await legacyClosed;
  expect(errors.map((e) => e.constructor.name)).toEqual(['GroupRetiredError']);
  expect((errors[0] as GroupRetiredError).topic).toBe('orders');

  const [table, again] = await runAll([
    [[...base, 'groups', 'orders']],
    [[...base, 'retire', 'orders', 'legacy']], // already retired: nothing to confirm
  ]);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/^legacy \(retired\)\s/m);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain('group "legacy" of topic "orders" was already retired');
  expect(again.stdout).toMatch(/^partitions:\s+3 \(p0 p1 p2: already retired\)$/m);
  expect(again.stdout).toContain('undo: streamfan unretire orders legacy');

  const undo = await runCli([...base, 'unretire', 'orders', 'legacy']);
  expect(undo.code).toBe(0);
  expect(undo.stdout).toContain('group "legacy" of topic "orders" is no longer retired');
  for (let i = 0; i < 3; i++) expect(await sf.redis.hget(partitionKeys(prefix, 'orders', i).retired, 'legacy')).toBeNull();
  const notRetired = await runCli([...base, 'unretire', 'orders', 'legacy']);
  expect(notRetired.code).toBe(1);
  expect(notRetired.stderr).toContain('group "legacy" is not retired in topic "orders"; nothing changed (no group is retired)');

  const seen: number[] = [];
  const back = sf.subscribe(
    orders,
    'legacy',
    (p) => {
      seen.push(p.n);
    },
    { consumer: 'legacy-2', ordering: 'key', leaseMs: 1000, blockMs: 100 },
  );
  await back.ready();
  const id = await sf.publish(orders, { n: 4 }, { key: 'd' });
  await sf.waitFor(orders, id, { groups: ['legacy'], timeoutMs: 10_000 });
  expect(seen).toEqual([4]); // at its startFrom ('latest'), not where the retired group was
  await waitFor(async () => (await sf.groups(orders)).find((g) => g.group === 'legacy')?.retired === undefined);
  await Promise.all([back.close(), email.close()]);
});

test('an unknown group exits 1 naming the groups, nothing retired; a retirement cut short (one partition listed) is finished by retire, which says so per partition', async () => {
  const sub = sf.subscribe(orders, 'audit', () => undefined, { consumer: 'audit-1', leaseMs: 1000 });
  await sub.ready();
  await sub.close();
  const unknown = await runCli([...base, 'retire', 'orders', 'nope', '--yes']);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toMatch(/group "nope" not found in topic "orders"; groups: .*audit/);
  for (let i = 0; i < 3; i++) expect(await sf.redis.hexists(partitionKeys(prefix, 'orders', i).retired, 'nope')).toBe(0);

  await sf.redis.hset(partitionKeys(prefix, 'orders', 1).retired, 'audit', String(Date.now()));
  const out = await runCli([...base, 'retire', 'orders', 'audit', '--yes']);
  expect(out.code).toBe(0);
  expect(out.stdout).toContain('retired group "audit" of topic "orders"');
  expect(out.stdout).toMatch(/^partitions:\s+3 \(p1: already retired\)$/m);
  expect((await sf.groups(orders)).find((g) => g.group === 'audit')?.retired).toBe(true);
});
