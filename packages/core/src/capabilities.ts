/**
 * What the connected server can do, found by asking it (`COMMAND INFO`, the fields `XINFO`
 * replies with, the shape of a reply), never by comparing version strings: Valkey's numbers
 * do not map to Redis', and managed services backport or remove commands.
 *
 * Code that has a faster or more exact path on newer servers asks {@link capabilitiesOf} and
 * branches on a field; docs/compat.md says which path each field selects and what differs.
 */
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { UnsupportedServerError } from './errors';

/** The oldest server streamfan runs on: it needs XAUTOCLAIM. Said in {@link UnsupportedServerError}. */
export const MINIMUM_SERVER = 'Redis 6.2 or later, or any Valkey';

/** What one server supports. Each field is found by capability, never by version. */
export interface ServerCapabilities {
  /** Name and version the server reports (INFO server), for messages and reports only: never branch on it. */
  readonly server: string;
  /** XAUTOCLAIM exists (Redis 6.2+, Valkey). Required: {@link detectCapabilities} refuses a server without it. */
  readonly xautoclaim: true;
  /**
   * XINFO GROUPS reports `lag` and `entries-read` (Redis 7.0+, Valkey). Without them a group's
   * lag is computed from its last-delivered id (see docs/compat.md).
   */
  readonly xinfoLag: boolean;
  /**
   * XAUTOCLAIM replies with a third element, the ids of pending entries that were deleted from
   * the stream, and drops them from the PEL (Redis 7.0+, Valkey). Without it, a deleted pending
   * entry comes back as a nil entry and stays pending: the caller must record it and XACK it.
   */
  readonly xautoclaimDeletedIds: boolean;
  /** SPUBLISH (sharded Pub/Sub: on a cluster, a message goes to one shard only) (Redis 7.0+, Valkey). */
  readonly spublish: boolean;
  /** EXPIRE/PEXPIRE take NX, XX, GT, LT (Redis 7.0+, Valkey): set a TTL only when there is none. */
  readonly expireNx: boolean;
  /** Commands newer than any server we test on: detected, but no code path uses them yet. */
  readonly notYetUsed: {
    /** XACKDEL (ack and delete in one command, with ACKED: delete only once every group acked). */
    readonly xackdel: boolean;
    /** XREADGROUP ... CLAIM <min-idle>: one read returns idle pending entries before new ones. */
    readonly xreadgroupClaim: boolean;
    /** XADD ... IDMP: the server drops a publish it has already seen under the same producer id. */
    readonly xaddIdmp: boolean;
    /** HSETEX: set hash fields and their TTL in one command. */
    readonly hsetex: boolean;
  };
}

/** Reply of COMMAND INFO for one command: null when the server does not know it. */
async function commandExists(client: Redis, name: string): Promise<boolean> {
  try {
    const reply = (await client.call('COMMAND', 'INFO', name)) as unknown[];
    return Array.isArray(reply) && reply[0] !== null && reply[0] !== undefined;
  } catch (err) {
    if (!isPermissionOrUnknown(err)) throw err;
    // COMMAND refused (an ACL user without +command): call the command with too few
    // arguments, which only checks that it exists and never runs it.
    return arityProbe(client, name);
  }
}

async function arityProbe(client: Redis, name: string): Promise<boolean> {
  try {
    await client.call(name);
    return true;
  } catch (err) {
    const msg = (err as Error).message ?? '';
    if (/unknown command/i.test(msg)) return false;
    if (/wrong number of arguments/i.test(msg)) return true;
    // NOPERM: it exists, but this user may not run it; the caller finds out when it does.
    if (/NOPERM/.test(msg)) return true;
    throw err;
  }
}

function isPermissionOrUnknown(err: unknown): boolean {
  return /NOPERM|unknown command/i.test((err as Error)?.message ?? '');
}

/**
 * True when `COMMAND DOCS <cmd>` lists an argument with this token (e.g. CLAIM for
 * XREADGROUP). COMMAND DOCS exists from Redis 7.0 (and in Valkey); older servers have no such
 * argument anyway.
 */
async function commandHasToken(client: Redis, command: string, token: string): Promise<boolean> {
  let reply: unknown;
  try {
    reply = await client.call('COMMAND', 'DOCS', command);
  } catch (err) {
    if (isPermissionOrUnknown(err) || /unknown subcommand|syntax error/i.test((err as Error).message ?? '')) return false;
    throw err;
  }
  const want = token.toUpperCase();
  const walk = (v: unknown, key?: unknown): boolean => {
    if (typeof v === 'string') return key === 'token' && v.toUpperCase() === want;
    if (!Array.isArray(v)) return false;
    for (let i = 0; i < v.length; i++) {
      if (walk(v[i], i > 0 ? v[i - 1] : undefined)) return true;
    }
    return false;
  };
  return walk(reply);
}

