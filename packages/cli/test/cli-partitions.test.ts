import { defineTopic, type HandlerContext } from '@streamfan/core';
import { waitFor } from '@streamfan/testing';
import { runCli } from './run-cli';
import { json, useCliFixture } from './cli-fixture';

const cli = useCliFixture();

/**
 * The CLI on a partitioned topic (docs/partitions.md §9): groups summed and per partition,
 * pending merged over partitions with p<i>: ids and paging, show / claim / ack by p<i>: id,
 * tail with p<i>: ids and keys, dead letters (list, show, replay, purge) by p<i>: id.
 */
jest.setTimeout(120_000);

const orders = defineTopic<{ n: number; poison?: boolean }>('orders', { partitions: 3 });

test('groups, pending, show, claim and ack on a partitioned topic', async () => {
  let release = false;
  const running = new Set<string>();
  const sub = cli.sf.subscribe(
    orders,
    'billing',
    async (_p, ctx: HandlerContext) => {
      running.add(ctx.id);
      await waitFor(() => release || ctx.signal.aborted, { timeoutMs: 60_000 });
    },
    { consumer: 'c1', startFrom: 'beginning', leaseMs: 1000, blockMs: 50, concurrency: 20 },
  );
  sub.on('error', () => undefined);
  await sub.ready();
  const keys = Array.from({ length: 9 }, (_, i) => `order-${i}`);
  const ids = await cli.sf.publishMany(
    orders,
    keys.map((_, n) => ({ n })),
    { keys },
  );
  await waitFor(() => running.size === 9);

  const groups = json<{
    partitions: number;
    groups: Array<{ group: string; pending: number; partitions: Array<{ partition: number; owner?: string }> }>;
  }>(await runCli([...cli.base, '--json', 'groups', 'orders']));
  expect(groups.partitions).toBe(3);
  expect(groups.groups[0]).toMatchObject({ group: 'billing', pending: 9 });
  expect(groups.groups[0]!.partitions.map((r) => r.partition)).toEqual([0, 1, 2]);
  const table = await runCli([...cli.base, 'groups', 'orders', '--partitions']);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/3 partitions; every partition of every group is held by a live consumer/);
  expect(table.stdout).toMatch(/PARTITION\s+OWNER\s+TOKEN/);
  expect(table.stdout).toMatch(/billing\s+2\s+c1\//);

  // pending: merged, p<i>: ids, pages of 4 with --after.
  const seen: string[] = [];
  let after: string | null = null;
  do {
    const page: { entries: Array<{ id: string; consumer: string }>; next: string | null } = json(
      await runCli([...cli.base, '--json', 'pending', 'orders', 'billing', '--limit', '4', ...(after ? ['--after', after] : [])]),
    );
    seen.push(...page.entries.map((e) => e.id));
    after = page.next;
  } while (after);
  expect(seen.sort()).toEqual([...ids].sort());

  // show by p<i>: id; a bare id is a usage error before Redis; a partition the topic lacks is refused.
  const shown = json<{ id: string; partition: number; payload: unknown; groups: Record<string, { state: string }> }>(
    await runCli([...cli.base, '--json', 'show', 'orders', ids[3]!]),
  );
  expect(shown).toMatchObject({ id: ids[3], payload: { n: 3 }, groups: { billing: { state: 'processing' } } });
  const human = await runCli([...cli.base, 'show', 'orders', ids[3]!]);
  expect(human.stdout).toMatch(new RegExp(`partition:\\s+${shown.partition}\\n`));
  const bare = await runCli([...cli.base, 'show', 'orders', ids[3]!.split(':')[1]!]);
  expect(bare.code).toBe(2); // a bad id is bad input
  expect(bare.stderr).toMatch(/p3:1700000000000-0/);
  const wrongPartition = await runCli([...cli.base, 'show', 'orders', 'p7:1-0']);
  expect(wrongPartition.code).toBe(2);
  expect(wrongPartition.stderr).toMatch(/partition 0 to 2/);

  // claim and ack by p<i>: id.
  const claimed = json<{ claimed: Array<{ id: string; previousOwner: string }> }>(
    await runCli([...cli.base, '--json', 'claim', 'orders', 'billing', ids[0]!, '--to', 'surgeon', '--yes']),
  );
  expect(claimed.claimed).toEqual([expect.objectContaining({ id: ids[0], previousOwner: 'c1' })]);
  const acked = json<{ acked: Array<{ id: string; eventId: string }> }>(
    await runCli([...cli.base, '--json', 'ack', 'orders', 'billing', ids[0]!, ids[1]!, '--yes']),
  );
  expect(acked.acked.map((a) => a.eventId)).toEqual([ids[0], ids[1]]);
  const notPending = await runCli([...cli.base, 'ack', 'orders', 'billing', ids[0]!, '--yes']);
  expect(notPending.code).toBe(1);
  expect(notPending.stderr).toContain(`${ids[0]} is not pending`);
  expect((await cli.sf.status(orders, ids[1]!)).groups.billing?.state).toBe('succeeded');

  release = true;
  for (const id of ids.slice(2)) await cli.sf.waitFor(orders, id, { timeoutMs: 20_000 });
  await sub.close();
});

