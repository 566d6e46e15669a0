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

/**
 * Listen to `channel` on the subscriber connection shared under `owner` (one per client; `open`
 * makes it at first use). Resolves once the (S)SUBSCRIBE is in effect, to a function that stops
 * listening (and closes the connection when nothing else listens on it); rejects when the
 * subscribe failed (e.g. no `subscribe` permission), listening to nothing.
 */
export async function listenRebalance(owner: object, open: () => Redis, channel: string, mode: 'P' | 'S', onNotice: OnNotice): Promise<() => Promise<void>> {
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
  entry.listeners.add(onNotice);
  const mine = entry;
  const stop = async (): Promise<void> => {
    if (!mine.listeners.delete(onNotice) || mine.listeners.size > 0) return;
    if (hub.channels.get(channel) === mine) hub.channels.delete(channel);
    if (hub.channels.size === 0) {
      // Nothing listens any more: close the connection (a later listener opens a new one).
      if (shared.get(owner) === hub) shared.delete(owner);
      hub.sub.disconnect();
      return;
    }
    await (mode === 'S' ? hub.sub.sunsubscribe(channel) : hub.sub.unsubscribe(channel)).catch(() => undefined);
  };
  try {
    await mine.subscribed;
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}

/** Say on `channel` that `owner` released partitions (or joined); `mode` as {@link listenRebalance}'s. */
export async function sendRebalance(redis: Redis, channel: string, mode: 'P' | 'S', owner: string): Promise<void> {
  await (mode === 'S' ? redis.spublish(channel, owner) : redis.publish(channel, owner));
}
