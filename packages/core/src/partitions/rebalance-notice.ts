/**
 * Rebalance notices of partitioned groups (docs/partitions.md §5.3, "Rebalancing"): a keeper that
 * gave partitions up (a rebalance, or close) says so on the group's channel, and the group's
 * other keepers run their round at once instead of at their next tick. The notice carries
 * nothing a keeper relies on (it only wakes it): a lost notice costs at most one tick.
 *
 * Listening needs a connection in subscriber mode. The partitioned consumers of one client share
 * one, opened when the first of them starts and closed with the last (not the client's waitFor
 * subscriber: that belongs to the client). On a Redis Cluster whose servers have sharded Pub/Sub
 * (notice mode `S`, notice.ts) the channel is SSUBSCRIBEd on the shard of the topic's tag.
 */
import type Redis from 'ioredis';

type OnNotice = (message: string) => void;

interface Shared {
  sub: Redis;
  channels: Map<string, { listeners: Set<OnNotice>; subscribed: Promise<unknown> }>;
}

const shared = new WeakMap<object, Shared>();

/** A listener of {@link listenRebalance}. */
export interface RebalanceListener {
  /** Resolves once the (S)SUBSCRIBE is in effect; rejects when it failed (e.g. no `subscribe` permission), listening to nothing. */
  readonly subscribed: Promise<void>;
  /**
   * Stop listening, at once: never waits for a subscribe still on its way (a subscriber that
   * cannot connect must not hold a close up). The last listener closes the connection.
   */
  stop(): void;
}

/**
 * Listen to `channel` on the subscriber connection shared under `owner` (one per client; `open`
 * makes it at first use, and it is closed when its last listener stops).
 */
export function listenRebalance(owner: object, open: () => Redis, channel: string, mode: 'P' | 'S', onNotice: OnNotice): RebalanceListener {
  let s = shared.get(owner);
  if (!s) {
    const sub = open();
    const channels: Shared['channels'] = new Map();
    const deliver = (ch: string, message: string) => {
      for (const l of channels.get(ch)?.listeners ?? []) {
        try { l(message); } catch { /* a listener only schedules a round */ }
      }
    };
    sub.on('message', deliver);
    sub.on('smessage', deliver);
    s = { sub, channels };
    shared.set(owner, s);
  }
  const hub = s;
  let entry = hub.channels.get(channel);
  if (!entry) {
    entry = { listeners: new Set(), subscribed: mode === 'S' ? hub.sub.ssubscribe(channel) : hub.sub.subscribe(channel) };
    hub.channels.set(channel, entry);
  }
  // A wrapper per call, so the same function listening twice stops twice.
  const listener: OnNotice = (m) => onNotice(m);
  entry.listeners.add(listener);
  const mine = entry;
  const stop = (): void => {
    if (!mine.listeners.delete(listener) || mine.listeners.size > 0) return;
    if (hub.channels.get(channel) === mine) hub.channels.delete(channel);
    if (hub.channels.size === 0) {
      // Nothing listens any more: close the connection (a later listener opens a new one).
      if (shared.get(owner) === hub) shared.delete(owner);
      hub.sub.disconnect();
      return;
    }
    void (mode === 'S' ? hub.sub.sunsubscribe(channel) : hub.sub.unsubscribe(channel)).catch(() => undefined);
  };
  const subscribed = mine.subscribed.then(() => undefined, (err: unknown) => {
    stop();
    throw err;
  });
  return { subscribed, stop };
}

/** Say on `channel` that `owner` released partitions (or joined); `mode` as {@link listenRebalance}'s. */
export async function sendRebalance(redis: Redis, channel: string, mode: 'P' | 'S', owner: string): Promise<void> {
  await (mode === 'S' ? redis.spublish(channel, owner) : redis.publish(channel, owner));
}
