import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A redis-server this process started, and how to stop it. */
export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** Process id of the redis-server. */
  readonly pid: number | undefined;
  /** Stop the server (SIGTERM, then SIGKILL after 3 s) and remove its data dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** No redis-server on PATH: the message says how to get one. */
export class RedisServerMissingError extends Error {
  constructor() {
    super([
      'redis-server was not found on PATH, and REDIS_URL is not set.',
      'Either install Redis (6.2 or newer):',
      '  Debian/Ubuntu: sudo apt-get install -y redis-server',
      '  macOS:         brew install redis',
      'or point the demo at a Redis you run:  REDIS_URL=redis://127.0.0.1:6380 pnpm demo',
    ].join('\n'));
    this.name = 'RedisServerMissingError';
  }
}

/** Full path of an executable on PATH, or undefined. */
export function findOnPath(bin: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const full = join(dir, bin);
    try { accessSync(full, constants.X_OK); return full; } catch { /* not here */ }
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1, never 6379 (someone's real Redis lives there). */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port !== 6379) return port;
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (ok: boolean): void => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n')) done(buf.startsWith('+PONG')); });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Start a private redis-server on a free port (persistence off, bound to 127.0.0.1) and wait
 * until it answers PING. It is killed when this process exits, even on a crash.
 * @throws RedisServerMissingError when there is no redis-server on PATH
 */
export async function startPrivateRedis(bin = findOnPath('redis-server')): Promise<PrivateRedis> {
  if (!bin) throw new RedisServerMissingError();
  const dir = mkdtempSync(join(tmpdir(), 'streamfan-demo-redis-'));
  const port = await freePort();
  let output = '';
  // Its own process group: Ctrl-C in the terminal reaches the demo, which closes its workers
  // first and then stops this server, rather than Redis vanishing under running workers.
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
  child.stderr?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
  const killOnExit = (): void => { child.kill('SIGKILL'); };
  process.on('exit', killOnExit);
  const cleanUp = (): void => {
    process.off('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => reject(new Error(`cannot start ${bin}: ${err.message}`)));
    });
    const deadline = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    child.kill('SIGKILL');
    await exited(child);
    cleanUp();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    stop() {
      stopping ??= (async () => {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited(child);
        clearTimeout(timer);
        child.stdout?.destroy();
        child.stderr?.destroy();
        cleanUp();
      })();
      return stopping;
    },
  };
}
