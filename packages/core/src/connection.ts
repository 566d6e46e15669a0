import Redis, { type RedisOptions } from 'ioredis';

/**
 * Where Redis is: a URL (`redis://`, `rediss://` for TLS, user and password in it for ACL),
 * ioredis options, or an ioredis client (streamfan duplicates it for the connections it owns
 * and never closes yours).
 */
export type ConnectionOption = string | RedisOptions | Redis;

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
  subscriber: { maxRetriesPerRequest: null, connectTimeout: 5000 },
};

/** Reconnect forever, backing off to at most 2 s between tries. */
function retryStrategy(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 6), 2000);
}

/** Open a connection for one role. `extra` (e.g. `{ tls: { ca } }`) is merged last. */
export function openConnection(option: ConnectionOption, role: ConnectionRole, extra: RedisOptions = {}): Redis {
  const defaults: RedisOptions = { ...ROLE_DEFAULTS[role], retryStrategy, enableReadyCheck: true, connectionName: `streamfan:${role}` };
  let client: Redis;
  if (option instanceof Redis) {
    client = option.duplicate({ ...defaults, ...extra });
  } else if (typeof option === 'string') {
    client = new Redis(option, { ...defaults, ...extra });
  } else {
    client = new Redis({ ...defaults, ...option, ...extra });
  }
  return client;
}

/** Human form of where a connection goes, without the password. */
export function describeConnection(option: ConnectionOption): string {
  if (typeof option === 'string') return option.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  const o = option instanceof Redis ? option.options : option;
  return `${o.tls ? 'rediss' : 'redis'}://${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
}
