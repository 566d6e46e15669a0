import type Redis from 'ioredis';

/**
 * What an admin function needs from a client: its command connection and key prefix.
 * A {@link Streamfan} client is one (`claimEntries(sf, ...)`).
 */
export interface AdminTarget {
  readonly redis: Redis;
  readonly prefix: string;
}
