import type Redis from 'ioredis';
import { GroupRetiredError, WaitTimeoutError } from './errors';
import { topicKeys, type TopicKeys } from './keys';
import { assertStreamId, groupInfos, isFinalState, locateId, publicLaneStatus, publicStatus, readStatus, type EventStatus } from './status';
import { ensureLanesOnce } from './lanes/meta';
import { ensureTopicMetaOnce } from './partitions/meta';
import type { Topic } from './topic';

/** Options of {@link Streamfan.waitFor}. */
export interface WaitForOptions {
  /**
   * Groups that must finish.
   * @defaultValue every streamfan group of the topic at call time: groups a streamfan
   * subscriber created (they have a redelivery stream). Groups other programs created on the
   * stream with XGROUP CREATE are not waited for unless named here. A subscription's group
   * counts once its `ready()` resolved: await it (or name the group) before waiting on an event
   * published right after `subscribe`.
   */
  groups?: string[];
  /** Give up after this long. @defaultValue 30000 */
  timeoutMs?: number;
}

/** How long the waiters key lives without a refresh; refreshed every third of it. */
export const WAITERS_TTL_MS = 15_000;

type Listener = { onMessage(message: string): void; recheck(): void };

/** Per subscriber connection: listeners per channel, and one waiters-key refresher per topic. */
interface Hub {
  channels: Map<string, Set<Listener>>;
  refreshers: Map<string, { timer: NodeJS.Timeout; count: number }>;
  /** Per channel, the (S)SUBSCRIBE in flight or done: every listener awaits it, not only the first. */
  subscribed: Map<string, Promise<unknown>>;
}
const hubs = new WeakMap<Redis, Hub>();

function hubOf(sub: Redis): Hub {
  const known = hubs.get(sub);
  if (known) return known;
  const h: Hub = { channels: new Map(), refreshers: new Map(), subscribed: new Map() };
  hubs.set(sub, h);
  const deliver = (ch: string, msg: string) => { for (const l of h.channels.get(ch) ?? []) l.onMessage(msg); };
  sub.on('message', deliver);
  sub.on('smessage', deliver);
  // Pub/Sub is at-most-once: a notice sent while the connection was down is gone. After a
  // reconnect (ioredis subscribes again by itself) every waiter reads its status once more.
  let connectedBefore = sub.status === 'ready';
  sub.on('ready', () => {
    if (connectedBefore) for (const set of h.channels.values()) for (const l of set) l.recheck();
    connectedBefore = true;
  });
  return h;
}

async function listen(sub: Redis, channel: string, mode: 'P' | 'S', l: Listener): Promise<() => Promise<void>> {
  const hub = hubOf(sub);
  let set = hub.channels.get(channel);
  if (!set) {
    set = new Set();
    hub.channels.set(channel, set);
    hub.subscribed.set(channel, mode === 'S' ? sub.ssubscribe(channel) : sub.subscribe(channel));
  }
  set.add(l);
  // A second waiter on the channel must not go on (hold the waiters key, read the status) before
  // the first one's SUBSCRIBE is in effect: a notice sent in between would reach nobody.
  try {
    await hub.subscribed.get(channel);
  } catch (err) {
    set.delete(l);
    if (set.size === 0 && hub.channels.get(channel) === set) { hub.channels.delete(channel); hub.subscribed.delete(channel); }
    throw err;
  }
  const mine = set;
  return async () => {
    mine.delete(l);
    if (mine.size === 0 && hub.channels.get(channel) === mine) {
      hub.channels.delete(channel);
      hub.subscribed.delete(channel);
      await (mode === 'S' ? sub.sunsubscribe(channel) : sub.unsubscribe(channel)).catch(() => undefined);
    }
  };
}

/**
 * Keep `keys.waiters` alive while some waitFor of this client waits on the topic: the settle
 * scripts publish completion notices only while it exists. `SET … GET` tells when it had
 * expired before a refresh (a stalled event loop): notices may have been skipped meanwhile,
 * so every waiter of the topic reads its status again.
 */
async function holdWaiters(sub: Redis, redis: Redis, keys: TopicKeys): Promise<() => void> {
  const hub = hubOf(sub);
  const topicWaiters = () => [...(hub.channels.get(keys.done) ?? [])];
  const set = () => redis.set(keys.waiters, '1', 'PX', WAITERS_TTL_MS, 'GET');
  let r = hub.refreshers.get(keys.waiters);
  if (r) r.count += 1;
  else {
    const timer = setInterval(() => {
      set().then((old) => { if (old === null) for (const l of topicWaiters()) l.recheck(); }, () => undefined);
    }, WAITERS_TTL_MS / 3);
    timer.unref();
    r = { timer, count: 1 };
    hub.refreshers.set(keys.waiters, r);
  }
  const mine = r;
  await set();
  return () => {
    mine.count -= 1;
    if (mine.count === 0) { clearInterval(mine.timer); hub.refreshers.delete(keys.waiters); }
  };
}

/** The groups waitFor waits for by default: those with a redelivery stream (made by a streamfan subscriber). */
async function streamfanGroups(redis: Redis, keys: TopicKeys): Promise<string[]> {
  const names = (await groupInfos(redis, keys.stream)).map((g) => String(g.name));
  if (names.length === 0) return [];
  const p = redis.pipeline();
  for (const g of names) p.exists(keys.redeliver(g));
  const res = (await p.exec()) ?? [];
  return names.filter((_, i) => Number(res[i]?.[1]) === 1);
}

/**
 * See {@link Streamfan.waitFor}. No polling: subscribe to the topic's notice channel first, hold
 * the waiters key (so the settle scripts publish), then read the status once; after that the
 * status is read again only when a notice names the event, after a reconnect of the
 * subscriber, or when the waiters key had lapsed.
 */
