import type Redis from 'ioredis';
import { WaitTimeoutError } from './errors';
import { topicKeys } from './keys';
import { groupInfos, isFinalState, readStatus, type EventStatus } from './status';

/** Options of {@link Streamfan.waitFor}. */
export interface WaitForOptions {
  /** Groups that must finish. @defaultValue every group of the topic at call time */
  groups?: string[];
  /** Give up after this long. @defaultValue 30000 */
  timeoutMs?: number;
}

type Listener = (message: string) => void;
const listeners = new WeakMap<Redis, Map<string, Set<Listener>>>();

async function listen(sub: Redis, channel: string, fn: Listener): Promise<() => Promise<void>> {
  let byChannel = listeners.get(sub);
  if (!byChannel) {
    const map = new Map<string, Set<Listener>>();
    byChannel = map;
    listeners.set(sub, map);
    sub.on('message', (ch: string, msg: string) => { for (const l of map.get(ch) ?? []) l(msg); });
  }
  let set = byChannel.get(channel);
  if (!set) {
    set = new Set();
    byChannel.set(channel, set);
    await sub.subscribe(channel);
  }
  set.add(fn);
  const map = byChannel;
  return async () => {
    set!.delete(fn);
    if (set!.size === 0 && map.get(channel) === set) {
      map.delete(channel);
      await sub.unsubscribe(channel).catch(() => undefined);
    }
  };
}

/** See {@link Streamfan.waitFor}. */
export async function waitForEvent(sub: Redis, redis: Redis, prefix: string, topic: string, id: string, options: WaitForOptions): Promise<EventStatus> {
  const keys = topicKeys(prefix, topic);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const groups = options.groups ?? (await groupInfos(redis, keys.stream)).map((g) => String(g.name));
  let last: EventStatus | undefined;
  const unfinished = (s: EventStatus) => groups.filter((g) => !s.groups[g] || !isFinalState(s.groups[g]!.state));
  return new Promise<EventStatus>((resolve, reject) => {
    let done = false;
    let stop: (() => Promise<void>) | undefined;
    let checking = false;
    let again = false;
    const finish = (err: Error | undefined, value?: EventStatus) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(safety);
      void stop?.();
      if (err) reject(err); else resolve(value!);
    };
    const check = async () => {
      if (checking) { again = true; return; }
      checking = true;
      try {
        do {
          again = false;
          last = await readStatus(redis, prefix, topic, id);
          if (unfinished(last).length === 0) finish(undefined, last);
        } while (again && !done);
      } catch (err) {
        finish(err as Error);
      } finally {
        checking = false;
      }
    };
    // Pub/Sub is at-most-once (a reconnect drops messages), so a slow re-read backs it up.
    const safety = setInterval(() => { void check(); }, 1000);
    const timer = setTimeout(() => {
      const open = last ? unfinished(last) : groups;
      const seen = last ? open.map((g) => `${g} ${last!.groups[g]?.state ?? 'no group'}${last!.groups[g]?.attempts ? ` after ${last!.groups[g]!.attempts} attempt(s)` : ''}`).join(', ') : undefined;
      finish(new WaitTimeoutError(id, open, timeoutMs, seen));
    }, timeoutMs);
    listen(sub, keys.done, (msg) => {
      const [, group, ids] = msg.split('|');
      if (group && groups.includes(group) && ids?.split(',').includes(id)) void check();
    }).then((unsub) => {
      stop = unsub;
      if (done) void unsub();
      else void check();
    }, (err: Error) => finish(err));
  });
}
