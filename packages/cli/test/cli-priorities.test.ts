import { defineTopic, type HandlerContext } from '@streamfan/core';
import { waitFor } from '@streamfan/testing';
import { runCli } from './run-cli';
import { json, useCliFixture } from './cli-fixture';

const cli = useCliFixture();

/**
 * The CLI on a prioritized topic (issue 16, docs/priorities.md): publish --priority, topics with
 * their lanes (and each lane's length with --lanes), groups with each lane's backlog (column,
 * --lanes rows, --json), pending / show / dlq list, show and replay with lane ids.
 */
jest.setTimeout(120_000);

type Mail = { n: number; poison?: boolean };
const emails = defineTopic<Mail>('emails', { priorities: ['high', 'normal', 'low'], defaultPriority: 'normal' });
const LANE_ID = /^(high|low):\d+-\d+$/;

test('publish --priority writes to that lane; topics lists the lanes; groups shows each lane backlog', async () => {
  // The group exists before the events: created by a subscription that then stops.
  const first = cli.sf.subscribe(emails, 'sender', () => undefined, { consumer: 'c0', startFrom: 'beginning', blockMs: 50 });
  await first.ready();
  await first.close();
  await cli.sf.publish('plain', { n: 0 });

  const publish = (lane: string | undefined, n: number) =>
    runCli([...cli.base, '--json', 'publish', 'emails', JSON.stringify({ n }), ...(lane ? ['--priority', lane] : [])]);
  const ids: Record<string, string[]> = { high: [], normal: [], low: [] };
  for (const [lane, count] of [
    ['high', 2],
    ['low', 3],
    [undefined, 1],
  ] as const) {
    for (let i = 0; i < count; i++) ids[lane ?? 'normal']!.push(json<{ id: string }>(await publish(lane, i)).id);
  }
  // Lane ids outside the default lane; the default lane's are plain stream ids.
  for (const id of ids.high!) expect(id).toMatch(/^high:\d+-\d+$/);
  for (const id of ids.low!) expect(id).toMatch(/^low:\d+-\d+$/);
  expect(ids.normal![0]).toMatch(/^\d+-\d+$/);
  expect((await cli.sf.show(emails, ids.high![0]!)).payload).toEqual({ n: 0 });

  // Wrong lanes: not a lane name, --priority on a plain topic, a lane the topic lacks (UNKNOWN_LANE): usage errors, exit 2.
  const badName = await runCli([...cli.base, 'publish', 'emails', '{}', '--priority', 'High!']);
  expect(badName.code).toBe(2);
  expect(badName.stderr).toMatch(/--priority "High!" is not a lane name/);
  const unknownLane = await runCli([...cli.base, 'publish', 'emails', '{}', '--priority', 'urgent']);
  expect(unknownLane.code).toBe(2);
  expect(unknownLane.stderr).toMatch(/urgent/);
  const plainTopic = await runCli([...cli.base, 'publish', 'plain', '{}', '--priority', 'high']);
  expect(plainTopic.code).toBe(2);
  expect(plainTopic.stderr).toMatch(/priorit/);
  expect(await cli.sf.redis.xlen(`${cli.prefix}:{plain}:stream`)).toBe(1); // nothing written

  // topics: the LANES column (default marked *), '-' for a plain topic; --lanes: one row per lane with its length.
  const listed = json<{ topics: Array<{ topic: string; length: number; lanes?: string[] }> }>(
    await runCli([...cli.base, '--json', 'topics']),
  );
  expect(listed.topics.find((t) => t.topic === 'emails')).toMatchObject({ length: 6, lanes: ['high', 'normal', 'low'] });
  expect(listed.topics.find((t) => t.topic === 'plain')).not.toHaveProperty('lanes');
  const table = (await runCli([...cli.base, 'topics'])).stdout.trimEnd().split('\n');
  expect(table[0]).toMatch(/^TOPIC\s+LANES\s+LENGTH\s+FIRST-ID\s+LAST-ID\s+GROUPS\s+DELAYED$/);
  expect(table).toContainEqual(expect.stringMatching(/^emails\s+high,normal\*,low\s+6\s/));
  expect(table).toContainEqual(expect.stringMatching(/^plain\s+-\s+1\s/));
  const perLane = (await runCli([...cli.base, 'topics', '--lanes'])).stdout.trimEnd().split('\n');
  const at = perLane.findIndex((l) => l.startsWith('emails '));
  expect(perLane.slice(at + 1, at + 4).map((l) => l.trim().split(/\s+/))).toEqual([
    ['high', '2'],
    ['normal', '1'],
    ['low', '3'],
  ]);

  // groups: nothing read yet, so each lane's backlog is its lag.
  const groups = json<{
    lanes: string[];
    groups: Array<{ group: string; lag: number; lanes: Array<{ lane: string; lag: number; pending: number; length: number }> }>;
  }>(await runCli([...cli.base, '--json', 'groups', 'emails']));
  expect(groups.lanes).toEqual(['high', 'normal', 'low']);
  expect(groups.groups[0]).toMatchObject({ group: 'sender', lag: 6 });
  expect(groups.groups[0]!.lanes.map((l) => [l.lane, l.lag, l.pending, l.length])).toEqual([
    ['high', 2, 0, 2],
    ['normal', 1, 0, 1],
    ['low', 3, 0, 3],
  ]);
  const human = (await runCli([...cli.base, 'groups', 'emails'])).stdout;
  expect(human).toMatch(/BACKLOG BY LANE/);
  expect(human).toMatch(/^sender\s.*\shigh=2 normal=1 low=3$/m);
  const rows = (await runCli([...cli.base, 'groups', 'emails', '--lanes'])).stdout;
  expect(rows).toMatch(/GROUP\s+LANE\s+LAG\s+PENDING\s+BACKLOG\s+RETRYING\s+DEAD\s+LENGTH/);
  expect(rows).toMatch(/^sender\s+low\s+3\s+0\s+3\s+0\s+0\s+3\s+0-0$/m); // nothing delivered in the lane yet
  // A plain topic's groups have no lane column.
  expect((await runCli([...cli.base, 'groups', 'plain'])).stdout).not.toMatch(/LANE/);
});