export async function waitForEvent(sub: Redis, redis: Redis, prefix: string, topic: string, id: string, options: WaitForOptions, mode: 'P' | 'S' = 'P'): Promise<EventStatus> {
  assertStreamId(id);
  const keys = topicKeys(prefix, topic);
  const timeoutMs = options.timeoutMs ?? 30_000;
  // A retired group never finishes anything: one named here is refused; one retired while this
  // waits (a `retired` notice) is dropped from the default groups, and refuses named ones.
  let groups = options.groups ?? (await streamfanGroups(redis, keys));
  const named = options.groups !== undefined;
  if (named && groups.length > 0) {
    const at = await redis.hmget(keys.retired, ...groups);
    const i = at.findIndex((x) => x !== null);
    if (i >= 0) throw new GroupRetiredError(topic, groups[i]!, new Date(Number(at[i])));
  }
  let last: EventStatus | undefined;
  const unfinished = (s: EventStatus) => groups.filter((g) => !s.groups[g] || !isFinalState(s.groups[g]!.state));
  return new Promise<EventStatus>((resolve, reject) => {
    let done = false;
    let stop: (() => Promise<void>) | undefined;
    let release: (() => void) | undefined;
    let checking = false;
    let again = false;
    const finish = (err: Error | undefined, value?: EventStatus) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      release?.();
      void stop?.();
      if (err) reject(err); else resolve(value!);
    };
    const check = async () => {
      if (done) return;
      if (checking) { again = true; return; }
      checking = true;
      try {
        do {
          again = false;
          last = await readStatus(redis, prefix, topic, id);
          // A default group retired before this waiter's subscription was active sent its
          // `retired` notice to nobody: the retired hash says so (one HMGET, only while some
          // group is unfinished).
          const open = named ? [] : unfinished(last);
          if (open.length > 0) {
            const at = await redis.hmget(keys.retired, ...open);
            const retired = new Set(open.filter((_, i) => at[i] !== null));
            if (retired.size > 0) groups = groups.filter((g) => !retired.has(g));
          }
          // A notice that came during the read (a retirement dropping a group, a settle) may
          // postdate it: read again before answering, so the answer is never older than a notice.
          if (!again && unfinished(last).length === 0) finish(undefined, last);
        } while (again && !done);
      } catch (err) {
        finish(err as Error);
      } finally {
        checking = false;
      }
    };
    const timer = setTimeout(() => {
      const open = last ? unfinished(last) : groups;
      const seen = last ? open.map((g) => `${g} ${last!.groups[g]?.state ?? 'no group'}${last!.groups[g]?.attempts ? ` after ${last!.groups[g]!.attempts} attempt(s)` : ''}`).join(', ') : undefined;
      finish(new WaitTimeoutError(id, open, timeoutMs, seen));
    }, timeoutMs);
    const listener: Listener = {
      onMessage: (msg) => {
        const [state, group, ids = ''] = msg.split('|');
        if (state === 'promoted') {
          if (id.startsWith('delayed-') && ids.split(',').some((p) => p.startsWith(`${id}=`))) void check();
          return;
        }
        if (group && !groups.includes(group)) return;
        if (state === 'retired') {
          if (named) { finish(new GroupRetiredError(topic, group!)); return; }
          groups = groups.filter((g) => g !== group);
          void check();
          return;
        }
        const list = ids.split(',');
        // A delayed id whose event id this waiter has not read yet (the read after `promoted` may
        // still be on its way): any notice may be its event's, so read again.
        const unresolvedDelayed = id.startsWith('delayed-') && last?.eventId === undefined;
        if (unresolvedDelayed || list.includes(id) || (last?.eventId !== undefined && list.includes(last.eventId))) void check();
      },
      recheck: () => { void check(); },
    };
    listen(sub, keys.done, mode, listener)
      .then(async (unsub) => {
        stop = unsub;
        if (done) { void unsub(); return; }
        const free = await holdWaiters(sub, redis, keys);
        if (done) { free(); return; }
        release = free;
        await check();
      })
      .catch((err: Error) => finish(err));
  });
}

/**
 * {@link waitForEvent} by a topic definition: a partitioned topic's `p<i>:…` id is waited for
 * in its partition (notices, waiters key and status all live there), and the result carries
 * public ids. Default groups: the partition's streamfan groups.
 */
export async function waitForTopicEvent(sub: Redis, redis: Redis, prefix: string, topic: Topic<unknown>, id: string, options: WaitForOptions, mode: 'P' | 'S' = 'P'): Promise<EventStatus> {
  const at = locateId(topic, id);
  if (at.lane !== undefined) {
    await ensureLanesOnce(redis, prefix, topic);
    try {
      return publicLaneStatus(await waitForEvent(sub, redis, prefix, at.home, at.localId, options, mode), topic, id, at.lane);
    } catch (err) {
      if (err instanceof WaitTimeoutError) err.message = err.message.replace(`event ${at.localId} `, `event ${id} `);
      if (err instanceof GroupRetiredError) (err as { topic: string }).topic = topic.name;
      throw err;
    }
  }
  if (at.partition === undefined) return waitForEvent(sub, redis, prefix, topic.name, id, options, mode);
  await ensureTopicMetaOnce(redis, prefix, topic.name, topic.partitions!);
  try {
    return publicStatus(await waitForEvent(sub, redis, prefix, at.home, at.localId, options, mode), topic.name, id, at.partition);
  } catch (err) {
    if (err instanceof WaitTimeoutError) err.message = err.message.replace(`event ${at.localId} `, `event ${id} `);
    throw err;
  }
}
