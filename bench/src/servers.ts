import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** A redis-server of the compatibility matrix the bench can run on. */
export interface BenchServer {
  /** Its matrix name: `redis-7.0` (the system's), `redis-7.2.6`, `valkey-8.0.1`, or a path given as is. */
  name: string;
  /** The redis-server executable. */
  bin: string;
}

const root = resolve(__dirname, '..', '..');
const cache = process.env.STREAMFAN_REDIS_CACHE || join(homedir(), '.cache', 'streamfan', 'redis');
const SYSTEM = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'];

/** Names compat/build-servers.sh builds (its `--list`). */
function builtNames(): string[] {
  try {
    return execFileSync(join(root, 'compat', 'build-servers.sh'), ['--list'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** The system's redis-server (Debian's 7.0 here), named `redis-<major.minor>` as in the matrix. */
function systemServer(): BenchServer | undefined {
  const bin = SYSTEM.find((p) => existsSync(p));
  if (!bin) return undefined;
  try {
    const v = /v=(\d+\.\d+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1];
    return v ? { name: `redis-${v}`, bin } : undefined;
  } catch {
    return undefined;
  }
}

/** Every server name the bench knows: the system's and every one the matrix builds. */
export function knownServers(): string[] {
  const sys = systemServer();
  return [...(sys ? [sys.name] : []), ...builtNames()];
}

/**
 * Resolve a server named as in the matrix (`redis-7.2.6`: the binary compat/build-servers.sh
 * caches in ~/.cache/streamfan/redis; `redis-7.0`: the system's), or a path to a redis-server.
 * @throws Error naming the servers known, or how to build the one asked for
 */
export function resolveServer(name: string): BenchServer {
  if (name.includes('/')) {
    if (!existsSync(name)) throw new Error(`no redis-server at ${name}`);
    return { name, bin: resolve(name) };
  }
  const sys = systemServer();
  if (sys && sys.name === name) return sys;
  const built = builtNames();
  if (built.includes(name)) {
    const bin = join(cache, name, 'bin', 'redis-server');
    if (!existsSync(bin)) throw new Error(`${name} is not built yet: run compat/build-servers.sh ${name} (cached in ${cache})`);
    return { name, bin };
  }
  throw new Error(`unknown server "${name}": known servers are ${knownServers().join(', ')}, or give a path to a redis-server`);
}

/** The commit the bench runs on, with `+dirty` when the working tree has changes (it is shared). */
export function currentCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}