test('pending, show and dead letters take and print lane ids', async () => {
  const jobs = defineTopic<Mail>('jobs', { priorities: ['high', 'low'] }); // default lane: the last, low
  let release = false;
  const running = new Set<string>();
  const sub = cli.sf.subscribe(
    jobs,
    'worker',
    async (p: Mail, ctx: HandlerContext) => {
      if (p.poison) ctx.deadLetter('poison');
      running.add(ctx.id);
      await waitFor(() => release || ctx.signal.aborted, { timeoutMs: 60_000 });
    },
    { consumer: 'c1', startFrom: 'beginning', blockMs: 50, concurrency: 20 },
  );
  sub.on('error', () => undefined);
  await sub.ready();
  const high = await cli.sf.publishMany(jobs, [{ n: 1 }, { n: 2 }], { priority: 'high' });
  const low = await cli.sf.publishMany(jobs, [{ n: 3 }], { priority: 'low' });
  await waitFor(() => running.size === 3);
  expect(high[0]).toMatch(LANE_ID);
  expect(low[0]).toMatch(/^\d+-\d+$/); // the default lane

  // pending: every lane, lane ids, a LANE column; --after takes a lane id.
  const page = json<{ entries: Array<{ id: string }> }>(await runCli([...cli.base, '--json', 'pending', 'jobs', 'worker']));
  expect(page.entries.map((e) => e.id).sort()).toEqual([...high, ...low].sort());
  const table = (await runCli([...cli.base, 'pending', 'jobs', 'worker'])).stdout;
  expect(table).toMatch(/^ID\s+LANE\s+CONSUMER/);
  expect(table).toMatch(new RegExp(`^${high[0]}\\s+high\\s+c1\\s`, 'm'));
  expect(table).toMatch(new RegExp(`^${low[0]}\\s+low\\s+c1\\s`, 'm'));
  const after = await runCli([...cli.base, '--json', 'pending', 'jobs', 'worker', '--after', high[1]!]);
  expect(after.code).toBe(0);
  const badAfter = await runCli([...cli.base, 'pending', 'jobs', 'worker', '--after', 'High:1-0']);
  expect(badAfter.code).toBe(2);
  expect(badAfter.stderr).toMatch(/high:1700000000000-0 in a priority lane/);

  // show: a lane id, its lane printed; a malformed lane id is a usage error.
  const shown = json<{ id: string; priority: string; payload: Mail; groups: Record<string, { state: string }> }>(
    await runCli([...cli.base, '--json', 'show', 'jobs', high[0]!]),
  );
  expect(shown).toMatchObject({ id: high[0], priority: 'high', payload: { n: 1 }, groups: { worker: { state: 'processing' } } });
  expect((await runCli([...cli.base, 'show', 'jobs', high[0]!])).stdout).toMatch(/^lane:\s+high$/m);
  expect((await runCli([...cli.base, 'show', 'jobs', low[0]!])).stdout).toMatch(/^lane:\s+low$/m);
  const bad = await runCli([...cli.base, 'show', 'jobs', 'HIGH:1-0']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/expected an event id/);

  release = true;
  for (const id of [...high, ...low]) await cli.sf.waitFor(jobs, id, { timeoutMs: 20_000 });

  // Dead letters in a lane: list (lane ids, LANE column), show, replay by lane id.
  const [poison] = await cli.sf.publishMany(jobs, [{ n: 4, poison: true }], { priority: 'high' });
  await cli.sf.waitFor(jobs, poison!, { timeoutMs: 20_000 });
  const list = json<{ total: number; deadLetters: Array<{ deadLetterId: string; id: string }> }>(
    await runCli([...cli.base, '--json', 'dlq', 'list', 'jobs', 'worker']),
  );
  expect(list.total).toBe(1);
  const letter = list.deadLetters[0]!;
  expect(letter.id).toBe(poison);
  expect(letter.deadLetterId).toMatch(/^high:\d+-\d+$/);
  const listTable = (await runCli([...cli.base, 'dlq', 'list', 'jobs', 'worker'])).stdout;
  expect(listTable).toMatch(/^DEAD-LETTER-ID\s+EVENT-ID\s+LANE\s+REASON/);
  expect(listTable).toMatch(new RegExp(`^${letter.deadLetterId}\\s+${poison}\\s+high\\s+handler`, 'm'));
  const one = await runCli([...cli.base, 'dlq', 'show', 'jobs', 'worker', letter.deadLetterId]);
  expect(one.code).toBe(0);
  expect(one.stdout).toMatch(/^lane:\s+high$/m);
  const replay = json<{ replayed: number }>(await runCli([...cli.base, '--json', 'dlq', 'replay', 'jobs', 'worker', letter.deadLetterId]));
  expect(replay.replayed).toBe(1);
  // Replayed into its lane, and dead again there (the payload is still poison): a new dead letter of the high lane.
  await waitFor(
    async () => {
      const [again] = await cli.sf.deadLetters(jobs, 'worker').list();
      return (
        again !== undefined && again.deadLetterId !== letter.deadLetterId && again.deadLetterId.startsWith('high:') && again.id === poison
      );
    },
    { timeoutMs: 20_000 },
  );
  await sub.close();
});

