/**
 * Least-privilege Redis ACL rules for the three roles of a streamfan deployment, for one key
 * prefix. ACL.md documents these same lists; the ACL fault test proves each role works with
 * exactly these rules and is refused outside its prefix.
 */

/** A role and the commands it needs. */
export interface AclRole {
  name: 'publisher' | 'consumer' | 'cli';
  /** What the role does, for the documentation. */
  does: string;
  /** Commands (and subcommands as `command|sub`), without the leading `+`. */
  commands: string[];
}

/** Connection housekeeping every ioredis client sends: names itself, ready check, close. */
const CONNECTION = ['client|setname', 'info', 'ping', 'quit',
  // every client checks at connect that the server has XAUTOCLAIM (metadata only, nothing written)
  'command|info'];

/** Scripts: run by SHA, sent once in full when Redis does not know them yet. */
// Every script checks the type of each key it writes (TYPE) before its first write.
const SCRIPTS = ['evalsha', 'eval', 'type'];

export const ROLES: readonly AclRole[] = [
  {
    name: 'publisher',
    does: 'publish, publishMany (MULTI), delayed and idempotent publishes, status and waitFor',
    commands: [
      ...CONNECTION, ...SCRIPTS,
      'xadd', 'multi', 'exec', 'discard',
      // scripts: publishEvents (producer hash: at most one entry per call), publishOnce, scheduleDelayed, promoteDue
      'set', 'get', 'zadd', 'zrem', 'zrange', 'zrangebyscore', 'time', 'hget', 'hset', 'hdel', 'pexpire',
      // delayed ids (scheduleDelayed, promoteDelayed) and waitFor's waiters key
      'zscore', 'hmget', 'exists', 'expire', 'publish',
      // status and waitFor
      'hgetall', 'xrange', 'xinfo|groups', 'xpending', 'zscan', 'subscribe', 'unsubscribe',
    ],
  },
  {
    name: 'consumer',
    does: 'subscribe a worker pool: read, ack, retry, dead-letter, reclaim, keep leases, retention, leave the group',
    commands: [
      ...CONNECTION, ...SCRIPTS, 'script|load', 'client|id', 'client|unblock',
      'xgroup|create', 'xgroup|createconsumer', 'xreadgroup', 'xautoclaim', 'xclaim', 'xpending', 'xinfo|groups', 'xinfo|consumers',
      // scripts: ackBatch, failEntry, deadLetter, extendLease, markLost, promoteDue, trimSafe, deleteConsumerIfIdle
      'xack', 'xadd', 'xrange', 'xlen', 'xtrim', 'xgroup|delconsumer', 'exists',
      'hset', 'hget', 'expire', 'zadd', 'zrem', 'zrange', 'zrangebyscore', 'publish', 'time',
      // promoteDelayed
      'zscore', 'hmget', 'hdel',
      // retention: one run per topic per interval (SET NX PX on the retention-lock key)
      'set',
      // ackBatch (protocol 2): success records appended to a bucket whose TTL is set once;
      // the destroyed-group sweep reads buckets
      'append', 'ttl', 'get',
      // partitioned topics: leases (acquireLease: HINCRBY of the fencing token), the member set
      // (heartbeatMember: ZREMRANGEBYSCORE of expired members, ZCARD, PEXPIRE), the ordered read
      // (readOwned: XREVRANGE for the streams' last ids) and the ordered idle wait (XREAD, blocking)
      'hincrby', 'zremrangebyscore', 'zcard', 'pexpire', 'xrevrange', 'xread',
      // partitioned topics: the rebalance notice (a consumer that leaves or gives partitions up
      // wakes the others; SSUBSCRIBE/SPUBLISH in notice mode S, on a cluster)
      'subscribe', 'unsubscribe', 'ssubscribe', 'sunsubscribe', 'spublish',
    ],
  },
  {
    name: 'cli',
    does: 'every `streamfan` command: topics, groups, consumers (and prune), pending, show, tail, publish, claim, ack, dlq list/show/replay/purge, trim, retire, unretire, memory, metrics',
    commands: [
      ...CONNECTION, ...SCRIPTS, 'script|load',
      'scan', 'xinfo|stream', 'xinfo|groups', 'xinfo|consumers', 'xpending', 'xlen', 'xrange', 'xrevrange', 'xread',
      'hgetall', 'zcard', 'zrange', 'zscan',
      // repair: publish, claim, ack, replay, purge, trim, prune
      'xadd', 'xclaim', 'xack', 'xdel', 'del', 'unlink', 'xtrim', 'xgroup|delconsumer', 'exists', 'hset', 'hget', 'expire',
      'set', 'get', 'zadd', 'zrem', 'zrangebyscore', 'publish', 'time', 'hmget', 'hdel', 'pexpire',
      // retire, unretire
      'xgroup|destroy',
      // memory: MEMORY USAGE on sampled keys
      'memory|usage',
      // groups (and metrics) on a partitioned topic: live members of a group (ZCOUNT by heartbeat)
      'zcount',
    ],
  },
];

/**
 * Not granted to any role: `config|get`. A subscribing client reads `maxmemory-policy` once
 * to warn about eviction, and retention reads `stream-node-max-entries` to size its trim steps;
 * refused, both fall back silently (no warning; steps of 10,000 entries, right for the default node size). Redis cannot grant CONFIG GET
 * for one parameter, and CONFIG GET can read every setting.
 */
export const OPTIONAL_COMMANDS = ['config|get'] as const;

/** The ACL SETUSER rules of a role for one prefix (password aside). */
export function aclRules(role: AclRole, prefix: string): string[] {
  return ['resetkeys', `~${prefix}:*`, 'resetchannels', `&${prefix}:*`, '-@all', ...role.commands.map((c) => `+${c}`)];
}

/**
 * The rules of {@link aclRules} fitted to one server, for servers other than the Redis 7.0 that
 * ACL.md's lines were proven on. Dropped where the server does not know them (`ACL SETUSER`
 * refuses them): QUIT on Redis 6.2 (not in its command table; a client may always send it).
 * Added where the server has it: CLIENT SETINFO, which ioredis sends on every connect (its
 * library name and version); Redis 7.2+ refuses it under a role that lacks it and logs each
 * refusal in ACL LOG, and 6.2 checks the rule before it finds the subcommand unknown. Asks
 * `COMMAND INFO` once; where the server does not describe subcommands (6.2), subcommand rules
 * are kept as they are.
 */
export async function aclRulesForServer(redis: { call(command: string, ...args: string[]): Promise<unknown> }, role: AclRole, prefix: string): Promise<string[]> {
  const names = [...new Set([...role.commands, 'client|setinfo'])];
  const info = (await redis.call('COMMAND', 'INFO', 'client|setname', ...names)) as unknown[];
  const describesSubcommands = info[0] !== null;
  const known = new Map(names.map((n, i) => [n, info[i + 1] !== null]));
  const keep = (c: string): boolean => (c.includes('|') && !describesSubcommands) || known.get(c) !== false;
  return aclRules({ ...role, commands: names.filter(keep) }, prefix);
}

/** The full `ACL SETUSER` line, as ACL.md shows it. */
export function aclSetUser(role: AclRole, prefix: string, user: string, password: string): string {
  return `ACL SETUSER ${user} reset on >${password} ${aclRules(role, prefix).join(' ')}`;
}
