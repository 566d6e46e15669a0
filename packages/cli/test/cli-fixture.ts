import { Streamfan } from '@streamfan/core';
import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { buildCli, removeCli, type CliResult } from './run-cli';

/** What a CLI test file works with: its own redis-server, a client on a fresh prefix, and the CLI's connection arguments. */
export interface CliFixture {
  server: RedisServer;
  /** A client for setting up state (retention off). */
  sf: Streamfan;
  prefix: string;
  /** `--url <server> --prefix <prefix>`, to put before a command's own arguments. */
  base: string[];
}

/**
 * Start a private redis-server and a client before the file's tests, build the CLI once, and
 * clean all of it up after them. The fields are filled in `beforeAll`: read them inside tests.
 */
export function useCliFixture(): CliFixture {
  const f = { prefix: uniquePrefix(), base: [] as string[] } as CliFixture;
  beforeAll(async () => {
    buildCli();
    f.server = await startRedis();
    f.sf = new Streamfan({ connection: f.server.url, prefix: f.prefix, retention: false });
    f.base = ['--url', f.server.url, '--prefix', f.prefix];
  });
  afterAll(async () => {
    await f.sf?.close();
    await f.server?.stop();
    removeCli();
  });
  return f;
}

/** A `--json` command's output, parsed; a failed command throws with its exit code and stderr. */
export function json<T>(r: CliResult): T {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
