import { GroupRetiredError, defineTopic } from '@streamfan/core';
import { partitionKeys } from '@streamfan/core/internal';
import { waitFor } from '@streamfan/testing';
import { runAll, runCli } from './run-cli';
import { json, useCliFixture } from './cli-fixture';

const cli = useCliFixture();

/**
 * `streamfan retire` and `unretire` on a partitioned topic (docs/partitions.md §12): the group is
 * retired on every partition (the report lists each), its running consumer (ordered here) stops
 * with one GroupRetiredError, `groups` shows it retired, `unretire` takes it off every partition.
 */
jest.setTimeout(120_000);

const orders = defineTopic<{ n: number }>('orders', { partitions: 3 });

test('retire --yes retires the group on every partition and stops its ordered consumer; groups shows it retired; retire again is a no-op; unretire takes it off every partition', async () => {
  const email = cli.sf.subscribe(orders, 'email', () => undefined, { consumer: 'email-1', leaseMs: 1000, blockMs: 100 });
  // Started after email is ready: two partitioned consumers of one client starting together can race
  // on the client's rebalance subscriber (a spurious ioredis ready-check error, not retirement's).
  await email.ready();
  const legacy = cli.sf.subscribe(orders, 'legacy', () => undefined, {
    consumer: 'legacy-1',
    ordering: 'key',
    leaseMs: 1000,
    blockMs: 100,
  });
  const errors: Error[] = [];
  legacy.on('error', (e) => errors.push(e));
  const legacyClosed = new Promise((r) => legacy.once('closed', r));
  await Promise.all([email.ready(), legacy.ready()]);
  await cli.sf.publishMany(orders, [{ n: 1 }, { n: 2 }, { n: 3 }], { keys: ['a', 'b', 'c'] });

  const noYes = await runCli([...cli.base, 'retire', 'orders', 'legacy']);
  expect(noYes.code).toBe(2);
  expect(noYes.stderr).toMatch(/refusing to retire group "legacy" of topic "orders" for good .*1 running consumer stops.*Pass --yes/);

  const report = json<{ alreadyRetired: boolean; consumers: number; partitions: Array<{ partition: number; alreadyRetired: boolean }> }>(
    await runCli([...cli.base, '--json', 'retire', 'orders', 'legacy', '--yes']),
  );
  expect(report).toMatchObject({ alreadyRetired: false, consumers: 1 });
  expect(report.partitions.map((p) => [p.partition, p.alreadyRetired])).toEqual([
    [0, false],
    [1, false],
    [2, false],
  ]);
  for (let i = 0; i < 3; i++) expect(await cli.sf.redis.hget(partitionKeys(cli.prefix, 'orders', i).retired, 'legacy')).not.toBeNull();
  await legacyClosed;
  expect(errors.map((e) => e.constructor.name)).toEqual(['GroupRetiredError']);
  expect((errors[0] as GroupRetiredError).topic).toBe('orders');

  const [table, again] = await runAll([
    [[...cli.base, 'groups', 'orders']],
    [[...cli.base, 'retire', 'orders', 'legacy']], // already retired: nothing to confirm
  ]);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/^legacy \(retired\)\s/m);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain('group "legacy" of topic "orders" was already retired');
  expect(again.stdout).toMatch(/^partitions:\s+3 \(p0 p1 p2: already retired\)$/m);
  expect(again.stdout).toContain('undo: streamfan unretire orders legacy');

  const undo = await runCli([...cli.base, 'unretire', 'orders', 'legacy']);
  expect(undo.code).toBe(0);
  expect(undo.stdout).toContain('group "legacy" of topic "orders" is no longer retired');
  for (let i = 0; i < 3; i++) expect(await cli.sf.redis.hget(partitionKeys(cli.prefix, 'orders', i).retired, 'legacy')).toBeNull();
  const notRetired = await runCli([...cli.base, 'unretire', 'orders', 'legacy']);
  expect(notRetired.code).toBe(1);
  expect(notRetired.stderr).toContain('group "legacy" is not retired in topic "orders"; nothing changed (no group is retired)');

  const seen: number[] = [];
  const back = cli.sf.subscribe(
    orders,
    'legacy',
    (p) => {
      seen.push(p.n);
    },
    { consumer: 'legacy-2', ordering: 'key', leaseMs: 1000, blockMs: 100 },
  );
  await back.ready();
  const id = await cli.sf.publish(orders, { n: 4 }, { key: 'd' });
  await cli.sf.waitFor(orders, id, { groups: ['legacy'], timeoutMs: 10_000 });
  expect(seen).toEqual([4]); // at its startFrom ('latest'), not where the retired group was
  await waitFor(async () => (await cli.sf.groups(orders)).find((g) => g.group === 'legacy')?.retired === undefined);
  await Promise.all([back.close(), email.close()]);
});

test('an unknown group exits 1 naming the groups, nothing retired; a retirement cut short (one partition listed) is finished by retire, which says so per partition', async () => {
  const sub = cli.sf.subscribe(orders, 'audit', () => undefined, { consumer: 'audit-1', leaseMs: 1000 });
  await sub.ready();
  await sub.close();
  const unknown = await runCli([...cli.base, 'retire', 'orders', 'nope', '--yes']);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toMatch(/group "nope" not found in topic "orders"; groups: .*audit/);
  for (let i = 0; i < 3; i++) expect(await cli.sf.redis.hexists(partitionKeys(cli.prefix, 'orders', i).retired, 'nope')).toBe(0);

  await cli.sf.redis.hset(partitionKeys(cli.prefix, 'orders', 1).retired, 'audit', String(Date.now()));
  const out = await runCli([...cli.base, 'retire', 'orders', 'audit', '--yes']);
  expect(out.code).toBe(0);
  expect(out.stdout).toContain('retired group "audit" of topic "orders"');
  expect(out.stdout).toMatch(/^partitions:\s+3 \(p1: already retired\)$/m);
  expect((await cli.sf.groups(orders)).find((g) => g.group === 'audit')?.retired).toBe(true);
});
