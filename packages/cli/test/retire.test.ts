import { GroupRetiredError } from '@streamfan/core';
import { waitFor } from '@streamfan/testing';
import { runAll, runCli, type CliResult } from './run-cli';
import { useCliFixture } from './cli-fixture';

const cli = useCliFixture();

/**
 * `streamfan retire` and `unretire` as child processes against a real redis-server: topic
 * "orders" with groups "email" and "legacy", each with a running consumer in this process.
 */
jest.setTimeout(120_000);

const topic = 'orders';
const json = <T>(r: CliResult): T => JSON.parse(r.stdout) as T;

test('usage errors exit 2; an unknown group or topic exits 1 naming what exists; nothing is retired', async () => {
  const email = cli.sf.subscribe(topic, 'email', () => undefined, { consumer: 'email-1' });
  await email.ready();
  await cli.sf.publish(topic, { n: 1 });
  const [missingArg, badName, noYes, unknownGroup, unknownTopic, notRetired] = await runAll([
    [[...cli.base, 'retire', topic]],
    [[...cli.base, 'retire', topic, 'bad name']],
    [[...cli.base, 'retire', topic, 'email']],
    [[...cli.base, 'retire', topic, 'nope', '--yes']],
    [[...cli.base, 'retire', 'no-such-topic', 'email', '--yes']],
    [[...cli.base, 'unretire', topic, 'email']],
  ]);
  expect(missingArg.code).toBe(2);
  expect(missingArg.stderr).toContain("missing required argument 'group'");
  expect(badName.code).toBe(2);
  expect(noYes.code).toBe(2);
  expect(noYes.stderr).toMatch(/refusing to retire group "email" of topic "orders" for good .*Pass --yes/);
  expect(unknownGroup.code).toBe(1);
  expect(unknownGroup.stderr).toContain('group "nope" not found in topic "orders"; groups: email');
  expect(unknownTopic.code).toBe(1);
  expect(unknownTopic.stderr).toContain('topic "no-such-topic" not found');
  expect(notRetired.code).toBe(1);
  expect(notRetired.stderr).toContain('group "email" is not retired in topic "orders"; nothing changed (no group is retired)');
  expect((await cli.sf.groups(topic)).map((g) => [g.group, g.retired ?? false])).toEqual([['email', false]]);
  await email.close();
});

test('retire --yes stops the running consumer for good; groups shows it retired; retire again is a no-op; unretire undoes it', async () => {
  const email = cli.sf.subscribe(topic, 'email', () => undefined, { consumer: 'email-1' });
  const legacy = cli.sf.subscribe(topic, 'legacy', () => undefined, { consumer: 'legacy-1', blockMs: 200, reclaimIntervalMs: 100 });
  const errors: Error[] = [];
  legacy.on('error', (e) => errors.push(e));
  const legacyClosed = new Promise((r) => legacy.once('closed', r));
  await Promise.all([email.ready(), legacy.ready()]);

  const retired = await runCli([...cli.base, '--json', 'retire', topic, 'legacy', '--yes']);
  expect({ code: retired.code, err: retired.stderr }).toEqual({ code: 0, err: '' });
  expect(json<Record<string, unknown>>(retired)).toMatchObject({
    topic,
    group: 'legacy',
    alreadyRetired: false,
    consumers: 1,
    pending: 0,
    retrying: 0,
    deadLetters: 0,
    deadLettersDeleted: false,
  });
  await legacyClosed;
  expect(errors[0]).toBeInstanceOf(GroupRetiredError);

  const [table, groupsJson, again] = await runAll([
    [[...cli.base, 'groups', topic]],
    [[...cli.base, '--json', 'groups', topic]],
    [[...cli.base, 'retire', topic, 'legacy']], // already retired: nothing to confirm
  ]);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/^legacy \(retired\)\s+0\s+0\s+-\s/m);
  expect(table.stdout).toMatch(/^email\s+1\s/m);
  const groups = json<{ groups: Array<{ group: string; retired?: boolean }> }>(groupsJson).groups;
  expect(groups.map((g) => [g.group, g.retired ?? false])).toEqual([
    ['email', false],
    ['legacy', true],
  ]);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain('group "legacy" of topic "orders" was already retired');
  expect(again.stdout).toMatch(/^dead letters:\s+0 kept$/m);
  expect(again.stdout).toContain('undo: streamfan unretire orders legacy');

  // Still delivering to the other group.
  const id = await cli.sf.publish(topic, { n: 2 });
  expect(Object.keys((await cli.sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups)).toEqual(['email']);

  const undo = await runCli([...cli.base, 'unretire', topic, 'legacy']);
  expect(undo.code).toBe(0);
  expect(undo.stdout).toContain('group "legacy" of topic "orders" is no longer retired');
  const back = cli.sf.subscribe(topic, 'legacy', () => undefined, { consumer: 'legacy-2' });
  await back.ready();
  await waitFor(async () => (await cli.sf.groups(topic)).find((g) => g.group === 'legacy')?.consumers === 1);
  await Promise.all([back.close(), email.close()]);
});

test("a retired group's kept dead letters can be listed, shown and purged; replay, pending and claim say it is retired (exit 1)", async () => {
  const billing = cli.sf.subscribe(topic, 'billing', (_p, ctx) => ctx.deadLetter('card declined'), { consumer: 'billing-1' });
  await billing.ready();
  const id = await cli.sf.publish(topic, { n: 3 });
  await cli.sf.waitFor(topic, id, { groups: ['billing'], timeoutMs: 10_000 });
  await billing.close();
  const retired = await runCli([...cli.base, '--json', 'retire', topic, 'billing', '--yes']);
  expect(json<Record<string, unknown>>(retired)).toMatchObject({ deadLetters: 1, deadLettersDeleted: false });

  const [list, replay, pending, claim] = await runAll([
    [[...cli.base, '--json', 'dlq', 'list', topic, 'billing']],
    [[...cli.base, 'dlq', 'replay', topic, 'billing', '--all']],
    [[...cli.base, 'pending', topic, 'billing']],
    [[...cli.base, 'claim', topic, 'billing', '1-0', '--to', 'x', '--yes']],
  ]);
  expect(list.code).toBe(0);
  const rows = json<{ total: number; deadLetters: Array<{ deadLetterId: string; id: string }> }>(list);
  expect(rows.total).toBe(1);
  expect(rows.deadLetters[0]?.id).toBe(id);
  for (const r of [replay, pending, claim]) {
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('group "billing" of topic "orders" was retired at');
    expect(r.stderr).toContain('streamfan unretire orders billing');
  }
  const show = await runCli([...cli.base, 'dlq', 'show', topic, 'billing', rows.deadLetters[0]!.deadLetterId]);
  expect(show.code).toBe(0);
  expect(show.stdout).toContain('card declined');
  const purge = await runCli([...cli.base, '--json', 'dlq', 'purge', topic, 'billing', '--all', '--yes']);
  expect(purge.code).toBe(0);
  expect(json<{ purged: number }>(purge).purged).toBe(1);
});
