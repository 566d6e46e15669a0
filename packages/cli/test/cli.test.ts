import { Streamfan, type DeadLetter } from '@streamfan/core';
import { freePort, startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCli, removeCli, runAll, runCli, startCli, ROOT, type CliResult } from './run-cli';

/**
 * Every command runs as a child process against a real redis-server. The scenario is built with
 * the library: topic "orders" with three groups (email handles everything; billing dead-letters
 * orders 3 and 6; analytics has a stuck consumer "stuck-1" holding three entries), and an
 * "audit" topic with no groups.
 */
jest.setTimeout(120_000);

let server: RedisServer;
let sf: Streamfan;
const prefix = uniquePrefix();
const topic = 'orders';
let ids: string[] = [];
let base: string[] = [];

const lines = (r: CliResult) => r.stdout.trimEnd().split('\n');
const json = <T = any>(r: CliResult): T => JSON.parse(r.stdout) as T; // eslint-disable-line @typescript-eslint/no-explicit-any
const row = (...cells: Array<string | number>) =>
  new RegExp(`^${cells.map((c) => String(c).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s+')}$`);

beforeAll(async () => {
  buildCli();
  server = await startRedis();
  sf = new Streamfan({ connection: server.url, prefix, retention: false });
  base = ['--url', server.url, '--prefix', prefix];
  const email = sf.subscribe<{ n: number }>(topic, 'email', (p) => ({ sent: p.n }), { consumer: 'email-1', startFrom: 'beginning' });
  const billing = sf.subscribe<{ n: number }>(
    topic,
    'billing',
    (p, ctx) => {
      if (p.n % 3 === 0) ctx.deadLetter(`card declined for order ${p.n}`);
      return { charged: p.n };
    },
    { consumer: 'billing-1', startFrom: 'beginning' },
  );
  const analytics = sf.subscribe<{ n: number }>(topic, 'analytics', () => new Promise(() => undefined), {
    consumer: 'stuck-1',
    concurrency: 3,
    startFrom: 'beginning',
    visibilityTimeoutMs: 600_000,
  });
  await Promise.all([email.ready(), billing.ready(), analytics.ready()]);
  ids = [await sf.publish(topic, { n: 1 }, { headers: { traceId: 't-1' } })];
  for (let n = 2; n <= 6; n++) ids.push(await sf.publish(topic, { n }));
  await sf.publish('audit', { who: 'ops' });
  await waitFor(
    async () => {
      const g = Object.fromEntries((await sf.groups(topic)).map((x) => [x.group, x]));
      return (
        g.email?.lag === 0 && g.email.pending === 0 && g.billing?.deadLetters === 2 && g.billing.pending === 0 && g.analytics?.pending === 3
      );
    },
    { timeoutMs: 20_000, message: 'scenario: email done, billing 2 dead letters, analytics 3 stuck' },
  );
  // The stuck consumer goes away without finishing: its three entries stay pending under its name.
  await analytics.close(0);
  await Promise.all([email.close(), billing.close()]);
});

/** The payload of an event, read with the library. */
async function showPayload(t: string, id: string): Promise<unknown> {
  const [entry] = await sf.redis.xrange(`${prefix}:{${t}}:stream`, id, id);
  return JSON.parse(entry![1][1]!) as unknown;
}

afterAll(async () => {
  await sf?.close();
  await server?.stop();
  removeCli();
});

