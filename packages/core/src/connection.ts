import Redis, { Cluster, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A Redis Cluster: its startup nodes and ioredis cluster options. */
export interface ClusterConnection {
  cluster: ClusterNode[];
  options?: ClusterOptions;
}

/**
 * Where Redis is: a URL (`redis://`, `rediss://` for TLS, user and password in it for ACL),
 * ioredis options, or an ioredis client (streamfan duplicates it for the connections it owns
 * and never closes yours).
 */
export type ConnectionOption = string | RedisOptions | Redis | Cluster | ClusterConnection;

/** True for a Redis Cluster client. Every key of a topic shares one hash slot, so all of streamfan's scripts run on one node. */
export function isCluster(client: unknown): client is Cluster {
  return client instanceof Cluster;
}

/** The master nodes when `client` is a cluster, else undefined. */
export function clusterMasters(client: Redis): Redis[] | undefined {
  const c = client as unknown;
  return c instanceof Cluster ? c.nodes('master') : undefined;
}

function isClusterConnection(o: unknown): o is ClusterConnection {
  return typeof o === 'object' && o !== null && Array.isArray((o as ClusterConnection).cluster);
}

/** How a connection will be used; each role gets the retry policy that suits it. */
export type ConnectionRole =
  /** Publishing and admin: fail fast with a clear error when Redis is unreachable. */
  | 'commands'
  /** A consumer's acks and reclaims: wait through reconnects rather than fail. */
  | 'worker'
  /** The blocking XREADGROUP of one consumer. */
  | 'blocking'
  /** Pub/Sub for waitFor. */
  | 'subscriber';

const ROLE_DEFAULTS: Record<ConnectionRole, RedisOptions> = {
  commands: { maxRetriesPerRequest: 2, connectTimeout: 5000 },
  worker: { maxRetriesPerRequest: null, connectTimeout: 5000 },
  blocking: { maxRetriesPerRequest: null, connectTimeout: 5000 },
  // No ready check (INFO) on a subscriber: ioredis writes a SUBSCRIBE at once while it connects
  // (the command may run while Redis loads), and its reply puts the connection in subscriber mode
  // before the ready check's INFO is sent; ioredis then refuses that INFO ("Connection in
  // subscriber mode"), takes the failed check as fatal and rejects the other SUBSCRIBEs queued
  // meanwhile. Several partitioned consumers of one client starting in the same tick met it
  // (partition-subscriber-startup.test). SUBSCRIBE is served while Redis loads, so a subscriber
  // has nothing to wait for.
  subscriber: { maxRetriesPerRequest: null, connectTimeout: 5000, enableReadyCheck: false },
};

/**
 * Reconnect forever, backing off to at most 2 s between tries, with jitter (each wait is
 * 50–100 % of the step), so many consumers that lost Redis together do not reconnect in step.
 */
export function retryStrategy(times: number, random: () => number = Math.random): number {
  const step = Math.min(50 * 2 ** Math.min(times, 6), 2000);
  return Math.round(step * (0.5 + random() / 2));
}

const lastErrors = new WeakMap<Redis, Error>();
const drops = new WeakMap<object, number>();

/**
 * How many times this connection was lost since it was opened. A command sent before a drop
 * and answered after it may have run twice: ioredis re-sends a command whose reply the drop
 * lost (autoResendUnfulfilledCommands), though Redis may have run it already. Compare the
 * count before and after a call to know (settle scripts use it to tell their own resent work
 * from an entry another consumer took).
 */
export function connectionDrops(client: Redis): number {
  return drops.get(client) ?? 0;
}

function countDrops(client: Redis | Cluster): void {
  const up = (): void => { drops.set(client, (drops.get(client) ?? 0) + 1); };
  client.on('close', up);
  // A Cluster re-sends a command after a node's connection drops, without a 'close' of its own.
  if (client instanceof Cluster) client.on('node error', up);
}

/**
 * Why a connection is down (e.g. a TLS certificate error), while it is: ioredis reports it
 * only as an event, and a command failing meanwhile says just "max retries".
 */
export function lastConnectionError(client: Redis): Error | undefined {
  return lastErrors.get(client);
}

/** Open a connection for one role. `extra` (e.g. `{ tls: { ca } }`) is merged last. */
export function openConnection(option: ConnectionOption, role: ConnectionRole, extra: RedisOptions = {}): Redis {
  const defaults: RedisOptions = { retryStrategy, enableReadyCheck: true, connectionName: `streamfan:${role}`, ...ROLE_DEFAULTS[role] };
  let client: Redis;
  if (option instanceof Cluster || isClusterConnection(option)) {
    // A Cluster speaks the same commands; streamfan types it as Redis and checks isCluster()
    // where behaviour differs (node-local commands such as CLIENT ID and SCAN).
    const base: ClusterOptions = option instanceof Cluster ? option.options : (option.options ?? {});
    const options: ClusterOptions = {
      ...base,
      // waitFor uses SSUBSCRIBE on servers with sharded Pub/Sub: each channel must be
      // subscribed on the node that owns its slot.
      ...(role === 'subscriber' ? { shardedSubscribers: true } : {}),
      clusterRetryStrategy: (times: number) => retryStrategy(times),
      redisOptions: { ...ROLE_DEFAULTS[role], connectionName: `streamfan:${role}`, ...base.redisOptions, ...extra },
    };
    const cluster = option instanceof Cluster ? option.duplicate(undefined, options) : new Cluster(option.cluster, options);
    countDrops(cluster);
    return cluster as unknown as Redis;
  }
  if (option instanceof Redis) {
    client = option.duplicate({ ...defaults, ...extra });
  } else if (typeof option === 'string') {
    client = new Redis(option, { ...defaults, ...extra });
  } else {
    client = new Redis({ ...defaults, ...option, ...extra });
  }
  countDrops(client);
  client.on('error', (err: Error) => lastErrors.set(client, err));
  client.on('ready', () => lastErrors.delete(client));
  return client;
}

/** Human form of where a connection goes, without the password. */
export function describeConnection(option: ConnectionOption): string {
  if (typeof option === 'string') return option.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  if (option instanceof Cluster || isClusterConnection(option)) {
    if (option instanceof Cluster) return `cluster(${option.nodes('master').map((n) => `${n.options.host}:${n.options.port}`).join(',') || 'not connected'})`;
    return `cluster(${option.cluster.map((n) => (typeof n === 'object' ? `${n.host ?? '127.0.0.1'}:${n.port ?? 6379}` : String(n))).join(',')})`;
  }
  const o = option instanceof Redis ? option.options : option;
  return `${o.tls ? 'rediss' : 'redis'}://${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
}
