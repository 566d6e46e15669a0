import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Redis, { type RedisOptions } from 'ioredis';

/** Options for a throwaway redis-server. */
export interface RedisServerOptions {
  /** Extra command-line arguments, e.g. `['--appendonly', 'yes']`. */
  args?: string[];
  /** Port to listen on. @defaultValue a free port chosen by the OS */
  port?: number;
  /** Executable. @defaultValue {@link redisServerBin}: `$STREAMFAN_REDIS_SERVER`, else `redis-server` on PATH */
  bin?: string;
  /** Also listen on TLS: pass `--tls-*` options in `args` yourself and set `port: 0`. */
  tls?: boolean;
}

/** A running throwaway redis-server, owned by one test file. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** Directory that holds its AOF/RDB files; removed by {@link RedisServer.stop}. */
  readonly dir: string;
  readonly pid: number | undefined;
  /** A new client to this server; closed by {@link RedisServer.stop}. */
  client(options?: RedisOptions): Redis;
  /** Kill the process (default SIGKILL) and wait for it to exit; the data dir stays. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SHUTDOWN (with NOSAVE unless `save`) and wait for exit. */
  shutdown(save?: boolean): Promise<void>;
  /** Start again on the same port and dir, e.g. after {@link RedisServer.kill}. */
  start(): Promise<void>;
  /** Kill, wait, remove the data dir and close every client made by {@link RedisServer.client}. */
  stop(): Promise<void>;
}

/**
 * The redis-server every test starts: `$STREAMFAN_REDIS_SERVER` when set (the compatibility
 * matrix, `pnpm test:compat`, points it at each server in turn), else `redis-server` on PATH.
 */
export function redisServerBin(): string {
  return process.env.STREAMFAN_REDIS_SERVER || 'redis-server';
}

/**
 * The redis-cli that goes with {@link redisServerBin}: `$STREAMFAN_REDIS_CLI` when set, else the
 * `redis-cli` next to `$STREAMFAN_REDIS_SERVER` when that names a path, else `redis-cli` on PATH.
 */
export function redisCliBin(): string {
  if (process.env.STREAMFAN_REDIS_CLI) return process.env.STREAMFAN_REDIS_CLI;
  const server = process.env.STREAMFAN_REDIS_SERVER;
  if (server && server.includes('/')) {
    const sibling = join(dirname(server), 'redis-cli');
    if (existsSync(sibling)) return sibling;
  }
  return 'redis-cli';
}

/** Ask the OS for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n')) done(buf.startsWith('+PONG')); });
  });
}

async function waitForPing(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with code ${proc.exitCode}: ${log()}`);
    if (await pingOnce(port)) return;
    await new Promise((r) => setTimeout(r, 30));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within 10s: ${log()}`);
}

/**
 * Start a private redis-server on a free port (never 6379), with persistence off
 * unless `args` turn it on. Every test file starts its own, so files run in parallel.
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'streamfan-redis-'));
  const port = options.port ?? (await freePort());
  const bin = options.bin ?? redisServerBin();
  const clients = new Set<Redis>();
  let proc: ChildProcess | undefined;
  let output = '';

  const launch = async (): Promise<void> => {
    output = '';
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...(options.args ?? [])];
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = child;
    child.stdout?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
    child.stderr?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => reject(new Error(`cannot start ${bin}: ${err.message}. Install it (apt-get install -y redis-server), put it on PATH, or set STREAMFAN_REDIS_SERVER to its path.`)));
    });
    await waitForPing(port, child, () => output);
  };

  const waitExit = async (child: ChildProcess | undefined): Promise<void> => {
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    }
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.unref();
  };

  await launch();

  const server: RedisServer = {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() { return proc?.pid; },
    client(opts?: RedisOptions) {
      const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 3, ...opts });
      c.on('error', () => undefined);
      clients.add(c);
      c.on('end', () => clients.delete(c));
      return c;
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      const child = proc;
      child?.kill(signal);
      await waitExit(child);
    },
    async shutdown(save = false) {
      const child = proc;
      await new Promise<void>((resolve) => {
        const sock = connect({ port, host: '127.0.0.1' });
        sock.on('error', () => resolve());
        sock.on('close', () => resolve());
        sock.on('connect', () => sock.write(`SHUTDOWN ${save ? 'SAVE' : 'NOSAVE'}\r\n`));
      });
      await waitExit(child);
    },
    async start() {
      if (proc && proc.exitCode === null && proc.signalCode === null) return;
      await launch();
    },
    async stop() {
      for (const c of clients) c.disconnect();
      clients.clear();
      await server.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
