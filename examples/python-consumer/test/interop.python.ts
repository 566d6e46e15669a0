/**
 * `pnpm test:python`: a TypeScript publisher fans out to a TypeScript group and to a Python group
 * (examples/python-consumer, redis-py, streamfan's own Lua scripts). The Python group retries,
 * dead-letters and keeps leases per docs/PROTOCOL.md, and sf.status, sf.waitFor, sf.groups,
 * dead letters, the CLI and the dashboards (the demo's and `streamfan dashboard`) see it like any other group.
 *
 * It needs python3 with venv (Debian: python3-venv) and pip's index: it runs ../setup.sh, which
 * makes ../.venv (git-ignored) with the pinned redis-py. `.ci/run` installs python3-venv.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startRedis, uniquePrefix, waitFor, type RedisServer } from '@streamfan/testing';
import { defineTopic, Streamfan, type EventStatus } from '@streamfan/core';
import { luaSources } from '../../../packages/core/src/scripts/lua.generated';
import { removeCli, runCli } from '../../../packages/cli/test/run-cli';
import { Demo } from '../../signup-fanout/src/demo';
import { startDashboard } from '@streamfan/dashboard';

const DIR = join(__dirname, '..');
const PY = join(DIR, '.venv', 'bin', 'python');

interface PyProcess { child: ChildProcess; lines: string[]; exited: Promise<number | null> }

function startPython(args: string[]): PyProcess {
  const child = spawn(PY, ['run_example.py', ...args], { cwd: DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  // stderr arrives in chunks that may cut a line (a traceback's last line split in two): keep it
  // whole, and add it line by line once the process closed its pipes.
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    if (buf) lines.push(buf);
    if (err) lines.push(...err.trimEnd().split('\n').map((l) => `stderr: ${l}`));
    resolve(code);
  }));
  return { child, lines, exited };
}

describe('a Python consumer group beside a TypeScript one', () => {
  let server: RedisServer;
  let sf: Streamfan;
  const py: PyProcess[] = [];
  const prefix = uniquePrefix();

  beforeAll(async () => {
    // The venv with the pinned redis-py (a no-op when it is there already).
    execFileSync('bash', [join(DIR, 'setup.sh')], { stdio: 'inherit', timeout: 300_000 });
    server = await startRedis();
    sf = new Streamfan({ connection: server.url, prefix, retention: false });
  }, 320_000);

  afterAll(async () => {
    for (const p of py) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await sf?.close();
    await server?.stop();
    removeCli();
  });

  test('Python loads the very script text the library runs (same SHA1 for every script)', () => {
    const out = execFileSync(PY, ['-m', 'streamfan_consumer', 'scripts'], { cwd: DIR, encoding: 'utf8' });
    const python = Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ') as [string, string]));
    const library = Object.fromEntries(Object.entries(luaSources).map(([name, s]) => [name, createHash('sha1').update(s.source).digest('hex')]));
    expect(Object.keys(python).sort()).toEqual(Object.keys(library).sort());
    expect(python).toEqual(library);
  });

  test('fan-out, retry, dead letters and leases: status, waitFor, groups, dead letters, the CLI and the dashboard see the Python group', async () => {
    const topic = defineTopic<{ action: string; n: number; ms?: number }>('signups');
    const tsSeen: number[] = [];
    const sub = sf.subscribe(topic, 'ts-mailer', (p) => { tsSeen.push(p.n); return { by: 'ts', n: p.n }; }, { startFrom: 'beginning' });
    await sub.ready();
    // Two Python consumers in one group: a slow handler whose lease were not renewed would be
    // reclaimed by the other after the 1 s visibility timeout (attempts would read 2).
    const args = ['--url', server.url, '--prefix', prefix, '--topic', topic.name, '--group', 'py-mailer', '--start-from', 'beginning',
      '--max-attempts', '3', '--retry-ms', '200', '--visibility-timeout-ms', '1000'];
    py.push(startPython([...args, '--consumer', 'py-a']), startPython([...args, '--consumer', 'py-b']));
    await waitFor(() => py.every((p) => p.lines.includes('ready')), { timeoutMs: 20_000, message: `python consumers ready: ${py.map((p) => p.lines.join(' | ')).join(' || ')}` });

    const ok = await sf.publish(topic, { action: 'ok', n: 1 }, { headers: { traceId: 't-1' } });
    const flaky = await sf.publish(topic, { action: 'fail-once', n: 2 });
    const broken = await sf.publish(topic, { action: 'always-fail', n: 3 });
    const poison = await sf.publish(topic, { action: 'poison', n: 4 });
    const slow = await sf.publish(topic, { action: 'slow', n: 5, ms: 1800 });

    // waitFor's default groups (streamfan groups: they have a redelivery stream) include Python's.
    const done: Record<string, EventStatus> = {};
    for (const [name, id] of Object.entries({ ok, flaky, broken, poison, slow })) {
      done[name] = await sf.waitFor(topic, id, { timeoutMs: 20_000 });
      expect(Object.keys(done[name]!.groups).sort()).toEqual(['py-mailer', 'ts-mailer']);
      expect(done[name]!.groups['ts-mailer']).toMatchObject({ state: 'succeeded', attempts: 1, result: { by: 'ts' } });
    }
    expect(tsSeen.sort()).toEqual([1, 2, 3, 4, 5]);

    const status = async (id: string) => (await sf.status(topic, id)).groups['py-mailer'];
    expect(await status(ok)).toMatchObject({
      state: 'succeeded', attempts: 1, result: { handledBy: 'python', attempt: 1, echo: { action: 'ok', n: 1 }, traceId: 't-1' },
    });
    expect((await status(ok))!.consumer).toMatch(/^py-[ab]$/);
    // Failed once, retried through the retry set and the redelivery stream, then succeeded.
    expect(await status(flaky)).toMatchObject({ state: 'succeeded', attempts: 2, result: { handledBy: 'python', attempt: 2 } });
    expect((await status(flaky))!.error).toMatch(/RuntimeError: temporary failure on the first attempt/);
    // Dead-lettered after its 3 attempts; a DeadLetter raised skips the retries.
    const dead = await status(broken);
    expect(dead).toMatchObject({ state: 'dead', attempts: 3 });
    expect(dead!.error).toMatch(/RuntimeError: cannot handle this \(attempt 3\)/);
    expect(dead!.deadLetterId).toMatch(/^\d+-\d+$/);
    expect(await status(poison)).toMatchObject({ state: 'dead', attempts: 1, error: 'poison payload: never retried' });
    // The lease keeper renewed the slow handler's lease: nobody reclaimed it.
    expect(await status(slow)).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(py.flatMap((p) => p.lines).some((l) => l.includes('lease renewed'))).toBe(true);
    expect(py.flatMap((p) => p.lines).some((l) => l.startsWith('reclaimed'))).toBe(false);

    const letters = await sf.deadLetters(topic, 'py-mailer').list();
    expect(letters.map((d) => [d.id, d.reason, d.attempts]).sort()).toEqual([[broken, 'attempts', 3], [poison, 'handler', 1]].sort());
    expect(letters.find((d) => d.id === broken)!.payload).toEqual({ action: 'always-fail', n: 3 });
    expect(await sf.deadLetters(topic, 'ts-mailer').count()).toBe(0);
    const groups = await sf.groups(topic);
    expect(groups.find((g) => g.group === 'py-mailer')).toMatchObject({ pending: 0, retrying: 0, lag: 0, deadLetters: 2 });

    // The CLI, as an operator runs it.
    const cli = ['--url', server.url, '--prefix', prefix];
    const shown = await runCli([...cli, 'show', topic.name, flaky, '--json']);
    expect(shown.code).toBe(0);
    const ev = JSON.parse(shown.stdout) as { groups: Record<string, { state: string; attempts: number; result: unknown }> };
    expect(ev.groups['py-mailer']).toMatchObject({ state: 'succeeded', attempts: 2, result: { handledBy: 'python', attempt: 2 } });
    expect(ev.groups['ts-mailer']).toMatchObject({ state: 'succeeded', attempts: 1 });
    const table = await runCli([...cli, 'show', topic.name, broken]);
    expect(table.stdout).toMatch(/py-mailer\s+dead/);
    const list = await runCli([...cli, 'dlq', 'list', topic.name, 'py-mailer', '--json']);
    expect(list.code).toBe(0);
    const dlq = JSON.parse(list.stdout) as { total: number; deadLetters: Array<{ id: string; reason: string; consumer: string }> };
    expect(dlq.total).toBe(2);
    expect(dlq.deadLetters.map((d) => d.id).sort()).toEqual([broken, poison].sort());
    expect(dlq.deadLetters.every((d) => /^py-[ab]$/.test(d.consumer))).toBe(true);

    // The operations dashboard (`streamfan dashboard`, read-only): the event page and the
    // overview show the Python group like any other.
    const dash = await startDashboard({ url: server.url, prefix, port: 0 });
    try {
      const get = async (path: string) => {
        const res = await fetch(`http://127.0.0.1:${dash.port}/api/${path}`, { headers: { accept: 'application/json' } });
        expect(res.status).toBe(200);
        return res.json() as Promise<Record<string, unknown>>;
      };
      const page = (await get(`topics/${encodeURIComponent(topic.name)}/events/${flaky}`)) as { status: Record<string, { state: string; attempts: number; consumer?: string; result?: unknown }> };
      expect(page.status['py-mailer']).toMatchObject({ state: 'succeeded', attempts: 2, result: { handledBy: 'python', attempt: 2 } });
      expect(page.status['py-mailer']!.consumer).toMatch(/^py-[ab]$/);
      expect(page.status['ts-mailer']).toMatchObject({ state: 'succeeded', attempts: 1 });
      const deadPage = (await get(`topics/${encodeURIComponent(topic.name)}/events/${broken}`)) as { status: Record<string, { state: string }>; deadLetters: Array<{ group: string }> };
      expect(deadPage.status['py-mailer']).toMatchObject({ state: 'dead' });
      expect(deadPage.deadLetters.map((d) => d.group)).toEqual(['py-mailer']);
      const overview = (await get('overview')) as { topics: Array<{ topic: string; groups: Array<{ group: string; deadLetters: number }> }> };
      const row = overview.topics.find((t) => t.topic === topic.name)!.groups.find((g) => g.group === 'py-mailer');
      expect(row).toMatchObject({ deadLetters: 2 });
    } finally {
      await dash.close();
    }

    // A replay from the CLI goes back to the Python group only, which handles it again.
    const replay = await runCli([...cli, 'dlq', 'replay', topic.name, 'py-mailer', '--all']);
    expect(replay.code).toBe(0);
    await waitFor(async () => (await status(broken))?.state === 'dead' && (await status(broken))!.attempts === 3 && (await sf.deadLetters(topic, 'py-mailer').count()) === 2,
      { timeoutMs: 20_000, message: 'replayed dead letters handled by Python and dead again' });

    await sub.close();
    // SIGTERM stops a Python consumer after the delivery in hand, exit 0.
    for (const p of py) p.child.kill('SIGTERM');
    expect(await Promise.all(py.map((p) => p.exited))).toEqual([0, 0]);
  }, 90_000);

  test('a group retired for good is not recreated by a Python consumer', async () => {
    const topic = defineTopic('retiring');
    const args = ['--url', server.url, '--prefix', prefix, '--topic', topic.name, '--group', 'py-gone', '--consumer', 'py-gone-1'];
    const first = startPython(args);
    py.push(first);
    await waitFor(() => first.lines.includes('ready'), { timeoutMs: 20_000, message: `python consumer ready: ${first.lines.join(' | ')}` });
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    await sf.retireGroup(topic, 'py-gone');
    const again = startPython(args);
    py.push(again);
    expect(await again.exited).not.toBe(0);
    expect(again.lines.join('\n')).toMatch(/GroupRetiredError: group 'py-gone' of topic 'retiring' was retired for good/);
    expect((await sf.groups(topic)).find((g) => g.group === 'py-gone')).toMatchObject({ retired: true });
  }, 60_000);

  test("the demo's dashboard shows the Python group's outcome beside its own groups", async () => {
    const demoPrefix = uniquePrefix('demo');
    const demo = new Demo({ connection: server.url, prefix: demoPrefix });
    await demo.start();
    try {
      const p = startPython(['--url', server.url, '--prefix', demoPrefix, '--topic', 'user.signup', '--group', 'py-audit', '--start-from', 'beginning', '--consumer', 'py-demo']);
      py.push(p);
      await waitFor(() => p.lines.includes('ready'), { timeoutMs: 20_000, message: `python consumer ready: ${p.lines.join(' | ')}` });
      const { ids } = await demo.publish(1, 'free');
      const id = ids[0]!;
      await waitFor(async () => (await demo.event(id)).groups['py-audit']?.state === 'succeeded', { timeoutMs: 20_000, message: 'py-audit succeeded in the event drawer' });
      // The event drawer (GET /api/events/:id) and the events table (the pushed snapshot).
      expect((await demo.event(id)).groups['py-audit']).toMatchObject({ state: 'succeeded', attempts: 1, consumer: 'py-demo', result: { handledBy: 'python', attempt: 1 } });
      const row = (await demo.snapshot()).events.find((e) => e.eventId === id);
      expect(row?.groups['py-audit']).toMatchObject({ state: 'succeeded', attempts: 1 });
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
    } finally {
      await demo.close(0);
    }
  }, 60_000);
});
