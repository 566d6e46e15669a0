import { defineTopic } from '@streamfan/core';
import { laneKeys } from '@streamfan/core/internal';
import { waitFor } from '@streamfan/testing';
import { runCli, startCli } from './run-cli';
import { json, useCliFixture } from './cli-fixture';

const cli = useCliFixture();

/**
 * The CLI's commands that take or show event positions on a prioritized topic
 * (docs/priorities.md): `groups` LAST-DELIVERED over the lanes, `tail --from` a lane id,
 * `dlq purge` and `show` by lane id (delayed ones too, and `<default lane>:<id>`).
 */
jest.setTimeout(120_000);

type Mail = { n: number };
const emails = defineTopic<Mail>('emails', { priorities: ['high', 'normal', 'low'], defaultPriority: 'normal' });

test('groups: LAST-DELIVERED is the furthest delivery over the lanes (a lane id), each lane its own with --lanes and --json', async () => {
  const sub = cli.sf.subscribe(emails, 'reader', () => undefined, { consumer: 'c0', startFrom: 'beginning', blockMs: 50 });
  await sub.ready();
  await sub.close();
  const high = await cli.sf.publishMany(emails, [{ n: 1 }, { n: 2 }], { priority: 'high' });
  const low = await cli.sf.publish(emails, { n: 3 }, { priority: 'low' });
  // The group read the high lane only (by hand: a consumer that then stopped); the default lane is empty.
  await cli.sf.redis.xreadgroup(
    'GROUP',
    'reader',
    'c0',
    'COUNT',
    10,
    'STREAMS',
    laneKeys(cli.prefix, 'emails', 'high', 'normal').stream,
    '>',
  );
  const out = json<{ groups: Array<{ group: string; lastDeliveredId: string; lanes: Array<{ lane: string; lastDeliveredId: string }> }> }>(
    await runCli([...cli.base, '--json', 'groups', 'emails']),
  );
  const g = out.groups.find((x) => x.group === 'reader')!;
  expect(g.lastDeliveredId).toBe(high[1]);
  // OLDEST-PENDING from a lane id (high:<id>): an age, not NaN (null in JSON, '-' in the table).
  expect((g as unknown as { oldestPendingId: string }).oldestPendingId).toBe(high[0]);
  expect((g as unknown as { oldestPendingAgeMs: number | null }).oldestPendingAgeMs).toEqual(expect.any(Number));
  expect(g.lanes.map((l) => [l.lane, l.lastDeliveredId])).toEqual([
    ['high', high[1]],
    ['normal', '0-0'],
    ['low', '0-0'],
  ]);
  const table = (await runCli([...cli.base, 'groups', 'emails'])).stdout;
  expect(table).toMatch(new RegExp(`^reader\\s+\\d+\\s+\\d+\\s+\\d+\\s+${high[1]}\\s+\\d+(ms|s)\\s`, 'm'));
  const rows = (await runCli([...cli.base, 'groups', 'emails', '--lanes'])).stdout;
  expect(rows).toMatch(/GROUP\s+LANE\s+LAG\s+PENDING\s+BACKLOG\s+RETRYING\s+DEAD\s+LENGTH\s+LAST-DELIVERED/);
  expect(rows).toMatch(new RegExp(`^reader\\s+high\\s+0\\s+2\\s+2\\s+0\\s+0\\s+2\\s+${high[1]}$`, 'm'));
  expect(rows).toMatch(/^reader\s+low\s+1\s+0\s+1\s+0\s+0\s+1\s+0-0$/m);
  expect(low).toMatch(/^low:/);
});