test('ack and claim take lane ids: each entry is found in its lane', async () => {
  const alerts = defineTopic<Mail>('alerts', { priorities: ['high', 'low'] });
  const sub = cli.sf.subscribe(alerts, 'pager', () => undefined, { consumer: 'c0', blockMs: 50 });
  await sub.ready();
  await sub.close();
  const ids = [await cli.sf.publish(alerts, { n: 1 }, { priority: 'high' }), await cli.sf.publish(alerts, { n: 2 }, { priority: 'high' })];
  expect(ids[0]).toMatch(/^high:\d+-\d+$/);
  // A consumer that read them and died: pending to 'ghost' in the high lane.
  await cli.sf.redis.xreadgroup('GROUP', 'pager', 'ghost', 'COUNT', 10, 'STREAMS', `${cli.prefix}:{alerts}:lane:high:stream`, '>');
  const claimed = json<{ claimed: Array<{ id: string }> }>(
    await runCli([...cli.base, '--json', 'claim', 'alerts', 'pager', ids[0]!, '--to', 'c9', '--yes']),
  );
  expect(claimed.claimed.map((c) => c.id)).toEqual([ids[0]]);
  const acked = json<{ acked: Array<{ id: string }> }>(
    await runCli([...cli.base, '--json', 'ack', 'alerts', 'pager', ids[0]!, ids[1]!, '--yes']),
  );
  expect(acked.acked.map((a) => a.id).sort()).toEqual([...ids].sort());
  expect((await cli.sf.groups(alerts)).find((g) => g.group === 'pager')?.pending).toBe(0);
  // A plain stream id on this topic names the default lane (low), where nothing is pending: refused, nothing acked.
  const wrong = await runCli([...cli.base, 'ack', 'alerts', 'pager', ids[0]!.replace(/^high:/, ''), '--yes']);
  expect(wrong.code).not.toBe(0);
});
