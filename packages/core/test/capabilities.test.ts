import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { redisServerBin, startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import type Redis from 'ioredis';
import { capabilitiesOf, detectCapabilities, MINIMUM_SERVER, type ServerCapabilities } from '../src/capabilities';
import { UnsupportedServerError } from '../src/errors';

/**
 * Capability detection on real servers. With STREAMFAN_REDIS_SERVER set (the compatibility
 * matrix) it runs on that server only; otherwise on redis-server from PATH and on every server
 * compat/build-servers.sh has built into the cache, so both sides of each capability are tested
 * by a plain `pnpm test` once the cache holds Redis 6.2.
 */
jest.setTimeout(60_000);

const cache = process.env.STREAMFAN_REDIS_CACHE || join(homedir(), '.cache', 'streamfan', 'redis');
const bins: string[] = process.env.STREAMFAN_REDIS_SERVER
  ? [redisServerBin()]
  : ['redis-server', ...['redis-6.2.16', 'redis-7.2.6', 'redis-7.4.1', 'valkey-8.0.1']
    .map((n) => join(cache, n, 'bin', 'redis-server'))
    .filter((p) => existsSync(p))];

type Expected = Omit<ServerCapabilities, 'server' | 'xautoclaim'>;
const none = { xackdel: false, xreadgroupClaim: false, xaddIdmp: false, hsetex: false };
const redis7: Expected = { xinfoLag: true, xautoclaimDeletedIds: true, spublish: true, expireNx: true, notYetUsed: none };
/** What each server of the matrix has, from its release notes; the test proves detection finds exactly this. */
const EXPECTED: Array<[RegExp, Expected]> = [
  [/^Redis 6\.2\./, { xinfoLag: false, xautoclaimDeletedIds: false, spublish: false, expireNx: false, notYetUsed: none }],
  [/^Redis 7\.[024]\./, redis7],
  [/^Valkey 8\./, redis7],
];

/** "redis-6.2.16" for a cached build, else the binary as given. */
const label = (bin: string) => (bin.startsWith(cache) ? bin.slice(cache.length + 1).split('/')[0]! : bin);

describe.each(bins.map((b) => [label(b), b]))('%s', (_name, bin) => {
  let server: RedisServer;
  let admin: Redis;
  let caps: ServerCapabilities;
  const probe = `${uniquePrefix()}:probe`;

  beforeAll(async () => {
    server = await startRedis({ bin });
    admin = server.client();
    caps = await detectCapabilities(admin, probe);
  });
  afterAll(async () => { await server?.stop(); });

  test('detects what this server is known to have, and leaves no key behind', async () => {
    const expected = EXPECTED.find(([re]) => re.test(caps.server))?.[1];
    if (!expected) throw new Error(`no expectation for ${caps.server}: add it to EXPECTED`);
    const { server: name, xautoclaim, ...rest } = caps;
    expect(name).toMatch(/^(Redis|Valkey) \d+\.\d+\.\d+/);
    expect(xautoclaim).toBe(true);
    expect(rest).toEqual(expected);
    expect(await admin.dbsize()).toBe(0);
    expect(Object.isFrozen(caps)).toBe(true);
  });

  test('xautoclaimDeletedIds says how XAUTOCLAIM reports a pending entry deleted from the stream', async () => {
    const key = `${uniquePrefix()}:stream`;
    await admin.xadd(key, '1-1', 'n', '1');
    await admin.xadd(key, '2-1', 'n', '2');
    await admin.xgroup('CREATE', key, 'g', '0');
    await admin.xreadgroup('GROUP', 'g', 'c1', 'COUNT', 2, 'STREAMS', key, '>');
    await admin.xdel(key, '2-1');
    const reply = (await admin.call('XAUTOCLAIM', key, 'g', 'c2', '0', '0-0')) as [string, Array<[string, string[]] | null>, string[]?];
    const pending = (await admin.xpending(key, 'g', '-', '+', 10)) as Array<[string, string, number, number]>;
    if (caps.xautoclaimDeletedIds) {
      // Redis 7+: the deleted id is reported apart and dropped from the PEL.
      expect(reply[2]).toEqual(['2-1']);
      expect(reply[1].map((e) => e?.[0])).toEqual(['1-1']);
      expect(pending.map((p) => p[0])).toEqual(['1-1']);
    } else {
      // Redis 6.2: a nil entry in its place, claimed (delivery count 2) and still pending until XACKed.
      expect(reply).toHaveLength(2);
      expect(reply[1]).toEqual([['1-1', ['n', '1']], null]);
      expect(pending.map((p) => [p[0], p[1], p[3]])).toEqual([['1-1', 'c2', 2], ['2-1', 'c2', 2]]);
    }
    await admin.del(key);
  });

  test('xinfoLag says whether XINFO GROUPS has lag and entries-read', async () => {
    const key = `${uniquePrefix()}:stream`;
    await admin.xadd(key, '*', 'n', '1');
    await admin.xgroup('CREATE', key, 'g', '0');
    const [group] = (await admin.xinfo('GROUPS', key)) as unknown[][];
    const fields = group!.filter((_, i) => i % 2 === 0);
    expect(fields.includes('lag')).toBe(caps.xinfoLag);
    expect(fields.includes('entries-read')).toBe(caps.xinfoLag);
    await admin.del(key);
  });

  test('spublish and expireNx match what the commands do', async () => {
    const key = `${uniquePrefix()}:k`;
    await admin.set(key, '1', 'EX', 100);
    if (caps.expireNx) {
      expect(await admin.call('EXPIRE', key, '5', 'NX')).toBe(0);
      expect(await admin.ttl(key)).toBeGreaterThan(5);
    } else {
      await expect(admin.call('EXPIRE', key, '5', 'NX')).rejects.toThrow(/wrong number of arguments/);
    }
    if (caps.spublish) expect(await admin.call('SPUBLISH', key, 'x')).toBe(0);
    else await expect(admin.call('SPUBLISH', key, 'x')).rejects.toThrow(/unknown command/i);
    await admin.del(key);
  });

  test('an ACL user who may not run COMMAND gets the same answer (probes by arity instead)', async () => {
    await admin.call('ACL', 'SETUSER', 'nocommand', 'on', '>pw', '~*', '&*', '+@all', '-command');
    const user = server.client({ username: 'nocommand', password: 'pw' });
    await expect(user.call('COMMAND', 'INFO', 'GET')).rejects.toThrow(/NOPERM/);
    const seen = await detectCapabilities(user, probe);
    expect({ ...seen, notYetUsed: { ...seen.notYetUsed } }).toEqual({ ...caps, notYetUsed: { ...caps.notYetUsed } });
  });

  test('capabilitiesOf asks once per client', async () => {
    const c = server.client();
    const first = capabilitiesOf(c, probe);
    expect(capabilitiesOf(c, probe)).toBe(first);
    expect(await first).toEqual(caps);
  });

  test('a server without XAUTOCLAIM is refused with a typed error naming the minimum', async () => {
    // The same binary with XAUTOCLAIM renamed away: a real server that lacks the command.
    const old = await startRedis({ bin, args: ['--rename-command', 'XAUTOCLAIM', ''] });
    try {
      const c = old.client();
      await expect(c.call('XAUTOCLAIM', 'k', 'g', 'c', '0', '0')).rejects.toThrow(/unknown command/i);
      const err = await detectCapabilities(c, probe).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsupportedServerError);
      expect(err).toMatchObject({ code: 'UNSUPPORTED_SERVER', missing: 'XAUTOCLAIM', server: caps.server });
      expect((err as Error).message).toContain(MINIMUM_SERVER);
      expect((err as Error).message).toMatch(/Redis 6\.2/);
    } finally {
      await old.stop();
    }
  });
});