test('tail --from a lane id: the events after it, in every lane; a lane the topic lacks is a usage error', async () => {
  // A few ms apart: two lanes may hand out the same stream id within one millisecond, and tail
  // orders equal ids by lane (highest first), not by publish order.
  const tick = () => new Promise((r) => setTimeout(r, 5));
  const before = await cli.sf.publish(emails, { n: 10 }, { priority: 'high' });
  const after: string[] = [];
  for (const lane of ['low', undefined, 'high'] as const) {
    await tick();
    after.push(await cli.sf.publish(emails, { n: after.length + 11 }, lane ? { priority: lane } : {}));
  }
  const r = await runCli([...cli.base, '--json', 'tail', 'emails', '--from', before, '--limit', '3']);
  expect(r.code).toBe(0);
  const seen = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { id: string; priority: string; payload: Mail });
  expect(seen.map((e) => e.id)).toEqual(after);
  expect(seen.map((e) => e.priority)).toEqual(['low', 'normal', 'high']);
  // The default lane's cli.prefix is accepted too; a plain id is a time position in every lane.
  const plain = await runCli([...cli.base, '--json', 'tail', 'emails', '--from', `normal:${before.split(':')[1]}`, '--limit', '1']);
  expect(JSON.parse(plain.stdout.trim().split('\n')[0]!).id).toBe(after[0]);
  const bad = await runCli([...cli.base, 'tail', 'emails', '--from', 'urgent:1-0', '--limit', '1']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/urgent/);
  expect(bad.stderr).toMatch(/high, normal, low/);
  const garbage = await runCli([...cli.base, 'tail', 'emails', '--from', 'yesterday']);
  expect(garbage.code).toBe(2);
  // A lane id on a topic without lanes: a usage error, not a crash.
  await cli.sf.publish('plain', { n: 0 });
  const plainTopic = await runCli([...cli.base, 'tail', 'plain', '--from', 'high:1-0', '--limit', '1']);
  expect(plainTopic.code).toBe(2);
  expect(plainTopic.stderr).toMatch(/no priority lanes|not prioritized/);
});

test('tail --from $ on a prioritized topic prints what arrives in any lane', async () => {
  // Connections opened from now on are the tail's (client ids only grow): an earlier test's tail
  // may still be listed with cmd=xread while the cli.server closes it.
  const clientIds = (list: unknown): Array<{ id: number; cmd: string }> =>
    String(list)
      .split('\n')
      .filter(Boolean)
      .map((l) => ({ id: Number(/\bid=(\d+)/.exec(l)?.[1]), cmd: /\bcmd=(\S+)/.exec(l)?.[1] ?? '' }));
  const lastBefore = Math.max(...clientIds(await cli.sf.redis.client('LIST')).map((c) => c.id));
  const run = startCli([...cli.base, '--json', 'tail', 'emails', '--limit', '2'], { timeoutMs: 60_000 });
  // Publish once the tail is blocked in its XREAD over the lanes (it starts at the lanes' ends: $).
  await waitFor(async () => clientIds(await cli.sf.redis.client('LIST')).some((c) => c.id > lastBefore && c.cmd === 'xread'), {
    timeoutMs: 30_000,
    message: 'the tail blocked in XREAD',
  });
  const a = await cli.sf.publish(emails, { n: 20 }, { priority: 'low' });
  const b = await cli.sf.publish(emails, { n: 21 }, { priority: 'high' });
  const r = await run.result;
  expect(r.code).toBe(0);
  expect(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: string }).id),
  ).toEqual([a, b]);
});

