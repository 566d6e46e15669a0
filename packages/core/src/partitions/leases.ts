/**
 * Partition leases of a group, with fencing tokens, and the group's member set. See
 * docs/partitions.md §5. Each call is one script on one key, so each runs on a Cluster.
 * The partition keeper (keeper.ts) calls these.
 */
import type Redis from 'ioredis';
import { fromRedisError, InvalidOptionError } from '../errors';
import { validateConsumerName } from '../names';
import { runScript } from '../scripts/runner';
import type { PartitionKeys, TopicMetaKeys } from './partitionKeys';

/** Most live consumers one group may have on a partitioned topic. */
export const MAX_GROUP_MEMBERS = 10_000;

/**
 * A lease owner id: `<consumer>/<incarnation>`. Consumer names cannot hold `/` (names.ts), so
 * the split is unambiguous; the incarnation (random per process) makes a restarted process
 * that reuses its name a new owner, which cannot inherit its predecessor's token.
 */
export function ownerId(consumer: string, incarnation: string): string {
  validateConsumerName(consumer);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(incarnation)) throw new InvalidOptionError(`incarnation must be 1–64 letters, digits, _ or -, got ${JSON.stringify(incarnation)}`);
  return `${consumer}/${incarnation}`;
}

/** The consumer name inside an owner id (rendezvous preferences use the name, so restarts keep them). */
export function consumerOf(owner: string): string {
  const slash = owner.lastIndexOf('/');
  return slash < 0 ? owner : owner.slice(0, slash);
}

function checkMs(name: string, ms: number): void {
  if (!Number.isInteger(ms) || ms < 1) throw new InvalidOptionError(`${name} must be a whole number of ms ≥ 1, got ${String(ms)}`);
}

/** What {@link acquireLease} got. */
export type Acquired =
  | { acquired: true; token: number; until: number; previousOwner: string }
  | { acquired: false; owner: string; until: number };

/**
 * Take the group's lease on a partition if it is free (no owner, expired or released).
 * `ordering` is kept in the lease hash, so hand repairs can tell an ordered group.
 */
export async function acquireLease(redis: Redis, keys: PartitionKeys, group: string, owner: string, leaseMs: number, ordering?: 'key' | 'none'): Promise<Acquired> {
  checkMs('leaseMs', leaseMs);
  try {
    const r = await runScript<[number, number | string, number, string?]>(redis, 'acquireLease', [keys.lease(group)], [owner, leaseMs, ...(ordering ? [ordering] : [])]);
    return r[0] === 1
      ? { acquired: true, token: Number(r[1]), until: Number(r[2]), previousOwner: r[3] ?? '' }
      : { acquired: false, owner: String(r[1]), until: Number(r[2]) };
  } catch (err) {
    throw fromRedisError(err, `acquire partition ${keys.partition} of "${keys.partitionedTopic}" for group "${group}"`, redis);
  }
}

/** Extend a lease; false when the token is no longer the caller's (taken over or released). */
export async function renewLease(redis: Redis, keys: PartitionKeys, group: string, owner: string, token: number, leaseMs: number): Promise<{ renewed: true; until: number } | { renewed: false; owner: string; token: number }> {
  checkMs('leaseMs', leaseMs);
  try {
    const r = await runScript<[number, number | string, number?]>(redis, 'renewLease', [keys.lease(group)], [owner, token, leaseMs]);
    return r[0] === 1 ? { renewed: true, until: Number(r[1]) } : { renewed: false, owner: String(r[1]), token: Number(r[2] ?? 0) };
  } catch (err) {
    throw fromRedisError(err, `renew partition ${keys.partition} of "${keys.partitionedTopic}" for group "${group}"`, redis);
  }
}

/** Give a lease up; false when it was not the caller's any more. */
export async function releaseLease(redis: Redis, keys: PartitionKeys, group: string, owner: string, token: number): Promise<boolean> {
  try {
    return (await runScript<number>(redis, 'releaseLease', [keys.lease(group)], [owner, token])) === 1;
  } catch (err) {
    throw fromRedisError(err, `release partition ${keys.partition} of "${keys.partitionedTopic}" for group "${group}"`, redis);
  }
}

/** One partition's lease as read by {@link readLeases}. `until` 0: released or never taken. */
export interface LeaseView {
  partition: number;
  owner?: string;
  token: number;
  until: number;
}

/**
 * Read every partition's lease of a group. The leases live in P slots on every node, and
 * ioredis refuses a Cluster pipeline whose keys span nodes, so the reads are sent at once as
 * separate commands (each connection still writes them back to back, without waiting).
 */
export async function readLeases(redis: Redis, partitions: readonly PartitionKeys[], group: string): Promise<LeaseView[]> {
  let rows: Array<Array<string | null>>;
  try {
    rows = await Promise.all(partitions.map((k) => redis.hmget(k.lease(group), 'owner', 'token', 'until')));
  } catch (err) {
    throw fromRedisError(err, `read the leases of group "${group}"`, redis);
  }
  return rows.map(([owner, token, until], i) => ({
    partition: partitions[i]!.partition, ...(owner ? { owner } : {}), token: Number(token ?? 0), until: Number(until ?? 0),
  }));
}

/** The live members of a group, as the heartbeat saw them. */
export interface Members {
  /** Server time of the heartbeat (ms). */
  now: number;
  /** Live members (owner ids), sorted, with the time their heartbeat expires. */
  members: Array<{ owner: string; expires: number }>;
}

/**
 * Say this consumer is alive for `lifetimeMs` more, drop expired members, and return the live
 * ones. The member set expires `10 × lifetimeMs` after the group's last heartbeat.
 */
export async function heartbeat(redis: Redis, meta: TopicMetaKeys, group: string, owner: string, lifetimeMs: number): Promise<Members> {
  checkMs('lifetimeMs', lifetimeMs);
  try {
    const r = await runScript<Array<string | number>>(redis, 'heartbeatMember', [meta.consumers(group)], [owner, lifetimeMs, MAX_GROUP_MEMBERS, 10 * lifetimeMs]);
    const members: Members['members'] = [];
    for (let i = 1; i + 1 < r.length; i += 2) members.push({ owner: String(r[i]), expires: Number(r[i + 1]) });
    members.sort((a, b) => (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
    return { now: Number(r[0]), members };
  } catch (err) {
    throw fromRedisError(err, `heartbeat of "${owner}" in group "${group}"`, redis);
  }
}

/**
 * The group's rebalance notice channel (rebalance-notice.ts), `<prefix>:{T}:rebalance:<g>`: in the
 * topic's tag, the slot of the member set, so an SPUBLISH on a Cluster goes to that one shard.
 */
export function rebalanceChannel(meta: TopicMetaKeys, group: string): string {
  return `${meta.meta.slice(0, -':meta'.length)}:rebalance:${group}`;
}

/** Leave the member set at once (close()); the others see it at their next round (woken by the keeper's rebalance notice, else at their next tick). */
export async function leaveGroup(redis: Redis, meta: TopicMetaKeys, group: string, owner: string): Promise<void> {
  try {
    await redis.zrem(meta.consumers(group), owner);
  } catch (err) {
    throw fromRedisError(err, `leave group "${group}"`, redis);
  }
}