describe('reading', () => {
  test('topics, groups and consumers: tables and --json', async () => {
    const [topics, topicsJson, groups, groupsJson, consumers, consumersJson] = await runAll([
      [[...base, 'topics']],
      [[...base, 'topics', '--json']],
      [[...base, 'groups', topic]],
      [[...base, '--json', 'groups', topic]],
      [[...base, 'consumers', topic, 'analytics']],
      [[...base, 'consumers', topic, 'analytics', '--json']],
    ]);
    for (const r of [topics, topicsJson, groups, groupsJson, consumers, consumersJson])
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });

    expect(lines(topics)[0]).toMatch(row('TOPIC', 'LENGTH', 'FIRST-ID', 'LAST-ID', 'GROUPS', 'DELAYED'));
    expect(lines(topics)).toContainEqual(expect.stringMatching(row(topic, 6, ids[0]!, ids[5]!, 3, 0)));
    expect(lines(topics)).toContainEqual(expect.stringMatching(/^audit\s+1\s+\d+-\d+\s+\d+-\d+\s+0\s+0$/));
    expect(json(topicsJson)).toEqual({
      prefix,
      topics: [
        { topic: 'audit', length: 1, firstId: expect.any(String), lastId: expect.any(String), groups: 0, delayed: 0 },
        { topic, length: 6, firstId: ids[0], lastId: ids[5], groups: 3, delayed: 0 },
      ],
    });

    const g = lines(groups);
    expect(g[0]).toMatch(row('GROUP', 'CONSUMERS', 'PENDING', 'LAG', 'LAST-DELIVERED', 'OLDEST-PENDING', 'RETRYING', 'DEAD'));
    expect(g[1]).toMatch(new RegExp(`^analytics\\s+1\\s+3\\s+3\\s+${ids[2]}\\s+\\d+(ms|s|m\\d\\ds)\\s+0\\s+0$`));
    expect(g[2]).toMatch(row('billing', 0, 0, 0, ids[5]!, '-', 0, 2));
    expect(g[3]).toMatch(row('email', 0, 0, 0, ids[5]!, '-', 0, 0));
    const gj = json(groupsJson);
    expect(gj.topic).toBe(topic);
    expect(gj.groups).toEqual([
      {
        group: 'analytics',
        consumers: 1,
        pending: 3,
        lag: 3,
        lastDeliveredId: ids[2],
        oldestPendingIdleMs: expect.any(Number),
        oldestPendingId: ids[0],
        oldestPendingAgeMs: expect.any(Number),
        retrying: 0,
        deadLetters: 0,
      },
      {
        group: 'billing',
        consumers: 0,
        pending: 0,
        lag: 0,
        lastDeliveredId: ids[5],
        oldestPendingIdleMs: null,
        oldestPendingId: null,
        oldestPendingAgeMs: null,
        retrying: 0,
        deadLetters: 2,
      },
      {
        group: 'email',
        consumers: 0,
        pending: 0,
        lag: 0,
        lastDeliveredId: ids[5],
        oldestPendingIdleMs: null,
        oldestPendingId: null,
        oldestPendingAgeMs: null,
        retrying: 0,
        deadLetters: 0,
      },
    ]);

    expect(lines(consumers)[0]).toMatch(row('CONSUMER', 'PENDING', 'IDLE', 'INACTIVE'));
    expect(lines(consumers)[1]).toMatch(/^stuck-1\s+3\s+\d+(ms|s|m\d\ds)\s+(-|\d+(ms|s|m\d\ds))$/);
    const cj = json(consumersJson);
    expect(cj).toEqual({
      topic,
      group: 'analytics',
      consumers: [{ name: 'stuck-1', pending: 3, idleMs: expect.any(Number), inactiveMs: cj.consumers[0].inactiveMs }],
    });
    expect(cj.consumers[0].inactiveMs === null || typeof cj.consumers[0].inactiveMs === 'number').toBe(true); // Redis 7.2+ reports it
  });

  test('pending: table with payloads, --json pages with --limit and --after, filters', async () => {
    const [table, page1, filtered] = await runAll([
      [[...base, 'pending', topic, 'analytics', '--payload']],
      [[...base, 'pending', topic, 'analytics', '--limit', '2', '--json']],
      [[...base, 'pending', topic, 'analytics', '--consumer', 'nobody', '--min-idle', '1ms']],
    ]);
    expect(table.code).toBe(0);
    const t = lines(table);
    expect(t[0]).toMatch(row('ID', 'CONSUMER', 'IDLE', 'DELIVERIES', 'SOURCE', 'PAYLOAD'));
    expect(t.slice(1)).toEqual(
      ids.slice(0, 3).map((id, i) => expect.stringMatching(new RegExp(`^${id}\\s+stuck-1\\s+\\S+\\s+1\\s+topic\\s+\\{"n":${i + 1}\\}$`))),
    );

    expect(page1.code).toBe(0);
    const p1 = json(page1);
    expect(p1.entries.map((e: { id: string }) => e.id)).toEqual(ids.slice(0, 2));
    expect(p1.entries[0]).toEqual({
      id: ids[0],
      eventId: ids[0],
      consumer: 'stuck-1',
      idleMs: expect.any(Number),
      deliveries: 1,
      source: 'topic',
    });
    expect(p1.next).toBe(ids[1]);
    const page2 = await runCli([...base, 'pending', topic, 'analytics', '--limit', '2', '--after', p1.next, '--json']);
    expect(json(page2)).toMatchObject({ entries: [{ id: ids[2] }], next: null });

    expect(filtered).toMatchObject({ code: 0, stdout: `no pending entries in group "analytics" of topic "${topic}" that match\n` });
  });

  test('show: payload, headers and status in every group', async () => {
    const [table, asJson] = await runAll([[[...base, 'show', topic, ids[2]!]], [[...base, 'show', topic, ids[0]!, '--json']]]);
    expect(table.code).toBe(0);
    const t = lines(table);
    expect(t[0]).toBe(`id:         ${ids[2]}`);
    expect(t).toContain('in stream:  yes');
    expect(t).toContain('payload:    {');
    expect(t).toContain('    "n": 3');
    const header = t.findIndex((l) => l.startsWith('GROUP'));
    expect(t[header]).toMatch(row('GROUP', 'STATE', 'ATTEMPTS', 'CONSUMER', 'UPDATED', 'NEXT-ATTEMPT', 'DEAD-LETTER-ID', 'RESULT / ERROR'));
    expect(t[header + 1]).toMatch(/^analytics\s+processing\s+1\s+stuck-1\s+idle \d+(ms|s|m\d\ds)\s+-\s+-\s+-$/);
    expect(t[header + 2]).toMatch(/^billing\s+dead\s+1\s+billing-1\s+\S+ ago\s+-\s+\d+-\d+\s+error: card declined for order 3$/);
    expect(t[header + 3]).toMatch(/^email\s+succeeded\s+1\s+email-1\s+\S+ ago\s+-\s+-\s+\{"sent":3\}$/);

    const ev = json(asJson);
    expect(ev).toMatchObject({ id: ids[0], topic, inStream: true, payloadFrom: 'stream', payload: { n: 1 }, headers: { traceId: 't-1' } });
    expect(ev.groups.email).toMatchObject({ state: 'succeeded', attempts: 1, result: { sent: 1 }, consumer: 'email-1' });
    expect(ev.groups.billing).toMatchObject({ state: 'succeeded', attempts: 1, result: { charged: 1 } });
    expect(ev.groups.analytics).toMatchObject({ state: 'processing', consumer: 'stuck-1', deliveries: 1 });
    expect(new Date(ev.publishedAt).getTime()).toBe(Number(ids[0]!.split('-')[0]));
  });

  test('dlq list and show', async () => {
    const [table, asJson] = await runAll([
      [[...base, 'dlq', 'list', topic, 'billing']],
      [[...base, 'dlq', 'list', topic, 'billing', '--json']],
    ]);
    const t = lines(table);
    expect(t[0]).toMatch(row('DEAD-LETTER-ID', 'EVENT-ID', 'REASON', 'ATTEMPTS', 'DIED', 'CONSUMER', 'ERROR'));
    expect(t[1]).toMatch(new RegExp(`^\\d+-\\d+\\s+${ids[2]}\\s+handler\\s+1\\s+\\S+ ago\\s+billing-1\\s+card declined for order 3$`));
    expect(t[2]).toMatch(new RegExp(`^\\d+-\\d+\\s+${ids[5]}\\s+handler\\s+1\\s+\\S+ ago\\s+billing-1\\s+card declined for order 6$`));
    const list = json<{ total: number; deadLetters: DeadLetter[] }>(asJson);
    expect(list.total).toBe(2);
    expect(list.deadLetters[0]).toEqual({
      deadLetterId: expect.stringMatching(/^\d+-\d+$/),
      id: ids[2],
      payload: { n: 3 },
      headers: {},
      attempts: 1,
      error: 'card declined for order 3',
      reason: 'handler',
      consumer: 'billing-1',
      deadAt: expect.any(String),
    });
    const shown = await runCli([...base, 'dlq', 'show', topic, 'billing', list.deadLetters[1]!.deadLetterId]);
    expect(shown.code).toBe(0);
    expect(lines(shown)).toEqual(
      expect.arrayContaining([
        `dead-letter id:  ${list.deadLetters[1]!.deadLetterId}`,
        `event id:        ${ids[5]}`,
        'reason:          handler',
        'error:           card declined for order 6',
        'payload:         {',
        '    "n": 6',
      ]),
    );
  });
});