test('tail prints every partition with p<i>: ids and keys; dead letters list, show, replay and purge by p<i>: id', async () => {
  const mail = defineTopic<{ n: number; poison?: boolean }>('mail', { partitions: 4 });
  const sub = cli.sf.subscribe(
    mail,
    'send',
    (p: { n: number; poison?: boolean }, ctx: HandlerContext) => {
      if (p.poison) ctx.deadLetter('poison');
    },
    { consumer: 'c1', startFrom: 'beginning', leaseMs: 1000, blockMs: 50 },
  );
  await sub.ready();
  const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
  const ids = await cli.sf.publishMany(
    mail,
    keys.map((_, n) => ({ n, poison: n % 2 === 0 })),
    { keys },
  );
  for (const id of ids) await cli.sf.waitFor(mail, id, { timeoutMs: 20_000 });

  const t = await runCli([...cli.base, '--json', 'tail', 'mail', '--from', '0', '--limit', '6']);
  expect(t.code).toBe(0);
  const lines = t.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { id: string; key: string; partition: number });
  expect(lines.map((l) => l.id).sort()).toEqual([...ids].sort());
  for (const l of lines) expect(l.key).toBe(keys[ids.indexOf(l.id)]);
  const human = await runCli([...cli.base, 'tail', 'mail', '--from', '0', '--limit', '1']);
  expect(human.stdout).toMatch(/^p\d:\d+-\d+ {2}\S+ {2}key="[a-f]"/);

  const list = json<{ total: number; deadLetters: Array<{ deadLetterId: string; id: string }> }>(
    await runCli([...cli.base, '--json', 'dlq', 'list', 'mail', 'send']),
  );
  expect(list.total).toBe(3);
  expect(list.deadLetters.map((d) => d.id).sort()).toEqual([ids[0], ids[2], ids[4]].sort());
  const first = await runCli([...cli.base, '--json', 'dlq', 'list', 'mail', 'send', '--limit', '2']);
  const page1 = json<{ deadLetters: Array<{ deadLetterId: string }> }>(first).deadLetters;
  const page2 = json<{ deadLetters: Array<{ deadLetterId: string }> }>(
    await runCli([...cli.base, '--json', 'dlq', 'list', 'mail', 'send', '--limit', '2', '--after', page1[1]!.deadLetterId]),
  ).deadLetters;
  expect([...page1, ...page2].map((d) => d.deadLetterId)).toEqual(list.deadLetters.map((d) => d.deadLetterId));
  const one = list.deadLetters[0]!;
  const shown = json<{ deadLetterId: string; id: string }>(
    await runCli([...cli.base, '--json', 'dlq', 'show', 'mail', 'send', one.deadLetterId]),
  );
  expect(shown).toMatchObject({ deadLetterId: one.deadLetterId, id: one.id });

  const replay = await runCli([...cli.base, 'dlq', 'replay', 'mail', 'send', one.deadLetterId]);
  expect(replay.code).toBe(0);
  expect(replay.stdout).toMatch(/replayed 1 dead letter/);
  const release = json<{ released: boolean }>(await runCli([...cli.base, '--json', 'dlq', 'release', 'mail', 'send', 'a']));
  expect(release.released).toBe(false); // 'send' continues after a dead letter: nothing is parked
  const purge = await runCli([...cli.base, '--json', 'dlq', 'purge', 'mail', 'send', '--all', '--yes']);
  expect(json<{ purged: number }>(purge).purged).toBeGreaterThanOrEqual(2);
  await sub.close();
});