test('show and dlq take lane ids: a delayed lane id, <default lane>:<id>, dlq purge by lane id', async () => {
  const delayed = await cli.sf.publish(emails, { n: 30 }, { priority: 'high', delayMs: 600_000 });
  expect(delayed).toMatch(/^high:delayed-/);
  const shown = json<{ priority: string; payload: Mail; dueAt?: number }>(await runCli([...cli.base, '--json', 'show', 'emails', delayed]));
  expect(shown).toMatchObject({ priority: 'high', payload: { n: 30 } });
  const normal = await cli.sf.publish(emails, { n: 31 });
  expect(json<{ payload: Mail }>(await runCli([...cli.base, '--json', 'show', 'emails', `normal:${normal}`])).payload).toEqual({ n: 31 });

  const dl = cli.sf.subscribe(emails, 'bouncer', (_p, ctx) => ctx.deadLetter('bounced'), {
    consumer: 'c1',
    startFrom: 'beginning',
    blockMs: 50,
  });
  await dl.ready();
  await waitFor(async () => (await cli.sf.deadLetters(emails, 'bouncer').count()) >= 10, { timeoutMs: 20_000 });
  await dl.close();
  const letters = await cli.sf.deadLetters(emails, 'bouncer').list({ count: 100 });
  const lowLetter = letters.find((x) => x.deadLetterId.startsWith('low:'))!;
  const highLetter = letters.find((x) => x.deadLetterId.startsWith('high:'))!;
  const purged = json<{ purged: number }>(
    await runCli([...cli.base, '--json', 'dlq', 'purge', 'emails', 'bouncer', lowLetter.deadLetterId, highLetter.deadLetterId, '--yes']),
  );
  expect(purged.purged).toBe(2);
  const left = (await cli.sf.deadLetters(emails, 'bouncer').list({ count: 100 })).map((x) => x.deadLetterId);
  expect(left).not.toContain(lowLetter.deadLetterId);
  expect(left).not.toContain(highLetter.deadLetterId);
  expect(left).toHaveLength(letters.length - 2);
  const wrong = await runCli([...cli.base, 'dlq', 'purge', 'emails', 'bouncer', 'urgent:1-0', '--yes']);
  expect(wrong.code).toBe(2);
});

test('retire on a prioritized topic: the group is found and counted over every lane, and retired in every lane', async () => {
  const jobs = defineTopic<Mail>('jobs', { priorities: ['high', 'low'] }); // default lane: low
  await cli.sf.publish(jobs, { n: 1 }, { priority: 'low' });
  const high = laneKeys(cli.prefix, 'jobs', 'high', 'low').stream;
  await cli.sf.publishMany(jobs, [{ n: 2 }, { n: 3 }], { priority: 'high' });
  // A group that lives in the high lane only, with 2 entries pending there.
  await cli.sf.redis.xgroup('CREATE', high, 'urgent-only', '0');
  await cli.sf.redis.xreadgroup('GROUP', 'urgent-only', 'ghost', 'COUNT', 10, 'STREAMS', high, '>');
  const noYes = await runCli([...cli.base, 'retire', 'jobs', 'urgent-only']);
  expect(noYes.code).toBe(2);
  expect(noYes.stderr).toMatch(/refusing to retire group "urgent-only" of topic "jobs" for good \(drops 2 pending entries, 0 retries/);
  const r = await runCli([...cli.base, '--json', 'retire', 'jobs', 'urgent-only', '--yes']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ pending: 2 });
  expect((await cli.sf.groups(jobs)).find((g) => g.group === 'urgent-only')?.retired).toBe(true);
});

test('trim on a prioritized topic trims every lane, and says so per lane', async () => {
  const alerts = defineTopic<Mail>('alerts', { priorities: ['high', 'normal'], defaultPriority: 'normal' });
  const sub = cli.sf.subscribe(alerts, 'pager', () => undefined, { consumer: 'c0', startFrom: 'beginning', blockMs: 50 });
  await sub.ready();
  const ids = [
    ...(await cli.sf.publishMany(alerts, [{ n: 1 }, { n: 2 }, { n: 3 }], { priority: 'high' })),
    await cli.sf.publish(alerts, { n: 4 }),
  ];
  for (const id of ids) await cli.sf.waitFor(alerts, id, { timeoutMs: 20_000 });
  await waitFor(async () => (await cli.sf.groups(alerts)).every((g) => g.pending === 0), { timeoutMs: 20_000 });
  await sub.close();
  const r = await runCli([...cli.base, '--json', 'trim', 'alerts']);
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout) as { removed: number; lanes?: Array<{ lane: string; removed: number }> };
  expect(report.removed).toBe(4);
  expect(report.lanes?.map((l) => [l.lane, l.removed])).toEqual([
    ['high', 3],
    ['normal', 1],
  ]);
  expect(await cli.sf.redis.xlen(laneKeys(cli.prefix, 'alerts', 'high', 'normal').stream)).toBe(0);
  const human = await runCli([...cli.base, 'trim', 'alerts', '--dry-run']);
  expect(human.stdout).toMatch(/^lanes:\s+high 0, normal 0$/m);
});