describe('errors: message and exit code, no stack traces', () => {
  test('Redis unreachable, unknown topic or group, malformed JSON, wrong arguments, no --yes', async () => {
    const port = await freePort();
    const results = await runAll([
      [['--url', `redis://ops:s3cret@127.0.0.1:${port}`, 'topics']],
      [['--url', `redis://127.0.0.1:${port}`, 'groups', topic, '--json']],
      [[...base, 'groups', 'nope']],
      [[...base, 'pending', topic, 'nope']],
      [[...base, 'publish', topic, '{"n":}']],
      [[...base, 'publish', topic], { input: '[1,\n2,,3]' }],
      [[...base, 'pending', topic]],
      [[...base, 'pending', topic, 'analytics', '--limit', 'zero', '--json']],
      [[...base, 'groups', 'bad topic']],
      [[...base, 'frobnicate']],
      [[...base, 'claim', topic, 'analytics', ids[0]!, '--to', 'rescuer']],
      [[...base, 'ack', topic, 'analytics', '1-0', '--yes']],
      [[...base, 'ack', topic, 'analytics', 'not-an-id', '--yes']],
      [[...base, 'show', topic, '1-0']],
      [[...base, 'dlq', 'purge', topic, 'billing']],
    ]);
    const [
      unreachable,
      unreachableJson,
      noTopic,
      noGroup,
      badJson,
      badStdin,
      missingArg,
      badLimit,
      badName,
      unknownCmd,
      noYes,
      notPending,
      badId,
      noEvent,
      purgeWhat,
    ] = results;
    for (const r of results) expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace

    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      new RegExp(`^streamfan: error: cannot reach Redis at redis://ops:\\*\\*\\*@127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`),
    );
    expect(unreachable.stderr).not.toContain('s3cret');
    expect(unreachableJson.code).toBe(1);
    expect(json(unreachableJson).error).toEqual({
      code: 'REDIS_UNAVAILABLE',
      message: expect.stringContaining(`cannot reach Redis at redis://127.0.0.1:${port}`),
    });

    expect(noTopic).toMatchObject({ code: 1, stdout: '' });
    expect(noTopic.stderr).toBe(`streamfan: error: topic "nope" not found under prefix "${prefix}"; topics: audit, orders\n`);
    expect(noGroup.code).toBe(1);
    expect(noGroup.stderr).toBe(`streamfan: error: group "nope" not found in topic "orders"; groups: analytics, billing, email\n`);

    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toBe(
      'streamfan: error: malformed JSON in the <json> argument at line 1, column 6: Unexpected token \'}\'\n  {"n":}\n       ^\n',
    );
    expect(badStdin.code).toBe(2);
    expect(badStdin.stderr).toContain('malformed JSON in stdin at line 2, column 3');

    expect(missingArg.code).toBe(2);
    expect(missingArg.stderr).toContain("error: missing required argument 'group'");
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain("error: option '--limit <n>' argument 'zero' is invalid. expected a whole number ≥ 1.");
    expect(json(badLimit).error).toEqual({
      code: 'USAGE',
      message: "option '--limit <n>' argument 'zero' is invalid. expected a whole number ≥ 1.",
    });
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('topic name "bad topic" is not valid: it contains white space');
    expect(unknownCmd.code).toBe(2);
    expect(unknownCmd.stderr).toContain("error: unknown command 'frobnicate'");

    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toContain('stdin is not a terminal. Pass --yes to confirm.');
    expect(notPending.code).toBe(1);
    expect(notPending.stderr).toContain('id 1-0 is not pending in group "analytics" of topic "orders"; nothing was acknowledged');
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain('"not-an-id" is not a stream id');
    expect(noEvent.code).toBe(1);
    expect(noEvent.stderr).toContain('event 1-0 not found in topic "orders"');
    expect(purgeWhat.code).toBe(2);
    expect(purgeWhat.stderr).toContain('say which dead letters to purge');

    // nothing was changed by any of them
    expect((await sf.pending(topic, 'analytics')).map((e) => [e.id, e.consumer])).toEqual(ids.slice(0, 3).map((id) => [id, 'stuck-1']));
  });

  test('--help on every command, with an example', async () => {
    const cmds = [
      ['topics'],
      ['groups'],
      ['consumers'],
      ['consumers', 'prune'],
      ['pending'],
      ['show'],
      ['tail'],
      ['publish'],
      ['claim'],
      ['ack'],
      ['dlq'],
      ['dlq', 'list'],
      ['dlq', 'show'],
      ['dlq', 'replay'],
      ['dlq', 'purge'],
      ['trim'],
      ['retire'],
      ['unretire'],
      ['memory'],
      ['dashboard'],
      ['metrics'],
    ];
    // One process prints every help text: each is `streamfan <cmd> --help` run in-process by main().
    const script = `const { main } = require('./packages/cli/src/main'); (async () => { for (const c of ${JSON.stringify(cmds)}) { const code = await main(['node', 'streamfan', ...c, '--help']); console.log('@@exit ' + c.join(' ') + ' ' + code); } })();`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, TSX_TSCONFIG_PATH: 'tsconfig.tests.json' },
      encoding: 'utf8',
    });
    const sections = r.stdout.split(/@@exit [^\n]*\n/);
    for (const c of cmds) expect(r.stdout).toContain(`@@exit ${c.join(' ')} 0`);
    for (const s of sections.slice(0, cmds.length)) {
      expect(s).toMatch(/^Usage: streamfan /);
      expect(s).toMatch(/Examples?:\n {2}\$ streamfan /);
    }
  });
});