test("topics: a partitioned topic shows its partition count, and each partition's length with --partitions", async () => {
  const stock = defineTopic<{ n: number }>('stock', { partitions: 4 });
  const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  const ids = await cli.sf.publishMany(
    stock,
    keys.map((_, n) => ({ n })),
    { keys },
  );
  await cli.sf.publish('plain', { n: 1 });
  const perPartition = [0, 1, 2, 3].map((i) => ids.filter((id) => id.startsWith(`p${i}:`)).length);

  const listed = json<{ topics: Array<{ topic: string; length: number; partitions?: number; partitionLengths?: number[] }> }>(
    await runCli([...cli.base, '--json', 'topics']),
  );
  expect(listed.topics.find((t) => t.topic === 'stock')).toMatchObject({ length: 7, partitions: 4, partitionLengths: perPartition });
  const plain = listed.topics.find((t) => t.topic === 'plain')!;
  expect(plain.length).toBe(1);
  expect(plain).not.toHaveProperty('partitions');

  const table = await runCli([...cli.base, 'topics']);
  expect(table.code).toBe(0);
  const lines = table.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^TOPIC\s+PARTITIONS\s+LENGTH\s+FIRST-ID\s+LAST-ID\s+GROUPS\s+DELAYED$/);
  expect(lines).toContainEqual(expect.stringMatching(/^stock\s+4\s+7\s+p\d:\d+-\d+\s+p\d:\d+-\d+\s+0\s+0$/));
  expect(lines).toContainEqual(expect.stringMatching(/^plain\s+-\s+1\s+\d+-\d+\s+\d+-\d+\s+0\s+0$/));
  expect(lines.some((l) => /^\s+p0\s/.test(l))).toBe(false);

  const detailed = (await runCli([...cli.base, 'topics', '--partitions'])).stdout.trimEnd().split('\n');
  const at = detailed.findIndex((l) => l.startsWith('stock '));
  expect(detailed.slice(at + 1, at + 5).map((l) => l.trim().split(/\s+/))).toEqual(perPartition.map((n, i) => [`p${i}`, String(n)]));
  // Partitions of 'orders' (3) are listed under it too; an unpartitioned topic gets none.
  const plainAt = detailed.findIndex((l) => l.startsWith('plain '));
  expect(detailed[plainAt + 1] ?? '').not.toMatch(/^\s+p0\s/);
});

test('trim on a partitioned topic trims every partition, and says so per partition', async () => {
  const parts = defineTopic<{ n: number }>('trimmed', { partitions: 2 });
  const sub = cli.sf.subscribe(parts, 'done', () => undefined, { consumer: 'c0', startFrom: 'beginning', blockMs: 50 });
  await sub.ready();
  const keys = ['a', 'b', 'c', 'd'];
  const ids = await cli.sf.publishMany(
    parts,
    keys.map((_, n) => ({ n })),
    { keys },
  );
  for (const id of ids) await cli.sf.waitFor(parts, id, { timeoutMs: 20_000 });
  await waitFor(async () => (await cli.sf.groups(parts)).every((g) => g.pending === 0), { timeoutMs: 20_000 });
  await sub.close();
  const r = json<{ removed: number; partitions: Array<{ partition: number; removed: number }> }>(
    await runCli([...cli.base, '--json', 'trim', 'trimmed']),
  );
  expect(r.removed).toBe(4);
  expect(r.partitions.reduce((n, p) => n + p.removed, 0)).toBe(4);
  expect((await runCli([...cli.base, 'trim', 'trimmed', '--dry-run'])).stdout).toMatch(/^partitions:\s+#0 0, #1 0$/m);
});