/** "Redis 7.2.6" / "Valkey 8.0.1", for messages only. */
async function serverName(client: Redis): Promise<string> {
  try {
    const info = String(await client.call('INFO', 'server'));
    const field = (f: string) => new RegExp(`^${f}:(.+)$`, 'm').exec(info)?.[1]?.trim();
    const valkey = field('valkey_version');
    if (valkey) return `Valkey ${valkey}`;
    const name = field('server_name');
    const version = field('redis_version') ?? 'unknown version';
    return `${name === 'valkey' ? 'Valkey' : 'Redis'} ${version}`;
  } catch {
    return 'this server';
  }
}

/**
 * Refuse a server without what streamfan needs (XAUTOCLAIM: Redis 6.2+, any Valkey) with one
 * metadata call (`COMMAND INFO`), writing nothing. Every client runs this at connect, so it
 * needs no permission beyond `command|info` (the full {@link detectCapabilities} probe writes a
 * throwaway stream, which a least-privilege publisher may not).
 * @throws UnsupportedServerError naming the server and {@link MINIMUM_SERVER}
 */
export async function assertSupportedServer(client: Redis): Promise<void> {
  if (!(await commandExists(client, 'XAUTOCLAIM'))) {
    throw new UnsupportedServerError(await serverName(client), 'XAUTOCLAIM', MINIMUM_SERVER);
  }
}

/**
 * XINFO GROUPS fields and the shape of an XAUTOCLAIM reply, read from a throwaway stream
 * inside one MULTI (nothing is left behind, whatever happens to the client meanwhile).
 */
async function probeStreams(client: Redis, probeKey: string): Promise<{ xinfoLag: boolean; xautoclaimDeletedIds: boolean }> {
  const key = `${probeKey}:${randomBytes(6).toString('hex')}`;
  const replies = await client
    .multi()
    .call('XADD', key, '*', 'probe', '1')
    .call('XGROUP', 'CREATE', key, 'probe', '0')
    .call('XINFO', 'GROUPS', key)
    .call('XAUTOCLAIM', key, 'probe', 'probe', '0', '0-0', 'COUNT', '1')
    .call('DEL', key)
    .exec();
  if (!replies) throw new Error('capability probe: MULTI was discarded');
  for (const [err] of replies) if (err) throw err;
  const groups = replies[2]![1] as unknown[][];
  const fields = (groups[0] ?? []).filter((_, i) => i % 2 === 0).map(String);
  const claim = replies[3]![1] as unknown[];
  return {
    xinfoLag: fields.includes('lag') && fields.includes('entries-read'),
    xautoclaimDeletedIds: claim.length >= 3,
  };
}

/** EXPIRE with NX on a key that does not exist: 0 where NX is known, an error where it is not. */
async function expireTakesNx(client: Redis, probeKey: string): Promise<boolean> {
  try {
    await client.call('EXPIRE', `${probeKey}:${randomBytes(6).toString('hex')}`, '1', 'NX');
    return true;
  } catch (err) {
    if (/wrong number of arguments|syntax error|unsupported option/i.test((err as Error).message ?? '')) return false;
    throw err;
  }
}

/**
 * Ask the server what it supports. `probeKey` is a key prefix the client may write (a stream is
 * created under it and deleted in the same MULTI); on a cluster it decides the node asked.
 *
 * @throws UnsupportedServerError when the server lacks XAUTOCLAIM (older than Redis 6.2),
 *   naming the server and {@link MINIMUM_SERVER}.
 */
export async function detectCapabilities(client: Redis, probeKey: string): Promise<ServerCapabilities> {
  const server = await serverName(client);
  if (!(await commandExists(client, 'XAUTOCLAIM'))) {
    throw new UnsupportedServerError(server, 'XAUTOCLAIM', MINIMUM_SERVER);
  }
  const [streams, spublish, expireNx, xackdel, hsetex, xreadgroupClaim, xaddIdmp] = await Promise.all([
    probeStreams(client, probeKey),
    commandExists(client, 'SPUBLISH'),
    expireTakesNx(client, probeKey),
    commandExists(client, 'XACKDEL'),
    commandExists(client, 'HSETEX'),
    commandHasToken(client, 'XREADGROUP', 'CLAIM'),
    commandHasToken(client, 'XADD', 'IDMP'),
  ]);
  return Object.freeze({
    server,
    xautoclaim: true as const,
    ...streams,
    spublish,
    expireNx,
    notYetUsed: Object.freeze({ xackdel, xreadgroupClaim, xaddIdmp, hsetex }),
  });
}

const cache = new WeakMap<Redis, Promise<ServerCapabilities>>();

/**
 * {@link detectCapabilities}, asked once per client and remembered (a failed detection is not
 * remembered, so a later call asks again).
 */
export function capabilitiesOf(client: Redis, probeKey: string): Promise<ServerCapabilities> {
  let p = cache.get(client);
  if (!p) {
    p = detectCapabilities(client, probeKey);
    cache.set(client, p);
    p.catch(() => { if (cache.get(client) === p) cache.delete(client); });
  }
  return p;
}