describe('repair and writing', () => {
  test('claim and ack by hand, then prune the consumer left with nothing', async () => {
    const [claimJson, claimTable] = await runAll([
      [[...base, 'claim', topic, 'analytics', ids[0]!, '--to', 'rescuer', '--yes', '--json']],
      [[...base, 'claim', topic, 'analytics', ids[1]!, '--to', 'rescuer', '-y']],
    ]);
    expect(claimJson.code).toBe(0);
    expect(json(claimJson)).toEqual({
      topic,
      group: 'analytics',
      consumer: 'rescuer',
      claimed: [{ id: ids[0], source: 'topic', previousOwner: 'stuck-1', deliveries: 1 }],
    });
    expect(claimTable.code).toBe(0);
    expect(lines(claimTable)).toEqual([
      'claimed 1 for rescuer',
      expect.stringMatching(row('ID', 'SOURCE', 'FROM', 'DELIVERIES')),
      expect.stringMatching(row(ids[1]!, 'topic', 'stuck-1', 1)),
    ]);
    expect((await sf.pending(topic, 'analytics')).map((e) => [e.id, e.consumer, e.deliveries])).toEqual([
      [ids[0], 'rescuer', 1],
      [ids[1], 'rescuer', 1],
      [ids[2], 'stuck-1', 1],
    ]);

    const [ackJson, ackTable, notPendingClaim] = await runAll([
      [[...base, 'ack', topic, 'analytics', ids[0]!, '--yes', '--json']],
      [[...base, 'ack', topic, 'analytics', ids[1]!, '--yes']],
      [[...base, 'claim', topic, 'analytics', ids[2]!, ids[3]!, '--to', 'rescuer', '--yes']],
    ]);
    expect(json(ackJson)).toEqual({
      topic,
      group: 'analytics',
      acked: [{ id: ids[0], eventId: ids[0], source: 'topic', previousOwner: 'rescuer', attempts: 1 }],
    });
    expect(lines(ackTable)).toEqual([
      'acknowledged 1',
      expect.stringMatching(row('ID', 'EVENT-ID', 'SOURCE', 'HELD-BY', 'ATTEMPTS')),
      expect.stringMatching(row(ids[1]!, ids[1]!, 'topic', 'rescuer', 1)),
    ]);
    expect(notPendingClaim.code).toBe(1);
    expect(notPendingClaim.stderr).toContain(`id ${ids[3]} is not pending in group "analytics" of topic "orders"; nothing was claimed`);
    const status = await sf.status(topic, ids[0]!);
    expect(status.groups.analytics).toMatchObject({ state: 'succeeded', attempts: 1, consumer: 'rescuer' });
    expect((await sf.pending(topic, 'analytics')).map((e) => [e.id, e.consumer])).toEqual([[ids[2], 'stuck-1']]);

    const [prune, pruneNothing] = await runAll([
      [[...base, 'consumers', 'prune', topic, 'analytics', '--idle', '1ms', '--json']],
      [[...base, 'consumers', 'prune', topic, 'email', '--idle', '1h']],
    ]);
    expect(json(prune)).toEqual({ topic, group: 'analytics', idleMs: 1, removed: ['rescuer'] });
    expect(pruneNothing).toMatchObject({
      code: 0,
      stdout: 'no consumer of group "email" is idle 1h00m with nothing pending; nothing removed\n',
    });
    expect((await sf.consumers(topic, 'analytics')).map((c) => c.name)).toEqual(['stuck-1']);
  });

  test('dlq replay to one group, purge, trim', async () => {
    const dead = await sf.deadLetters(topic, 'billing').list();
    const [replay, dry, dryTable] = await runAll([
      [[...base, 'dlq', 'replay', topic, 'billing', dead[0]!.deadLetterId]],
      [[...base, 'trim', topic, '--dry-run', '--json']],
      [[...base, 'trim', topic, '--dry-run']],
    ]);
    expect(replay).toMatchObject({ code: 0, stdout: 'replayed 1 dead letter to group "billing"\n' });
    expect((await sf.groups(topic)).find((g) => g.group === 'billing')).toMatchObject({ deadLetters: 1, lag: 1 });
    expect((await sf.status(topic, ids[2]!)).groups.billing!.state).toBe('pending');
    // analytics still needs ids[2] (pending); ids[0] and ids[1] were acknowledged by every group
    expect(json(dry)).toEqual({
      topic,
      dryRun: true,
      safeMinId: ids[2],
      removed: 2,
      lostToCap: 0,
      lostIds: [],
      lostByGroup: {},
      length: 4,
      groups: 3,
      redeliveryRemoved: 0,
    });
    expect(lines(dryTable)).toContain('would remove:               2 entries every group has acknowledged');
    expect((await sf.topics()).find((t) => t.topic === topic)).toMatchObject({ length: 6 });

    const [purge, trim] = await runAll([
      [[...base, 'dlq', 'purge', topic, 'billing', '--all', '--yes', '--json']],
      [[...base, 'trim', topic]],
    ]);
    expect(json(purge)).toEqual({ topic, group: 'billing', purged: 1, requested: null });
    expect(await sf.deadLetters(topic, 'billing').count()).toBe(0);
    expect(trim.code).toBe(0);
    expect(lines(trim)).toEqual(
      expect.arrayContaining(['removed:               2 entries every group has acknowledged', 'length after:          4']),
    );
    expect((await sf.topics()).find((t) => t.topic === topic)).toMatchObject({ length: 4, firstId: ids[2] });
  });

  test('publish from an argument and stdin, then tail sees them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamfan-publish-'));
    writeFileSync(join(dir, 'good.json'), '{"who": "file"}\n');
    writeFileSync(join(dir, 'bad.json'), '{\n  "who": "file",\n  "n": 01\n}\n');
    const [fromArg, fromStdin, fromFile, badFile] = await runAll([
      [[...base, 'publish', topic, '{"n":8}', '--header', 'traceId=t-8', '--json']],
      [[...base, 'publish', 'audit'], { input: '{"who":"stdin"}\n' }],
      [[...base, 'publish', 'audit', '--file', join(dir, 'good.json'), '--json']],
      [[...base, 'publish', 'audit', '--file', join(dir, 'bad.json')]],
    ]);
    rmSync(dir, { recursive: true, force: true });
    const fromFileId = json<{ id: string }>(fromFile).id;
    expect(await showPayload('audit', fromFileId)).toEqual({ who: 'file' });
    expect(badFile.code).toBe(2);
    expect(badFile.stderr).toBe(
      `streamfan: error: malformed JSON in file ${join(dir, 'bad.json')} at line 3, column 9: Unexpected number\n    "n": 01\n          ^\n`,
    );
    expect(fromArg.code).toBe(0);
    const { id } = json<{ topic: string; id: string }>(fromArg);
    expect(json(fromArg)).toEqual({ topic, id: expect.stringMatching(/^\d+-\d+$/) });
    expect(fromStdin).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+-\d+\n$/) });
    expect((await sf.status(topic, id)).groups.email).toMatchObject({ state: 'pending' });

    const [tailJson, tailTable] = await runAll([
      [[...base, 'tail', topic, '--from', ids[5]!, '--limit', '1', '--json']],
      [[...base, 'tail', topic, '--from', ids[4]!, '--limit', '2']],
    ]);
    expect(tailJson.code).toBe(0);
    expect(lines(tailJson).map((l) => JSON.parse(l))).toEqual([
      { id, publishedAt: expect.any(String), payload: { n: 8 }, headers: { traceId: 't-8' } },
    ]);
    expect(lines(tailTable)).toEqual([
      expect.stringMatching(new RegExp(`^${ids[5]}  \\S+Z  \\{"n":6\\}$`)),
      expect.stringMatching(new RegExp(`^${id}  \\S+Z  \\{"n":8\\}  headers=\\{"traceId":"t-8"\\}$`)),
    ]);

    // without --limit, tail prints events as they arrive until interrupted, then exits 0
    const live = startCli([...base, 'tail', topic, '--json'], { timeoutMs: 60_000 });
    const published: string[] = [];
    await waitFor(
      async () => {
        if (live.output().includes('\n')) return true;
        published.push(await sf.publish(topic, { n: 100 + published.length }));
        await new Promise((r) => setTimeout(r, 300));
        return live.output().includes('\n');
      },
      { timeoutMs: 30_000, message: 'tail printed a published event' },
    );
    live.child.kill('SIGINT');
    const done = await live.result;
    expect(done.code).toBe(0);
    const seen = lines(done).map((l) => JSON.parse(l) as { id: string });
    expect(seen.length).toBeGreaterThan(0);
    for (const ev of seen) expect(published).toContain(ev.id);
  });
});
