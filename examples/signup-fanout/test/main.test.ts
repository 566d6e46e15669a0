import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { startRedis, waitFor, type RedisServer } from '@streamfan/testing';

jest.setTimeout(90_000);

const exampleDir = join(__dirname, '..');

interface Proc { child: ChildProcess; output: () => string; exit: Promise<number | null> }

/**
 * Run `src/main.ts` exactly as `pnpm demo` does (`node --import tsx`: one process, no launcher in
 * between), in its own process group so SIGINT reaches it like Ctrl-C. Through tsx's CLI launcher
 * instead, a demo that does not report the signal back within 60 ms (a loaded machine) is SIGKILLed
 * by the launcher, and its private redis-server is left running: not what a user of `pnpm demo` gets.
 */
function runMain(env: Record<string, string | undefined>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: exampleDir,
    env: { ...process.env, REDIS_URL: undefined, PORT: undefined, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exit };
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

const running: Proc[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.child.exitCode === null && p.child.pid) { try { process.kill(-p.child.pid, 'SIGKILL'); } catch { /* gone */ } }
});

test('without redis-server on PATH and without REDIS_URL it says how to get Redis and exits 1', async () => {
  const p = runMain({ PATH: '/nonexistent-dir' });
  running.push(p);
  expect(await p.exit).toBe(1);
  expect(p.output()).toMatch(/redis-server was not found on PATH/);
  expect(p.output()).toMatch(/apt-get install -y redis-server/);
  expect(p.output()).toMatch(/brew install redis/);
  expect(p.output()).toMatch(/REDIS_URL=/);
});

test('starts a private redis-server, serves the page, and stops both on Ctrl-C (SIGINT)', async () => {
  const p = runMain({ PORT: '0' });
  running.push(p);
  const url = await waitFor(() => /demo: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(p.output())?.[1], { timeoutMs: 45_000, message: 'the URL printed' });
  const redisPort = Number(/private redis-server on port (\d+)/.exec(p.output())![1]);
  expect(redisPort).not.toBe(6379);
  expect((await fetch(url)).status).toBe(200);
  const state = await fetch(new URL('/api/state', url));
  expect(state.status).toBe(200);
  expect(await portAnswers(redisPort)).toBe(true);
  process.kill(-p.child.pid!, 'SIGINT');
  // The demo closes its workers, stops its private Redis, then exits 0.
  expect(await p.exit).toBe(0);
  expect(p.output()).toMatch(/stopping: closing workers, then Redis/);
  expect(await portAnswers(redisPort)).toBe(false);
});

test('Ctrl-C while the demo is too busy to answer at once (paused 300 ms) still stops its private redis-server', async () => {
  // A loaded machine, made deterministic: the demo cannot run for 300 ms around the SIGINT.
  const p = runMain({ PORT: '0' });
  running.push(p);
  await waitFor(() => /demo: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(p.output())?.[1], { timeoutMs: 45_000, message: 'the URL printed' });
  const redisPort = Number(/private redis-server on port (\d+)/.exec(p.output())![1]);
  process.kill(p.child.pid!, 'SIGSTOP');
  process.kill(-p.child.pid!, 'SIGINT');
  await new Promise((r) => setTimeout(r, 300));
  process.kill(p.child.pid!, 'SIGCONT');
  expect(await p.exit).toBe(0);
  expect(await portAnswers(redisPort)).toBe(false);
});

describe('with REDIS_URL', () => {
  let redis: RedisServer;
  let blocker: Server;
  beforeAll(async () => {
    redis = await startRedis();
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(async () => {
    await new Promise((r) => blocker.close(r));
    await redis.stop();
  });

  test('uses that Redis, and a free port when PORT is taken', async () => {
    const taken = (blocker.address() as { port: number }).port;
    const p = runMain({ REDIS_URL: redis.url, PORT: String(taken), DEMO_PREFIX: 'maintest' });
    running.push(p);
    const url = await waitFor(() => /demo: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(p.output())?.[1], { timeoutMs: 45_000, message: 'the URL printed' });
    expect(p.output()).toMatch(new RegExp(`port ${taken} is taken`));
    expect(p.output()).not.toMatch(/private redis-server/);
    expect(url).not.toContain(`:${taken}/`);
    const res = await fetch(new URL('/api/publish', url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"count":2}' });
    expect(res.status).toBe(200);
    const c = redis.client();
    await waitFor(async () => (await c.xlen('maintest:{user.signup}:stream')) === 2, { message: 'events in the given Redis' });
    process.kill(-p.child.pid!, 'SIGTERM');
    expect(await p.exit).toBe(0);
    expect(await c.ping()).toBe('PONG'); // someone else's Redis is left running
  });

  test('an unreachable REDIS_URL is reported and exits 1', async () => {
    const p = runMain({ REDIS_URL: 'redis://127.0.0.1:1', PORT: '0' });
    running.push(p);
    expect(await p.exit).toBe(1);
    expect(p.output()).toMatch(/cannot reach Redis/);
  });
});
