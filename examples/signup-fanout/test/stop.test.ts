/**
 * Stopping `pnpm demo` as a user or a supervisor does (issue 15, item 5): SIGTERM to the pnpm
 * process alone (kill <pid>, docker stop, systemd), and Ctrl-C (SIGINT to the whole foreground
 * process group). Both must stop the demo and its private redis-server, exit 0, and print no
 * pnpm failure lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { waitFor } from '@streamfan/testing';

jest.setTimeout(90_000);

const ROOT = join(__dirname, '..', '..', '..');

interface Demo { child: ChildProcess; output: () => string; exit: Promise<number | null> }
const started: Demo[] = [];

/** `pnpm demo` from the repository root, in its own process group as a terminal would run it. */
function pnpmDemo(): Demo {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0' };
  delete env.REDIS_URL;
  delete env.NODE_OPTIONS;
  const child = spawn('pnpm', ['demo'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const demo = { child, output: () => out, exit };
  started.push(demo);
  return demo;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Wait for the page URL; return it with the private Redis' port and pid. */
async function running(demo: Demo): Promise<{ url: string; redisPort: number; redisPid: number }> {
  const url = await waitFor(() => /demo: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(demo.output())?.[1], { timeoutMs: 60_000, message: 'the demo printed its URL' });
  const m = /private redis-server on port (\d+), pid (\d+)/.exec(demo.output());
  expect(m).not.toBeNull();
  const redisPort = Number(m![1]);
  const redisPid = Number(m![2]);
  expect(alive(redisPid)).toBe(true);
  expect((await fetch(url)).status).toBe(200);
  return { url, redisPort, redisPid };
}

async function expectStopped(demo: Demo, r: { url: string; redisPort: number; redisPid: number }): Promise<void> {
  expect(await demo.exit).toBe(0);
  // The redis-server is the demo's child: it is reaped (gone, not a zombie) before the demo exits.
  await waitFor(() => !alive(r.redisPid), { timeoutMs: 5000, message: `redis-server pid ${r.redisPid} gone` });
  expect(await answers(r.redisPort)).toBe(false);
  await expect(fetch(r.url)).rejects.toThrow();
  expect(demo.output()).toContain('stopping: closing workers, then Redis');
  expect(demo.output()).not.toMatch(/ELIFECYCLE|Command failed|ERR_PNPM/);
}

afterEach(() => {
  // Only if a test failed half-way: nothing of ours may outlive it.
  for (const d of started.splice(0)) {
    if (d.child.pid && d.child.exitCode === null) { try { process.kill(-d.child.pid, 'SIGKILL'); } catch { /* gone */ } }
  }
});

test('SIGTERM to the pnpm process alone stops the demo and its redis-server, exit 0', async () => {
  const demo = pnpmDemo();
  const r = await running(demo);
  process.kill(demo.child.pid!, 'SIGTERM');
  await expectStopped(demo, r);
});

test('Ctrl-C (SIGINT to the process group) stops everything, exit 0, no pnpm failure lines', async () => {
  const demo = pnpmDemo();
  const r = await running(demo);
  process.kill(-demo.child.pid!, 'SIGINT');
  await expectStopped(demo, r);
});
