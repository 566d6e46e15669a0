/**
 * What a new user met in their first hour with the CLI (issue 15, item 6): a misspelt topic on
 * publish, a retried-then-succeeded group shown as an error, bad ids, an http:// URL, `| head`,
 * and usage errors on two lines.
 */
import { spawn } from 'node:child_process';
import { Streamfan } from '@streamfan/core';
import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { buildCli, removeCli, runAll, ROOT, type CliResult } from './run-cli';

let server: RedisServer;
let sf: Streamfan;
let base: string[];
let retriedId: string;
const prefix = uniquePrefix('clifirst');
const topic = 'orders';

const oneLine = (r: CliResult) => expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);

beforeAll(async () => {
  buildCli();
  server = await startRedis();
  sf = new Streamfan({ connection: server.url, prefix, retention: false });
  base = ['--url', server.url, '--prefix', prefix];
  let calls = 0;
  const billing = sf.subscribe<{ n: number }>(
    topic,
    'billing',
    (p) => {
      calls += 1;
      if (calls === 1) throw new Error('card service timed out');
      return { charged: p.n };
    },
    { startFrom: 'beginning', backoff: { type: 'fixed', delayMs: 20 } },
  );
  await billing.ready();
  retriedId = await sf.publish(topic, { n: 7 });
  const status = await sf.waitFor(topic, retriedId, { timeoutMs: 20_000 });
  expect(status.groups.billing).toMatchObject({ state: 'succeeded', attempts: 2 });
  await billing.close();
});

afterAll(async () => {
  await sf?.close();
  await server?.stop();
  removeCli();
});

test('publish to a topic that does not exist is refused unless --create, and nothing is written', async () => {
  const [typo, typoJson] = await runAll([
    [[...base, 'publish', 'ordres', '{"n":1}']],
    [[...base, 'publish', 'ordres', '{"n":1}', '--json']],
  ]);
  expect(typo.code).toBe(1);
  expect(typo.stdout).toBe('');
  expect(typo.stderr).toBe(
    `streamfan: error: topic "ordres" not found under prefix "${prefix}"; topics: orders. Nothing was published: pass --create to publish to a new topic.\n`,
  );
  expect(JSON.parse(typoJson.stdout)).toMatchObject({ error: { code: 'NOT_FOUND' } });
  expect((await sf.topics()).map((t) => t.topic)).toEqual(['orders']);

  const [created, existing] = await runAll([
    [[...base, 'publish', 'ordres', '{"n":1}', '--create', '--json']],
    [[...base, 'publish', topic, '{"n":2}', '--json']],
  ]);
  expect(created.code).toBe(0);
  expect(JSON.parse(created.stdout)).toEqual({ topic: 'ordres', id: expect.stringMatching(/^\d+-\d+$/) });
  expect(existing.code).toBe(0);
  expect((await sf.topics()).map((t) => t.topic).sort()).toEqual(['orders', 'ordres']);
});

test('show: a group that succeeded after a failed attempt shows its result, not the old error', async () => {
  const [table, doc] = await runAll([[[...base, 'show', topic, retriedId]], [[...base, 'show', topic, retriedId, '--json']]]);
  expect(table.code).toBe(0);
  const row = table.stdout.split('\n').find((l) => l.startsWith('billing'));
  expect(row).toMatch(/^billing\s+succeeded\s+2\s+.*\{"charged":7\}$/);
  expect(row).not.toContain('timed out');
  // The JSON keeps everything the status holds, including the earlier attempt's error.
  expect(JSON.parse(doc.stdout).groups.billing).toMatchObject({ state: 'succeeded', attempts: 2, result: { charged: 7 } });
});

test('a bad event id is a usage error (exit 2) in one line, before Redis is asked', async () => {
  const results = await runAll([
    [[...base, 'show', topic, 'not-an-id']],
    [[...base, 'show', topic, '1700000000000-x', '--json']],
    [[...base, 'show', topic, 'delayed-nope']],
  ]);
  for (const r of results) {
    expect(r.code).toBe(2);
    oneLine(r);
    expect(r.stderr).toMatch(
      /^streamfan: error: command-argument value '[^']+' is invalid for argument 'id'\. expected an event id such as 1700000000000-0/,
    );
    expect(r.stderr).not.toMatch(/ERR|Invalid stream ID/);
  }
  expect(JSON.parse(results[1].stdout)).toEqual({ error: { code: 'USAGE', message: expect.stringContaining('expected an event id') } });
});

test('an http:// URL is refused with what to use instead; the password is not echoed', async () => {
  const [http, json] = await runAll([
    [['--url', 'http://ops:s3cret@127.0.0.1:6380', 'topics']],
    [['--url', 'https://127.0.0.1:6380', 'groups', topic, '--json']],
  ]);
  expect(http.code).toBe(2);
  expect(http.stderr).toBe(
    'streamfan: error: http://ops:***@127.0.0.1:6380 is not a Redis URL (http://): use redis://host:6379, or rediss:// for TLS (--url or REDIS_URL)\n',
  );
  expect(json.code).toBe(2);
  expect(JSON.parse(json.stdout).error).toEqual({ code: 'USAGE', message: expect.stringContaining('is not a Redis URL (https://)') });
});

test('usage errors are one line each, with the pointer to --help on it', async () => {
  const results = await runAll([
    [[...base, 'pending', topic]],
    [[...base, 'frobnicate']],
    [[...base, 'pending', topic, 'billing', '--limit', 'zero']],
    [[...base, 'groups', topic, '--bogus']],
  ]);
  for (const r of results) {
    expect(r.code).toBe(2);
    oneLine(r);
    expect(r.stderr).toMatch(/^streamfan: error: .+ \(see --help for usage and examples\)\n$/);
  }
});

test('piping into head: the CLI stops quietly when the reader goes away (no EPIPE stack trace)', async () => {
  // `streamfan tail` keeps printing until stopped; head -n 2 closes the pipe after two events.
  for (let n = 0; n < 5; n++) await sf.publish(topic, { n: 100 + n });
  const child = spawn(
    'bash',
    [
      '-o',
      'pipefail',
      '-c',
      `"${process.execPath}" "${buildCli()}" "$@" | head -n 2`,
      'sh',
      ...base,
      'tail',
      topic,
      '--from',
      '0',
      '--json',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // Events keep arriving, so the CLI writes again after head has gone and meets the closed pipe.
  let more = 0;
  const publisher = setInterval(() => {
    void sf.publish(topic, { n: 200 + more++ }).catch(() => undefined);
  }, 50);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(publisher);
  expect(stdout.trimEnd().split('\n')).toHaveLength(2);
  expect(stderr).toBe('');
  expect(code).toBe(0);
});
