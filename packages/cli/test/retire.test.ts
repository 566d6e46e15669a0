import { GroupRetiredError, Streamfan } from '@streamfan/core';
import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { buildCli, removeCli, runAll, runCli, type CliResult } from './run-cli';

/**
 * `streamfan retire` and `unretire` as child processes against a real redis-server: topic
 * "orders" with groups "email" and "legacy", each with a running consumer in this process.
 */
jest.setTimeout(120_000);

let server: RedisServer;
let sf: Streamfan;
const prefix = uniquePrefix();
const topic = 'orders';
let base: string[] = [];
const json = <T>(r: CliResult): T => JSON.parse(r.stdout) as T;

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

test('usage errors exit 2; an unknown group or topic exits 1 naming what exists; nothing is retired', async () => {
  const email = sf.subscribe(topic, 'email', () => undefined, { consumer: 'email-1' });
  await email.ready();
  await sf.publish(topic, { n: 1 });
  const [missingArg, badName, noYes, unknownGroup, unknownTopic, notRetired] = await runAll([
    [[...base, 'retire', topic]],
    [[...base, 'retire', topic, 'bad name']],
    [[...base, 'retire', topic, 'email']],
    [[...base, 'retire', topic, 'nope', '--yes']],
    [[...base, 'retire', 'no-such-topic', 'email', '--yes']],
    [[...base, 'unretire', topic, 'email']],
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
  expect((await sf.groups(topic)).map((g) => [g.group, g.retired ?? false])).toEqual([['email', false]]);
  await email.close();
});

test('retire --yes stops the running consumer for good; groups shows it retired; retire again is a no-op; unretire undoes it', async () => {
  const email = sf.subscribe(topic, 'email', () => undefined, { consumer: 'email-1' });
  const legacy = sf.subscribe(topic, 'legacy', () => undefined, { consumer: 'legacy-1', blockMs: 200, reclaimIntervalMs: 100 });
  const errors: Error[] = [];
  legacy.on('error', (e) => errors.push(e));
  const legacyClosed = new Promise((r) => legacy.once('closed', r));
  await Promise.all([email.ready(), legacy.ready()]);

  const retired = await runCli([...base, '--json', 'retire', topic, 'legacy', '--yes']);
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
    [[...base, 'groups', topic]],
    [[...base, '--json', 'groups', topic]],
    [[...base, 'retire', topic, 'legacy']], // already retired: nothing to confirm
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
  const id = await sf.publish(topic, { n: 2 });
  expect(Object.keys((await sf.waitFor(topic, id, { timeoutMs: 10_000 })).groups)).toEqual(['email']);

  const undo = await runCli([...base, 'unretire', topic, 'legacy']);
  expect(undo.code).toBe(0);
  expect(undo.stdout).toContain('group "legacy" of topic "orders" is no longer retired');
  const back = sf.subscribe(topic, 'legacy', () => undefined, { consumer: 'legacy-2' });
  await back.ready();
  await waitFor(async () => (await sf.groups(topic)).find((g) => g.group === 'legacy')?.consumers === 1);
  await Promise.all([back.close(), email.close()]);
});

test("a retired group's kept dead letters can be listed, shown and purged; replay, pending and claim say it is retired (exit 1)", async () => {
  const billing = sf.subscribe(topic, 'billing', (_p, ctx) => ctx.deadLetter('card declined'), { consumer: 'billing-1' });
  await billing.ready();
  const id = await sf.publish(topic, { n: 3 });
  await sf.waitFor(topic, id, { groups: ['billing'], timeoutMs: 10_000 });
  await billing.close();
  const retired = await runCli([...base, '--json', 'retire', topic, 'billing', '--yes']);
  expect(json<Record<string, unknown>>(retired)).toMatchObject({ deadLetters: 1, deadLettersDeleted: false });

  const [list, replay, pending, claim] = await runAll([
    [[...base, '--json', 'dlq', 'list', topic, 'billing']],
    [[...base, 'dlq', 'replay', topic, 'billing', '--all']],
    [[...base, 'pending', topic, 'billing']],
    [[...base, 'claim', topic, 'billing', '1-0', '--to', 'x', '--yes']],
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
  const show = await runCli([...base, 'dlq', 'show', topic, 'billing', rows.deadLetters[0]!.deadLetterId]);
  expect(show.code).toBe(0);
  expect(show.stdout).toContain('card declined');
  const purge = await runCli([...base, '--json', 'dlq', 'purge', topic, 'billing', '--all', '--yes']);
  expect(purge.code).toBe(0);
  expect(json<{ purged: number }>(purge).purged).toBe(1);
});
