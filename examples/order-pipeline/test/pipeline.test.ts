import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRedis, waitFor, type RedisServer } from '@streamfan/testing';

jest.setTimeout(90_000);

const dir = join(__dirname, '..');
const tsxCli = require.resolve('tsx/cli', { paths: [dir] });

interface Proc { child: ChildProcess; output: () => string; exit: Promise<number | null> }

function run(script: string, env: Record<string, string>, args: string[] = []): Proc {
  const child = spawn(process.execPath, [tsxCli, script, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  return { child, output: () => out, exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

let redis: RedisServer;
const procs: Proc[] = [];
beforeAll(async () => { redis = await startRedis(); });
afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await redis.stop();
});

test('two groups in two worker processes each handle every order published by a third process', async () => {
  const env = { REDIS_URL: redis.url };
  const shipping = run('src/worker.ts', { ...env, GROUP: 'shipping' });
  const invoicing = run('src/worker.ts', { ...env, GROUP: 'invoicing' });
  procs.push(shipping, invoicing);
  await waitFor(() => /waiting for orders/.test(shipping.output()) && /waiting for orders/.test(invoicing.output()), { timeoutMs: 45_000, message: 'both workers ready' });

  const place = run('src/place-orders.ts', env, ['4']);
  procs.push(place);
  expect(await place.exit).toBe(0);
  const lines = place.output().trim().split('\n');
  expect(lines).toHaveLength(4);
  for (const line of lines.slice(0, 3)) {
    expect(line).toMatch(/shipping succeeded/);
    expect(line).toMatch(/invoicing succeeded/);
  }
  expect(lines[3]).toMatch(/shipping dead/);
  expect(lines[3]).toMatch(/invoicing dead/);
  for (const w of [shipping, invoicing]) {
    expect(w.output().match(/ × (mug|tee) \(attempt 1\)/g)).toHaveLength(3);
    expect(w.output()).toMatch(/dead-lettered: quantity must be positive, got 0/);
    w.child.kill('SIGTERM');
    expect(await w.exit).toBe(0);
  }
});

test('the example stays under 60 lines', () => {
  const src = join(dir, 'src');
  const total = readdirSync(src).reduce((n, f) => n + readFileSync(join(src, f), 'utf8').trimEnd().split('\n').length, 0);
  expect(total).toBeLessThan(60);
});
